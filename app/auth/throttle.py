"""Throttling of failed logins, per email and per client address (RATE_LIMIT_LOGIN each).

Only failures count: each limit is tested before the login runs and charged after a
401, so a user who types the right password is never slowed by their own successes,
while guessing, whether at one account from many addresses or at many accounts from
one address, is stopped at the limit with a 429. The counters live in the limiter's
storage (Redis when REDIS_URL is set, so every worker and instance shares them).
"""

import orjson
from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.extensions import limiter


def login_limit():
    return current_app.config["RATE_LIMIT_LOGIN"]


def login_email_key():
    """The normalized email of the login attempt; a body that does not parse counts as no email."""
    try:
        body = orjson.loads(request.get_data(cache=True))
    except (orjson.JSONDecodeError, RequestEntityTooLarge):
        body = None
    email = body.get("email") if isinstance(body, dict) else None
    email = email.strip().lower()[:254] if isinstance(email, str) else ""
    return "login-email:" + email


def login_address_key():
    return "login-addr:" + (request.remote_addr or "unknown")


def _failed(response):
    return response.status_code == 401


login_throttles = [
    limiter.limit(login_limit, key_func=login_email_key, deduct_when=_failed, override_defaults=False),
    limiter.limit(login_limit, key_func=login_address_key, deduct_when=_failed, override_defaults=False),
]
