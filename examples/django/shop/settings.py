"""Settings of the example shop. It keeps no users and no tokens: latch does
(see README.md). Nothing here needs a database."""
import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "shop",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
DATABASES = {}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# Seed 000 used Redis; one process's memory is enough for the example.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
ORDERS_CACHE_SECONDS = int(os.environ.get("ORDERS_CACHE_SECONDS", "900"))  # an access token's lifetime

# Who may set the X-Latch-* headers: the address latch's gateway connects
# from. Any other peer's X-Latch-* headers are ignored.
LATCH_GATEWAY_ADDRS = os.environ.get("LATCH_GATEWAY_ADDRS", "127.0.0.1,::1").split(",")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["shop.auth.LatchGatewayAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
