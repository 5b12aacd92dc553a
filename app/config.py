"""Configuration: defaults, then .env, then the environment, then instance/config.py."""

import logging
import math
import os
import secrets
from collections import Counter
from pathlib import Path

import orjson
from dotenv import load_dotenv

# Values that appear in .env.example; production refuses to run with them.
EXAMPLE_SECRETS = {"change-me", "changeme", "secret", "dev", "development"}
MIN_SECRET_BYTES = 32
# What 32 random bytes hold at least half of, estimated from the characters' frequencies: "a" * 32
# holds 0 bits, a hex string of 32 random bytes about 256, token_urlsafe(48) about 330.
MIN_SECRET_BITS = 128

log = logging.getLogger("app.config")


class ConfigError(SystemExit):
    """The configuration cannot run; the message is the one line shown to the operator."""


def _int(value):
    return int(value)


def _csv(value):
    return [item.strip() for item in value.split(",") if item.strip()]


def _bool(value):
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _share(value):
    """A fraction above 0 and at most 1."""
    share = float(value)
    if not 0 < share <= 1:
        raise ValueError(value)
    return share


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(value):
    """A logging level name in any case (gunicorn.conf.py reads the same setting lower-cased)."""
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(value)
    return level


# Each setting of .env.example (and the README's "Configuration"): environment name -> parser.
ENV_SETTINGS = {
    "APP_ENV": str,
    "DATABASE_URL": str,
    "REDIS_URL": str,
    "SECRET_KEY": str,
    "JWT_SECRET_KEY": str,
    "ACCESS_TOKEN_MINUTES": _int,
    "REFRESH_TOKEN_DAYS": _int,
    "CORS_ORIGINS": _csv,
    "RATE_LIMIT_DEFAULT": str,
    "RATE_LIMIT_LOGIN": str,
    "RATE_LIMIT_SHARED": str,
    "MAX_CONTENT_LENGTH": _int,
    "WEBHOOK_ALLOWED_HOSTS": _csv,
    "TRUSTED_PROXIES": _int,
    "PUBLIC_BASE_URL": str,
    "METRICS_TOKEN": str,
    "COOKIE_SECURE": _bool,
    "COOKIE_SAMESITE": str,
    "LOG_LEVEL": _log_level,
    "MAIL_URL": str,
    "MAIL_FROM": str,
    "REGISTRATION": str,
    "REQUIRE_VERIFIED_EMAIL": _bool,
    "CHANGES_RETENTION_DAYS": _int,
    "EVENTS_HEARTBEAT_SECONDS": _int,
    "EXPORT_RETENTION_DAYS": _int,
    "JOB_FILES_DIR": str,
    "JOB_LEASE_SECONDS": _int,
    "JOB_MAX_ATTEMPTS": _int,
    "EXPORT_DUTY_CYCLE": _share,
}

