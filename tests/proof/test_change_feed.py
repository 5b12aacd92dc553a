"""Proof: clients that apply the change feed end with exactly what the GET endpoints answer.

Writers change lists, todos and members concurrently (through the API, members and a
share link alike) while every commit is held back a random while; readers page the feed
with small random limits and apply each page. At the end each reader's state must be
exactly the one a fresh load through the GET endpoints gives. It runs on the test
database (SQLite, or PostgreSQL with TEST_DATABASE_URL). RUN_SLOW=1 adds a longer run.
"""

import os
import random
import threading
import time

import pytest
from sqlalchemy import event

from app.extensions import db
from tests.conftest import AuthActions

API = "/api/v1"
COUNT_FIELDS = ("todo_count", "completed_count")


def walk(client, path, headers):
    items, cursor = [], None
    while True:
        r = client.get(path, query_string={"limit": 200, **({"cursor": cursor} if cursor else {})}, headers=headers)
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.json
        items += r.json["items"]
        cursor = r.json["next_cursor"]
        if not cursor:
            return items


class Replica:
    """What one client knows: lists, todos and members, kept by applying feed pages."""

    def __init__(self, client, user):
        self.client, self.headers = client, user.headers
        self.lists, self.todos, self.members = {}, {}, {}

    def load_list(self, list_id):
        todos = walk(self.client, f"{API}/lists/{list_id}/todos", self.headers)
        members = walk(self.client, f"{API}/lists/{list_id}/members", self.headers)
        for todo in todos or ():
            self.todos[todo["id"]] = todo
        for member in members or ():
            self.members[(list_id, member["user_id"])] = member

    def load(self):
        self.lists = {item["id"]: strip(item) for item in walk(self.client, f"{API}/lists", self.headers)}
        self.todos, self.members = {}, {}
        for list_id in self.lists:
            self.load_list(list_id)
        return self

    def apply(self, item):
        kind, op, oid, list_id, data = item["kind"], item["op"], item["id"], item["list_id"], item["data"]
        if kind == "list" and op == "upsert":
            known = oid in self.lists
            self.lists[oid] = strip(data)
            if not known:
                self.load_list(oid)
        elif kind == "list":
            self.lists.pop(oid, None)
            self.todos = {k: v for k, v in self.todos.items() if v["list_id"] != oid}
            self.members = {k: v for k, v in self.members.items() if k[0] != oid}
        elif list_id not in self.lists:
            return
        elif kind == "todo" and op == "upsert":
            self.todos[oid] = data
        elif kind == "todo":
            self.todos.pop(oid, None)
        elif op == "upsert":
            self.members[(list_id, oid)] = data
        else:
            self.members.pop((list_id, oid), None)

    def counts(self):
        found = {list_id: {"todo_count": 0, "completed_count": 0} for list_id in self.lists}
        for todo in self.todos.values():
            found[todo["list_id"]]["todo_count"] += 1
            found[todo["list_id"]]["completed_count"] += int(todo["completed"])
        return found


def strip(list_data):
    return {k: v for k, v in list_data.items() if k not in COUNT_FIELDS}


def reader(app, user, stop, failures, result):
    client = app.test_client()
    try:
        rng = random.Random(user.id)
        cursor = client.get(f"{API}/changes", headers=user.headers).json["next_cursor"]
        replica = Replica(client, user).load()
        while True:
            finishing = stop.is_set()
            query = {"since": cursor, "limit": rng.randint(1, 40)}
            r = client.get(f"{API}/changes", query_string=query, headers=user.headers)
            assert r.status_code == 200, r.json
            for item in r.json["items"]:
                replica.apply(item)
            cursor = r.json["next_cursor"]
            if finishing and not r.json["items"]:
                break
            time.sleep(rng.random() * 0.02)
        result[user.id] = replica
    except Exception as exc:  # reported by the test
        failures.append(f"reader {user.id}: {exc!r}")


