"""Todos: create, validation, partial change, completing, moving, clearing, events, conflicts."""

import pytest
from sqlalchemy import event, select, update

from app.extensions import db
from app.models import Membership, Todo, Webhook, WebhookDelivery, WebhookEvent
from app.webhooks.fanout import fan_out
from tests.factories import make_cast, make_list, make_todos
from tests.sql import count_statements

PROBLEM = "application/problem+json"
FIELDS = {
    "id",
    "url",
    "list_id",
    "title",
    "notes",
    "completed",
    "completed_at",
    "due_at",
    "priority",
    "tags",
    "assignee_id",
    "order",
    "recurrence",
    "timezone",
    "reminders",
    "created_by",
    "created_at",
    "updated_at",
}


@pytest.fixture
def cast(app, auth):
    return make_cast(app, auth)


def post(client, cast, body, user=None):
    return client.post(f"/api/v1/lists/{cast.list_id}/todos", headers=(user or cast.editor).headers, json=body)


def patch(client, todo_id, body, user):
    return client.patch(f"/api/v1/todos/{todo_id}", headers=user.headers, json=body)


def test_create_todo_full(client, cast):
    body = {
        "title": "Milk",
        "notes": "2 litres",
        "due_at": "2026-12-01T10:00:00+02:00",
        "priority": 3,
        "tags": ["Shop", "shop", "dairy_2"],
        "assignee_id": cast.viewer.id,
        "order": 0.5,
    }
    r = post(client, cast, body)
    assert r.status_code == 201, r.json
    todo = r.json
    assert set(todo) == FIELDS
    assert r.headers["Location"] == todo["url"] == f"http://localhost/api/v1/todos/{todo['id']}"
    assert todo["due_at"] == "2026-12-01T08:00:00Z"
    assert todo["tags"] == ["dairy_2", "shop"]
    assert (todo["list_id"], todo["created_by"], todo["assignee_id"]) == (cast.list_id, cast.editor.id, cast.viewer.id)
    assert (todo["completed"], todo["completed_at"], todo["order"], todo["priority"]) == (False, None, 0.5, 3)
    assert r.headers["ETag"]


def test_create_todo_defaults_and_goes_last(client, cast):
    first = post(client, cast, {"title": "A"}).json  # the cast's todo has order 0.0 or more
    second = post(client, cast, {"title": "B"}).json
    assert second["order"] == first["order"] + 1
    assert (first["notes"], first["due_at"], first["priority"], first["tags"], first["assignee_id"]) == (
        None,
        None,
        0,
        [],
        None,
    )


def test_create_todo_completed(client, cast):
    todo = post(client, cast, {"title": "Done already", "completed": True}).json
    assert todo["completed"] is True and todo["completed_at"].endswith("Z")


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"title": None}, "title"),
        ({"title": 1}, "title"),
        ({"title": "t", "notes": "x" * 10001}, "notes"),
        ({"title": "t", "due_at": "2026-12-01T10:00:00"}, "due_at"),
        ({"title": "t", "due_at": "tomorrow"}, "due_at"),
        ({"title": "t", "due_at": "9999-12-31T23:59:59-01:00"}, "due_at"),
        ({"title": "t", "due_at": "0001-01-01T00:00:00+14:00"}, "due_at"),
        ({"title": "t", "priority": 4}, "priority"),
        ({"title": "t", "priority": -1}, "priority"),
        ({"title": "t", "priority": "1"}, "priority"),
        ({"title": "t", "priority": True}, "priority"),
        ({"title": "t", "priority": 1.5}, "priority"),
        ({"title": "t", "tags": ["a b"]}, "tags"),
        ({"title": "t", "tags": [""]}, "tags"),
        ({"title": "t", "tags": ["x" * 51]}, "tags"),
        ({"title": "t", "tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"title": "t", "tags": "work"}, "tags"),
        ({"title": "t", "tags": None}, "tags"),
        ({"title": "t", "order": "1"}, "order"),
        ({"title": "t", "order": None}, "order"),
        ({"title": "t", "completed": "yes"}, "completed"),
        ({"title": "t", "completed": "true"}, "completed"),
        ({"title": "t", "completed": 1}, "completed"),
        ({"title": "t", "completed": 0}, "completed"),
        ({"title": "t", "completed": None}, "completed"),
        ({"title": "t", "assignee_id": "me"}, "assignee_id"),
        ({"title": "t", "id": 1}, "id"),
        ({"title": "t", "list_id": 1}, "list_id"),
        ({"title": "t", "created_by": 1}, "created_by"),
        ({"title": "t", "completed_at": "2026-12-01T10:00:00Z"}, "completed_at"),
        ({"title": "t", "url": "http://x"}, "url"),
        ({"title": "t", "version": 3}, "version"),
    ],
)
def test_create_todo_invalid(client, cast, body, field):
    r = post(client, cast, body)
    assert r.status_code == 422, r.json
    assert r.mimetype == PROBLEM
    assert [key.split(".")[0] for key in r.json["errors"]] == [field]  # nested: "tags.0"


