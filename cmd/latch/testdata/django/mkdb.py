"""Create a real Django database with users, for latch import-django tests.

usage: mkdb.py sqlite PATH
       mkdb.py postgres        (connection from LATCH_DJANGO_PG_URL, tables
                                in the schema LATCH_DJANGO_PG_SCHEMA)

A minimal Django project is configured in-process (contenttypes + auth,
Django's default PASSWORD_HASHERS, so PBKDF2-SHA256), migrated, and given
these users, whose passwords come from the environment (never argv):

  admin   superuser                          LATCH_DJANGO_PW_ADMIN
  alice   plain user                         LATCH_DJANGO_PW_ALICE
  sam     staff                              LATCH_DJANGO_PW_STAFF
  ivan    inactive                           LATCH_DJANGO_PW_INACTIVE
  uma     set_unusable_password()            -
  bob     argon2 (cheaper), when argon2-cffi is installed   LATCH_DJANGO_PW_ALICE
  carol   bcrypt_sha256 (cost 4), when bcrypt is installed  LATCH_DJANGO_PW_ALICE

admin's last_login is set to 2021-02-03 04:05:06.123456 UTC and alice's
date_joined to 2020-01-02 03:04:05 UTC.

It prints one JSON object: {"django": VERSION, "users": {USERNAME:
{"password": HASH, ...}}}, the rows as Django stored them.
"""

import datetime
import json
import os
import sys
import urllib.parse

import django
from django.conf import settings


def database(argv):
    if len(argv) == 3 and argv[1] == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": argv[2]}
    if len(argv) == 2 and argv[1] == "postgres":
        u = urllib.parse.urlsplit(os.environ["LATCH_DJANGO_PG_URL"])
        q = urllib.parse.parse_qs(u.query)
        opts = {"options": "-c search_path=" + os.environ["LATCH_DJANGO_PG_SCHEMA"]}
        if "sslmode" in q:
            opts["sslmode"] = q["sslmode"][0]
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": urllib.parse.unquote(u.path.lstrip("/")) or "postgres",
            "USER": urllib.parse.unquote(u.username or ""),
            "PASSWORD": urllib.parse.unquote(u.password or ""),
            "HOST": u.hostname or "",
            "PORT": str(u.port or ""),
            "OPTIONS": opts,
        }
    sys.exit(__doc__)


def main():
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
        DATABASES={"default": database(sys.argv)},
        USE_TZ=True,
        TIME_ZONE="UTC",
        SECRET_KEY="latch-import-django-test",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    User = get_user_model()
    env = os.environ
    utc = datetime.timezone.utc

    admin = User.objects.create_superuser("admin", "admin@example.com", env["LATCH_DJANGO_PW_ADMIN"])
    admin.last_login = datetime.datetime(2021, 2, 3, 4, 5, 6, 123456, tzinfo=utc)
    admin.save()
    alice = User.objects.create_user("alice", "alice@example.com", env["LATCH_DJANGO_PW_ALICE"])
    alice.date_joined = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=utc)
    alice.save()
    User.objects.create_user("sam", "sam@example.com", env["LATCH_DJANGO_PW_STAFF"], is_staff=True)
    User.objects.create_user("ivan", "ivan@example.com", env["LATCH_DJANGO_PW_INACTIVE"], is_active=False)
    uma = User.objects.create_user("uma", "uma@example.com")
    uma.set_unusable_password()
    uma.save()

    # Django's other hashers, when their library is installed (it loads
    # lazily, so try it). Their work factors are lowered so that the Go
    # side verifies them quickly under the race detector; the format is
    # Django's own.
    from django.contrib.auth.hashers import Argon2PasswordHasher, BCryptSHA256PasswordHasher

    class CheapArgon2(Argon2PasswordHasher):
        memory_cost = 8192
        parallelism = 2

    class CheapBCryptSHA256(BCryptSHA256PasswordHasher):
        rounds = 4

    for name, hasher in (("bob", CheapArgon2()), ("carol", CheapBCryptSHA256())):
        try:
            encoded = make_password(env["LATCH_DJANGO_PW_ALICE"], hasher=hasher)
        except (ValueError, ImportError):
            continue
        u = User.objects.create_user(name, name + "@example.com")
        u.password = encoded
        u.save()

    out = {"django": django.get_version(), "users": {}}
    for u in User.objects.order_by("id"):
        out["users"][u.username] = {
            "password": u.password,
            "is_active": u.is_active,
            "is_staff": u.is_staff,
            "is_superuser": u.is_superuser,
        }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
