"""Check latch tokens against the real PyJWT, as SimpleJWT's backend uses it.

Run by cmd/latch/interop_test.go as /usr/bin/python3 -I -B pyjwt.py MODE ARGS.
The HS256 secret comes from the environment (LATCH_INTEROP_SECRET), never
from the command line, and is never printed.

Modes:
  decode TOKEN                jwt.decode(TOKEN, secret, algorithms=["HS256"]);
                              print {"header","payload"}
  encode TOKEN_TYPE USER_ID SECONDS
                              jwt.encode of SimpleJWT's claims (token_type,
                              exp = now + SECONDS, iat = now, jti = uuid4().hex,
                              user_id) with no kid header; print the token

A token PyJWT refuses exits with status 3 and the exception on stderr; any
other failure exits with status 2 or 1.
"""

import calendar
import datetime
import json
import os
import sys
import uuid

import jwt

EXIT_REJECTED = 3


def main(argv):
    secret = os.environ.get("LATCH_INTEROP_SECRET", "")
    if not secret:
        print("LATCH_INTEROP_SECRET is not set", file=sys.stderr)
        return 2
    mode = argv[1] if len(argv) > 1 else ""

    if mode == "decode" and len(argv) == 3:
        try:
            payload = jwt.decode(argv[2], secret, algorithms=["HS256"])
        except jwt.InvalidTokenError as e:
            print("%s: %s" % (type(e).__name__, e), file=sys.stderr)
            return EXIT_REJECTED
        header = jwt.get_unverified_header(argv[2])
        print(json.dumps({"header": header, "payload": payload}))
        return 0

    if mode == "encode" and len(argv) == 5:
        # As SimpleJWT's utils: whole seconds of the current UTC time.
        now = calendar.timegm(datetime.datetime.utcnow().utctimetuple())
        claims = {
            "token_type": argv[2],
            "exp": now + int(argv[4]),
            "iat": now,
            "jti": uuid.uuid4().hex,
            "user_id": int(argv[3]),
        }
        print(jwt.encode(claims, secret, algorithm="HS256"))
        return 0

    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