def test_assignee_must_be_member(client, cast):
    r = post(client, cast, {"title": "t", "assignee_id": cast.stranger.id})
    assert r.status_code == 422 and list(r.json["errors"]) == ["assignee_id"]


def test_patch_is_partial_and_null_clears(client, cast):
    todo = post(
        client,
        cast,
        {"title": "T", "notes": "n", "due_at": "2026-12-01T10:00:00Z", "tags": ["a"], "assignee_id": cast.owner.id},
    ).json
    r = patch(client, todo["id"], {"notes": None, "due_at": None, "assignee_id": None}, cast.editor)
    assert r.status_code == 200
    assert (r.json["title"], r.json["notes"], r.json["due_at"], r.json["assignee_id"], r.json["tags"]) == (
        "T",
        None,
        None,
        None,
        ["a"],
    )
    assert r.json["updated_at"] >= todo["updated_at"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"priority": 9}, "priority"),
        ({"completed": None}, "completed"),
        ({"completed": 1}, "completed"),
        ({"completed": 0}, "completed"),
        ({"completed": "false"}, "completed"),
        ({"list_id": "2"}, "list_id"),
        ({"id": 5}, "id"),
        ({"created_by": 5}, "created_by"),
        ({"tags": ["no way"]}, "tags"),
    ],
)
def test_patch_invalid(client, cast, body, field):
    r = patch(client, cast.todo_id, body, cast.editor)
    assert r.status_code == 422
    assert [key.split(".")[0] for key in r.json["errors"]] == [field]  # nested: "tags.0"


def test_complete_and_reopen(client, cast):
    r = patch(client, cast.todo_id, {"completed": True}, cast.editor)
    assert r.json["completed"] is True and r.json["completed_at"].endswith("Z")
    done_at = r.json["completed_at"]
    assert patch(client, cast.todo_id, {"completed": True}, cast.editor).json["completed_at"] == done_at
    r = patch(client, cast.todo_id, {"completed": False}, cast.editor)
    assert r.json["completed"] is False and r.json["completed_at"] is None


def test_tags_only_change_bumps_etag(client, cast):
    before = client.get(f"/api/v1/todos/{cast.todo_id}", headers=cast.owner.headers)
    r = patch(client, cast.todo_id, {"tags": ["Home"]}, cast.editor)
    assert r.json["tags"] == ["home"]
    assert r.headers["ETag"] != before.headers["ETag"]
    assert r.json["updated_at"] >= before.json["updated_at"]


def test_move_todo(app, client, auth, cast):
    target = make_list(app, {cast.editor.id: "editor", cast.owner.id: "viewer"})
    todo = post(client, cast, {"title": "Move me", "assignee_id": cast.editor.id}).json
    make_todos(app, target, 1, order=7.0)
    r = patch(client, todo["id"], {"list_id": target}, cast.editor)
    assert r.status_code == 200
    assert (r.json["list_id"], r.json["order"], r.json["assignee_id"]) == (target, 8.0, cast.editor.id)
    # The owner of the source list is only a viewer of the target.
    assert patch(client, todo["id"], {"list_id": cast.list_id}, cast.owner).status_code == 403


