"""Unbound extension singletons, bound to the app in create_app()."""

from flask_limiter import HeaderNames, Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from app.auth.claims import JWTManager
from app.ratelimit import STRATEGY, default_limit, is_exempt, rate_limit_key


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
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
