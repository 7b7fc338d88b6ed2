"""Check latch tokens against the real djangorestframework-simplejwt.

Run by cmd/latch/interop_test.go as /usr/bin/python3 -I -B simplejwt.py MODE ARG.
The HS256 secret comes from the environment (LATCH_INTEROP_SECRET), never
from the command line, and is never printed.

Modes:
  versions               print {"simplejwt","pyjwt","django","drf"} as JSON
  verify-access TOKEN    AccessToken(TOKEN); print {"header","payload"}
  verify-refresh TOKEN   RefreshToken(TOKEN); print {"header","payload"}
  mint USER_ID           a pair made by RefreshToken.for_user for a Django
                         user with that id; print {"access","refresh"}

A token SimpleJWT refuses exits with status 3 and its TokenError on stderr;
any other failure (a crash, bad usage) exits with status 2 or 1.
"""

import json
import os
import sys

EXIT_REJECTED = 3


def configure(secret):
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY=secret,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "rest_framework",
            "rest_framework_simplejwt",
        ],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        },
        USE_TZ=True,
        SIMPLE_JWT={
            "SIGNING_KEY": secret,
            "ALGORITHM": "HS256",
            "USER_ID_FIELD": "id",
            "USER_ID_CLAIM": "user_id",
            "TOKEN_TYPE_CLAIM": "token_type",
            "JTI_CLAIM": "jti",
        },
    )
    django.setup()


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    mode = argv[1]
    secret = os.environ.get("LATCH_INTEROP_SECRET", "")
    if not secret:
        print("LATCH_INTEROP_SECRET is not set", file=sys.stderr)
        return 2
    configure(secret)

    import jwt
    import rest_framework
    import rest_framework_simplejwt
    from rest_framework_simplejwt.exceptions import TokenError
    from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

    if mode == "versions":
        import django

        print(
            json.dumps(
                {
                    "simplejwt": rest_framework_simplejwt.__version__,
                    "pyjwt": jwt.__version__,
                    "django": django.get_version(),
                    "drf": rest_framework.VERSION,
                }
            )
        )
        return 0

    if mode in ("verify-access", "verify-refresh") and len(argv) == 3:
        cls = AccessToken if mode == "verify-access" else RefreshToken
        try:
            token = cls(argv[2])
        except TokenError as e:
            print("%s: %s" % (type(e).__name__, e), file=sys.stderr)
            return EXIT_REJECTED
        header = jwt.get_unverified_header(argv[2])
        print(json.dumps({"header": header, "payload": token.payload}))
        return 0

    if mode == "mint" and len(argv) == 3:
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        call_command("migrate", run_syncdb=True, verbosity=0)
        user_id = int(argv[2])
        user = get_user_model().objects.create_user(
            id=user_id, username="interop%d" % user_id, password=None
        )
        refresh = RefreshToken.for_user(user)
        print(json.dumps({"access": str(refresh.access_token), "refresh": str(refresh)}))
        return 0

    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
