"""Liveness, readiness, and recovery when the database goes away and comes back."""

import pytest

from app import create_app
from ops.proxy import TcpProxy
from tests.conftest import PG_URL, REDIS_URL, make_config


def test_root_is_the_web_app_and_links_the_docs(client):
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert client.get("/docs").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok"}


def test_readyz_without_redis(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json["checks"] == {"database": "ok", "redis": "not configured"}


@pytest.mark.redis
def test_readyz_with_redis(database_url):
    app = create_app(make_config(database_url, REDIS_URL=REDIS_URL))
    r = app.test_client().get("/readyz")
    assert r.status_code == 200
    assert r.json["checks"]["redis"] == "ok"


def test_readyz_redis_down_is_503(database_url):
    app = create_app(make_config(database_url, REDIS_URL="redis://127.0.0.1:1/0"))
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    assert r.json["checks"]["redis"] == "unavailable"


@pytest.mark.postgres
def test_database_outage_gives_503_then_recovers(database_url, auth):
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    outage = TcpProxy(url.port or 5432)
    try:
        proxied = url.set(host="127.0.0.1", port=outage.port).render_as_string(hide_password=False)
        app = create_app(make_config(proxied))
        client = app.test_client()
        user = auth.user()
        assert client.get("/api/v1/users/me", headers=user.headers).status_code == 200

        outage.cut()
        r = client.get("/api/v1/users/me", headers=user.headers)
        assert r.status_code == 503, r.get_data(as_text=True)
        assert r.mimetype == "application/problem+json"
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200

        outage.restore()
        assert client.get("/api/v1/users/me", headers=user.headers).status_code == 200
        assert client.get("/readyz").status_code == 200
    finally:
        outage.close()


def test_pg_url_fixture_matches_env():
    assert (PG_URL is None) or PG_URL.startswith("postgresql")
