"""The live-server helper runs the real service under Gunicorn and stops it."""

import pytest
import requests

from tests.live import LiveServerError, start_server


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_live_server_serves_with_two_workers(live_server):
    server = live_server(workers=2)
    assert len(server.wait_for_workers(2)) == 2
    r = requests.get(server.url + "/healthz", timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    r = requests.get(server.url + "/readyz", timeout=5)
    assert r.status_code == 200
    assert r.json()["checks"]["database"] == "ok"


def test_live_server_stops_master_and_workers(live_server):
    server = live_server(workers=2)
    workers = server.wait_for_workers(2)
    server.stop()
    assert not server.running()
    assert [pid for pid in [server.pid, *workers] if _alive(pid)] == []
    assert "Booting worker" in server.log


def test_live_server_shares_the_test_database(app, auth, live_server):
    user = auth.user()
    server = live_server(workers=1)
    r = requests.post(
        server.url + "/api/v1/auth/login", json={"email": user.email, "password": user.password}, timeout=5
    )
    assert r.status_code == 200
    assert r.json()["token_type"] == "Bearer"


def test_start_server_failure_raises_with_the_log(database_url):
    with pytest.raises(LiveServerError) as info:
        start_server(database_url, workers=1, env={"APP_ENV": "production", "SECRET_KEY": "short"})
    assert "SECRET_KEY is shorter than 32 bytes" in str(info.value)


def test_start_server_as_context_manager(database_url):
    with start_server(database_url, workers=1) as server:
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
    assert not server.running()
