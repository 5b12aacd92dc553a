"""Webhook resources: create (secret once), validation, ownership, cap, ping, deliveries, redelivery."""

import base64
import json

import pytest

from app.extensions import db
from app.models import Webhook, WebhookDelivery
from app.webhooks import signing
from app.webhooks.worker import drain
from tests import webhook_receiver
from tests.conftest import make_config
from tests.factories import make_list

API = "/api/v1"
EVENTS = ["todo.created", "todo.completed"]


@pytest.fixture
def receiver():
    receiver = webhook_receiver.start()
    yield receiver
    webhook_receiver.stop(receiver)


@pytest.fixture
def extra_config():
    """Settings a test adds, with `@pytest.mark.parametrize("extra_config", [{...}])`."""
    return {}


@pytest.fixture
def app_config(database_url, receiver, extra_config):
    return make_config(database_url, WEBHOOK_ALLOWED_HOSTS=[receiver.netloc], **extra_config)


def create(client, user, receiver, **fields):
    body = {"target_url": receiver.url, "events": EVENTS, **fields}
    return client.post(f"{API}/webhooks", json=body, headers=user.headers)


def test_create_webhook_shows_secret_once(client, auth, receiver):
    user = auth.user()
    r = create(client, user, receiver)
    assert r.status_code == 201, r.json
    body = r.json
    assert r.headers["Location"] == body["url"] == f"http://localhost{API}/webhooks/{body['id']}"
    assert body["target_url"] == receiver.url
    assert body["events"] == EVENTS
    assert body["list_id"] is None
    assert body["active"] is True
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    got = client.get(body["url"], headers=user.headers)
    assert got.status_code == 200
    assert "secret" not in got.json
    assert got.headers["ETag"]
    listed = client.get(f"{API}/webhooks", headers=user.headers).json
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert "secret" not in listed["items"][0]


def test_events_are_deduplicated_in_a_fixed_order(client, auth, receiver):
    r = create(client, auth.user(), receiver, events=["member.added", "todo.created", "member.added"])
    assert r.status_code == 201
    assert r.json["events"] == ["todo.created", "member.added"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": EVENTS}, "target_url"),
        ({"target_url": "RECEIVER"}, "events"),
        ({"target_url": "RECEIVER", "events": []}, "events"),
        ({"target_url": "RECEIVER", "events": ["todo.exploded"]}, "events"),
        ({"target_url": "RECEIVER", "events": "todo.created"}, "events"),
        ({"target_url": "RECEIVER", "events": EVENTS, "list_id": "1"}, "list_id"),
        ({"target_url": "RECEIVER", "events": EVENTS, "active": "yes please"}, "active"),
        ({"target_url": "RECEIVER", "events": EVENTS, "active": "true"}, "active"),
        ({"target_url": "RECEIVER", "events": EVENTS, "active": 1}, "active"),
        ({"target_url": "RECEIVER", "events": EVENTS, "active": 0}, "active"),
        ({"target_url": "RECEIVER", "events": EVENTS, "active": None}, "active"),
        ({"target_url": "RECEIVER", "events": EVENTS, "secret": "whsec_AAAA"}, "secret"),
        ({"target_url": "RECEIVER", "events": EVENTS, "id": 7}, "id"),
        ({"target_url": "RECEIVER", "events": EVENTS, "user_id": 7}, "user_id"),
        ({"target_url": "http://8.8.8.8/hook", "events": EVENTS}, "target_url"),
        ({"target_url": "not a url", "events": EVENTS}, "target_url"),
        ({"target_url": "https://" + "a" * 2100 + ".com/", "events": EVENTS}, "target_url"),
    ],
)
def test_create_webhook_invalid(client, auth, receiver, body, field):
    if body.get("target_url") == "RECEIVER":
        body = {**body, "target_url": receiver.url}
    r = client.post(f"{API}/webhooks", json=body, headers=auth.user().headers)
    assert r.status_code == 422, r.json
    assert r.mimetype == "application/problem+json"
    assert list(r.json["errors"]) == [field]


@pytest.mark.slow
def test_create_webhook_for_a_list(app, client, auth, receiver):
    user, stranger = auth.user(), auth.user()
    list_id = make_list(app, {user.id: "viewer"})
    r = create(client, user, receiver, list_id=list_id)
    assert r.status_code == 201
    assert r.json["list_id"] == list_id
    r = create(client, stranger, receiver, list_id=list_id)
    assert r.status_code == 404
    assert r.json["detail"] == "No such list."
    assert create(client, user, receiver, list_id=99999).status_code == 404


@pytest.mark.parametrize("extra_config", [{"WEBHOOKS_PER_USER": 2}])
def test_webhook_cap_per_user(client, auth, receiver):
    user = auth.user()
    assert [create(client, user, receiver).status_code for _ in range(2)] == [201, 201]
    r = create(client, user, receiver)
    assert r.status_code == 409
    assert r.json["detail"] == "You already have 2 webhooks, the most allowed; delete one first."


