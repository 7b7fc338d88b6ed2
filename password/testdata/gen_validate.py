#!/usr/bin/python3
"""Regenerates validate.json: what Django's default password validators say.

Needs Django (Debian: python3-django). Run from this directory:
/usr/bin/python3 gen_validate.py > validate.json

Each case lists Django's messages for (password, username, email) with the
four validators of a new project's AUTH_PASSWORD_VALIDATORS (the similarity
validator with its default attributes, of which latch's users have the
username and the email), min_length 8, for an unsaved auth.User.
"""
import json

import django
from django.conf import settings

settings.configure(INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"], AUTH_PASSWORD_VALIDATORS=[
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
])
django.setup()

from django.contrib.auth.password_validation import validate_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402


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
    ("alice@example.com", "zed", "alice@example.com"),
    ("examplecom1!", "zed", "alice@example.com"),
    ("alice-wonder-2024", "zed", "alice@wonderland.example"),
    ("a-fine-long-secret", "zed", "alice@example.com"),
    ("alice123", "alice", "alice@example.com"),
    ("secret-phrase-9", "", "secret@example.com"),
]

out = []
for case in cases:
    password, username, email = (case + ("",))[:3]
    user = User(username=username, email=email) if username or email else None
    try:
        validate_password(password, user)
        messages = []
    except ValidationError as e:
        messages = list(e.messages)
    out.append({"password": password, "username": username, "email": email, "messages": messages})

print(json.dumps(out, indent=2, ensure_ascii=False))
