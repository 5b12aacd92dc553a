"""Sync benchmark: open event streams vs JSON throughput, commit-to-event latency across instances,
feed catch-up, and the cost of the feed's write on a todo write. Figures and ratios, not a test.

    python -m bench.sync [--quick] [--database-url URL] [--redis-url URL] [--port 8131]

Instance A (sync workers) serves the JSON API, instance B (gevent workers) the streams, as in
production (README "Sync"); both on one PostgreSQL database and one Redis. The database's
tables are dropped and made anew.
"""

import argparse
import os
import socket
import statistics
import threading
import time
from datetime import UTC, datetime
from tempfile import mkdtemp

import requests

from bench.load import Request, Scenario
from bench.load import run as wrk
from bench.server import Server

API = "/api/v1"
PASSWORD = "correct-horse-battery"
SECRETS = {"SECRET_KEY": "bench-sync-secret-" + "s" * 32, "JWT_SECRET_KEY": "bench-sync-jwt-" + "j" * 32}
GOALS = {"throughput": 0.9, "p99": 1.0, "write": 1.15}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/todos_bench_sync"),
    )
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    p.add_argument("--port", type=int, default=8131, help="A on this port, B on the next")
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--changes", type=int, default=100_000)
    return p.parse_args(argv)


def config(args):
    return {
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "RATE_LIMIT_DEFAULT": "100000000 per minute",
        "RATE_LIMIT_LOGIN": "100000000 per minute",
        "LOG_LEVEL": "WARNING",
        **SECRETS,
    }


def fresh_schema(args):
    from app import create_app
    from app.extensions import db

    if args.database_url.startswith("postgresql"):
        from bench.datasets import create_database

        create_database(args.database_url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url, **SECRETS})
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()
    return app


