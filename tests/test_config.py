"""Configuration precedence, development secrets, and the production refusal."""

import pytest

from app import create_app
from app.config import ConfigError

STRONG = "Yq3vT9xKp2LmZr8WfB6nHc4JdA7sE1uG"
OTHER_STRONG = "kP7wQ2zR9mX4vN8bT3cJ6hL1fD5gS0aY"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """An environment with none of our settings, run from a scratch directory."""
    from app.config import ENV_SETTINGS

    for name in list(ENV_SETTINGS) + ["FLASK_DEBUG"]:
        # setenv first, so that whatever .env loading adds meanwhile is undone at teardown.
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def make(tmp_path, **config):
    config.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path}/x.sqlite3")
    return create_app(config)


def test_defaults(clean_env, tmp_path):
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/todos.sqlite3")
    assert app.config["ACCESS_TOKEN_MINUTES"] == 15
    assert app.config["MAX_CONTENT_LENGTH"] == 1048576
    assert app.config["DEBUG"] is False


def test_dotenv_then_environment_then_instance(clean_env, tmp_path):
    (tmp_path / ".env").write_text("ACCESS_TOKEN_MINUTES=5\nREFRESH_TOKEN_DAYS=7\nTRUSTED_PROXIES=1\n")
    clean_env.setenv("REFRESH_TOKEN_DAYS", "9")
    app = make(tmp_path)
    assert app.config["ACCESS_TOKEN_MINUTES"] == 5  # from .env
    assert app.config["REFRESH_TOKEN_DAYS"] == 9  # the environment wins over .env
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "config.py").write_text("REFRESH_TOKEN_DAYS = 11\n")
    from flask import Flask

    from app.config import load_config

    flask_app = Flask("app", instance_path=str(tmp_path / "instance"), instance_relative_config=True)
    load_config(flask_app)
    assert flask_app.config["REFRESH_TOKEN_DAYS"] == 11  # instance/config.py wins over the environment
    assert flask_app.config["JWT_REFRESH_TOKEN_EXPIRES"].days == 11


def test_postgres_url_uses_psycopg3(clean_env, tmp_path):
    clean_env.setenv("DATABASE_URL", "postgres://u@127.0.0.1/db")
    from flask import Flask

    from app.config import load_config

    app = Flask("app", instance_path=str(tmp_path))
    load_config(app)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@127.0.0.1/db"
    assert "pool_pre_ping" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]  # app.db_engine pings after idling


