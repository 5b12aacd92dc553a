"""The default rate limit: one budget per user or client address, headers, 429 problems, Redis."""

import logging
import time
import urllib.error
import urllib.request

import pytest
import redis
from flask_jwt_extended import create_access_token

from app import create_app
from tests.conftest import REDIS_URL, make_config
from tests.live import start_server

LIMITED = "/api/v1/openapi.json"  # public and cheap: the limit, not the endpoint, is under test


def limited_app(database_url, limit="3 per minute", **overrides):
    return create_app(make_config(database_url, RATELIMIT_ENABLED=True, RATE_LIMIT_DEFAULT=limit, **overrides))


def get(client, path=LIMITED, addr="10.0.0.1", **kwargs):
    return client.get(path, environ_base={"REMOTE_ADDR": addr}, **kwargs)


def token_for(app, user_id, key=None):
    with app.app_context():
        if key:
            app.config["JWT_SECRET_KEY"], real = key, app.config["JWT_SECRET_KEY"]
            try:
                return create_access_token(identity=str(user_id), additional_claims={"sid": 1})
            finally:
                app.config["JWT_SECRET_KEY"] = real
        return create_access_token(identity=str(user_id), additional_claims={"sid": 1})


def test_headers_count_down(database_url):
    client = limited_app(database_url).test_client()
    remaining = []
    for _ in range(3):
        r = get(client)
        assert r.status_code == 200
        assert r.headers["RateLimit-Limit"] == "3"
        assert int(r.headers["RateLimit-Reset"]) > time.time()
        assert "Retry-After" not in r.headers
        remaining.append(r.headers["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]


def test_over_the_limit_is_a_429_problem(database_url):
    client = limited_app(database_url).test_client()
    for _ in range(3):
        assert get(client).status_code == 200
    r = get(client, headers={"X-Request-ID": "trace-429"})
    assert r.status_code == 429
    assert r.mimetype == "application/problem+json"
    assert r.json == {
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "Too many requests; slow down.",
        "request_id": "trace-429",
    }
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.headers["RateLimit-Limit"] == "3"
    assert r.headers["RateLimit-Remaining"] == "0"
    assert r.headers["X-Request-ID"] == "trace-429"


def test_budget_is_per_client_address(database_url):
    client = limited_app(database_url, "2 per minute").test_client()
    assert [get(client, addr="10.0.0.1").status_code for _ in range(3)] == [200, 200, 429]
    assert get(client, addr="10.0.0.2").status_code == 200


def test_budget_is_per_user_whatever_the_address(database_url):
    app = limited_app(database_url, "2 per minute")
    client = app.test_client()
    alice = {"Authorization": "Bearer " + token_for(app, 41)}
    bob = {"Authorization": "Bearer " + token_for(app, 42)}
    statuses = [get(client, addr=f"10.0.1.{i}", headers=alice).status_code for i in range(3)]
    assert statuses == [200, 200, 429]
    assert get(client, addr="10.0.1.0", headers=bob).status_code == 200
    assert get(client, addr="10.0.1.0").status_code == 200  # anonymous: that address has its own budget


def test_forged_token_does_not_spend_its_users_budget(database_url):
    app = limited_app(database_url, "1 per minute")
    client = app.test_client()
    forged = {"Authorization": "Bearer " + token_for(app, 41, key="not-the-key-" + "z" * 32)}
    assert get(client, addr="10.0.2.1", headers=forged).status_code == 200
    real = {"Authorization": "Bearer " + token_for(app, 41)}
    assert get(client, addr="10.0.2.2", headers=real).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/docs", "/docs/swagger-initializer.js"])
def test_operations_and_docs_are_exempt(database_url, path):
    client = limited_app(database_url, "1 per minute").test_client()
    for _ in range(3):
        r = get(client, path)
        assert r.status_code == 200
        assert "RateLimit-Limit" not in r.headers


def test_forwarded_for_is_ignored_without_trusted_proxies(database_url):
    client = limited_app(database_url, "1 per minute").test_client()
    assert get(client, headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 200
    assert get(client, headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 429


def test_forwarded_for_is_the_client_behind_a_trusted_proxy(database_url):
    client = limited_app(database_url, "1 per minute", TRUSTED_PROXIES=1).test_client()
    assert get(client, headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 200
    assert get(client, headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 200
    assert get(client, headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 429


def test_redis_down_fails_open_with_a_warning(database_url, caplog):
    client = limited_app(database_url, "2 per minute", REDIS_URL="redis://127.0.0.1:1/0").test_client()
    with caplog.at_level(logging.WARNING):
        r = get(client)
    assert r.status_code == 200
    warnings = [rec for rec in caplog.records if rec.name == "flask-limiter" and rec.levelno == logging.WARNING]
    assert warnings and "falling back to in-memory" in warnings[0].getMessage()
    # The process still limits on its own while Redis is away.
    assert [get(client).status_code for _ in range(2)] == [200, 429]


@pytest.mark.redis
def test_two_apps_share_one_budget_through_redis(database_url):
    _clear_limits(REDIS_URL)
    first = limited_app(database_url, "2 per minute", REDIS_URL=REDIS_URL).test_client()
    assert get(first, addr="10.0.3.1").status_code == 200
    second = limited_app(database_url, "2 per minute", REDIS_URL=REDIS_URL).test_client()
    assert get(second, addr="10.0.3.1").status_code == 200
    assert get(second, addr="10.0.3.1").status_code == 429


def _clear_limits(url):
    """Delete this service's rate-limit counters in the test Redis database only."""
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match="LIMITS*todos*"):
        client.delete(key)


def _status(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.redis
def test_headers_count_down_through_redis(database_url):
    _clear_limits(REDIS_URL)
    client = limited_app(database_url, "3 per minute", REDIS_URL=REDIS_URL).test_client()
    opened = int(time.time())
    answers = [get(client, addr="10.0.4.1") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert [r.headers["RateLimit-Limit"] for r in answers] == ["3"] * 4
    # The window opened with the first request and lasts a minute.
    resets = {int(r.headers["RateLimit-Reset"]) for r in answers}
    assert all(opened + 59 <= reset <= int(time.time()) + 61 for reset in resets), resets
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60


@pytest.mark.slow
@pytest.mark.redis
def test_gunicorn_servers_share_the_limit_through_redis(database_url):
    # Two single-worker servers rather than one with two workers: which worker accepts a
    # connection is up to the kernel, while here each process surely serves its share.
    _clear_limits(REDIS_URL)
    env = {"REDIS_URL": REDIS_URL, "RATE_LIMIT_DEFAULT": "12 per minute"}
    with start_server(database_url, workers=1, env=env) as one, start_server(database_url, workers=1, env=env) as two:
        assert [_status(server.url + LIMITED) for _ in range(6) for server in (one, two)] == [200] * 12
        assert [_status(one.url + LIMITED), _status(two.url + LIMITED)] == [429, 429]
