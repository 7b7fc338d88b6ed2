#!/usr/bin/python3
"""Regenerates validate.json: what Django's default password validators say.

Needs Django (Debian: python3-django). Run from this directory:
/usr/bin/python3 gen_validate.py > validate.json

Each case lists Django's messages for (password, username) with the four
validators of a new project's AUTH_PASSWORD_VALIDATORS, comparing only the
username, and min_length 8.
"""
import json

import django
from django.conf import settings

settings.configure(AUTH_PASSWORD_VALIDATORS=[
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
     "OPTIONS": {"user_attributes": ("username",)}},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
])
django.setup()

from django.contrib.auth.password_validation import validate_password  # noqa: E402
from django.core.exceptions import FieldDoesNotExist, ValidationError  # noqa: E402


class Meta:
    def get_field(self, name):
        raise FieldDoesNotExist(name)


class User:
    _meta = Meta()

    def __init__(self, username):
        self.username = username


cases = [
    ("correct horse battery staple", "alice"),
    ("short", "alice"),
    ("", "alice"),
    ("password", "alice"),
    ("Password", "alice"),
    ("  PASSWORD  ", "alice"),
    ("12345678", "alice"),
    ("1234", "alice"),
    ("98273645109283", "alice"),
    ("٣٤٥٦٧٨٩٠١٢", "alice"),
    ("alice", "alice"),
    ("ALICE", "alice"),
    ("alice123", "alice"),
    ("ecila123", "alice"),
    ("alicealice", "alice"),
    ("alice.smith", "alice.smith"),
    ("smith2024!", "alice.smith"),
    ("qwerty", "qwerty"),
    ("johnsmith2024!", "JohnSmith"),
    ("bobbobbob1234", "bob"),
    ("totally-secure-algorithm", "al"),
    ("hris", "christopher"),
    ("christophe", "christopher"),
    ("Tr0ub4dor&3", "bob"),
    ("pässwörd lang genug", "jörg"),
    ("x", ""),
    ("validpassword!x9", ""),
    ("iloveyou", "someone"),
    ("letmein1", "x"),
    ("a", "a"),
    ("abcdefgh", "hgfedcba"),
    ("mary_had_a_lamb", "mary_had"),
    ("zxcvbnm,./", "zed"),
    ("testuser-Pass123", "testuser"),
    ("Secret-johnsmith-2024", "johnsmith"),
    ("bobpassword123", "bob"),
    ("Pp1-Pass-xyz9", "pp1"),
    ("alice-secret-phrase", "alice"),
    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aa"),
    ("ab" * 30, "ab"),
]

out = []
for password, username in cases:
    try:
        validate_password(password, User(username) if username else None)
        messages = []
    except ValidationError as e:
        messages = list(e.messages)
    out.append({"password": password, "username": username, "messages": messages})

print(json.dumps(out, indent=2, ensure_ascii=False))
