"""The change feed: items per change, who sees them, cursors (400/410), rollback, and the event stream."""

from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.models import Change
from app.sync import feed
from app.sync.reader import Cursor
from tests.problems import assert_problem

API = "/api/v1"


def head(client, user):
    r = client.get(f"{API}/changes", headers=user.headers)
    assert r.status_code == 200, r.json
    assert r.json["items"] == []
    return r.json["next_cursor"]


def changes(client, user, since, **params):
    r = client.get(f"{API}/changes", query_string={"since": since, **params}, headers=user.headers)
    assert r.status_code == 200, r.json
    return r.json


def summary(page):
    return [(i["kind"], i["op"], i["id"]) for i in page["items"]]


def new_list(client, user, name="Groceries"):
    r = client.post(f"{API}/lists", json={"name": name}, headers=user.headers)
    assert r.status_code == 201, r.json
    return r.json


def add_member(client, owner, list_id, user, role):
    body = {"email": user.email, "role": role}
    r = client.post(f"{API}/lists/{list_id}/members", json=body, headers=owner.headers)
    assert r.status_code == 201, r.json


def new_todo(client, user, list_id, **fields):
    r = client.post(f"{API}/lists/{list_id}/todos", json={"title": "Milk", **fields}, headers=user.headers)
    assert r.status_code == 201, r.json
    return r.json


def test_items_carry_the_objects_as_get_answers_them(client, auth):
    alice = auth.user()
    cursor = head(client, alice)
    todo_list = new_list(client, alice)
    todo = new_todo(client, alice, todo_list["id"], tags=["Home"])
    client.patch(f"{API}/todos/{todo['id']}", json={"completed": True}, headers=alice.headers)
    page = changes(client, alice, cursor)
    assert summary(page) == [("list", "upsert", todo_list["id"]), ("todo", "upsert", todo["id"])] + [
        ("todo", "upsert", todo["id"])
    ]
    first, _, last = page["items"]
    assert first["data"]["role"] == "owner" and first["data"]["name"] == "Groceries"
    assert first["list_id"] == todo_list["id"] and first["at"].endswith("Z")
    assert last["data"] == client.get(f"{API}/todos/{todo['id']}", headers=alice.headers).json
    # Nothing new: the same position comes back, and no items.
    again = changes(client, alice, page["next_cursor"])
    assert again["items"] == []
    assert changes(client, alice, again["next_cursor"])["items"] == []
    # A page per item, in order.
    one = changes(client, alice, cursor, limit=1)
    assert summary(one) == [("list", "upsert", todo_list["id"])]
    assert summary(changes(client, alice, one["next_cursor"], limit=1)) == [("todo", "upsert", todo["id"])]


def test_only_members_when_the_change_was_made_see_it(client, auth):
    alice, bob = auth.user(), auth.user()
    bob_start = head(client, bob)
    todo_list = new_list(client, alice)
    before = new_todo(client, alice, todo_list["id"])
    r = client.post(
        f"{API}/lists/{todo_list['id']}/members", json={"email": bob.email, "role": "editor"}, headers=alice.headers
    )
    assert r.status_code == 201
    during = new_todo(client, alice, todo_list["id"], title="Eggs")
    page = changes(client, bob, bob_start)
    # Bob gains the list (as an upsert of it with his role), then sees the members and what follows.
    assert summary(page) == [("list", "upsert", todo_list["id"]), ("member", "upsert", bob.id)] + [
        ("todo", "upsert", during["id"])
    ]
    assert page["items"][0]["data"]["role"] == "editor"
    assert before["id"] not in [i["id"] for i in page["items"] if i["kind"] == "todo"]
    # Bob leaves: a delete of the list for him, a member delete for Alice; nothing after for Bob.
    alice_cursor = head(client, alice)
    assert client.delete(f"{API}/lists/{todo_list['id']}/members/{bob.id}", headers=bob.headers).status_code == 204
    new_todo(client, alice, todo_list["id"], title="After")
    bob_page = changes(client, bob, page["next_cursor"])
    assert summary(bob_page) == [("list", "delete", todo_list["id"])]
    assert bob_page["items"][0]["data"] is None
    assert summary(changes(client, alice, alice_cursor))[:1] == [("member", "delete", bob.id)]


