"""CORS: credentialed access for the listed origins only; share links open to any origin."""

import pytest

from app import create_app
from tests.conftest import make_config

SPA = "https://app.example.com"
OTHER = "https://evil.example.net"


@pytest.fixture
def app_config(database_url):
    return make_config(database_url, CORS_ORIGINS=[SPA, "http://localhost:5173"])


def preflight(client, path, origin, method="PATCH", headers="Authorization, Content-Type, If-Match"):
    return client.options(
        path,
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


def test_allowed_origin_gets_credentialed_cors(client, auth):
    user = auth.user()
    r = client.get("/api/v1/users/me", headers={**user.headers, "Origin": SPA})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == SPA
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    exposed = {h.strip() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {
        "ETag",
        "Link",
        "Location",
        "X-Request-ID",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "Retry-After",
        "Idempotent-Replayed",
    }


def test_refused_origin_gets_no_cors_headers(client, auth):
    user = auth.user()
    r = client.get("/api/v1/users/me", headers={**user.headers, "Origin": OTHER})
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_error_answers_carry_cors_headers_too(client):
    r = client.get("/api/v1/users/me", headers={"Origin": SPA})
    assert r.status_code == 401
    assert r.headers["Access-Control-Allow-Origin"] == SPA


@pytest.mark.parametrize("method", ["PATCH", "DELETE", "PUT", "POST"])
def test_preflight_for_allowed_origin(client, method):
    headers = "Authorization, Content-Type, X-CSRF-TOKEN, Idempotency-Key, If-Match, If-None-Match, X-Request-ID"
    r = preflight(client, "/api/v1/users/me", SPA, method, headers)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == SPA
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert method in {m.strip() for m in r.headers["Access-Control-Allow-Methods"].split(",")}
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {h.strip().lower() for h in headers.split(",")}
    assert r.headers["Access-Control-Max-Age"] == "600"


def test_preflight_for_refused_origin(client):
    r = preflight(client, "/api/v1/users/me", OTHER)
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Access-Control-Allow-Methods" not in r.headers


def test_preflight_with_unlisted_header_is_not_granted(client):
    r = preflight(client, "/api/v1/users/me", SPA, "PATCH", "X-Custom")
    assert "Access-Control-Allow-Headers" not in r.headers


def test_preflights_are_not_rate_limited(database_url):
    app = create_app(
        make_config(database_url, CORS_ORIGINS=[SPA], RATELIMIT_ENABLED=True, RATE_LIMIT_DEFAULT="1 per minute")
    )
    client = app.test_client()
    assert [preflight(client, "/api/v1/users/me", SPA).status_code for _ in range(3)] == [200, 200, 200]


def test_wildcard_is_never_sent_with_credentials(database_url):
    app = create_app(make_config(database_url, CORS_ORIGINS=["*", SPA]))
    r = app.test_client().get("/api/v1/users/me", headers={"Origin": OTHER})
    assert r.headers.get("Access-Control-Allow-Origin") != "*"
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_no_origins_configured_means_no_cors(database_url):
    app = create_app(make_config(database_url))
    client = app.test_client()
    r = client.get("/api/v1/users/me", headers={"Origin": SPA})
    assert "Access-Control-Allow-Origin" not in r.headers
    r = preflight(client, "/api/v1/users/me", SPA)
    assert "Access-Control-Allow-Origin" not in r.headers


@pytest.mark.parametrize("origin", [SPA, OTHER, "null"])
def test_shared_links_allow_any_origin_without_credentials(client, origin):
    r = client.get("/api/v1/shared/not-a-token/todos", headers={"Origin": origin})
    assert r.status_code == 404
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_shared_links_preflight_every_method_and_header(database_url, method):
    client = create_app(make_config(database_url)).test_client()  # even with no CORS_ORIGINS
    r = preflight(client, "/api/v1/shared/tok/todos/1", OTHER, method, "Content-Type, X-Anything")
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert method in r.headers["Access-Control-Allow-Methods"]
    assert {h.strip() for h in r.headers["Access-Control-Allow-Headers"].split(",")} == {"Content-Type", "X-Anything"}
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_ops_endpoints_have_no_cors(client):
    r = client.get("/healthz", headers={"Origin": SPA})
    assert "Access-Control-Allow-Origin" not in r.headers
