"""The default API rate limit: its key (user or client address), its value and its exemptions."""

import math
import time

from flask import current_app, g, has_request_context, request
from flask_limiter import HeaderNames, Limiter
from limits import WindowStats
from limits.storage import RedisStorage
from limits.strategies import STRATEGIES, FixedWindowRateLimiter

from app.auth.claims import PERSONAL_PREFIX, token_claims
from app.personal_tokens.principal import header_token, user_id_for

# The limit applies to the API only; operations, docs and static assets are never throttled.
LIMITED_PREFIX = "/api/"


def bearer_token():
    """The request's access token: the Bearer header, else the access cookie."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.cookies.get("access_token_cookie")


def rate_limit_key():
    """Key a request by its token's user when the token verifies, else by client address.

    No database query for a JWT: a revoked but unexpired token still counts against its own user,
    which is what a limit should do; a forged one counts against its sender's address.
    The verified claims are kept for flask-jwt-extended, so the token is checked once.
    """
    token = bearer_token()
    user_id = None
    if token and token.startswith(PERSONAL_PREFIX):
        user_id = _personal_token_user(token)
    elif token:
        claims = token_claims(token)
        user_id = claims["sub"] if claims is not None else None
    if user_id is not None:
        return f"user:{user_id}"
    # remote_addr is the peer, or the X-Forwarded-For hop that TRUSTED_PROXIES vouches for (ProxyFix).
    return f"addr:{request.remote_addr or 'unknown'}"


def _personal_token_user(token):
    """The user of a personal token in the Authorization header (live or not), else None.

    That is the one query the request makes for its credential anyway, made earlier.
    """
    return user_id_for(token) if header_token() == token else None


class OneTripFixedWindow(FixedWindowRateLimiter):
    """The fixed window, whose hit also reads the window's reset time in the same round trip.

    Flask-Limiter reads the window (a GET and a TTL) after every hit to write the
    RateLimit-* headers; answering that from what the hit saw saves both trips.
    """

    def __init__(self, storage):
        super().__init__(storage)
        self._incr_ttl = None

    def hit(self, item, *identifiers, cost=1):
        key = item.key_for(*identifiers)
        count, ttl = self._incr(key, item.get_expiry(), cost)
        if has_request_context():
            windows = g.setdefault("_rate_windows", {})
            windows[key] = WindowStats(time.time() + max(ttl, 0), max(0, item.amount - count))
        return count <= item.amount

    def get_window_stats(self, item, *identifiers):
        seen = g.get("_rate_windows", {}).get(item.key_for(*identifiers)) if has_request_context() else None
        return seen or super().get_window_stats(item, *identifiers)

    def _incr(self, key, expiry, amount):
        """(count after adding `amount`, seconds left in the window)."""
        if isinstance(self.storage, RedisStorage):
            if self._incr_ttl is None:
                self._incr_ttl = self.storage.get_connection().register_script(INCR_TTL)
            count, ttl = self._incr_ttl([self.storage.prefixed_key(key)], [expiry, amount])
            return int(count), int(ttl)
        count = self.storage.incr(key, expiry, amount=amount)
        return count, self.storage.get_expiry(key) - time.time()


# limits' own incr_expire script, answering the key's TTL too.
INCR_TTL = """
local amount = tonumber(ARGV[2])
local current = redis.call("incrby", KEYS[1], amount)
if tonumber(current) == amount then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""
STRATEGY = "fixed-window-one-trip"
STRATEGIES[STRATEGY] = OneTripFixedWindow


def default_limit():
    """RATE_LIMIT_DEFAULT of the running app, read per request so every app keeps its own."""
    return current_app.config["RATE_LIMIT_DEFAULT"]


def is_exempt():
    """Exempt everything outside /api/ and CORS preflights from the default limit."""
    return request.method == "OPTIONS" or not request.path.startswith(LIMITED_PREFIX)


def retry_after_seconds():
    """Seconds until the breached limit of this request resets (at least 1)."""
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
    app.after_request(_drop_stray_retry_after)  # registered first, so it runs after the limiter's hook
    limiter._storage_dead = False  # noqa: SLF001 - the singleton outlives test apps
    limiter.init_app(app)


# One budget per user (or client address) across the whole API; RateLimit-* headers on
# every limited response (read in the hit's own round trip); a Redis outage falls back
# to per-process counting, logged.
limiter = Limiter(
    key_func=rate_limit_key,
    strategy=STRATEGY,
    application_limits=[default_limit],
    application_limits_exempt_when=is_exempt,
    headers_enabled=True,
    header_name_mapping={
        HeaderNames.LIMIT: "RateLimit-Limit",
        HeaderNames.REMAINING: "RateLimit-Remaining",
        HeaderNames.RESET: "RateLimit-Reset",
        HeaderNames.RETRY_AFTER: "Retry-After",
    },
    in_memory_fallback_enabled=True,
    swallow_errors=True,
)
