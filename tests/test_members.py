"""Members: add by email, roles, several owners, the last owner, leaving; events recorded."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Webhook, WebhookDelivery
from app.webhooks.fanout import fan_out
from tests.factories import make_cast

PROBLEM = "application/problem+json"


@pytest.fixture
def cast(app, auth):
    return make_cast(app, auth)


def url(cast, user_id=None):
    base = f"/api/v1/lists/{cast.list_id}/members"
    return base if user_id is None else f"{base}/{user_id}"


def test_list_members(client, cast):
    r = client.get(url(cast), headers=cast.viewer.headers)
    assert r.status_code == 200
    items = r.json["items"]
    assert [(m["user_id"], m["email"], m["role"]) for m in items] == [
        (cast.owner.id, cast.owner.email, "owner"),
        (cast.editor.id, cast.editor.email, "editor"),
        (cast.viewer.id, cast.viewer.email, "viewer"),
    ]
    assert items[0]["url"] == f"http://localhost{url(cast, cast.owner.id)}"
    assert items[0]["id"] == cast.owner.id
    assert set(items[0]) == {"id", "url", "user_id", "email", "display_name", "role", "created_at", "updated_at"}


def test_add_member_by_email(client, auth, cast):
    newcomer = auth.user(display_name="Newt")
    r = client.post(url(cast), headers=cast.owner.headers, json={"email": newcomer.email.upper(), "role": "editor"})
    assert r.status_code == 201
    assert r.json["user_id"] == newcomer.id and r.json["role"] == "editor" and r.json["display_name"] == "Newt"
    assert r.headers["Location"] == r.json["url"]
    assert client.get(f"/api/v1/lists/{cast.list_id}", headers=newcomer.headers).json["role"] == "editor"


def test_add_member_defaults_to_viewer(client, auth, cast):
    newcomer = auth.user()
    r = client.post(url(cast), headers=cast.owner.headers, json={"email": newcomer.email})
    assert r.status_code == 201 and r.json["role"] == "viewer"


def test_add_unknown_email_is_404(client, cast):
    r = client.post(url(cast), headers=cast.owner.headers, json={"email": "nobody@example.com", "role": "viewer"})
    assert r.status_code == 404 and r.mimetype == PROBLEM


def test_add_existing_member_is_409(client, cast):
    r = client.post(url(cast), headers=cast.owner.headers, json={"email": cast.viewer.email, "role": "editor"})
    assert r.status_code == 409 and r.mimetype == PROBLEM


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@example.com", "role": "admin"}, "role"),
        ({"email": "a@example.com", "role": None}, "role"),
        ({"email": "a@example.com", "user_id": 3}, "user_id"),
    ],
)
def test_add_member_invalid(client, cast, body, field):
    r = client.post(url(cast), headers=cast.owner.headers, json=body)
    assert r.status_code == 422
    assert list(r.json["errors"]) == [field]


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "role"),
        ({"role": "boss"}, "role"),
        ({"role": "editor", "email": "x@example.com"}, "email"),
        ({"role": "editor", "user_id": 9}, "user_id"),
    ],
)
def test_patch_member_invalid(client, cast, body, field):
    r = client.patch(url(cast, cast.viewer.id), headers=cast.owner.headers, json=body)
    assert r.status_code == 422
    assert list(r.json["errors"]) == [field]


def test_several_owners_and_the_last_owner(client, cast):
    owner_url = url(cast, cast.owner.id)
    r = client.patch(owner_url, headers=cast.owner.headers, json={"role": "editor"})
    assert r.status_code == 409 and r.mimetype == PROBLEM
    assert client.delete(owner_url, headers=cast.owner.headers).status_code == 409
    r = client.patch(url(cast, cast.editor.id), headers=cast.owner.headers, json={"role": "owner"})
    assert r.status_code == 200 and r.json["role"] == "owner"
    # With two owners, one may step down, then the other is the last again.
    assert client.patch(owner_url, headers=cast.owner.headers, json={"role": "viewer"}).status_code == 200
    r = client.delete(url(cast, cast.editor.id), headers=cast.editor.headers)
    assert r.status_code == 409


def test_member_may_leave(client, cast):
    assert client.delete(url(cast, cast.viewer.id), headers=cast.viewer.headers).status_code == 204
    assert client.get(f"/api/v1/lists/{cast.list_id}", headers=cast.viewer.headers).status_code == 404


def test_editor_cannot_remove_another(client, cast):
    assert client.delete(url(cast, cast.viewer.id), headers=cast.editor.headers).status_code == 403


def test_missing_member_is_404(client, cast):
    assert client.get(url(cast, cast.stranger.id), headers=cast.owner.headers).status_code == 404
    assert client.patch(url(cast, 999999), headers=cast.owner.headers, json={"role": "viewer"}).status_code == 404


def test_member_events(app, client, auth, cast):
    with app.app_context():
        db.session.add(
            Webhook(
                user_id=cast.owner.id,
                target_url="https://example.com/hook",
                secret="s" * 32,
                events=["member.added", "member.removed"],
                active=True,
                all_lists=True,
            )
        )
        db.session.commit()
    newcomer = auth.user()
    client.post(url(cast), headers=cast.owner.headers, json={"email": newcomer.email, "role": "viewer"})
    client.delete(url(cast, newcomer.id), headers=cast.owner.headers)
    with app.app_context():
        fan_out()  # the delivery worker's first step: one delivery per subscribed webhook
        rows = db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars().all()
        assert [(row.event, row.payload["data"]["user_id"]) for row in rows] == [
            ("member.added", newcomer.id),
            ("member.removed", newcomer.id),
        ]
