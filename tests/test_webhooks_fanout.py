"""The outbox fan-out: one event row per change, turned into deliveries by the worker, once."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from app.events import record_event
from app.extensions import db
from app.models import Membership, TodoList, User, Webhook, WebhookDelivery, WebhookEvent
from app.models.base import utcnow
from app.webhooks.fanout import fan_out
from tests.sql import count_statements

API = "/api/v1"


def hook(app, user_id, events=("todo.created",), list_id=None, **fields):
    """Add a webhook of `user_id` on `list_id` (all their lists when None); return its id."""
    with app.app_context():
        webhook = Webhook(
            user_id=user_id,
            list_id=list_id,
            all_lists=list_id is None,
            target_url="https://hooks.example/h",
            secret="s" * 32,
            events=list(events),
            **fields,
        )
        db.session.add(webhook)
        db.session.commit()
        return webhook.id


def new_list(app, members):
    """A list with `members` ({user_id: role}); return its id."""
    with app.app_context():
        todo_list = TodoList(name="Chores")
        db.session.add(todo_list)
        db.session.flush()
        db.session.add_all(Membership(list_id=todo_list.id, user_id=u, role=r) for u, r in members.items())
        db.session.commit()
        return todo_list.id


@pytest.fixture
def cast(app):
    """Ids of an owner and an editor of one list, and of a stranger to it."""
    with app.app_context():
        users = [User(email=f"{n}@example.com", password_hash="x", role="user") for n in ("o", "e", "s")]
        db.session.add_all(users)
        db.session.commit()
        owner, editor, stranger = (u.id for u in users)
    return owner, editor, stranger, new_list(app, {owner: "owner", editor: "editor"})


def count(app, model):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def deliveries(app):
    with app.app_context():
        return db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars().all()


def emit(app, list_id, n=1, event="todo.created"):
    with app.app_context():
        for i in range(n):
            record_event(event, list_id, {"id": i + 1})
        db.session.commit()


def fanned_out(app, **kwargs):
    with app.app_context():
        return fan_out(**kwargs)


def test_a_change_writes_one_event_row_however_many_webhooks(app, client, auth):
    user = auth.user()
    list_id = client.post(f"{API}/lists", json={"name": "Work"}, headers=user.headers).json["id"]
    path = f"{API}/lists/{list_id}/todos"
    client.post(path, json={"title": "warm-up"}, headers=user.headers)
    with count_statements(app) as alone:
        assert client.post(path, json={"title": "a"}, headers=user.headers).status_code == 201
    for _ in range(10):
        hook(app, user.id, list_id=list_id)
    with count_statements(app) as followed:
        assert client.post(path, json={"title": "b"}, headers=user.headers).status_code == 201
    assert len(followed) == len(alone)
    writes = [s.split("(")[0].split()[2] for s in followed if s.lstrip().upper().startswith("INSERT")]
    assert writes.count("webhook_events") == 1
    assert "webhook_deliveries" not in writes
    assert not [s for s in followed if "FROM webhooks" in s]
    assert (count(app, WebhookEvent), count(app, WebhookDelivery)) == (3, 0)
    assert fanned_out(app) == 3
    # The webhooks were made after the first two todos: only the third reaches them.
    assert [(d.event, d.payload["data"]["title"]) for d in deliveries(app)] == [("todo.created", "b")] * 10
    assert count(app, WebhookEvent) == 0


def test_fan_out_reaches_the_members_webhooks_that_follow_the_list_and_take_the_event(app, cast):
    owner, editor, stranger, list_id = cast
    other_list = new_list(app, {owner: "owner"})
    expected = [
        hook(app, owner),  # all the owner's lists
        hook(app, owner, list_id=list_id),  # this list
        hook(app, editor, list_id=list_id),
    ]
    hook(app, editor, events=["todo.deleted"])  # another event
    hook(app, editor, active=False)
    hook(app, stranger)  # not a member
    hook(app, owner, list_id=other_list)  # another list
    with app.app_context():
        record_event("todo.created", list_id, {"id": 7, "title": "Ship"})
        db.session.commit()
    later = hook(app, owner)
    with app.app_context():  # made after the event, even if its clock were a little behind
        db.session.get(Webhook, later).created_at = utcnow() + timedelta(seconds=1)
        db.session.commit()
    assert fanned_out(app) == 1
    rows = deliveries(app)
    assert [r.webhook_id for r in rows] == expected
    assert len({str(r.payload) for r in rows}) == 1  # one message, the same for every webhook
    first = rows[0]
    assert first.payload["data"] == {"id": 7, "title": "Ship"}
    assert (first.payload["type"], first.payload["id"]) == ("todo.created", first.message_id)
    assert {(r.event, r.message_id, r.status, r.attempts) for r in rows} == {
        ("todo.created", first.message_id, "pending", 0)
    }
    assert count(app, WebhookEvent) == 0
    assert fanned_out(app) == 0
    assert len(deliveries(app)) == 3


def test_fan_out_reads_the_members_when_it_runs(app, cast):
    owner, editor, _, list_id = cast
    kept = hook(app, owner)
    hook(app, editor)
    emit(app, list_id)
    with app.app_context():
        db.session.delete(db.session.get(Membership, (list_id, editor)))
        db.session.commit()
    assert fanned_out(app) == 1
    assert [d.webhook_id for d in deliveries(app)] == [kept]


def test_events_are_fanned_out_in_order_in_batches(app, cast):
    owner, _, _, list_id = cast
    hook(app, owner)
    emit(app, list_id, n=7)
    assert fanned_out(app, batch=3) == 7
    assert [d.payload["data"]["id"] for d in deliveries(app)] == list(range(1, 8))


def test_rolled_back_change_leaves_no_event(app, cast):
    owner, _, _, list_id = cast
    hook(app, owner)
    with app.app_context():
        record_event("todo.created", list_id, {"id": 1})
        db.session.rollback()
        record_event("todo.created", list_id, {"id": 2})
        db.session.commit()
    assert count(app, WebhookEvent) == 1
    assert fanned_out(app) == 1
    assert [d.payload["data"]["id"] for d in deliveries(app)] == [2]


def test_resolved_event_without_webhooks_writes_nothing(app, cast):
    _, _, _, list_id = cast
    with app.app_context():
        record_event("list.deleted", list_id, {"id": list_id}, resolve_now=True)
        db.session.commit()
    assert count(app, WebhookEvent) == 0


def test_member_removed_reaches_the_removed_member(app, client, auth):
    owner, member = auth.user(), auth.user()
    list_id = client.post(f"{API}/lists", json={"name": "Home"}, headers=owner.headers).json["id"]
    body = {"email": member.email, "role": "viewer"}
    assert client.post(f"{API}/lists/{list_id}/members", json=body, headers=owner.headers).status_code == 201
    targets = [hook(app, owner.id, events=["member.removed"]), hook(app, member.id, events=["member.removed"])]
    r = client.delete(f"{API}/lists/{list_id}/members/{member.id}", headers=owner.headers)
    assert r.status_code == 204
    with app.app_context():
        events = db.session.execute(select(WebhookEvent.event, WebhookEvent.webhook_ids).order_by(WebhookEvent.id))
        assert events.all() == [("member.added", None), ("member.removed", targets)]
    assert fanned_out(app) == 2
    rows = deliveries(app)
    assert [(d.webhook_id, d.event, d.payload["data"]["user_id"]) for d in rows] == [
        (targets[0], "member.removed", member.id),
        (targets[1], "member.removed", member.id),
    ]


def test_list_deleted_reaches_the_lists_members_and_webhooks(app, client, auth):
    owner, member, stranger = auth.user(), auth.user(), auth.user()
    list_id = client.post(f"{API}/lists", json={"name": "Home"}, headers=owner.headers).json["id"]
    body = {"email": member.email, "role": "editor"}
    assert client.post(f"{API}/lists/{list_id}/members", json=body, headers=owner.headers).status_code == 201
    targets = [
        hook(app, owner.id, events=["list.deleted"], list_id=list_id),
        hook(app, member.id, events=["list.deleted"]),
    ]
    hook(app, stranger.id, events=["list.deleted"])
    hook(app, member.id, events=["list.updated"])
    assert client.delete(f"{API}/lists/{list_id}", headers=owner.headers).status_code == 204
    assert fanned_out(app) == 2  # member.added, then list.deleted
    rows = deliveries(app)
    assert [(d.webhook_id, d.event, d.payload["data"]["id"]) for d in rows] == [
        (webhook_id, "list.deleted", list_id) for webhook_id in targets
    ]


def test_account_deletion_sends_list_deleted_to_the_other_members(app, client, auth):
    ann, bob = auth.user(), auth.user()
    list_id = new_list(app, {ann.id: "owner", bob.id: "editor"})
    hook(app, ann.id, events=["list.deleted"], list_id=list_id)  # deleted with her account
    bobs = hook(app, bob.id, events=["list.deleted"])
    assert client.delete(f"{API}/users/me", headers=ann.headers).status_code == 204
    assert fanned_out(app) == 1
    assert [(d.webhook_id, d.event, d.payload["data"]) for d in deliveries(app)] == [
        (bobs, "list.deleted", {"id": list_id, "name": "Chores"})
    ]


def test_a_pending_event_is_not_listed_until_fanned_out(app, client, auth):
    user = auth.user()
    list_id = client.post(f"{API}/lists", json={"name": "Work"}, headers=user.headers).json["id"]
    webhook_id = hook(app, user.id)
    client.post(f"{API}/lists/{list_id}/todos", json={"title": "a"}, headers=user.headers)
    url = f"{API}/webhooks/{webhook_id}/deliveries"
    assert client.get(url, headers=user.headers).json["items"] == []
    fanned_out(app)
    [item] = client.get(url, headers=user.headers).json["items"]
    assert (item["event"], item["status"], item["attempts"]) == ("todo.created", "pending", 0)


def test_concurrent_fan_outs_make_each_delivery_once(app, cast):
    owner, editor, _, list_id = cast
    hooks = {hook(app, owner), hook(app, editor)}
    emit(app, list_id, n=60)
    barrier, done, errors = threading.Barrier(4), [], []

    def work():
        try:
            with app.app_context():
                barrier.wait()
                done.append(fan_out(batch=4))
        except Exception as e:  # surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(done) + fanned_out(app) == 60
    rows = deliveries(app)
    assert len(rows) == 120
    assert {r.webhook_id for r in rows} == hooks
    assert len({(r.webhook_id, r.message_id) for r in rows}) == 120
    assert len({r.message_id for r in rows}) == 60
    assert count(app, WebhookEvent) == 0


@pytest.mark.postgres
def test_fan_out_skips_the_events_another_worker_holds(app, cast):
    owner, _, _, list_id = cast
    hook(app, owner)
    emit(app, list_id, n=5)
    with app.app_context():
        with db.engine.connect() as other:
            held = other.execute(text("SELECT id FROM webhook_events ORDER BY id LIMIT 2 FOR UPDATE")).scalars().all()
            assert fan_out() == 3  # neither waits for the other worker nor takes its events
            other.execute(text("DELETE FROM webhook_events WHERE id = ANY(:ids)"), {"ids": held})
            other.commit()  # the other worker fanned them out
        assert fan_out() == 0
    assert len(deliveries(app)) == 3


def deactivate(app, user_id):
    with app.app_context():
        db.session.get(User, user_id).is_active = False
        db.session.commit()


def test_a_deactivated_member_receives_nothing_from_events_recorded_before_or_after(app, cast):
    owner, editor, _, list_id = cast
    kept = hook(app, owner, events=["todo.created", "member.removed", "list.deleted"])
    hook(app, editor, events=["todo.created", "member.removed", "list.deleted"])
    emit(app, list_id)  # recorded while the editor is active, fanned out after
    deactivate(app, editor)
    emit(app, list_id)
    with app.app_context():  # events whose webhooks are resolved as they are recorded
        record_event("member.removed", list_id, {"user_id": owner}, resolve_now=True)
        record_event("list.deleted", list_id, {"id": list_id}, resolve_now=True)
        db.session.commit()
    fanned_out(app)
    assert [(d.webhook_id, d.event) for d in deliveries(app)] == [
        (kept, "todo.created"),
        (kept, "todo.created"),
        (kept, "member.removed"),
        (kept, "list.deleted"),
    ]


def test_a_named_webhook_of_a_user_deactivated_before_the_fan_out_gets_nothing(app, cast):
    owner, editor, _, list_id = cast
    hook(app, editor, events=["member.removed"])
    with app.app_context():
        record_event("member.removed", list_id, {"user_id": editor}, resolve_now=True)
        db.session.commit()
    assert count(app, WebhookEvent) == 1
    deactivate(app, editor)
    fanned_out(app)
    assert deliveries(app) == []
