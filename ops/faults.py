"""Fault injection against live Gunicorn: kill -9 a worker, SIGTERM the master, cut PostgreSQL, cut Redis.

    python -m ops.faults [--database-url URL] [--redis-url URL] [--only NAME ...]

Each scenario prints one line, PASS or FAIL with what it saw; the exit status is
non-zero when any fails. Only processes this script started are signalled, by pid.
"""

import argparse
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ops.proxy import TcpProxy
from tests.live import start_server
from tests.proof.helpers import API, QUIET_LIMITS, engine_for, new_user

PORTS = os.environ.get("LIVE_PORT_RANGE", "8180-8189")
PROXY_PORTS = os.environ.get("PROXY_PORT_RANGE", "8190-8199")
os.environ["LIVE_PORT_RANGE"] = PORTS


class Failed(AssertionError):
    """A scenario saw something the contract does not allow."""


def check(condition, message):
    if not condition:
        raise Failed(message)


def prepare(database_url):
    """Make the schema in a scratch database (idempotent)."""
    from app import create_app
    from app.extensions import db
    from tests.conftest import make_config

    app = create_app(make_config(database_url))
    with app.app_context():
        db.create_all()
        db.engine.dispose()


class Load:
    """Threads creating todos (with a tag) until stopped; every answer is tallied."""

    def __init__(self, base, token, list_id, threads=8):
        self.url = f"{base}{API}/lists/{list_id}/todos"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.statuses, self.created, self.bodies = Counter(), set(), []
        self.lock, self.stopping = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def _run(self, n):
        s, i = requests.Session(), 0
        while not self.stopping.is_set():
            i += 1
            try:
                r = s.post(self.url, json={"title": f"w{n}-{i}", "tags": ["fault"]}, headers=self.headers, timeout=30)
                key, body = r.status_code, (r.headers.get("Content-Type", ""), r.text[:200])
            except requests.RequestException as e:
                key, body = "connection error", (type(e).__name__, "")
                s = requests.Session()
            with self.lock:
                self.statuses[key] += 1
                if key == 201:
                    self.created.add(r.json()["id"])
                elif key != "connection error":
                    self.bodies.append((key, *body))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(60)


def _seed(server):
    user = new_user(server.url, "fault")
    r = user.client.post("/lists", json={"name": "faults"})
    check(r.status_code == 201, f"create list: {r.status_code} {r.text[:200]}")
    return user, r.json()["id"]


def _todo_rows(database_url, list_id):
    with engine_for(database_url).connect() as conn:
        ids = set(conn.execute(text("SELECT id FROM todos WHERE list_id = :l"), {"l": list_id}).scalars())
        untagged = conn.execute(
            text(
                "SELECT count(*) FROM todos t WHERE list_id = :l"
                " AND NOT EXISTS (SELECT 1 FROM todo_tags g WHERE g.todo_id = t.id)"
            ),
            {"l": list_id},
        ).scalar()
    return ids, untagged


def kill_worker(database_url, redis_url):
    """kill -9 of a worker under load: only its in-flight requests fail, the master respawns it."""
    with start_server(database_url, workers=2, env=QUIET_LIMITS) as server:
        before = server.wait_for_workers(2)
        user, list_id = _seed(server)
        with Load(server.url, user.access, list_id) as load:
            time.sleep(2)
            os.kill(before[0], signal.SIGKILL)
            time.sleep(3)
        after = server.wait_for_workers(2)
        ids, untagged = _todo_rows(database_url, list_id)
        failed = load.statuses["connection error"]
        check(server.running(), "the master died")
        check(before[0] not in after and len(after) == 2, f"workers before {before}, after {after}")
        check(set(load.statuses) <= {201, "connection error"}, f"statuses {dict(load.statuses)} {load.bodies[:3]}")
        check(failed <= 1, f"{failed} requests failed; only the killed worker's in-flight one may")
        check(load.created <= ids, "a todo answered 201 is missing from the database")
        check(len(ids) - len(load.created) <= failed, "more todos in the database than answers and failures")
        check(untagged == 0, f"{untagged} half-written todos (no tag row)")
        respawned = set(after) - set(before)
        return f"{sum(load.statuses.values())} requests {dict(load.statuses)}; worker {before[0]} -> {respawned}"