def test_bulk_deletes_share_links_and_list_deletion_are_in_the_feed(client, auth):
    alice = auth.user()
    todo_list = new_list(client, alice)
    done = new_todo(client, alice, todo_list["id"], completed=True)
    kept = new_todo(client, alice, todo_list["id"], title="Kept")
    cursor = head(client, alice)
    r = client.delete(f"{API}/lists/{todo_list['id']}/todos?completed=true", headers=alice.headers)
    assert r.status_code == 200 and r.json["deleted"] == 1
    link = client.post(f"{API}/lists/{todo_list['id']}/share-links", json={"role": "editor"}, headers=alice.headers)
    shared = link.json["url"].removeprefix("http://localhost")
    created = client.post(shared, json={"title": "Via link"}).json
    client.patch(f"{shared}/{created['id']}", json={"completed": True})
    client.delete(shared)
    client.delete(f"{API}/lists/{todo_list['id']}", headers=alice.headers)
    assert summary(changes(client, alice, cursor)) == [
        ("todo", "delete", done["id"]),
        ("todo", "upsert", created["id"]),
        ("todo", "upsert", created["id"]),
        ("todo", "delete", kept["id"]),
        ("todo", "delete", created["id"]),
        ("list", "delete", todo_list["id"]),
    ]


def test_moving_a_todo_is_a_delete_in_one_list_and_an_upsert_in_the_other(client, auth):
    alice, bob = auth.user(), auth.user()
    source, target = new_list(client, alice, "Source"), new_list(client, bob, "Target")
    add_member(client, bob, target["id"], alice, "editor")
    todo = new_todo(client, alice, source["id"])
    alice_cursor, bob_cursor = head(client, alice), head(client, bob)
    r = client.patch(f"{API}/todos/{todo['id']}", json={"list_id": target["id"]}, headers=alice.headers)
    assert r.status_code == 200, r.json
    moved = [("todo", "delete", todo["id"]), ("todo", "upsert", todo["id"])]
    assert summary(changes(client, alice, alice_cursor)) == moved
    assert summary(changes(client, bob, bob_cursor)) == [("todo", "upsert", todo["id"])]


def test_deleting_an_account_reaches_the_other_members(client, auth):
    alice, bob = auth.user(), auth.user()
    shared_list, bobs_own = new_list(client, alice, "Shared"), new_list(client, bob, "Bob's")
    add_member(client, alice, shared_list["id"], bob, "editor")
    add_member(client, bob, bobs_own["id"], alice, "viewer")
    todo = new_todo(client, bob, shared_list["id"], assignee_id=bob.id)
    cursor = head(client, alice)
    assert client.delete(f"{API}/users/me", headers=bob.headers).status_code == 204
    page = changes(client, alice, cursor)
    assert summary(page) == [
        ("list", "delete", bobs_own["id"]),
        ("member", "delete", bob.id),
        ("todo", "upsert", todo["id"]),
    ]
    assert page["items"][2]["data"] == client.get(f"{API}/todos/{todo['id']}", headers=alice.headers).json
    assert page["items"][2]["data"]["assignee_id"] is None


def test_a_rolled_back_change_appears_nowhere(app, client, auth):
    alice = auth.user()
    todo_list = new_list(client, alice)
    cursor = head(client, alice)
    with app.test_request_context():
        db.session.query(Change).count()  # a transaction is under way, as in a request
        feed.todo_deleted(todo_list["id"], 1)
        db.session.rollback()
        db.session.commit()
        assert db.session.query(Change).filter(Change.kind == "todo").count() == 0
    assert changes(client, alice, cursor)["items"] == []


def test_bad_cursors_and_limits(app, client, auth):
    alice = auth.user()
    cursor = head(client, alice)
    for bad in ("nope", cursor[:-2] + "xx", ""):
        r = client.get(f"{API}/changes", query_string={"since": bad}, headers=alice.headers)
        assert_problem(r, 400)
    for limit in ("0", "1001", "ten"):
        r = client.get(f"{API}/changes", query_string={"since": cursor, "limit": limit}, headers=alice.headers)
        assert_problem(r, 400)
    assert changes(client, alice, cursor, limit=1000)["items"] == []
    with app.test_request_context():
        expired = Cursor(0, datetime.now(UTC) - timedelta(days=31)).encode()
        unknown = Cursor(10**12, datetime.now(UTC)).encode()
    for gone in (expired, unknown):
        assert_problem(client.get(f"{API}/changes", query_string={"since": gone}, headers=alice.headers), 410)
    assert_problem(client.get(f"{API}/changes"), 401)


def test_purge_keeps_recent_changes_and_the_head(app, client, auth):
    from app.sync.reader import purge_expired

    alice = auth.user()
    new_list(client, alice)
    new_list(client, alice, "Second")
    with app.app_context():
        db.session.execute(Change.__table__.update().values(created_at=datetime(2000, 1, 1, tzinfo=UTC)))
        db.session.commit()
        assert purge_expired() == 1
        assert db.session.query(Change).count() == 1


