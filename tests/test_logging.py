"""Structured logs: one JSON line per request with its request id; no secrets; Gunicorn in the same shape."""

import json
import logging
import re
import urllib.request

import pytest

from app.logs import JsonFormatter, logging_config
from tests.live import start_server

FORMATTER = JsonFormatter()


def request_lines(caplog):
    return [json.loads(FORMATTER.format(r)) for r in caplog.records if r.name == "app.request"]


def all_lines(caplog):
    return "\n".join(FORMATTER.format(r) for r in caplog.records)


@pytest.fixture
def caplog(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def test_one_json_line_per_request(client, caplog):
    r = client.get("/healthz", headers={"X-Request-ID": "req-abc.123"})
    assert r.headers["X-Request-ID"] == "req-abc.123"
    [line] = request_lines(caplog)
    assert line["request_id"] == "req-abc.123"
    assert line["method"] == "GET"
    assert line["route"] == "/healthz"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert line["level"] == "INFO"
    assert line["remote_addr"] == "127.0.0.1"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert "user_id" not in line


@pytest.mark.parametrize("given", ["", "has spaces", "x" * 129, "semi;colon", "<script>"])
def test_insane_request_id_is_replaced(client, caplog, given):
    r = client.get("/healthz", headers={"X-Request-ID": given})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"])
    assert request_lines(caplog)[0]["request_id"] == r.headers["X-Request-ID"]


def test_route_is_the_url_rule_and_404_has_none(client, caplog):
    client.get("/api/v1/users/12345")
    client.get("/no/such/thing")
    first, second = request_lines(caplog)
    assert first["route"] == "/api/v1/users/<int(min=1, max=2147483647):user_id>"
    assert first["path"] == "/api/v1/users/12345"
    assert first["status"] == 401
    assert (second["status"], "route" in second) == (404, False)


def test_authenticated_request_logs_user_id_and_never_the_token(client, auth, caplog):
    user = auth.user()
    caplog.clear()
    client.get("/api/v1/users/me", headers=user.headers)
    [line] = request_lines(caplog)
    assert line["user_id"] == str(user.id)
    assert user.access not in all_lines(caplog)


def test_login_password_never_reaches_the_log(client, auth, caplog):
    user = auth.user()
    client.post("/api/v1/auth/login", json={"email": user.email, "password": "Wrong-but-secret-9"})
    client.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
    text = all_lines(caplog)
    assert "Wrong-but-secret-9" not in text
    assert user.password not in text
    assert [line["status"] for line in request_lines(caplog)][-2:] == [401, 200]


def test_share_token_in_the_path_is_redacted(client, caplog):
    token = "s3cr3t-share-token-value"
    client.get(f"/api/v1/shared/{token}/todos")
    [line] = request_lines(caplog)
    assert line["path"] == "/api/v1/shared/[redacted]/todos"
    assert token not in all_lines(caplog)


@pytest.mark.parametrize(
    ("method", "tail"),
    [("PUT", "/todos"), ("GET", "/todos/abc"), ("GET", "/todos/1/x"), ("GET", ""), ("GET", "/nothing")],
)
def test_share_token_is_redacted_when_no_route_matches(client, caplog, method, tail):
    token = "s3cr3t-share-token-value"
    r = client.open(f"/api/v1/shared/{token}{tail}", method=method)
    assert r.status_code in (404, 405)
    [line] = request_lines(caplog)
    assert line["path"] == f"/api/v1/shared/[redacted]{tail}"
    assert token not in all_lines(caplog)


def test_share_token_is_redacted_in_the_error_log(app, caplog):
    def boom(token):
        raise RuntimeError("kaput")

    app.add_url_rule("/api/v1/shared/<token>/boom", "shared_boom", boom)
    token = "s3cr3t-share-token-value"
    assert app.test_client().get(f"/api/v1/shared/{token}/boom").status_code == 500
    assert "RuntimeError: kaput" in all_lines(caplog)
    assert token not in all_lines(caplog)


def test_unexpected_error_is_logged_with_the_request_id(app, caplog):
    def boom():
        raise RuntimeError("kaput")

    app.add_url_rule("/boom", "boom", boom)
    r = app.test_client().get("/boom", headers={"X-Request-ID": "boom-1"})
    assert r.status_code == 500
    errors = [json.loads(FORMATTER.format(rec)) for rec in caplog.records if rec.levelno == logging.ERROR]
    assert errors[0]["request_id"] == "boom-1"
    assert "RuntimeError: kaput" in errors[0]["exception"]
    assert request_lines(caplog)[-1]["status"] == 500


def test_gunicorn_logging_config_turns_off_the_access_log():
    config = logging_config("info")
    assert config["loggers"]["gunicorn.access"]["propagate"] is False
    assert config["loggers"]["gunicorn.access"]["level"] == "WARNING"
    assert config["root"]["handlers"] == ["stdout"]


@pytest.mark.slow
def test_live_server_writes_one_json_line_per_request(database_url):
    with start_server(database_url, workers=2) as server:
        ids = [f"live-{n}" for n in range(4)]
        for request_id in ids:
            request = urllib.request.Request(server.url + "/healthz", headers={"X-Request-ID": request_id})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.headers["X-Request-ID"] == request_id
        log = server.log
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]  # every line is JSON
    requests = [line for line in lines if line["logger"] == "app.request" and line["request_id"].startswith("live-")]
    assert sorted(line["request_id"] for line in requests) == ids
    assert all(line["route"] == "/healthz" and line["status"] == 200 for line in requests)
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in lines)
    assert not any(line["logger"] == "gunicorn.access" for line in lines)
    assert '"GET /healthz HTTP/1.1"' not in log  # no second, access-log line per request