def test_webhooks_of_others_are_not_found(client, auth, receiver):
    owner, other = auth.user(), auth.user()
    hook = create(client, owner, receiver).json
    ping = client.post(f"{hook['url']}/ping", headers=owner.headers).json
    urls = [
        ("get", hook["url"]),
        ("patch", hook["url"]),
        ("delete", hook["url"]),
        ("post", f"{hook['url']}/ping"),
        ("get", f"{hook['url']}/deliveries"),
        ("get", ping["url"]),
        ("post", f"{ping['url']}/redeliver"),
    ]
    for method, url in urls:
        kwargs = {"json": {"active": False}} if method == "patch" else {}
        r = getattr(client, method)(url, headers=other.headers, **kwargs)
        assert (method, url, r.status_code) == (method, url, 404)
        assert r.mimetype == "application/problem+json"
    assert client.get(f"{API}/webhooks", headers=other.headers).json == {"items": [], "next_cursor": None}
    assert client.get(hook["url"]).status_code == 401


def test_patch_webhook(client, auth, receiver):
    user = auth.user()
    hook = create(client, user, receiver).json
    r = client.patch(hook["url"], json={"events": ["list.updated"], "active": False}, headers=user.headers)
    assert r.status_code == 200
    assert (r.json["events"], r.json["active"]) == (["list.updated"], False)
    r = client.patch(hook["url"], json={"list_id": 3}, headers=user.headers)
    assert r.status_code == 422
    assert list(r.json["errors"]) == ["list_id"]
    r = client.patch(hook["url"], json={"target_url": "https://127.0.0.1/x"}, headers=user.headers)
    assert r.status_code == 422
    assert list(r.json["errors"]) == ["target_url"]
    r = client.patch(hook["url"], json={"active": True}, headers={**user.headers, "If-Match": '"stale"'})
    assert r.status_code == 412


@pytest.mark.parametrize("active", ["true", 1, 0, None])
def test_patch_webhook_active_must_be_a_json_boolean(client, auth, receiver, active):
    user = auth.user()
    hook = create(client, user, receiver).json
    r = client.patch(hook["url"], json={"active": active}, headers=user.headers)
    assert r.status_code == 422
    assert list(r.json["errors"]) == ["active"]


def test_delete_webhook(app, client, auth, receiver):
    user = auth.user()
    hook = create(client, user, receiver).json
    client.post(f"{hook['url']}/ping", headers=user.headers)
    assert client.delete(hook["url"], headers=user.headers).status_code == 204
    assert client.get(hook["url"], headers=user.headers).status_code == 404
    with app.app_context():
        assert db.session.query(WebhookDelivery).count() == 0


def test_ping_is_delivered_signed(app, client, auth, receiver):
    user = auth.user()
    hook = create(client, user, receiver).json
    r = client.post(f"{hook['url']}/ping", headers=user.headers)
    assert r.status_code == 202
    assert (r.json["event"], r.json["status"], r.json["attempts"]) == ("ping", "pending", 0)
    with app.app_context():
        assert drain() == 1
    [request] = receiver.requests
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("TodosAPI-Webhooks/")
    assert headers["webhook-id"] == r.json["message_id"]
    assert signing.verify(
        hook["secret"], headers["webhook-id"], headers["webhook-timestamp"], request.body, headers["webhook-signature"]
    )
    assert not signing.verify(
        "whsec_" + base64.b64encode(b"x" * 32).decode(),
        headers["webhook-id"],
        headers["webhook-timestamp"],
        request.body,
        headers["webhook-signature"],
    )
    payload = json.loads(request.body)
    assert set(payload) == {"id", "type", "created_at", "data"}
    assert (payload["id"], payload["type"]) == (r.json["message_id"], "ping")
    assert payload["data"]["webhook"]["id"] == hook["id"]
    delivery = client.get(r.json["url"], headers=user.headers).json
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 1, 200)
    assert delivery["payload"] == payload


def test_redeliver_keeps_the_message_id(app, client, auth, receiver):
    user = auth.user()
    hook = create(client, user, receiver).json
    ping = client.post(f"{hook['url']}/ping", headers=user.headers).json
    with app.app_context():
        drain()
    r = client.post(f"{ping['url']}/redeliver", headers=user.headers)
    assert r.status_code == 202
    assert (r.json["status"], r.json["attempts"]) == ("pending", 0)
    with app.app_context():
        assert drain() == 1
    assert receiver.ids() == [ping["message_id"], ping["message_id"]]