def writer(app, users, list_ids, share_path, deadline, seed, failures, statuses):
    client, rng = app.test_client(), random.Random(seed)
    alice, bob, carol = users
    while time.monotonic() < deadline:
        actor = rng.choice(users)
        h = actor.headers
        # Carol owns list C; Alice and Bob share A and B, and are in C while Carol keeps them.
        list_id = list_ids[2] if actor is carol else rng.choice(list_ids[:2] * 3 + list_ids[2:])
        todos = walk(client, f"{API}/lists/{list_id}/todos", h) or [None]
        todo = rng.choice(todos)
        roll = rng.random()
        if roll < 0.3 or todo is None:
            body = {"title": f"t{rng.random():.5f}", "tags": ["x"]}
            r = client.post(f"{API}/lists/{list_id}/todos", json=body, headers=h)
        elif roll < 0.5:
            body = rng.choice([{"completed": rng.random() < 0.5}, {"title": "renamed"}, {"tags": ["a", "b"]}])
            r = client.patch(f"{API}/todos/{todo['id']}", json=body, headers=h)
        elif roll < 0.6:
            r = client.patch(f"{API}/todos/{todo['id']}", json={"list_id": rng.choice(list_ids[:2])}, headers=h)
        elif roll < 0.68:
            r = client.delete(f"{API}/todos/{todo['id']}", headers=h)
        elif roll < 0.72:
            r = client.delete(f"{API}/lists/{list_id}/todos?completed=true", headers=h)
        elif roll < 0.77:
            r = client.patch(f"{API}/lists/{list_id}", json={"name": f"n{rng.randint(0, 99)}"}, headers=h)
        elif roll < 0.87:
            who = rng.choice([alice, bob])
            if rng.random() < 0.5:
                body = {"email": who.email, "role": rng.choice(["viewer", "editor"])}
                r = client.post(f"{API}/lists/{list_ids[2]}/members", json=body, headers=carol.headers)
            else:
                r = client.delete(f"{API}/lists/{list_ids[2]}/members/{who.id}", headers=carol.headers)
        elif roll < 0.92:
            who = rng.choice([alice, bob])
            body = {"role": rng.choice(["viewer", "editor"])}
            r = client.patch(f"{API}/lists/{list_ids[2]}/members/{who.id}", json=body, headers=carol.headers)
        elif roll < 0.97:
            r = client.post(share_path, json={"title": "shared", "completed": rng.random() < 0.5})
        else:
            r = client.patch(f"{API}/users/me", json={"display_name": f"name{rng.randint(0, 9)}"}, headers=h)
        statuses.append(r.status_code)
        if r.status_code >= 500:
            failures.append(f"{r.status_code} {r.get_data(as_text=True)[:200]}")