def test_move_rules(app, client, cast):
    hidden = make_list(app, {cast.stranger.id: "owner"})
    viewing = make_list(app, {cast.editor.id: "viewer"})
    assert patch(client, cast.todo_id, {"list_id": hidden}, cast.editor).status_code == 404
    assert patch(client, cast.todo_id, {"list_id": viewing}, cast.editor).status_code == 403
    patch(client, cast.todo_id, {"assignee_id": cast.viewer.id}, cast.editor)
    elsewhere = make_list(app, {cast.editor.id: "owner"})
    r = patch(client, cast.todo_id, {"list_id": elsewhere}, cast.editor)
    assert r.status_code == 422 and list(r.json["errors"]) == ["assignee_id"]
    r = patch(client, cast.todo_id, {"list_id": elsewhere, "assignee_id": None}, cast.editor)
    assert r.status_code == 200 and r.json["list_id"] == elsewhere


def test_delete_todo(client, cast):
    assert client.delete(f"/api/v1/todos/{cast.todo_id}", headers=cast.editor.headers).status_code == 204
    assert client.get(f"/api/v1/todos/{cast.todo_id}", headers=cast.editor.headers).status_code == 404


def test_clear_completed(app, client, cast):
    make_todos(app, cast.list_id, 3, completed=True)
    path = f"/api/v1/lists/{cast.list_id}/todos"
    r = client.delete(path + "?completed=true", headers=cast.editor.headers)
    assert r.status_code == 200 and r.json == {"deleted": 3}
    assert [t["id"] for t in client.get(path, headers=cast.editor.headers).json["items"]] == [cast.todo_id]


@pytest.mark.parametrize("query", ["", "?completed=false", "?completed=maybe"])
def test_clear_needs_completed_true(client, cast, query):
    r = client.delete(f"/api/v1/lists/{cast.list_id}/todos{query}", headers=cast.editor.headers)
    assert r.status_code == 400 and r.mimetype == PROBLEM
    assert list(r.json["errors"]) == ["completed"]


def test_todo_events(app, client, cast):
    with app.app_context():
        db.session.add(
            Webhook(
                user_id=cast.owner.id,
                target_url="https://example.com/h",
                secret="s" * 32,
                events=["todo.created", "todo.updated", "todo.completed", "todo.deleted"],
                all_lists=True,
                active=True,
            )
        )
        db.session.commit()
    todo = post(client, cast, {"title": "E"}).json
    patch(client, todo["id"], {"completed": True}, cast.editor)
    patch(client, todo["id"], {"title": "E2", "completed": False}, cast.editor)
    patch(client, todo["id"], {"title": "E3", "completed": True}, cast.editor)
    client.delete(f"/api/v1/todos/{todo['id']}", headers=cast.editor.headers)
    with app.app_context():
        fan_out()  # the delivery worker's first step: one delivery per subscribed webhook
        rows = db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars().all()
        assert [(row.event, row.payload["data"]["title"]) for row in rows] == [
            ("todo.created", "E"),
            ("todo.completed", "E"),
            ("todo.updated", "E2"),
            ("todo.completed", "E3"),
            ("todo.updated", "E3"),
            ("todo.deleted", "E3"),
        ]


def test_concurrent_update_is_409(app, client, cast):
    def meanwhile(mapper, connection, target):
        # Another writer bumps the row's version between our read and our write.
        connection.execute(
            update(Todo.__table__).where(Todo.__table__.c.id == target.id).values(version=Todo.__table__.c.version + 1)
        )

    event.listen(Todo, "before_update", meanwhile)
    try:
        r = patch(client, cast.todo_id, {"title": "Mine"}, cast.editor)
    finally:
        event.remove(Todo, "before_update", meanwhile)
    assert r.status_code == 409 and r.mimetype == PROBLEM
    assert client.get(f"/api/v1/todos/{cast.todo_id}", headers=cast.editor.headers).json["title"] != "Mine"


def test_concurrent_update_with_if_match_is_412(app, client, cast):
    etag = client.get(f"/api/v1/todos/{cast.todo_id}", headers=cast.editor.headers).headers["ETag"]

    def meanwhile(mapper, connection, target):
        # Another writer commits between our If-Match check and our UPDATE.
        connection.execute(
            update(Todo.__table__).where(Todo.__table__.c.id == target.id).values(version=Todo.__table__.c.version + 1)
        )

    event.listen(Todo, "before_update", meanwhile)
    try:
        r = client.patch(
            f"/api/v1/todos/{cast.todo_id}",
            json={"title": "Mine"},
            headers={**cast.editor.headers, "If-Match": etag},
        )
    finally:
        event.remove(Todo, "before_update", meanwhile)
    assert r.status_code == 412 and r.mimetype == PROBLEM
    assert client.get(f"/api/v1/todos/{cast.todo_id}", headers=cast.editor.headers).json["title"] != "Mine"


