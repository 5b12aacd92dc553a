"""Configuration: defaults, then .env, then the environment, then instance/config.py."""

import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

# Values that appear in .env.example; production refuses to run with them.
EXAMPLE_SECRETS = {"change-me", "changeme", "secret", "dev", "development"}
MIN_SECRET_BYTES = 32


class ConfigError(SystemExit):
    """The configuration cannot run; the message is the one line shown to the operator."""


def _int(value):
    return int(value)


def _csv(value):
    return [item.strip() for item in value.split(",") if item.strip()]


def _bool(value):
    return value.strip().lower() in {"1", "true", "yes", "on"}


# Each setting of API.md's configuration table: environment name -> parser.
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
    "METRICS_TOKEN": str,
    "COOKIE_SECURE": _bool,
    "COOKIE_SAMESITE": str,
    "LOG_LEVEL": str,
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
    "METRICS_TOKEN": None,
    "COOKIE_SECURE": None,  # None: secure in production, not in development
    "COOKIE_SAMESITE": "Lax",
    "LOG_LEVEL": "INFO",
    "TESTING": False,
    "DEBUG": False,
    "PROPAGATE_EXCEPTIONS": False,
    "JSON_NESTING_LIMIT": 32,
    # How long Redis keeps what a database revalidation proved (app/revalidation.py): long enough for
    # clients that poll every few minutes; it also bounds what a worker killed between a commit and
    # its invalidation can leave behind. 0 turns it off.
    "REVALIDATION_CACHE_SECONDS": 300,
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
    _derive(app)


def _resolve_database(app):
    url = app.config.get("SQLALCHEMY_DATABASE_URI") or app.config["DATABASE_URL"]
    if not url:
        url = "sqlite:///" + str(Path(app.instance_path) / "todos.sqlite3")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    if url.startswith("sqlite"):
        options = {"connect_args": {"timeout": 15}}
    else:
        options = {
            "pool_pre_ping": True,
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


def _resolve_secrets(app):
    production = app.config["APP_ENV"] == "production"
    if production and app.config["DEBUG"]:
        raise ConfigError("config: APP_ENV=production refuses to run with the debugger on (FLASK_DEBUG)")
    for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
        value = app.config.get(name)
        if production:
            if not value:
                raise ConfigError(f"config: APP_ENV=production needs {name} (at least {MIN_SECRET_BYTES} random bytes)")
            if value.lower() in EXAMPLE_SECRETS or "change-me" in value.lower():
                raise ConfigError(f"config: {name} is the example value; set a real secret")
            if len(value.encode()) < MIN_SECRET_BYTES:
                raise ConfigError(f"config: {name} is shorter than {MIN_SECRET_BYTES} bytes")
        elif not value:
            Path(app.instance_path).mkdir(parents=True, exist_ok=True)
            app.config[name] = _dev_secret(app, name)


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
