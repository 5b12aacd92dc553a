"""32 concurrent clients on one list under 4 Gunicorn workers: no 5xx, no lost update, counts agree."""

import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.proof.helpers import API, QUIET_LIMITS, count_rows, new_user, require

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # a load proof: alone on the machine

CLIENTS = 32
SECONDS = float(os.environ.get("PROOF_SECONDS", "12"))


class Tally:
    """What the clients saw, under a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = Counter()
        self.errors = []
        self.created, self.deleted = set(), set()
        self.increments = 0

    def saw(self, r, method, path):
        with self.lock:
            self.statuses[r.status_code] += 1
            if r.status_code >= 500 or "database is locked" in r.text:
                self.errors.append(f"{method} {path}: {r.status_code} {r.text[:200]}")


def _walk(session, url, headers):
    """Every todo id of a list, following the cursor."""
    ids, cursor = [], None
    while True:
        r = session.get(
            url, params={"limit": 200, **({"cursor": cursor} if cursor else {})}, headers=headers, timeout=30
        )
        assert r.status_code == 200, r.text
        ids += [item["id"] for item in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return ids


def _client_loop(base, headers, list_id, counter_id, tally, deadline, seed):
    rng, s, mine = random.Random(seed), requests.Session(), []

    def call(method, path, **kw):
        r = s.request(method, base + API + path, headers={**headers, **kw.pop("headers", {})}, timeout=60, **kw)
        tally.saw(r, method, path)
        return r

    while time.monotonic() < deadline:
        op = rng.random()
        if op < 0.35 or not mine:
            r = call("POST", f"/lists/{list_id}/todos", json={"title": f"c{seed}", "tags": ["load"]})
            if r.status_code == 201:
                mine.append(r.json()["id"])
                with tally.lock:
                    tally.created.add(r.json()["id"])
        elif op < 0.55:
            # Read-modify-write of the shared counter: only a 200 with If-Match counts.
            r = call("GET", f"/todos/{counter_id}")
            if r.status_code == 200:
                value = int(r.json()["title"])
                r = call(
                    "PATCH",
                    f"/todos/{counter_id}",
                    json={"title": str(value + 1)},
                    headers={"If-Match": r.headers["ETag"]},
                )
                if r.status_code == 200:
                    with tally.lock:
                        tally.increments += 1
        elif op < 0.8:
            todo_id = rng.choice(mine)
            r = call("GET", f"/todos/{todo_id}")
            if r.status_code == 200:
                call(
                    "PATCH",
                    f"/todos/{todo_id}",
                    json={"completed": rng.random() < 0.5, "priority": rng.randint(0, 3)},
                    headers={"If-Match": r.headers["ETag"]},
                )
        else:
            todo_id = mine.pop(rng.randrange(len(mine)))
            r = call("DELETE", f"/todos/{todo_id}")
            if r.status_code == 204:
                with tally.lock:
                    tally.deleted.add(todo_id)


def test_concurrent_writers_lose_nothing(live_server, routes_app, database_url):
    require(routes_app, "PATCH", "/api/v1/todos/1")
    server = live_server(workers=4, env=QUIET_LIMITS)
    owner = new_user(server.url, "load")
    headers = {"Authorization": f"Bearer {owner.access}"}
    list_id = owner.client.post("/lists", json={"name": "load"}).json()["id"]
    counter_id = owner.client.post(f"/lists/{list_id}/todos", json={"title": "0"}).json()["id"]
    tally = Tally()
    deadline = time.monotonic() + SECONDS
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [
            pool.submit(_client_loop, server.url, headers, list_id, counter_id, tally, deadline, n)
            for n in range(CLIENTS)
        ]
        for f in futures:
            f.result()

    total = sum(tally.statuses.values())
    print(
        f"\nconcurrency: {CLIENTS} clients, {SECONDS}s, {total} requests, statuses {dict(tally.statuses)}, "
        f"{tally.increments} counter increments, {len(tally.created)} created, {len(tally.deleted)} deleted"
    )
    assert tally.errors == []
    assert set(tally.statuses) <= {200, 201, 204, 412}, tally.statuses
    assert tally.increments > 0
    # No lost update: every successful conditional increment is in the counter.
    assert owner.client.get(f"/todos/{counter_id}").json()["title"] == str(tally.increments)
    # Counts agree: the API, the database and what the clients were told.
    survivors = set(tally.created) - tally.deleted
    listed = _walk(requests.Session(), f"{server.url}{API}/lists/{list_id}/todos", headers)
    assert len(listed) == len(set(listed))
    assert set(listed) == survivors | {counter_id}
    assert count_rows(database_url, "todos", list_id=list_id) == len(survivors) + 1
    assert "database is locked" not in server.log


def test_concurrent_idempotent_posts_create_one(live_server, routes_app, database_url):
    require(routes_app, "POST", "/api/v1/lists/1/todos")
    server = live_server(workers=4, env=QUIET_LIMITS)
    owner = new_user(server.url, "idem")
    list_id = owner.client.post("/lists", json={"name": "idem"}).json()["id"]
    url = f"{server.url}{API}/lists/{list_id}/todos"
    headers = {"Authorization": f"Bearer {owner.access}", "Idempotency-Key": "proof-key-1"}
    barrier = threading.Barrier(16)

    def post(_):
        s = requests.Session()
        barrier.wait()
        return s.post(url, json={"title": "exactly once"}, headers=headers, timeout=60)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(post, range(16)))
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) <= {201, 409}, {r.status_code: r.text[:200] for r in answers}
    assert {r.json()["id"] for r in answers if r.status_code == 201} != set()
    assert len({r.json()["id"] for r in answers if r.status_code == 201}) == 1
    assert count_rows(database_url, "todos", list_id=list_id) == 1
    # A later retry replays the first answer.
    again = requests.post(url, json={"title": "exactly once"}, headers=headers, timeout=30)
    assert again.status_code == 201
    assert again.json()["id"] == next(r.json()["id"] for r in answers if r.status_code == 201)
