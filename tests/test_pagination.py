"""Cursor pagination: every sort walks each item exactly once, even with inserts and deletes meanwhile."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from app.extensions import db
from app.models import Todo
from tests.factories import make_list, make_todos

SORTS = ["order", "created_at", "updated_at", "due_at", "priority", "title"]
BASE = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def owner(auth):
    return auth.user()


def seed(app, list_id, count, rng):
    """Todos with many ties and NULLs, so that the id tie-break and NULLs-last are exercised."""
    ids = []
    for _ in range(count):
        when = BASE + timedelta(hours=rng.randrange(3))
        ids += make_todos(
            app,
            list_id,
            title=rng.choice(["a", "b", "B", "c"]),
            order=float(rng.randrange(4)),
            priority=rng.randrange(4),
            due_at=rng.choice([None, when]),
            created_at=when,
            updated_at=when,
        )
    return ids


def delete_todo(app, todo_id):
    with app.app_context():
        db.session.execute(delete(Todo).where(Todo.id == todo_id))
        db.session.commit()


@pytest.mark.parametrize("path", ["/api/v1/lists/{L}/todos", "/api/v1/todos"])
@pytest.mark.parametrize("sort", SORTS + ["-" + s for s in SORTS])
def test_walk_returns_each_item_once_despite_changes(app, client, owner, sort, path):
    rng = random.Random(sort)
    list_id = make_list(app, {owner.id: "owner"})
    initial = seed(app, list_id, 30, rng)
    url = path.replace("{L}", str(list_id)) + f"?sort={sort}&limit=4"
    seen, removed, cursor, pages = [], set(), None, 0
    while True:
        r = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=owner.headers)
        assert r.status_code == 200, r.get_data(as_text=True)
        seen += [item["id"] for item in r.json["items"]]
        cursor = r.json["next_cursor"]
        pages += 1
        if not cursor:
            assert "Link" not in r.headers
            break
        assert r.headers["Link"].endswith('>; rel="next"') and "cursor=" in r.headers["Link"]
        seed(app, list_id, 1, rng)  # concurrent insert
        unseen = [i for i in initial if i not in seen and i not in removed]
        if unseen:
            victim = rng.choice(unseen)  # concurrent delete of an item not yet reached
            delete_todo(app, victim)
            removed.add(victim)
    assert len(seen) == len(set(seen)), "an item came twice"
    assert set(initial) - removed <= set(seen), "an item that stayed was skipped"
    assert not removed & set(seen), "a deleted item showed up"
    assert pages > 5


def test_walk_tags(app, client, owner):
    list_id = make_list(app, {owner.id: "owner"})
    for n in range(7):
        make_todos(app, list_id, tags=[f"t{n}", "common"])
    seen, cursor = [], None
    while True:
        r = client.get("/api/v1/tags?limit=3" + (f"&cursor={cursor}" if cursor else ""), headers=owner.headers)
        seen += [(item["name"], item["count"]) for item in r.json["items"]]
        cursor = r.json["next_cursor"]
        if not cursor:
            break
    assert seen == [("common", 7)] + [(f"t{n}", 1) for n in range(7)]


def first_cursor(client, owner, url):
    r = client.get(url, headers=owner.headers)
    assert r.json["next_cursor"]
    return r.json["next_cursor"]


@pytest.mark.parametrize(
    "made_for,used_on",
    [
        ("/api/v1/todos?limit=1&sort=title", "/api/v1/todos?sort=priority"),
        ("/api/v1/todos?limit=1", "/api/v1/todos?completed=false"),
        ("/api/v1/todos?limit=1&tag=x", "/api/v1/todos?tag=y"),
        ("/api/v1/lists/{L}/todos?limit=1", "/api/v1/lists/{M}/todos?"),
        ("/api/v1/lists/{L}/todos?limit=1", "/api/v1/todos?"),
        ("/api/v1/lists?limit=1", "/api/v1/lists?sort=name"),
    ],
)
def test_foreign_cursor_is_400(app, client, owner, made_for, used_on):
    first = make_list(app, {owner.id: "owner"})
    second = make_list(app, {owner.id: "owner"})
    for list_id in (first, second):
        make_todos(app, list_id, 3, tags=["x", "y"])
    fill = {"{L}": str(first), "{M}": str(second)}
    for key, value in fill.items():
        made_for, used_on = made_for.replace(key, value), used_on.replace(key, value)
    cursor = first_cursor(client, owner, made_for)
    r = client.get(f"{used_on}&cursor={cursor}", headers=owner.headers)
    assert r.status_code == 400
    assert list(r.json["errors"]) == ["cursor"]


def test_tampered_cursor_is_400(app, client, owner):
    make_todos(app, make_list(app, {owner.id: "owner"}), 3)
    cursor = first_cursor(client, owner, "/api/v1/todos?limit=1")
    r = client.get(f"/api/v1/todos?limit=1&cursor={cursor[:-2]}xx", headers=owner.headers)
    assert r.status_code == 400 and list(r.json["errors"]) == ["cursor"]


def test_limit_default_and_bounds(app, client, owner):
    make_todos(app, make_list(app, {owner.id: "owner"}), 201)
    assert len(client.get("/api/v1/todos", headers=owner.headers).json["items"]) == 50
    assert len(client.get("/api/v1/todos?limit=200", headers=owner.headers).json["items"]) == 200
    assert len(client.get("/api/v1/todos?limit=1", headers=owner.headers).json["items"]) == 1