DEFAULTS = {
    "APP_ENV": "development",
    "DATABASE_URL": None,
    "REDIS_URL": None,
    "SECRET_KEY": None,
    "JWT_SECRET_KEY": None,
    "ACCESS_TOKEN_MINUTES": 15,
    "REFRESH_TOKEN_DAYS": 30,
    "CORS_ORIGINS": [],
    "RATE_LIMIT_DEFAULT": "600 per minute",
    "RATE_LIMIT_LOGIN": "10 per minute",
    "RATE_LIMIT_SHARED": "300 per minute",
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "WEBHOOK_ALLOWED_HOSTS": [],
    "TRUSTED_PROXIES": 0,
    # The public origin every absolute URL is built on (app.http.external_url); development
    # without it uses the request's own. Required in production.
    "PUBLIC_BASE_URL": None,
    "METRICS_TOKEN": None,
    "COOKIE_SECURE": None,  # None: secure in production, not in development
    "COOKIE_SAMESITE": "Lax",
    "LOG_LEVEL": "INFO",
    # smtp://user:pass@host:port, smtps://..., ?starttls=1, or "log"; None in development: instance/mail/*.eml.
    "MAIL_URL": None,
    "MAIL_FROM": "Todos <no-reply@localhost>",
    "REGISTRATION": "open",  # open | invite-only | closed
    "REQUIRE_VERIFIED_EMAIL": False,
    # How long the change feed (GET /changes, /events) keeps changes; an older cursor is a 410.
    "CHANGES_RETENTION_DAYS": 30,
    # A comment line on every open event stream this often, so proxies keep it open.
    "EVENTS_HEARTBEAT_SECONDS": 15,
    "TESTING": False,
    "DEBUG": False,
    "PROPAGATE_EXCEPTIONS": False,
    "JSON_NESTING_LIMIT": 32,
    # How long Redis keeps what a database revalidation proved (app/revalidation.py): long enough for
    # clients that poll every few minutes; it also bounds what a worker killed between a commit and
    # its invalidation can leave behind. 0 turns it off.
    "REVALIDATION_CACHE_SECONDS": 300,
    # Exports and imports (app/jobs): export files are kept this many days, then removed (410).
    "EXPORT_RETENTION_DAYS": 7,
    # Where uploads and export files live; None: instance/jobs. Shared by the API and the worker.
    "JOB_FILES_DIR": None,
    # A worker renews its lease on a job every third of this; a job whose lease ran out (its
    # worker died) is taken again, and failed after JOB_MAX_ATTEMPTS runs.
    "JOB_LEASE_SECONDS": 60,
    "JOB_MAX_ATTEMPTS": 3,
    # The share of its time an export works: it rests the rest, between batches of rows, so
    # that web workers on the same host keep their latency (bench/jobs.py). 1: no rests.
    "EXPORT_DUTY_CYCLE": 0.5,
}


def from_environment(environ):
    """Return the settings present in `environ`, parsed."""
    found = {}
    for name, parse in ENV_SETTINGS.items():
        raw = environ.get(name)
        if raw is not None and raw != "":
            try:
                found[name] = parse(raw)
            except ValueError:
                raise ConfigError(f"config: {name}={raw!r} is not a valid value") from None
    return found


def load_config(app, test_config=None):
    """Fill app.config in precedence order and derive the library settings."""
    load_dotenv(Path.cwd() / ".env", override=False)
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(from_environment(os.environ))
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.from_mapping(test_config)
    if os.environ.get("FLASK_DEBUG", "").lower() in {"1", "true"}:
        app.config["DEBUG"] = True
    _resolve_database(app)
    _resolve_secrets(app)
    _resolve_public_base_url(app)
    _check_mail(app)
    _derive(app)


def _json_text(value):
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _resolve_database(app):
    url = app.config.get("SQLALCHEMY_DATABASE_URI") or app.config["DATABASE_URL"]
    if not url:
        url = "sqlite:///" + str(Path(app.instance_path) / "todos.sqlite3")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    # JSON columns (reminders, payloads, feed data) go through orjson, several times faster
    # than the json module on every row read.
    codec = {"json_serializer": _json_text, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        options = {"connect_args": {"timeout": 15}, **codec}
    else:
        options = {
            **codec,
            "pool_size": 5,
            "max_overflow": 5,
            "pool_timeout": 5,
            "pool_recycle": 1800,
            "connect_args": {"connect_timeout": 3},
        }
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)


def _dev_secret(app, name):
    """Read or create a development secret kept in instance/, so every worker agrees."""
    path = Path(app.instance_path) / f".{name.lower()}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def secret_bits(value):
    """An estimate of the random bits in `value`: its length times the entropy of its characters.

    A value that repeats a shorter one ("abcd" * 8) counts as that shorter one.
    """
    unit = value
    period = (value + value).find(value, 1)
    if 0 < period < len(value):
        unit = value[:period]
    counts = Counter(unit)
    return -sum(n * math.log2(n / len(unit)) for n in counts.values())