def read_event(chunks):
    """The next SSE event (or comment) from a stream's chunks."""
    text = ""
    while not text.endswith("\n\n"):
        text += next(chunks).decode() if isinstance(text, str) else ""
    return text


def test_events_stream_changes_and_resume(client, auth):
    alice = auth.user()
    r = client.get(f"{API}/events", headers=alice.headers, buffered=False)
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    chunks = iter(r.response)
    assert read_event(chunks).startswith(": connected")
    todo_list = new_list(client, alice)
    event = read_event(chunks)
    assert "event: change\n" in event and f'"id":{todo_list["id"]}' in event
    cursor = event.split("id: ", 1)[1].split("\n", 1)[0]
    r.close()
    new_todo(client, alice, todo_list["id"])
    again = client.get(f"{API}/events", headers={**alice.headers, "Last-Event-ID": cursor}, buffered=False)
    chunks = iter(again.response)
    read_event(chunks)
    assert '"kind":"todo"' in read_event(chunks)
    again.close()


def test_events_need_auth_and_a_good_cursor(client, auth):
    assert_problem(client.get(f"{API}/events"), 401)
    alice = auth.user()
    assert_problem(client.get(f"{API}/events", headers={**alice.headers, "Last-Event-ID": "junk"}), 400)


@pytest.mark.parametrize("name", ["reminder"])
def test_reminders_reach_the_users_streams(app, client, auth, name):
    from app.sync.live import publish_reminder

    alice = auth.user()
    r = client.get(f"{API}/events", headers=alice.headers, buffered=False)
    chunks = iter(r.response)
    read_event(chunks)
    with app.app_context():
        publish_reminder([alice.id], {"todo_id": 7})
    assert read_event(chunks) == 'event: reminder\ndata: {"todo_id":7}\n\n'
    r.close()


def drain(chunks, seconds):
    """Read the stream until it ends; return whether it ended within `seconds`."""
    import threading

    ended = threading.Event()

    def consume():
        for _ in chunks:
            pass
        ended.set()

    threading.Thread(target=consume, daemon=True).start()
    return ended.wait(seconds)


def test_a_stream_ends_within_5_s_of_logout(client, auth):
    alice = auth.user()
    r = client.get(f"{API}/events", headers=alice.headers, buffered=False)
    chunks = iter(r.response)
    read_event(chunks)
    assert client.post(f"{API}/auth/logout", headers=alice.headers).status_code == 204
    assert drain(chunks, 5)


@pytest.mark.slow
def test_a_stream_ends_when_its_access_token_expires(app, client, auth):
    from flask_jwt_extended import create_access_token

    alice = auth.user()
    sid = client.get(f"{API}/auth/sessions", headers=alice.headers).json["items"][0]["id"]
    with app.app_context():
        token = create_access_token(str(alice.id), additional_claims={"sid": sid}, expires_delta=timedelta(seconds=2))
    r = client.get(f"{API}/events", headers={"Authorization": f"Bearer {token}"}, buffered=False)
    assert r.status_code == 200
    assert drain(iter(r.response), 5)


def test_a_stream_opened_with_a_personal_token_ends_within_5_s_of_its_deletion(client, auth):
    alice = auth.user()
    made = client.post(
        f"{API}/auth/tokens", headers=alice.headers, json={"name": "sync script", "scopes": ["changes:read"]}
    )
    assert made.status_code == 201
    r = client.get(f"{API}/events", headers={"Authorization": f"Bearer {made.json['token']}"}, buffered=False)
    assert r.status_code == 200
    chunks = iter(r.response)
    read_event(chunks)
    assert client.delete(f"{API}/auth/tokens/{made.json['id']}", headers=alice.headers).status_code == 204
    assert drain(chunks, 5)


def test_a_personal_token_without_changes_read_cannot_open_a_stream(client, auth):
    alice = auth.user()
    made = client.post(
        f"{API}/auth/tokens", headers=alice.headers, json={"name": "todo script", "scopes": ["todos:read"]}
    )
    r = client.get(f"{API}/events", headers={"Authorization": f"Bearer {made.json['token']}"})
    assert r.status_code == 403
    assert 'scope="changes:read"' in r.headers["WWW-Authenticate"]


def test_a_since_longer_than_any_cursor_is_a_400_and_documented_so(client, auth):
    """A cursor is short; a bound on `since` keeps a schema-valid request line within Gunicorn's limit."""
    user = auth.user()
    r = client.get("/api/v1/changes?since=" + "0" * 201, headers=user.headers)
    assert (r.status_code, r.mimetype) == (400, "application/problem+json")
    spec = client.get("/api/v1/openapi.json").json
    for path in ("/api/v1/changes", "/api/v1/events"):
        (since,) = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "since"]
        assert since["schema"]["maxLength"] == 200