@pytest.mark.parametrize("path", ["/lists/{L}/todos", "/todos", "/todos?list_id={L}&tag=a&q=o&sort=due_at"])
def test_todo_pages_run_a_fixed_number_of_statements(app, client, cast, path):
    make_todos(app, cast.list_id, 30, tags=["a", "b"], assignee_id=None)
    other = make_list(app, {cast.owner.id: "editor"})
    make_todos(app, other, 5, tags=["a"])
    path = "/api/v1" + path.replace("{L}", str(cast.list_id))
    counts = []
    for limit in (1, 200):
        sep = "&" if "?" in path else "?"
        with count_statements(app) as statements:
            r = client.get(f"{path}{sep}limit={limit}", headers=cast.owner.headers)
        assert r.status_code == 200 and len(r.json["items"]) == (1 if limit == 1 else len(r.json["items"]))
        counts.append(len(statements))
    assert counts[0] == counts[1]
    assert counts[0] <= 4  # principal, (membership), page, tags


def test_membership_rows_untouched_by_todo_writes(app, client, cast):
    post(client, cast, {"title": "x"})
    with app.app_context():
        assert db.session.execute(select(Membership).where(Membership.list_id == cast.list_id)).scalars().all()


@pytest.mark.parametrize(
    ("method", "field"),
    [("post", "assignee_id"), ("patch", "assignee_id"), ("patch", "list_id")],
)
def test_an_id_beyond_32_bits_is_422_not_a_database_error(client, auth, method, field):
    owner = auth.user()
    list_id = client.post("/api/v1/lists", json={"name": "L"}, headers=owner.headers).json["id"]
    todo = client.post(f"/api/v1/lists/{list_id}/todos", json={"title": "T"}, headers=owner.headers).json
    path = f"/api/v1/lists/{list_id}/todos" if method == "post" else f"/api/v1/todos/{todo['id']}"
    r = getattr(client, method)(path, json={"title": "T", field: 2_319_810_663_878}, headers=owner.headers)
    assert r.status_code == 422 and r.mimetype == "application/problem+json" and field in r.json["errors"], r.json


@pytest.mark.parametrize("method", ["post", "patch"])
@pytest.mark.parametrize("assignee", [2147483646, "stranger"])
def test_an_assignee_who_is_no_member_is_422_and_changes_nothing(client, cast, method, assignee):
    assignee_id = cast.stranger.id if assignee == "stranger" else assignee
    before = client.get(f"/api/v1/todos/{cast.todo_id}", headers=cast.editor.headers).json
    path = f"/api/v1/lists/{cast.list_id}/todos" if method == "post" else f"/api/v1/todos/{cast.todo_id}"
    body = {"title": "Changed", "assignee_id": assignee_id}
    r = getattr(client, method)(path, json=body, headers=cast.editor.headers)
    assert r.status_code == 422 and r.mimetype == PROBLEM and list(r.json["errors"]) == ["assignee_id"], r.json
    assert client.get(f"/api/v1/todos/{cast.todo_id}", headers=cast.editor.headers).json == before


