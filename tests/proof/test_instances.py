"""Two Gunicorn instances on one PostgreSQL and one Redis: revocation, limits, idempotency, webhooks."""

import json
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.conftest import REDIS_URL
from tests.live import ROOT, _environment, start_server
from tests.proof.helpers import QUIET_LIMITS, Client, count_rows, new_user, require

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
RECEIVER_PORTS = range(8196, 8200)


@pytest.fixture
def pair(database_url):
    """`pair(env)`: two instances with the same settings; both stop at teardown."""
    servers = []

    def start(env=None):
        settings = {**QUIET_LIMITS, "REDIS_URL": REDIS_URL, **(env or {})}
        servers.extend(start_server(database_url, workers=2, env=settings) for _ in range(2))
        return servers[-2:]

    yield start
    for server in servers:
        server.stop()


def test_logout_on_one_instance_is_seen_on_the_other(pair, routes_app):
    require(routes_app, "POST", "/api/v1/auth/logout")
    a, b = pair()
    user = new_user(a.url, "inst")
    assert Client(b.url, user.access).get("/users/me").status_code == 200
    assert Client(a.url, user.access).post("/auth/logout").status_code == 204
    r = Client(b.url, user.access).get("/users/me")
    assert r.status_code == 401, r.text
    assert Client(b.url).post("/auth/refresh", token=user.refresh).status_code == 401


def test_a_change_on_one_instance_is_never_answered_304_on_the_other(pair, routes_app):
    """The revalidation cache lives in Redis: a commit on A invalidates what B cached."""
    a, b = pair()
    user = new_user(a.url, "reval")
    owner_a, owner_b = Client(a.url, user.access), Client(b.url, user.access)
    list_id = owner_a.post("/lists", json={"name": "Revalidated"}).json()["id"]
    todo = owner_a.post(f"/lists/{list_id}/todos", json={"title": "First"}).json()
    etag = owner_b.get(f"/todos/{todo['id']}").headers["ETag"]
    for _ in range(3):  # the first answer comes from the database, the next ones from Redis
        assert owner_b.get(f"/todos/{todo['id']}", headers={"If-None-Match": etag}).status_code == 304
    assert owner_a.patch(f"/todos/{todo['id']}", json={"title": "Second"}).status_code == 200
    r = owner_b.get(f"/todos/{todo['id']}", headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.json()["title"] == "Second", r.text
    assert owner_a.post("/auth/logout").status_code == 204
    assert owner_b.get(f"/todos/{todo['id']}", headers={"If-None-Match": r.headers["ETag"]}).status_code == 401


def test_rate_limit_is_shared_by_both_instances(pair, routes_app):
    a, b = pair({"RATE_LIMIT_DEFAULT": "10 per minute"})
    user = new_user(a.url, f"limit-{uuid.uuid4().hex[:8]}-")
    clients = [Client(a.url, user.access), Client(b.url, user.access)]
    answers = [clients[n % 2].get("/users/me") for n in range(24)]
    ok = [r for r in answers if r.status_code == 200]
    limited = [r for r in answers if r.status_code == 429]
    # Counted per process, 2 instances x 2 workers would let 40 through; shared, at most 10.
    assert 1 <= len(ok) <= 10, [r.status_code for r in answers]
    assert len(ok) + len(limited) == 24
    assert {r.url.split("/api")[0] for r in limited} == {a.url, b.url}
    assert all(r.headers.get("Retry-After") for r in limited)


def test_idempotency_key_holds_across_instances(pair, routes_app, database_url):
    require(routes_app, "POST", "/api/v1/lists")
    a, b = pair()
    user = new_user(a.url, "idem-inst")
    name = f"idem {uuid.uuid4().hex}"
    headers = {"Idempotency-Key": f"inst-{uuid.uuid4().hex}"}
    first = Client(a.url, user.access).post("/lists", json={"name": name}, headers=headers)
    second = Client(b.url, user.access).post("/lists", json={"name": name}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert count_rows(database_url, "todo_lists", name=name) == 1
    other = Client(b.url, user.access).post("/lists", json={"name": name + " changed"}, headers=headers)
    assert other.status_code == 422, other.text


class _Receiver(BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.headers["webhook-id"], json.loads(body)["type"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _receiver():
    for port in RECEIVER_PORTS:
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), _Receiver)
        except OSError:
            continue
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, port
    pytest.skip("no free port for the webhook receiver")


def test_each_webhook_event_is_delivered_once_with_two_workers(pair, routes_app, database_url):
    require(routes_app, "POST", "/api/v1/webhooks")
    receiver, port = _receiver()
    _Receiver.seen = []
    allowed = {"WEBHOOK_ALLOWED_HOSTS": f"127.0.0.1:{port}"}
    a, b = pair(allowed)
    env = {**_environment(database_url, 1, 0, {"REDIS_URL": REDIS_URL, **allowed}), "FLASK_APP": "wsgi:app"}
    command = [sys.executable, "-m", "flask", "webhooks", "run", "--poll", "--interval", "0.2"]
    workers = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2)
    ]
    try:
        user = new_user(a.url, "hook-inst")
        list_id = Client(a.url, user.access).post("/lists", json={"name": "hooks"}).json()["id"]
        hook = Client(a.url, user.access).post(
            "/webhooks",
            json={"target_url": f"http://127.0.0.1:{port}/h", "events": ["todo.created"], "list_id": list_id},
        )
        assert hook.status_code == 201, hook.text
        for n in range(20):
            r = Client((a, b)[n % 2].url, user.access).post(f"/lists/{list_id}/todos", json={"title": f"e{n}"})
            assert r.status_code == 201
        deadline = time.monotonic() + 45
        while len(_Receiver.seen) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # a duplicate would arrive now
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        receiver.shutdown()
    ids = [message_id for message_id, _ in _Receiver.seen]
    assert len(ids) == 20, _Receiver.seen
    assert len(set(ids)) == 20
    assert count_rows(database_url, "webhook_deliveries", webhook_id=hook.json()["id"], status="delivered") == 20
    assert requests.get(a.url + "/readyz", timeout=10).status_code == 200