def test_development_secrets_are_generated_once_and_shared(clean_env, tmp_path):
    first = create_app()
    second = create_app()
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["JWT_SECRET_KEY"] == second.config["JWT_SECRET_KEY"]
    assert first.config["SECRET_KEY"] != first.config["JWT_SECRET_KEY"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "needs SECRET_KEY"),
        ({"SECRET_KEY": STRONG}, "needs JWT_SECRET_KEY"),
        ({"SECRET_KEY": "short", "JWT_SECRET_KEY": STRONG}, "SECRET_KEY is shorter than 32 bytes"),
        ({"SECRET_KEY": "change-me-" + STRONG, "JWT_SECRET_KEY": STRONG}, "SECRET_KEY is the example value"),
        ({"SECRET_KEY": STRONG, "JWT_SECRET_KEY": OTHER_STRONG, "FLASK_DEBUG": "1"}, "debugger"),
        ({"SECRET_KEY": STRONG, "JWT_SECRET_KEY": STRONG}, "must be different"),
        ({"SECRET_KEY": "a" * 32, "JWT_SECRET_KEY": STRONG}, "SECRET_KEY does not look random"),
        ({"SECRET_KEY": STRONG, "JWT_SECRET_KEY": "abcd" * 16}, "JWT_SECRET_KEY does not look random"),
        ({"SECRET_KEY": STRONG, "JWT_SECRET_KEY": "0123456789" * 4}, "JWT_SECRET_KEY does not look random"),
    ],
)
def test_production_refuses_without_real_secrets(clean_env, tmp_path, env, message):
    clean_env.setenv("APP_ENV", "production")
    for name, value in env.items():
        clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        make(tmp_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_production_starts_with_real_secrets(clean_env, tmp_path):
    clean_env.setenv("APP_ENV", "production")
    clean_env.setenv("SECRET_KEY", STRONG)
    clean_env.setenv("JWT_SECRET_KEY", OTHER_STRONG)
    clean_env.setenv("METRICS_TOKEN", "scrape-token")
    clean_env.setenv("PUBLIC_BASE_URL", "https://todos.example.com/")
    clean_env.setenv("MAIL_URL", "log")
    app = make(tmp_path)
    assert app.config["PUBLIC_BASE_URL"] == "https://todos.example.com"
    assert app.config["JWT_COOKIE_SECURE"] is True
    assert app.debug is False


def test_generated_secrets_pass_the_randomness_check():
    import secrets

    from app.config import MIN_SECRET_BITS, secret_bits

    for _ in range(50):
        assert secret_bits(secrets.token_urlsafe(32)) >= MIN_SECRET_BITS
        assert secret_bits(secrets.token_hex(32)) >= MIN_SECRET_BITS


@pytest.mark.parametrize(("token", "warned"), [(None, True), ("scrape-token", False)])
def test_production_warns_when_metrics_are_open(clean_env, tmp_path, caplog, token, warned):
    clean_env.setenv("APP_ENV", "production")
    clean_env.setenv("SECRET_KEY", STRONG)
    clean_env.setenv("JWT_SECRET_KEY", OTHER_STRONG)
    clean_env.setenv("PUBLIC_BASE_URL", "https://todos.example.com")
    clean_env.setenv("MAIL_URL", "log")
    if token:
        clean_env.setenv("METRICS_TOKEN", token)
    make(tmp_path)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("/metrics is open" in message for message in warnings) is warned


def test_bad_number_is_a_clear_error(clean_env, tmp_path):
    clean_env.setenv("ACCESS_TOKEN_MINUTES", "ten")
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_MINUTES"):
        make(tmp_path)


def test_production_needs_public_base_url(clean_env, tmp_path):
    clean_env.setenv("APP_ENV", "production")
    clean_env.setenv("SECRET_KEY", STRONG)
    clean_env.setenv("JWT_SECRET_KEY", OTHER_STRONG)
    clean_env.delenv("PUBLIC_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="needs PUBLIC_BASE_URL"):
        make(tmp_path)


@pytest.mark.parametrize(
    "value", ["todos.example.com", "ftp://todos.example.com", "https://x.example/?a=1", "https://"]
)
def test_public_base_url_must_be_an_http_url(clean_env, tmp_path, value):
    clean_env.setenv("PUBLIC_BASE_URL", value)
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        make(tmp_path)


def test_log_level_in_any_case_and_a_bad_one_is_one_line(clean_env, tmp_path):
    """gunicorn.conf.py reads LOG_LEVEL lower-cased; the service takes it in any case too."""
    clean_env.setenv("LOG_LEVEL", "warning")
    assert make(tmp_path).config["LOG_LEVEL"] == "WARNING"
    clean_env.setenv("LOG_LEVEL", "loud")
    with pytest.raises(ConfigError) as info:
        make(tmp_path)
    assert str(info.value) == "config: LOG_LEVEL='loud' is not a valid value"


@pytest.mark.parametrize(("raw", "share"), [("0.25", 0.25), ("1", 1.0), ("0", None), ("1.5", None), ("half", None)])
def test_export_duty_cycle_is_a_share_above_0_and_at_most_1(clean_env, tmp_path, raw, share):
    clean_env.setenv("EXPORT_DUTY_CYCLE", raw)
    if share is None:
        with pytest.raises(ConfigError, match="EXPORT_DUTY_CYCLE"):
            make(tmp_path)
    else:
        assert make(tmp_path).config["EXPORT_DUTY_CYCLE"] == share
