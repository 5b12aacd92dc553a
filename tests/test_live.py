"""The live-server helper runs the real service under Gunicorn and stops it."""

import time

import pytest
import requests

from tests.live import LiveServerError, start_server


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_live_server_serves_with_two_workers(live_server):
    server = live_server(workers=2)
    assert len(server.wait_for_workers(2)) == 2
    r = requests.get(server.url + "/healthz", timeout=30)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    r = requests.get(server.url + "/readyz", timeout=30)
    assert r.status_code == 200
    assert r.json()["checks"]["database"] == "ok"


@pytest.mark.slow
def test_live_server_stops_master_and_workers(live_server):
    server = live_server(workers=2)
    workers = server.wait_for_workers(2)
    server.stop()
    assert not server.running()
    assert [pid for pid in [server.pid, *workers] if _alive(pid)] == []
    assert "Booting worker" in server.log


@pytest.mark.slow
def test_live_server_shares_the_test_database(app, auth, live_server):
    user = auth.user()
    server = live_server(workers=1)
    r = requests.post(
        server.url + "/api/v1/auth/login", json={"email": user.email, "password": user.password}, timeout=30
    )
    assert r.status_code == 200
    assert r.json()["token_type"] == "Bearer"


def test_start_server_failure_raises_with_the_log(database_url):
    with pytest.raises(LiveServerError) as info:
        start_server(database_url, workers=1, env={"APP_ENV": "production", "SECRET_KEY": "short"})
    assert "SECRET_KEY is shorter than 32 bytes" in str(info.value)


@pytest.mark.slow
def test_start_server_as_context_manager(database_url):
    with start_server(database_url, workers=1) as server:
        assert requests.get(server.url + "/healthz", timeout=30).status_code == 200
    assert not server.running()


@pytest.mark.slow
def test_gevent_workers_start_without_a_traceback(live_server):
    """make run's worker class without Redis: timers the preloaded app started (the in-memory
    rate-limit storage's) end before the workers fork, so no worker logs a threading KeyError."""
    server = live_server(workers=2, env={"GUNICORN_WORKER_CLASS": "gevent", "REDIS_URL": None})
    assert len(server.wait_for_workers(2)) == 2
    assert requests.get(server.url + "/healthz", timeout=30).status_code == 200
    time.sleep(0.5)  # a pending timer runs within 10 ms of a worker's start
    assert "Traceback" not in server.log and "KeyError" not in server.log, server.log[-3000:]