@pytest.mark.postgres
def test_clear_completed_spares_a_todo_uncompleted_meanwhile(app, client, cast, database_url):
    """Another transaction un-completes a todo between the clear's read and its delete: the todo stays."""
    import threading

    from sqlalchemy import create_engine

    [kept] = make_todos(app, cast.list_id, 1, completed=True)
    [done] = make_todos(app, cast.list_id, 1, completed=True)
    other = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    outcome = {}

    def uncomplete():
        with other.begin() as conn:
            outcome["rows"] = conn.execute(
                update(Todo).where(Todo.id == kept).values(completed=False, completed_at=None)
            ).rowcount

    def after_read(conn, cursor, statement, *args):
        if statement.lstrip().startswith("SELECT todos.") and "FROM todos" in statement and not outcome:
            outcome["started"] = True
            thread = threading.Thread(target=uncomplete)
            thread.start()
            thread.join(1.0)  # with the rows locked, it waits for the clear to commit

    with app.app_context():
        event.listen(db.engine, "after_cursor_execute", after_read)
    try:
        r = client.delete(f"/api/v1/lists/{cast.list_id}/todos?completed=true", headers=cast.editor.headers)
    finally:
        with app.app_context():
            event.remove(db.engine, "after_cursor_execute", after_read)
    for _ in range(50):
        if "rows" in outcome:
            break
        threading.Event().wait(0.1)
    other.dispose()
    assert r.status_code == 200, r.json
    with app.app_context():
        remaining = set(db.session.execute(select(Todo.id).where(Todo.list_id == cast.list_id)).scalars())
        events = db.session.execute(select(WebhookEvent.event, WebhookEvent.payload)).all()
    deleted_events = sorted(payload["data"]["id"] for name, payload in events if name == "todo.deleted")
    assert outcome.get("started") and done not in remaining
    # Either the un-complete came first (the todo stays, not counted) or after the delete (it found nothing).
    if outcome["rows"] == 1:
        assert kept in remaining and r.json == {"deleted": 1} and deleted_events == [done]
    else:
        assert kept not in remaining and r.json == {"deleted": 2} and deleted_events == sorted([kept, done])


@pytest.mark.postgres
def test_a_delete_and_a_patch_of_the_tags_never_deadlock(app, cast):
    """A DELETE pauses just before its DELETE FROM todos while a PATCH changes the same todo's tags.

    The DELETE used to delete the loaded tag rows first (locking them), then wait for the
    todo's row, which the PATCH held while it waited for those tag rows: PostgreSQL ended
    one of them as a deadlock, a 503. Now the DELETE locks the todo's row first, as the
    PATCH does: one waits for the other, and neither fails.
    """
    import threading
    import time

    client = app.test_client()
    todo_id = post(client, cast, {"title": "Paint", "tags": ["a", "b"]}).json["id"]
    paused, statuses = threading.Event(), {}

    def pause(conn, cursor, statement, *args):
        if threading.current_thread().name == "deleter" and statement.lstrip().startswith("DELETE FROM todos"):
            paused.set()
            time.sleep(1.0)  # the PATCH runs meanwhile

    def delete():
        r = app.test_client().delete(f"/api/v1/todos/{todo_id}", headers=cast.editor.headers)
        statuses["delete"] = r.status_code

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", pause)
    try:
        deleter = threading.Thread(target=delete, name="deleter")
        deleter.start()
        assert paused.wait(10)
        r = app.test_client().patch(f"/api/v1/todos/{todo_id}", json={"tags": ["c"]}, headers=cast.editor.headers)
        statuses["patch"] = r.status_code
        deleter.join(30)
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", pause)
    # The PATCH commits first (the DELETE is paused before its first lock); the DELETE then
    # finds a newer version: the same answer as any DELETE that lost a race to a write.
    assert statuses["patch"] == 200, statuses
    assert statuses["delete"] < 500, statuses
    after = client.get(f"/api/v1/todos/{todo_id}", headers=cast.editor.headers)
    assert (after.status_code, after.json.get("tags")) in ((404, None), (200, ["c"])), after.json


def test_a_patch_answers_its_change_even_when_the_todo_is_deleted_right_after_its_commit(app, client, cast):
    """A concurrent DELETE that commits between a PATCH's commit and its answer: still 200, with the change."""
    todo_id = post(client, cast, {"title": "Paint"}).json["id"]

    done = []

    def delete_elsewhere(session):
        if done:
            return
        done.append(True)
        with db.engine.begin() as other:  # another connection, as another request's would be
            other.execute(Todo.__table__.delete().where(Todo.__table__.c.id == todo_id))

    with app.app_context():
        event.listen(db.session, "after_commit", delete_elsewhere)
        try:
            r = patch(client, todo_id, {"title": "Paint the fence"}, cast.editor)
        finally:
            event.remove(db.session, "after_commit", delete_elsewhere)
    assert done
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.json["title"] == "Paint the fence"
    assert client.get(f"/api/v1/todos/{todo_id}", headers=cast.editor.headers).status_code == 404