def _slow_post(port, body, first, started, done, results):
    """POST a body in two halves with a pause: a request in flight for as long as we like."""
    raw = body.encode()
    head = f"POST {API}/lists HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=40) as s:
        s.sendall((head + first + f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n").encode() + raw[:5])
        started.release()
        done.wait(30)
        s.sendall(raw[5:])
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    results.append(answer.split(b"\r\n", 1)[0].decode(errors="replace"))


def graceful_stop(database_url, redis_url):
    """SIGTERM to the master with slow requests in flight: they finish, the master exits 0."""
    server = start_server(database_url, workers=4, env=QUIET_LIMITS)
    try:
        server.wait_for_workers(4)
        user, _ = _seed(server)
        started, release, results, run = threading.Semaphore(0), threading.Event(), [], os.urandom(4).hex()
        auth = f"Authorization: Bearer {user.access}\r\n"
        threads = [
            threading.Thread(
                target=_slow_post, args=(server.port, f'{{"name": "slow {run} {n}"}}', auth, started, release, results)
            )
            for n in range(4)
        ]
        for t in threads:
            t.start()
        for _ in threads:
            started.acquire()
        time.sleep(1.0)  # every worker has accepted one and is reading its body
        os.kill(server.pid, signal.SIGTERM)
        time.sleep(1.0)
        release.set()
        for t in threads:
            t.join(40)
        code = server.process.wait(35)
        with engine_for(database_url).connect() as conn:
            made = conn.execute(
                text("SELECT count(*) FROM todo_lists WHERE name LIKE :n"), {"n": f"slow {run} %"}
            ).scalar()
        check(len(results) == 4 and all(" 201 " in r for r in results), f"in-flight answers {results}")
        check(code == 0, f"master exit status {code}")
        check(made == 4, f"{made} of 4 slow lists in the database")
        return f"4 slow requests in flight at SIGTERM answered {sorted(set(results))}; master exited {code}"
    finally:
        server.stop()


def _proxied(url, proxy):
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def _poll(fn, timeout, interval=0.1):
    """Call fn until it returns truthy or `timeout` passes; return (value, seconds)."""
    start = time.monotonic()
    while True:
        value = fn()
        if value or time.monotonic() - start > timeout:
            return value, time.monotonic() - start
        time.sleep(interval)


def database_outage(database_url, redis_url):
    """PostgreSQL cut under load: 503 problem+json while down, full recovery within 5 s, no restart."""
    if not database_url.startswith("postgres"):
        return "SKIP: needs PostgreSQL (--database-url)"
    proxy = TcpProxy(make_url(database_url).port or 5432, ports=PROXY_PORTS)
    try:
        with start_server(_proxied(database_url, proxy), workers=2, env=QUIET_LIMITS) as server:
            pids = [server.pid, *server.wait_for_workers(2)]
            user, list_id = _seed(server)
            me = f"{server.url}{API}/users/me"
            with Load(server.url, user.access, list_id, threads=4) as load:
                time.sleep(1.5)
                proxy.cut()
                time.sleep(0.5)
                down = requests.get(me, headers={"Authorization": f"Bearer {user.access}"}, timeout=10)
                ready_down = requests.get(server.url + "/readyz", timeout=10).status_code
                health_down = requests.get(server.url + "/healthz", timeout=10).status_code
                time.sleep(2.5)
                proxy.restore()
                ok, took = _poll(
                    lambda: (
                        requests.get(me, headers={"Authorization": f"Bearer {user.access}"}, timeout=10).status_code
                        == 200
                    ),
                    10,
                )
                time.sleep(1.5)
                statuses_at_end = dict(load.statuses)
                after_restore = [b for b in load.bodies if b[0] != 503]
            writes_after = requests.post(
                f"{server.url}{API}/lists/{list_id}/todos",
                json={"title": "after"},
                headers={"Authorization": f"Bearer {user.access}"},
                timeout=10,
            ).status_code
            still = [server.pid, *server.worker_pids()]
        check(
            down.status_code == 503 and down.headers["Content-Type"].startswith("application/problem+json"),
            f"while down: {down.status_code} {down.text[:200]}",
        )
        check(ready_down == 503 and health_down == 200, f"while down: readyz {ready_down}, healthz {health_down}")
        check(ok and took <= 5.0, f"recovered={ok} after {took:.1f}s (limit 5 s)")
        check(writes_after == 201, f"write after recovery: {writes_after}")
        check(set(statuses_at_end) <= {201, 503}, f"statuses under load {statuses_at_end} {after_restore[:3]}")
        check(sorted(still) == sorted(pids), f"processes changed: {pids} -> {still}")
        return f"while down 503 problem+json, readyz 503, healthz 200; recovered in {took:.2f}s; load {statuses_at_end}"
    finally:
        proxy.close()


def redis_outage(database_url, redis_url):
    """Redis cut: revocation still holds, the limiter fails open, the outbox still fills, /readyz says 503."""
    if not redis_url:
        return "SKIP: needs Redis (--redis-url)"
    parts = urlsplit(redis_url)
    proxy = TcpProxy(parts.port or 6379, ports=PROXY_PORTS)
    proxied = f"redis://127.0.0.1:{proxy.port}{parts.path or '/0'}"
    env = {
        "REDIS_URL": proxied,
        "RATE_LIMIT_DEFAULT": "100000 per minute",
        "RATE_LIMIT_LOGIN": "100000 per minute",
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1:9",
    }
    try:
        with start_server(database_url, workers=2, env=env) as server:
            user, list_id = _seed(server)
            other = new_user(server.url, "fault-other")
            hook = user.client.post(
                "/webhooks", json={"target_url": "http://127.0.0.1:9/hook", "events": ["todo.created"]}
            )
            check(hook.status_code == 201, f"create webhook: {hook.status_code} {hook.text[:200]}")
            check(requests.get(server.url + "/readyz", timeout=10).status_code == 200, "readyz before the cut")
            proxy.cut()
            ready = requests.get(server.url + "/readyz", timeout=10)
            reads = Counter(user.client.get("/users/me").status_code for _ in range(20))
            made = user.client.post(f"/lists/{list_id}/todos", json={"title": "during redis outage"})
            logout = other.client.post("/auth/logout").status_code
            after_logout = other.client.get("/users/me").status_code
            with engine_for(database_url).connect() as conn:
                queued = conn.execute(  # no delivery worker runs here: the event stays in the outbox
                    text("SELECT count(*) FROM webhook_events WHERE list_id = :l AND event = 'todo.created'"),
                    {"l": list_id},
                ).scalar()
            proxy.restore()
            back, took = _poll(lambda: requests.get(server.url + "/readyz", timeout=10).status_code == 200, 10)
        check(
            ready.status_code == 503 and ready.json()["checks"]["redis"] == "unavailable", f"readyz: {ready.text[:200]}"
        )
        check(reads == Counter({200: 20}), f"reads while Redis is down: {dict(reads)} (the limiter must fail open)")
        check(made.status_code == 201, f"write while Redis is down: {made.status_code} {made.text[:200]}")
        check(queued >= 1, "the webhook event was not written to the outbox")
        check(logout == 204 and after_logout == 401, f"logout {logout}, then the token answered {after_logout}")
        check(back, "readyz did not come back after Redis returned")
        return (
            f"readyz 503 (redis unavailable); 20/20 reads 200; write 201; outbox {queued}; "
            f"logout then 401; ready again in {took:.1f}s"
        )
    finally:
        proxy.close()


SCENARIOS = {
    "kill-worker": kill_worker,
    "sigterm": graceful_stop,
    "database-outage": database_outage,
    "redis-outage": redis_outage,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL"))
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS))
    args = parser.parse_args(argv)
    database_url = args.database_url or "sqlite:///" + os.path.join(
        tempfile.mkdtemp(prefix="faults-"), "faults.sqlite3"
    )
    prepare(database_url)
    failures = 0
    for name in args.only or SCENARIOS:
        start = time.monotonic()
        try:
            outcome = SCENARIOS[name](database_url, args.redis_url)
            status = "SKIP" if outcome.startswith("SKIP") else "PASS"
        except Failed as e:
            outcome, status, failures = str(e), "FAIL", failures + 1
        print(f"{status} {name} ({time.monotonic() - start:.1f}s): {outcome}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
