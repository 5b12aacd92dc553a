"""Security headers on every answer, and no server banner from Gunicorn."""

import http.client

import pytest

from tests.live import start_server


@pytest.mark.parametrize(
    ("path", "status"),
    [("/healthz", 200), ("/api/v1/users/me", 401), ("/api/v1/nope", 404), ("/nope", 404), ("/metrics", 200)],
)
def test_common_headers(client, path, status):
    r = client.get(path)
    assert r.status_code == status
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Request-ID"]


@pytest.mark.parametrize("path", ["/api/v1/users/me", "/api/v1/nope"])
def test_api_answers_are_not_stored(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_docs_csp_still_forbids_framing(client):
    csp = client.get("/docs").headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp


@pytest.fixture(scope="module")
def server(database_url):
    with start_server(database_url, workers=1) as live:
        yield live


def _raw_get(server, path):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/healthz", "/api/v1/users/me", "/docs", "/nope"])
def test_gunicorn_sends_no_version_banner(server, path):
    response = _raw_get(server, path)
    servers = response.headers.get_all("Server") or []
    assert servers == ["todos"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.slow
def test_gunicorn_answers_the_api_with_no_store(server):
    response = _raw_get(server, "/api/v1/users/me")
    assert response.status == 401
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/problem+json"
