"""Soak: mixed read/write load on a live server for a bounded time, watching errors, latency and memory.

    python -m ops.soak [--minutes 10] [--database-url URL] [--clients 8] [--workers 2]

Prints per interval: requests, 4xx, 5xx, connection errors, p50/p99 latency and the
workers' summed RSS. Exits non-zero on any 5xx or connection error, or when the RSS
grows 10% or more after the warm-up interval.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from ops.faults import prepare
from tests.live import start_server
from tests.proof.helpers import API, QUIET_LIMITS, new_user

os.environ.setdefault("LIVE_PORT_RANGE", "8180-8189")
RSS_GROWTH_LIMIT = 0.10


class Window:
    """What happened in one interval."""

    def __init__(self):
        self.statuses, self.latencies, self.lock = Counter(), [], threading.Lock()

    def add(self, status, seconds):
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(seconds)


def _rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def _client(base, user, list_id, windows, stop, seed):
    rng, s, mine = random.Random(seed), requests.Session(), []
    headers = {"Authorization": f"Bearer {user.access}"}
    while not stop.is_set():
        roll = rng.random()
        if roll < 0.55:
            method, path, body = "GET", f"/lists/{list_id}/todos?limit=50", None
        elif roll < 0.65:
            method, path, body = "GET", "/todos?limit=20&completed=false", None
        elif roll < 0.75 and mine:
            method, path, body = "GET", f"/todos/{rng.choice(mine)}", None
        elif roll < 0.88 or not mine:
            method, path, body = "POST", f"/lists/{list_id}/todos", {"title": f"soak {seed}", "tags": ["soak"]}
        elif roll < 0.96:
            method, path, body = "PATCH", f"/todos/{rng.choice(mine)}", {"completed": rng.random() < 0.5}
        else:
            method, path, body = "DELETE", f"/todos/{mine.pop(rng.randrange(len(mine)))}", None
        start = time.perf_counter()
        try:
            r = s.request(method, base + API + path, json=body, headers=headers, timeout=30)
            status = r.status_code
            if method == "POST" and status == 201:
                mine.append(r.json()["id"])
        except requests.RequestException:
            status, s = "conn", requests.Session()
        windows[-1].add(status, time.perf_counter() - start)


def _line(n, window, rss):
    lat = sorted(window.latencies) or [0.0]
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    st = window.statuses
    c4 = sum(v for k, v in st.items() if isinstance(k, int) and 400 <= k < 500)
    c5 = sum(v for k, v in st.items() if isinstance(k, int) and k >= 500)
    return (
        f"interval {n:>2}: {sum(st.values()):>6} requests  4xx {c4:>4}  5xx {c5:>3}  conn {st['conn']:>3}  "
        f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  workers RSS {rss / 1024:7.1f} MiB"
    ), c5 + st["conn"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    url = args.database_url or "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="soak-"), "soak.sqlite3")
    prepare(url)
    total = args.minutes * 60
    interval = 60.0 if args.minutes >= 3 else max(5.0, total / 6)
    print(
        f"soak: {args.minutes} min on {url.split('@')[-1]}, {args.clients} clients, {args.workers} workers, "
        f"{interval:.0f}s intervals",
        flush=True,
    )
    server = start_server(url, workers=args.workers, env=QUIET_LIMITS)
    try:
        users = [new_user(server.url, "soak") for _ in range(min(4, args.clients))]
        lists = [u.client.post("/lists", json={"name": "soak"}).json()["id"] for u in users]
        for user, list_id in zip(users, lists, strict=True):
            for i in range(50):
                user.client.post(f"/lists/{list_id}/todos", json={"title": f"seed {i}", "tags": ["seed"]})
        windows, stop = [Window()], threading.Event()
        threads = [
            threading.Thread(
                target=_client,
                daemon=True,
                args=(server.url, users[n % len(users)], lists[n % len(users)], windows, stop, n),
            )
            for n in range(args.clients)
        ]
        for t in threads:
            t.start()
        errors, rss = 0, []
        for n in range(1, int(round(total / interval)) + 1):
            time.sleep(interval)
            window = windows[-1]
            windows.append(Window())
            rss.append(_rss_kib(server.worker_pids()))
            text, bad = _line(n, window, rss[-1])
            errors += bad
            print(text, flush=True)
        stop.set()
        for t in threads:
            t.join(30)
    finally:
        server.stop()
    baseline = rss[1] if len(rss) > 2 else rss[0]
    growth = (rss[-1] - baseline) / baseline if baseline else 0.0
    print(
        f"soak: {errors} errors (5xx + connection); RSS after warm-up {baseline / 1024:.1f} MiB -> "
        f"{rss[-1] / 1024:.1f} MiB ({growth:+.1%})",
        flush=True,
    )
    return 1 if errors or growth >= RSS_GROWTH_LIMIT else 0


if __name__ == "__main__":
    sys.exit(main())