def user(base, name):
    s = requests.Session()
    email = f"{name}@example.com"
    s.post(base + API + "/auth/register", json={"email": email, "password": PASSWORD}).raise_for_status()
    token = s.post(base + API + "/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
    s.headers["Authorization"] = f"Bearer {token}"
    return s, token


def open_stream(port, token):
    """A raw socket with a GET /events sent and its first event read: one idle open stream."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"GET {API}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    data = b""
    while b": connected" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError(f"stream refused: {data[:300]!r}")
        data += chunk
    return sock


class Listener(threading.Thread):
    """One stream read in a thread; records when each event containing a title arrived."""

    def __init__(self, port, token):
        super().__init__(daemon=True)
        self.sock, self.seen = open_stream(port, token), {}
        self.start()

    def run(self):
        buffer = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            buffer += chunk
            now = time.monotonic()
            while b'"title":"' in buffer:
                head, buffer = buffer.split(b'"title":"', 1)
                title, _, buffer = buffer.partition(b'"')
                self.seen.setdefault(title.decode(), now)


def throughput(a, token, seconds):
    scenario = Scenario("GET /todos?limit=50", [Request(API + "/todos?limit=50")], {"Authorization": f"Bearer {token}"})
    result = wrk(a.url, scenario, 32, seconds)
    return result["rps"], result["errors"]


def bench_streams(args, a, b, seconds, rounds, out):
    _, token = user(a.url, "reader")
    s, _ = user(a.url, "seeder")
    list_id = s.post(a.url + API + "/lists", json={"name": "bench"}).json()["id"]
    for n in range(50):
        s.post(a.url + API + f"/lists/{list_id}/todos", json={"title": f"seed {n}"})
    reader_list = requests.post(
        a.url + API + "/lists", json={"name": "r"}, headers={"Authorization": f"Bearer {token}"}
    ).json()["id"]
    for n in range(50):
        requests.post(
            a.url + API + f"/lists/{reader_list}/todos",
            json={"title": f"r{n}"},
            headers={"Authorization": f"Bearer {token}"},
        )
    idle_tokens = [user(a.url, f"idle{n}")[1] for n in range(20)]
    ratios, none, opened = [], [], []
    for r in range(rounds):
        base, errors0 = throughput(a, token, seconds)
        started = time.monotonic()
        socks = [open_stream(b.port, idle_tokens[i % len(idle_tokens)]) for i in range(args.streams)]
        opened.append(time.monotonic() - started)
        loaded, errors1 = throughput(a, token, seconds)
        for sock in socks:
            sock.close()
        ratios.append(loaded / base)
        none.append((base, loaded, errors0 + errors1))
        print(
            f"  round {r + 1}: none open {base:.0f} req/s, {args.streams} open {loaded:.0f} req/s "
            f"({loaded / base:.2f}x)"
        )
        time.sleep(1)
    out["throughput_ratio"] = statistics.median(ratios)
    out["throughput_none"] = statistics.median(x[0] for x in none)
    out["throughput_open"] = statistics.median(x[1] for x in none)
    out["open_seconds"] = statistics.median(opened)
    return s, list_id


def bench_latency(args, a, b, s, list_id, out, count):
    token = s.headers["Authorization"].split()[1]
    socks = [open_stream(b.port, token) for _ in range(1)]
    listener = Listener(b.port, token)
    time.sleep(0.5)
    started = {}
    for n in range(count):
        title = f"lat-{n}"
        started[title] = time.monotonic()
        s.post(a.url + API + f"/lists/{list_id}/todos", json={"title": title}).raise_for_status()
        time.sleep(0.05)
    time.sleep(2)
    lat = sorted((listener.seen.get(t, float("inf")) - t0) for t, t0 in started.items())
    for sock in socks + [listener.sock]:
        sock.close()
    out["latency_p50"] = lat[len(lat) // 2]
    out["latency_p99"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    out["latency_missed"] = sum(1 for x in lat if x == float("inf"))


def bench_catch_up(args, app, a, out):
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import Change
    from app.sync.reader import Cursor

    s, _ = user(a.url, "catchup")
    me = s.get(a.url + API + "/users/me").json()["id"]
    now = datetime.now(UTC)
    with app.app_context():
        start = db.session.query(db.func.max(Change.id)).scalar() or 0
        data = {"id": 1, "title": "x" * 40, "completed": False, "tags": ["a"], "notes": None}
        for chunk in range(0, args.changes, 10_000):
            rows = [
                dict(user_id=me, list_id=1, kind="todo", op="upsert", object_id=i, role=None, data=data, created_at=now)
                for i in range(chunk, min(args.changes, chunk + 10_000))
            ]
            db.session.execute(insert(Change), rows)
        db.session.commit()
        with app.test_request_context():
            cursor = Cursor(start, now).encode()
    got, pages, started = 0, 0, time.monotonic()
    while True:
        page = s.get(a.url + API + "/changes", params={"since": cursor, "limit": 1000}).json()
        got += len(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if not page["items"]:
            break
    elapsed = time.monotonic() - started
    out["catch_up_seconds"], out["catch_up_items"], out["catch_up_pages"] = elapsed, got, pages


def bench_write_cost(app, out, rounds, per_round):
    """In-process: POST a todo with the feed's write on and off (the before_commit hook removed)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from app.sync import feed
    from tests.conftest import AuthActions

    auth = AuthActions(app)
    owner = auth.user(email="writer@example.com")
    client = app.test_client()
    list_id = client.post(API + "/lists", json={"name": "w"}, headers=owner.headers).json["id"]
    for email in ("m1@example.com", "m2@example.com"):
        auth.user(email=email)
        client.post(API + f"/lists/{list_id}/members", json={"email": email, "role": "editor"}, headers=owner.headers)

    def timed():
        t0 = time.perf_counter()
        for n in range(per_round):
            r = client.post(API + f"/lists/{list_id}/todos", json={"title": f"w{n}"}, headers=owner.headers)
            assert r.status_code == 201
        return (time.perf_counter() - t0) / per_round

    ratios = []
    for r in range(rounds):
        order = ("on", "off") if r % 2 == 0 else ("off", "on")
        got = {}
        for mode in order:
            if mode == "off":
                event.remove(Session, "before_commit", feed._write)
            try:
                got[mode] = timed()
            finally:
                if mode == "off":
                    event.listen(Session, "before_commit", feed._write)
        ratios.append(got["on"] / got["off"])
        print(f"  round {r + 1}: with feed {got['on'] * 1000:.2f} ms, without {got['off'] * 1000:.2f} ms per write")
    out["write_ratio"] = statistics.median(ratios)


def verdict(ok):
    return "met" if ok else "NOT MET"


def main(argv=None):
    args = parse_args(argv)
    seconds, rounds = (3, 2) if args.quick else (8, 3)
    app = fresh_schema(args)
    env = config(args)
    logs = mkdtemp(prefix="bench-sync-")
    out = {}
    a = Server("api", "wsgi:app", args.port, {**env, "WEB_CONCURRENCY": 2}, logs)
    b = Server(
        "streams", "wsgi:app", args.port + 1, {**env, "WEB_CONCURRENCY": 1, "GUNICORN_WORKER_CLASS": "gevent"}, logs
    )
    try:
        print(
            f"1. GET /todos?limit=50 on A (2 sync workers), none vs {args.streams} streams open on B (1 gevent worker)"
        )
        s, list_id = bench_streams(args, a, b, seconds, rounds, out)
        print("2. commit-to-event latency, POST on A, event on B")
        bench_latency(args, a, b, s, list_id, out, 30 if args.quick else 100)
        print(f"3. feed catch-up of {args.changes} changes, limit=1000")
        bench_catch_up(args, app, a, out)
    finally:
        a.stop()
        b.stop()
    print("4. cost of the feed's write on a todo write (in-process, a list of 3 members)")
    import logging

    from app import create_app

    logging.getLogger("app.request").setLevel(logging.WARNING)
    write_app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url, "RATELIMIT_ENABLED": False, **SECRETS})
    bench_write_cost(write_app, out, 3 if args.quick else 5, 50 if args.quick else 200)
    load = os.getloadavg()[0]
    print()
    print(f"Machine: {os.cpu_count()} cores, load average {load:.1f} at the end (figures are of this machine, shared).")
    print("| figure | value | goal |")
    print("| --- | --- | --- |")
    ratio = out["throughput_ratio"]
    print(
        f"| GET /todos?limit=50 with {args.streams} streams open | {out['throughput_open']:.0f} vs "
        f"{out['throughput_none']:.0f} req/s: {ratio:.2f}x | >= 0.9x: {verdict(ratio >= GOALS['throughput'])} |"
    )
    print(f"| opening {args.streams} streams | {out['open_seconds']:.1f} s | |")
    p99 = out["latency_p99"]
    print(
        f"| request start to event on the other instance | p50 {out['latency_p50'] * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, missed {out['latency_missed']} | p99 <= 1 s: {verdict(p99 <= GOALS['p99'])} |"
    )
    print(
        f"| feed catch-up | {out['catch_up_items']} changes in {out['catch_up_seconds']:.1f} s "
        f"({out['catch_up_items'] / out['catch_up_seconds']:.0f}/s, {out['catch_up_pages']} pages) | |"
    )
    w = out["write_ratio"]
    print(f"| todo write with / without the feed | {w:.2f}x | <= 1.15x: {verdict(w <= GOALS['write'])} |")


if __name__ == "__main__":
    main()
