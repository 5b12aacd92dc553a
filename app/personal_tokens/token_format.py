"""The token format: `tdp_`, 32 random base62 characters, a 6-character base62 CRC32 of them.

The checksum lets a secret scanner recognise a leaked token and lets the service refuse
a mistyped one before any database lookup. Only the SHA-256 of a token is stored: with
190 random bits, a fast hash is as safe as a slow one and costs microseconds per request.
"""

import hashlib
import re
import secrets
import zlib

PREFIX = "tdp_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 32  # 62**32 is about 2**190
CHECKSUM_LENGTH = 6  # 62**6 > 2**32: a whole CRC32
_SHAPE = re.compile(rf"{PREFIX}[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}")


def _base62(number, width):
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def checksum(random_part):
    """The base62 CRC32 of a token's random part, 6 characters."""
    return _base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


def new_token():
    """A fresh token: prefix, random part, checksum."""
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return PREFIX + random_part + checksum(random_part)


def looks_personal(token):
    """Whether a bearer value is meant as a personal token (it may still be malformed)."""
    return token.startswith(PREFIX)


def well_formed(token):
    """Whether `token` has the format and a matching checksum; no database involved."""
    if not _SHAPE.fullmatch(token):
        return False
    body = token[len(PREFIX) :]
    return checksum(body[:RANDOM_LENGTH]) == body[RANDOM_LENGTH:]


def hash_token(token):
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()
