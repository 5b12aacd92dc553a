"""bench/features.py: each switch removes exactly its feature, shown by requests with it on and off."""

import logging

import pytest
import redis
from prometheus_client import REGISTRY
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.auth.tokens import register_jwt_callbacks
from app.revalidation import PREFIX
from bench import features
from tests.conftest import REDIS_URL, make_config
from tests.factories import make_cast
from tests.sql import count_statements

TODOS = "/api/v1/todos"

pytestmark = pytest.mark.own_engine  # a switch removes its engine's listeners for good


@pytest.fixture(autouse=True)
def _restore_process_wide_state():
    """Two switches act on process-wide objects (the JWT manager, SQLAlchemy's Session): undo them."""
    yield
    register_jwt_callbacks()
    for name, listener in features.revalidation_listeners():
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


@pytest.fixture
def app_config(database_url):
    """Production's Redis for the revalidation cache (the default limit stays off unless a test enables it)."""
    return make_config(database_url, REDIS_URL=REDIS_URL)


def switched(app, off, name):
    return features.switch_off(app, name) if off else app


def test_an_unknown_feature_fails_before_any_app_is_built(monkeypatch):
    with pytest.raises(ValueError, match="unknown feature 'etag'; one of: revocation, rate-limits"):
        features.create("etag")
    monkeypatch.setenv(features.ENV_VAR, "logs")
    with pytest.raises(ValueError, match="unknown feature 'logs'"):
        features.app  # noqa: B018 - the module attribute Gunicorn reads


@pytest.mark.parametrize("name", ["metrics", "request-logs", "request-ids", "scopes", "nul-refusal", "cors"])
def test_a_switch_that_finds_nothing_to_remove_fails(app, name):
    features.switch_off(app, name)
    with pytest.raises(LookupError, match="is not registered"):
        features.switch_off(app, name)


@pytest.mark.parametrize("off", [False, True])
def test_revocation_off_accepts_the_token_of_an_ended_login(app, client, auth, off):
    user = auth.user()
    assert client.post("/api/v1/auth/logout", headers=user.headers).status_code == 204
    switched(app, off, "revocation")
    with count_statements(app) as statements:
        r = client.get(TODOS, headers=user.headers)
    if off:
        assert r.status_code == 200
        assert not any("auth_sessions" in s for s in statements), statements
    else:
        assert r.status_code == 401
        assert r.json["detail"] == "The token has been revoked."


@pytest.fixture
def limited(database_url):
    """An app whose default limit (one request a minute, in memory) is enforced, as in production."""
    return features.create(test_config=make_config(database_url, RATELIMIT_ENABLED=True, RATE_LIMIT_DEFAULT="1/minute"))


@pytest.mark.parametrize("off", [False, True])
def test_rate_limits_off_counts_nothing_and_sends_no_headers(limited, off):
    client = switched(limited, off, "rate-limits").test_client()
    answers = [client.get("/api/v1/openapi.json") for _ in range(2)]
    if off:
        assert [r.status_code for r in answers] == [200, 200]
        assert not [name for r in answers for name, _ in r.headers if name.startswith("RateLimit-")]
    else:
        assert [r.status_code for r in answers] == [200, 429]
        assert answers[0].headers["RateLimit-Limit"] == "1"


def _samples(route):
    labels = {"route": route, "method": "GET"}
    count = REGISTRY.get_sample_value("http_requests_total", {**labels, "status": "200"}) or 0
    observed = REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) or 0
    return count, observed


@pytest.mark.parametrize("off", [False, True])
def test_metrics_off_moves_no_counter(app, client, auth, off):
    user = auth.user()
    switched(app, off, "metrics")
    before = _samples(TODOS)
    assert client.get(TODOS, headers=user.headers).status_code == 200
    assert _samples(TODOS) == (before if off else (before[0] + 1, before[1] + 1))


@pytest.mark.parametrize("off", [False, True])
def test_request_logs_off_writes_no_request_line(app, client, caplog, off):
    caplog.set_level(logging.INFO, logger="app.request")
    switched(app, off, "request-logs")
    assert client.get("/healthz").status_code == 200
    lines = [r for r in caplog.records if r.name == "app.request"]
    assert len(lines) == (0 if off else 1)


@pytest.mark.parametrize("off", [False, True])
def test_request_ids_off_sends_no_request_id(app, client, off):
    switched(app, off, "request-ids")
    r = client.get("/healthz", headers={"X-Request-ID": "trace-1"})
    assert r.headers.get("X-Request-ID") == (None if off else "trace-1")
    assert r.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("off", [False, True])
def test_security_headers_off_keeps_only_the_request_id_and_charset(app, client, auth, off):
    user = auth.user()
    switched(app, off, "security-headers")
    r = client.get(TODOS, headers={**user.headers, "X-Request-ID": "trace-2"})
    security = {"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Cache-Control"}
    assert security & set(r.headers.keys()) == (set() if off else security)
    assert r.headers["X-Request-ID"] == "trace-2"
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.redis
@pytest.mark.parametrize("off", [False, True])
def test_etags_off_revalidates_from_the_database_every_time(app, client, auth, off):
    store = redis.Redis.from_url(REDIS_URL)
    for key in store.scan_iter(PREFIX + "*"):
        store.delete(key)
    switched(app, off, "etags")
    cast = make_cast(app, auth)
    path = f"{TODOS}/{cast.todo_id}"
    etag = client.get(path, headers=cast.owner.headers).headers["ETag"]
    conditional = {**cast.owner.headers, "If-None-Match": etag}
    assert client.get(path, headers=conditional).status_code == 304  # through the database
    with count_statements(app) as statements:
        again = client.get(path, headers=conditional)
    assert again.status_code == 304 and again.headers["ETag"] == etag
    assert len(statements) == (2 if off else 0), statements  # session + version, or nothing (Redis)


@pytest.mark.parametrize("off", [False, True])
def test_scopes_off_lets_a_personal_token_outside_its_scopes(app, client, auth, off):
    user = auth.user()
    r = client.post("/api/v1/auth/tokens", json={"name": "ci", "scopes": ["lists:read"]}, headers=user.headers)
    personal = {"Authorization": f"Bearer {r.json['token']}"}
    switched(app, off, "scopes")
    r = client.get(TODOS, headers=personal)
    assert r.status_code == (200 if off else 403)


@pytest.mark.parametrize("off", [False, True])
def test_nul_refusal_off_lets_a_nul_through(app, client, auth, off):
    user = auth.user()
    switched(app, off, "nul-refusal")
    r = client.get(TODOS + "?unknown=a%00b", headers=user.headers)
    assert r.status_code == (200 if off else 400)


@pytest.mark.parametrize("off", [False, True])
def test_cors_off_sends_no_cross_origin_headers(app, client, off):
    switched(app, off, "cors")
    r = client.get("/api/v1/shared/not-a-token/todos", headers={"Origin": "https://elsewhere.example"})
    assert r.status_code == 404
    assert r.headers.get("Access-Control-Allow-Origin") == (None if off else "*")