def run(app, seconds, writers, readers_per_user):
    auth = AuthActions(app)
    users = [auth.user(display_name=name) for name in ("alice", "bob", "carol")]
    alice, bob, carol = users
    c = app.test_client()
    list_ids = []
    for owner, name in ((alice, "A"), (bob, "B"), (carol, "C")):
        list_ids.append(c.post(f"{API}/lists", json={"name": name}, headers=owner.headers).json["id"])
    c.post(f"{API}/lists/{list_ids[0]}/members", json={"email": bob.email, "role": "editor"}, headers=alice.headers)
    c.post(f"{API}/lists/{list_ids[1]}/members", json={"email": alice.email, "role": "editor"}, headers=bob.headers)
    link = c.post(f"{API}/lists/{list_ids[0]}/share-links", json={"role": "editor"}, headers=alice.headers).json
    share_path = link["url"].removeprefix("http://localhost")

    rng = random.Random(7)
    with app.app_context():
        engine = db.engine

    def late_commit(conn):
        if rng.random() < 0.5:
            time.sleep(rng.random() * 0.03)

    event.listen(engine, "commit", late_commit)
    stop, failures, statuses, result = threading.Event(), [], [], {}
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=reader, args=(app, user, stop, failures, result), name=f"reader-{user.id}-{n}")
        for user in users
        for n in range(readers_per_user)
    ]
    threads += [
        threading.Thread(target=writer, args=(app, users, list_ids, share_path, deadline, seed, failures, statuses))
        for seed in range(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads[len(users) * readers_per_user :]:
        thread.join()
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    event.remove(engine, "commit", late_commit)
    assert not failures, failures[:5]
    assert sum(1 for s in statuses if s < 300) > len(statuses) / 2, statuses
    for user in users:
        replica = result[user.id]
        truth = Replica(app.test_client(), user).load()
        assert replica.lists == truth.lists
        assert replica.todos == truth.todos
        assert replica.members == truth.members
        got = {item["id"]: {k: item[k] for k in COUNT_FIELDS} for item in walk(c, f"{API}/lists", user.headers)}
        assert replica.counts() == got
    return statuses


def test_clients_that_apply_the_feed_match_the_get_endpoints(app):
    statuses = run(app, seconds=5, writers=4, readers_per_user=1)
    assert len(statuses) > 20


@pytest.mark.slow
def test_clients_that_apply_the_feed_match_the_get_endpoints_for_longer(app):
    run(app, seconds=float(os.environ.get("PROOF_SECONDS", "20")), writers=10, readers_per_user=2)


def test_a_change_that_commits_late_is_never_skipped(app):
    """A writer holds its commit back after writing its feed rows; a reader meanwhile never moves past it."""
    auth = AuthActions(app)
    alice = auth.user()
    c = app.test_client()
    list_id = c.post(f"{API}/lists", json={"name": "L"}, headers=alice.headers).json["id"]
    cursor = c.get(f"{API}/changes", headers=alice.headers).json["next_cursor"]
    with app.app_context():
        engine = db.engine
    holding = threading.Event()

    def late(conn):
        if threading.current_thread().name == "late-writer":
            holding.set()
            time.sleep(1.0)

    def post(title):
        r = app.test_client().post(f"{API}/lists/{list_id}/todos", json={"title": title}, headers=alice.headers)
        assert r.status_code == 201

    event.listen(engine, "commit", late)
    try:
        slow = threading.Thread(target=post, args=("late",), name="late-writer")
        slow.start()
        assert holding.wait(10)
        quick = threading.Thread(target=post, args=("quick",))
        quick.start()
        seen = []
        while slow.is_alive() or quick.is_alive():
            page = c.get(f"{API}/changes", query_string={"since": cursor}, headers=alice.headers).json
            seen.append([item["data"]["title"] for item in page["items"]])
            time.sleep(0.05)
        slow.join()
        quick.join()
    finally:
        event.remove(engine, "commit", late)
    final = c.get(f"{API}/changes", query_string={"since": cursor}, headers=alice.headers).json
    titles = [item["data"]["title"] for item in final["items"]]
    assert titles == ["late", "quick"]
    # While the late writer held its commit, no reader ever saw the quick one alone.
    assert all(s in ([], ["late"], ["late", "quick"]) for s in seen), seen


@pytest.mark.postgres
def test_a_profile_change_never_brings_back_a_member_removed_meanwhile(app):
    """Carol removes Alice from her list and holds the commit back; Alice renames herself meanwhile.

    The rename must not reach Carol's feed as an upsert of Alice's membership after its
    delete: Carol's feed ends with the delete, as GET .../members answers.
    """
    auth = AuthActions(app)
    alice, carol = auth.user(display_name="alice"), auth.user(display_name="carol")
    c = app.test_client()
    list_id = c.post(f"{API}/lists", json={"name": "C"}, headers=carol.headers).json["id"]
    body = {"email": alice.email, "role": "editor"}
    assert c.post(f"{API}/lists/{list_id}/members", json=body, headers=carol.headers).status_code == 201
    cursor = c.get(f"{API}/changes", headers=carol.headers).json["next_cursor"]
    with app.app_context():
        engine = db.engine
    holding, statuses = threading.Event(), {}

    def late(conn):
        if threading.current_thread().name == "remover":
            holding.set()
            time.sleep(1.0)

    def remove():
        statuses["remove"] = (
            app.test_client().delete(f"{API}/lists/{list_id}/members/{alice.id}", headers=carol.headers).status_code
        )

    def rename():
        r = app.test_client().patch(f"{API}/users/me", json={"display_name": "alice 2"}, headers=alice.headers)
        statuses["rename"] = r.status_code

    event.listen(engine, "commit", late)
    try:
        remover = threading.Thread(target=remove, name="remover")
        remover.start()
        assert holding.wait(10)
        renamer = threading.Thread(target=rename)
        renamer.start()
        remover.join(30)
        renamer.join(30)
    finally:
        event.remove(engine, "commit", late)
    assert statuses == {"remove": 204, "rename": 200}
    items = c.get(f"{API}/changes", query_string={"since": cursor}, headers=carol.headers).json["items"]
    alices = [item["op"] for item in items if item["kind"] == "member" and item["id"] == alice.id]
    assert alices and alices[-1] == "delete", items
    assert alice.id not in {m["user_id"] for m in walk(c, f"{API}/lists/{list_id}/members", carol.headers)}
