"""The default API rate limit: its key (user or client address), its value and its exemptions."""

import base64
import hashlib
import hmac
import math
import time

import orjson
from flask import current_app, request

# The limit applies to the API only; operations, docs and static assets are never throttled.
LIMITED_PREFIX = "/api/"


def _bearer_token():
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.cookies.get("access_token_cookie")


def verified_subject(token, key):
    """The `sub` of an unexpired HS256 token signed with `key`, else None.

    One HMAC and one JSON parse, a fraction of a full PyJWT decode: this runs on every
    request. Any other algorithm (including "none") fails the signature comparison.
    """
    try:
        signing_input, signature = token.encode("ascii").rsplit(b".", 1)
        expected = hmac.new(key, signing_input, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, base64.urlsafe_b64decode(signature + b"=" * (-len(signature) % 4))):
            return None
        payload = signing_input.split(b".", 1)[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
        if float(claims["exp"]) <= time.time():
            return None
        return str(claims["sub"])
    except (ValueError, KeyError, TypeError, IndexError, UnicodeError, orjson.JSONDecodeError):
        return None


def rate_limit_key():
    """Key a request by its token's user when the token verifies, else by client address.

    No database query: a revoked but unexpired token still counts against its own user,
    which is what a limit should do; a forged one counts against its sender's address.
    """
    token = _bearer_token()
    if token:
        subject = verified_subject(token, current_app.config["JWT_SECRET_KEY"].encode())
        if subject is not None:
            return f"user:{subject}"
    # remote_addr is the peer, or the X-Forwarded-For hop that TRUSTED_PROXIES vouches for (ProxyFix).
    return f"addr:{request.remote_addr or 'unknown'}"


def default_limit():
    """RATE_LIMIT_DEFAULT of the running app, read per request so every app keeps its own."""
    return current_app.config["RATE_LIMIT_DEFAULT"]


def is_exempt():
    """Exempt everything outside /api/ and CORS preflights from the default limit."""
    return request.method == "OPTIONS" or not request.path.startswith(LIMITED_PREFIX)


def retry_after_seconds():
    """Seconds until the breached limit of this request resets (at least 1)."""
    from app.extensions import limiter

    current = limiter.current_limit
    if current is None:
        return 1
    try:
        return max(1, math.ceil(current.reset_at - time.time()))
    except Exception:  # the storage went away between the breach and the answer
        return int(current.limit.get_expiry())


def _drop_stray_retry_after(response):
    # Flask-Limiter adds Retry-After to every limited response; it only means something on 429 and 503.
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def init_ratelimit(app):
    """Bind the limiter; a storage left unreachable by a previous app is tried afresh."""
    from app.extensions import limiter

    app.after_request(_drop_stray_retry_after)  # registered first, so it runs after the limiter's hook
    limiter._storage_dead = False  # noqa: SLF001 - the singleton outlives test apps
    limiter.init_app(app)
