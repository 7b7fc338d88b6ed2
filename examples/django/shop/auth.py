"""Authentication by latch's gateway: latch has verified the access token
(signature, expiry, and that its session is not revoked) before the request
got here, removed any X-Latch-* header the client sent, and set its own."""
from django.conf import settings
from rest_framework import authentication


def header(meta, name):
    """A header latch sent, as text: WSGI hands headers over decoded as
    Latin-1 (PEP 3333); latch writes UTF-8."""
    value = meta.get(name, "")
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


class GatewayUser:
    """The caller as latch describes it; no database row behind it."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, meta):
        self.id = self.pk = int(meta["HTTP_X_LATCH_USER_ID"])
        self.username = header(meta, "HTTP_X_LATCH_USERNAME")
        self.role = header(meta, "HTTP_X_LATCH_ROLE")
        self.email = header(meta, "HTTP_X_LATCH_EMAIL")
        self.session_id = header(meta, "HTTP_X_LATCH_SESSION_ID")

    def __str__(self):
        return self.username


class LatchGatewayAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        meta = request.META
        if "HTTP_X_LATCH_USER_ID" not in meta:
            return None
        if meta.get("REMOTE_ADDR") not in settings.LATCH_GATEWAY_ADDRS:
            return None  # not from latch: the headers could be anyone's
        user = GatewayUser(meta)
        return (user, user.session_id)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'  # 401, not 403, without the gateway's headers
