#!/usr/bin/python3
"""Regenerates django.json: password hashes made by Django's own hashers
(and one PHC argon2id string by argon2-cffi, the library Django uses).

Needs Django, bcrypt and argon2-cffi (Debian: python3-django python3-bcrypt
python3-argon2). Run from this directory: /usr/bin/python3 gen_django.py > django.json
The vectors are fixed once generated (salts are random), so rerunning changes the file.
"""
import json

import argon2
import django
from django.conf import settings

settings.configure()
django.setup()

from django.contrib.auth import hashers  # noqa: E402


class SmallArgon2(hashers.Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 64
    parallelism = 1


class SmallBCryptSHA256(hashers.BCryptSHA256PasswordHasher):
    rounds = 4


class SmallBCrypt(hashers.BCryptPasswordHasher):
    rounds = 4


vectors = []


def add(name, hasher, password, truncates=False, costly=False, **kw):
    encoded = hasher.encode(password, hasher.salt(), **kw)
    assert hasher.verify(password, encoded)
    assert hasher.verify(password + "x", encoded) == truncates
    vectors.append({"name": name, "password": password, "encoded": encoded, "truncates": truncates, "costly": costly})


pbkdf2 = hashers.PBKDF2PasswordHasher()
add("pbkdf2_sha256 600000 (Django 4.2 default)", pbkdf2, "secret", iterations=600000, costly=True)
add("pbkdf2_sha256 260000 (Django 3.2 default)", pbkdf2, "correct horse battery staple", iterations=260000, costly=True)
add("pbkdf2_sha256 unicode", pbkdf2, "pässwörd ✓ 密码", iterations=1000)
add("pbkdf2_sha256 empty password", pbkdf2, "", iterations=1000)
add("pbkdf2_sha256 dollar in password", pbkdf2, "a$b$c", iterations=1000)
add("pbkdf2_sha1", hashers.PBKDF2SHA1PasswordHasher(), "secret", iterations=1000)
add("bcrypt_sha256 cost 4", SmallBCryptSHA256(), "secret")
add("bcrypt_sha256 long password", SmallBCryptSHA256(), "p" * 100)
add("bcrypt_sha256 cost 12 (Django default)", hashers.BCryptSHA256PasswordHasher(), "hunter2", costly=True)
add("bcrypt cost 4", SmallBCrypt(), "secret")
add("bcrypt unicode", SmallBCrypt(), "pässwörd ✓")
add("bcrypt password over 72 bytes (bcrypt truncates)", SmallBCrypt(), "q" * 80, truncates=True)
add("argon2id small", SmallArgon2(), "secret")
add("argon2id unicode", SmallArgon2(), "pässwörd ✓ 密码")
add("argon2id Django default", hashers.Argon2PasswordHasher(), "secret", costly=True)

# Older Django releases stored argon2i hashes.
encoded = "argon2" + argon2.low_level.hash_secret(
    b"secret", b"someoldsalt", time_cost=2, memory_cost=64, parallelism=2,
    hash_len=16, type=argon2.low_level.Type.I,
).decode("ascii")
assert hashers.Argon2PasswordHasher().verify("secret", encoded)
vectors.append({"name": "argon2i (older Django)", "password": "secret", "encoded": encoded, "truncates": False, "costly": False})

# latch's own format (no "argon2" prefix), written by argon2-cffi with the
# small parameters the Go tests use: memory 64 KiB, 1 pass, 1 lane, 16-byte
# salt, 32-byte key.
encoded = argon2.low_level.hash_secret(
    "pässwörd".encode(), b"0123456789abcdef", time_cost=1, memory_cost=64,
    parallelism=1, hash_len=32, type=argon2.low_level.Type.ID,
).decode("ascii")
assert argon2.PasswordHasher().verify(encoded, "pässwörd")
vectors.append({"name": "latch PHC argon2id (argon2-cffi)", "password": "pässwörd", "encoded": encoded, "truncates": False, "costly": False})

print(json.dumps(vectors, indent=2, ensure_ascii=False))
