"""Configuration precedence, development secrets, and the production refusal."""

import pytest

from app import create_app
from app.config import ConfigError

STRONG = "s" * 40


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
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True


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
        ({"SECRET_KEY": STRONG, "JWT_SECRET_KEY": STRONG, "FLASK_DEBUG": "1"}, "debugger"),
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
    clean_env.setenv("JWT_SECRET_KEY", "k" * 40)
    app = make(tmp_path)
    assert app.config["JWT_COOKIE_SECURE"] is True
    assert app.debug is False


def test_bad_number_is_a_clear_error(clean_env, tmp_path):
    clean_env.setenv("ACCESS_TOKEN_MINUTES", "ten")
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_MINUTES"):
        make(tmp_path)