def _check_production_secret(name, value):
    if not value:
        raise ConfigError(f"config: APP_ENV=production needs {name} (at least {MIN_SECRET_BYTES} random bytes)")
    if value.lower() in EXAMPLE_SECRETS or "change-me" in value.lower():
        raise ConfigError(f"config: {name} is the example value; set a real secret")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"config: {name} is shorter than {MIN_SECRET_BYTES} bytes")
    if secret_bits(value) < MIN_SECRET_BITS:
        raise ConfigError(f"config: {name} does not look random (too few distinct characters); generate one")


def _resolve_secrets(app):
    production = app.config["APP_ENV"] == "production"
    if production and app.config["DEBUG"]:
        raise ConfigError("config: APP_ENV=production refuses to run with the debugger on (FLASK_DEBUG)")
    for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
        if production:
            _check_production_secret(name, app.config.get(name))
        elif not app.config.get(name):
            Path(app.instance_path).mkdir(parents=True, exist_ok=True)
            app.config[name] = _dev_secret(app, name)
    if production and app.config["SECRET_KEY"] == app.config["JWT_SECRET_KEY"]:
        raise ConfigError("config: SECRET_KEY and JWT_SECRET_KEY must be different secrets")
    if production and not app.config["METRICS_TOKEN"]:
        log.warning("config: /metrics is open to anyone (APP_ENV=production without METRICS_TOKEN)")


def _resolve_public_base_url(app):
    """Check PUBLIC_BASE_URL (an http(s) origin, maybe with a path) and drop a trailing slash."""
    from urllib.parse import urlsplit

    value = app.config.get("PUBLIC_BASE_URL")
    if not value:
        if app.config["APP_ENV"] == "production":
            raise ConfigError(
                "config: APP_ENV=production needs PUBLIC_BASE_URL (the public origin, e.g. https://todos.example.com)"
            )
        app.config["PUBLIC_BASE_URL"] = None
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"config: PUBLIC_BASE_URL={value!r} is not an http(s) URL without query or fragment")
    app.config["PUBLIC_BASE_URL"] = value.rstrip("/")


REGISTRATION_MODES = ("open", "invite-only", "closed")


def _check_mail(app):
    """REGISTRATION is one of its modes; MAIL_URL parses, and production has one."""
    from app.mail.transport import MailURLError, parse_mail_url

    c = app.config
    if c["REGISTRATION"] not in REGISTRATION_MODES:
        raise ConfigError(f"config: REGISTRATION must be one of {', '.join(REGISTRATION_MODES)}")
    if c["APP_ENV"] == "production" and not c["MAIL_URL"]:
        raise ConfigError("config: APP_ENV=production needs MAIL_URL (smtp://user:pass@host:port, or log)")
    try:
        parse_mail_url(c["MAIL_URL"])
    except MailURLError as e:
        raise ConfigError(f"config: MAIL_URL {e}") from None


def _derive(app):
    """Translate our settings into the names the libraries read."""
    from datetime import timedelta

    c = app.config
    production = c["APP_ENV"] == "production"
    secure = c["COOKIE_SECURE"] if c["COOKIE_SECURE"] is not None else production
    c.update(
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=c["ACCESS_TOKEN_MINUTES"]),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=c["REFRESH_TOKEN_DAYS"]),
        JWT_TOKEN_LOCATION=["headers", "cookies"],
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_COOKIE_SECURE=secure,
        JWT_COOKIE_SAMESITE=c["COOKIE_SAMESITE"],
        JWT_COOKIE_CSRF_PROTECT=True,
        JWT_CSRF_IN_COOKIES=True,
        JWT_ACCESS_COOKIE_PATH="/api/",
        JWT_REFRESH_COOKIE_PATH="/api/v1/auth/",
        JWT_ERROR_MESSAGE_KEY="detail",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        RATELIMIT_STORAGE_URI=c["REDIS_URL"] or "memory://",
        # RATE_LIMIT_DEFAULT is applied by app/ratelimit.py as one budget across the API.
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5} if c["REDIS_URL"] else {},
        RATELIMIT_KEY_PREFIX="todos",
    )
