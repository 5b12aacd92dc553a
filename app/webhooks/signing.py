"""Standard Webhooks signatures: secret `whsec_` + base64(key), HMAC-SHA256 over id.timestamp.body."""

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
KEY_BYTES = 32


def new_secret():
    """Return a fresh signing secret: `whsec_` + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _key(secret):
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret, message_id, timestamp, body):
    """Return the `webhook-signature` header value for a body (bytes) sent at `timestamp` (int)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret, message_id, timestamp, body, header):
    """Return whether any `v1,` signature in `header` matches; what a receiver does."""
    expected = sign(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())
