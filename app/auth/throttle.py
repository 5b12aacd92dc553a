"""Throttling of failed logins and of password resets, per email and per client address (RATE_LIMIT_LOGIN each).

Only failures count: each limit is tested before the login runs and charged after a
401, so a user who types the right password is never slowed by their own successes,
while guessing, whether at one account from many addresses or at many accounts from
one address, is stopped at the limit with a 429. The counters live in the limiter's
storage (Redis when REDIS_URL is set, so every worker and instance shares them).
"""

import orjson
from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.ratelimit import limiter


def login_limit():
    return current_app.config["RATE_LIMIT_LOGIN"]


def body_email():
    """The normalized email of the request body; a body that does not parse counts as no email."""
    try:
        body = orjson.loads(request.get_data(cache=True))
    except (orjson.JSONDecodeError, RequestEntityTooLarge):
        body = None
    email = body.get("email") if isinstance(body, dict) else None
    email = email.strip().lower()[:254] if isinstance(email, str) else ""
    return email


def login_email_key():
    return "login-email:" + body_email()


def login_address_key():
    return "login-addr:" + (request.remote_addr or "unknown")


def _failed(response):
    return response.status_code == 401


login_throttles = [
    limiter.limit(login_limit, key_func=login_email_key, deduct_when=_failed, override_defaults=False),
    limiter.limit(login_limit, key_func=login_address_key, deduct_when=_failed, override_defaults=False),
]


# Password reset requests: every request counts (each answer is a 202), per email and per address.
def _reset_email_key():
    return "reset-email:" + body_email()


def _reset_address_key():
    return "reset-addr:" + (request.remote_addr or "unknown")


def _token_address_key():
    return "token-addr:" + (request.remote_addr or "unknown")


def _token_refused(response):
    return response.status_code == 422


reset_throttles = [
    limiter.limit(login_limit, key_func=_reset_email_key, override_defaults=False),
    limiter.limit(login_limit, key_func=_reset_address_key, override_defaults=False),
]
# Redeeming a mailed token: refused tokens count per address, as failed logins do.
token_throttles = [
    limiter.limit(login_limit, key_func=_token_address_key, deduct_when=_token_refused, override_defaults=False),
]