def test_deliveries_are_paginated_newest_first(app, client, auth, receiver):
    user = auth.user()
    hook = create(client, user, receiver).json
    ids = [client.post(f"{hook['url']}/ping", headers=user.headers).json["id"] for _ in range(3)]
    first = client.get(f"{hook['url']}/deliveries?limit=2", headers=user.headers)
    assert first.status_code == 200
    assert [item["id"] for item in first.json["items"]] == ids[:0:-1]
    assert "payload" not in first.json["items"][0]
    assert first.headers["Link"].endswith('rel="next"')
    second = client.get(f"{hook['url']}/deliveries?limit=2&cursor={first.json['next_cursor']}", headers=user.headers)
    assert [item["id"] for item in second.json["items"]] == ids[:1]
    assert second.json["next_cursor"] is None
    with app.app_context():
        drain()
    delivered = client.get(f"{hook['url']}/deliveries?status=delivered", headers=user.headers).json
    assert len(delivered["items"]) == 3
    pending = client.get(f"{hook['url']}/deliveries?status=pending", headers=user.headers).json
    assert pending["items"] == []
    bad = client.get(f"{hook['url']}/deliveries?status=lost", headers=user.headers)
    assert bad.status_code == 400
    assert list(bad.json["errors"]) == ["status"]


@pytest.mark.parametrize("extra_config", [{"RATELIMIT_ENABLED": True, "WEBHOOK_SEND_RATE_LIMIT": "2 per minute"}])
def test_ping_and_redeliver_are_rate_limited(client, auth, receiver):
    user = auth.user()
    hook = create(client, user, receiver).json
    first = client.post(f"{hook['url']}/ping", headers=user.headers)
    assert first.status_code == 202
    assert client.post(f"{first.json['url']}/redeliver", headers=user.headers).status_code == 202
    r = client.post(f"{hook['url']}/ping", headers=user.headers)
    assert r.status_code == 429
    assert r.mimetype == "application/problem+json"
    assert int(r.headers["Retry-After"]) > 0


# Nothing listens on this port of the test range: enqueueing fails, the outbox keeps the event.
@pytest.mark.slow
@pytest.mark.parametrize("extra_config", [{"REDIS_URL": "redis://127.0.0.1:8149/0"}])
def test_unreachable_broker_does_not_fail_the_request(app, client, auth, receiver):
    user = auth.user()
    hook = create(client, user, receiver).json
    r = client.post(f"{hook['url']}/ping", headers=user.headers)
    assert r.status_code == 202
    with app.app_context():
        assert db.session.get(WebhookDelivery, r.json["id"]).status == "pending"
        assert drain() == 1
    assert receiver.ids() == [r.json["message_id"]]


def test_list_deletion_keeps_the_webhook_and_sends_list_deleted(app, client, auth, receiver):
    user = auth.user()
    list_id = client.post(f"{API}/lists", json={"name": "Groceries"}, headers=user.headers).json["id"]
    hook = create(client, user, receiver, list_id=list_id, events=["list.deleted"]).json
    assert client.delete(f"{API}/lists/{list_id}", headers=user.headers).status_code == 204
    got = client.get(hook["url"], headers=user.headers).json
    assert (got["list_id"], got["active"]) == (None, False)
    with app.app_context():
        assert drain() == 1
        assert db.session.get(Webhook, hook["id"]).all_lists is False
    [request] = receiver.requests
    payload = json.loads(request.body)
    assert (payload["type"], payload["data"]["id"], payload["data"]["name"]) == ("list.deleted", list_id, "Groceries")
    r = client.patch(hook["url"], json={"active": True}, headers=user.headers)
    assert r.status_code == 409


@pytest.mark.slow
def test_todo_events_end_to_end(app, client, auth, receiver):
    user = auth.user()
    hook = create(client, user, receiver, events=["todo.created", "todo.completed", "todo.deleted"]).json
    list_id = client.post(f"{API}/lists", json={"name": "Work"}, headers=user.headers).json["id"]
    todo = client.post(f"{API}/lists/{list_id}/todos", json={"title": "Ship"}, headers=user.headers).json
    client.patch(f"{API}/todos/{todo['id']}", json={"completed": True}, headers=user.headers)
    client.patch(f"{API}/todos/{todo['id']}", json={"title": "Ship it"}, headers=user.headers)  # not subscribed
    completed = client.get(f"{API}/todos/{todo['id']}", headers=user.headers).json
    client.delete(f"{API}/todos/{todo['id']}", headers=user.headers)
    with app.app_context():
        assert drain() == 3
    payloads = [json.loads(r.body) for r in receiver.requests]
    assert [p["type"] for p in payloads] == ["todo.created", "todo.completed", "todo.deleted"]
    assert payloads[0]["data"] == todo
    assert payloads[1]["data"]["completed"] is True
    assert payloads[1]["data"]["id"] == completed["id"]
    for request in receiver.requests:
        h = request.headers
        assert signing.verify(
            hook["secret"], h["webhook-id"], h["webhook-timestamp"], request.body, h["webhook-signature"]
        )
