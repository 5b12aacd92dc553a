"""Invitations to a list by email, against a real SMTP server; invite-only registration."""

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Invitation, Membership, OutboxMail
from tests.conftest import PASSWORD, AuthActions, _empty_tables, make_config
from tests.factories import make_list
from tests.mailbox import send_mail
from tests.smtp_server import html_part, token_in

API = "/api/v1"


@pytest.fixture
def app_config(mail_config):
    return mail_config


@pytest.fixture
def owner(app, auth):
    user = auth.user("owner@example.com", display_name="Olga")
    user.list_id = make_list(app, {user.id: "owner"}, name="Groceries <b>")
    return user


def verified(app, client, smtp_server, address):
    """Use the verification link mailed to `address`."""
    send_mail(app)
    [message] = [m for m in smtp_server.inbox.to(address) if m["Subject"] == "Confirm your email address"]
    assert client.post(f"{API}/auth/verify-email", json={"token": token_in(message)}).status_code == 204


def invite(client, owner, email="ann@example.com", role="editor"):
    return client.post(
        f"{API}/lists/{owner.list_id}/invitations", headers=owner.headers, json={"email": email, "role": role}
    )


def invitation_token(app, smtp_server, address):
    send_mail(app)
    return token_in([m for m in smtp_server.inbox.to(address) if "invited you" in m["Subject"]][-1])


def count(app, model):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_invite_a_verified_account_which_accepts(app, client, auth, owner, smtp_server):
    ann = auth.user("ann@example.com")
    verified(app, client, smtp_server, "ann@example.com")
    r = invite(client, owner, "Ann@Example.com")
    assert r.status_code == 201
    body = r.json
    assert set(body) == {
        "id",
        "url",
        "email",
        "role",
        "list_id",
        "invited_by",
        "created_at",
        "updated_at",
        "expires_at",
    }
    assert (body["email"], body["role"], body["invited_by"]) == ("ann@example.com", "editor", owner.id)
    assert (
        r.headers["Location"] == body["url"] == f"http://localhost{API}/lists/{owner.list_id}/invitations/{body['id']}"
    )
    token = invitation_token(app, smtp_server, "ann@example.com")
    message = smtp_server.inbox.to("ann@example.com")[-1]
    assert message["Subject"] == 'Olga invited you to the list "Groceries <b>"'
    assert "Groceries &lt;b&gt;" in html_part(message)  # escaped in HTML
    r = client.post(f"{API}/invitations/accept", headers=ann.headers, json={"token": token})
    assert r.status_code == 200
    assert (r.json["user_id"], r.json["role"]) == (ann.id, "editor")
    assert client.get(f"{API}/lists/{owner.list_id}", headers=ann.headers).status_code == 200
    assert count(app, Invitation) == 0
    # Used up.
    r = client.post(f"{API}/invitations/accept", headers=ann.headers, json={"token": token})
    assert r.status_code == 422 and "token" in r.json["errors"]


def test_same_answer_whether_or_not_the_address_has_an_account(app, client, auth, owner):
    auth.user("ann@example.com")
    known, unknown = invite(client, owner, "ann@example.com").json, invite(client, owner, "new@example.com").json
    assert set(known) == set(unknown)
    assert {
        k: v for k, v in known.items() if k not in ("id", "url", "email", "created_at", "updated_at", "expires_at")
    } == {k: v for k, v in unknown.items() if k not in ("id", "url", "email", "created_at", "updated_at", "expires_at")}


def test_invite_only_registration_with_the_invitation(database_url, smtp_server):
    from app import create_app

    _empty_tables(database_url)
    app = create_app(make_config(database_url, MAIL_URL=smtp_server.url, REGISTRATION="invite-only"))
    client, auth = app.test_client(), AuthActions(app)
    with app.app_context():
        from app.auth.passwords import hash_password
        from app.models import User

        olga = User(email="owner@example.com", password_hash=hash_password(PASSWORD), email_verified=True)
        db.session.add(olga)
        db.session.commit()
        olga_id = olga.id
    list_id = make_list(app, {olga_id: "owner"}, name="Team")
    headers = {"Authorization": "Bearer " + auth.login("owner@example.com")["access_token"]}
    body = {"email": "new@example.com", "password": PASSWORD}
    assert client.post(f"{API}/auth/register", json=body).status_code == 403
    r = client.post(
        f"{API}/lists/{list_id}/invitations", headers=headers, json={"email": "new@example.com", "role": "viewer"}
    )
    assert r.status_code == 201
    token = invitation_token(app, smtp_server, "new@example.com")
    r = client.post(f"{API}/auth/register", json={**body, "email": "other@example.com", "invitation_token": token})
    assert r.status_code == 422 and "invitation_token" in r.json["errors"]
    r = client.post(f"{API}/auth/register", json={**body, "invitation_token": "x" * 43})
    assert r.status_code == 422 and "invitation_token" in r.json["errors"]
    r = client.post(f"{API}/auth/register", json={**body, "invitation_token": token})
    assert r.status_code == 201 and r.json["email_verified"] is True
    new_headers = {"Authorization": "Bearer " + auth.login("new@example.com")["access_token"]}
    r = client.post(f"{API}/invitations/accept", headers=new_headers, json={"token": token})
    assert r.status_code == 200 and r.json["role"] == "viewer"


def test_another_account_cannot_accept(app, client, auth, owner, smtp_server):
    bob = auth.user("bob@example.com")
    verified(app, client, smtp_server, "bob@example.com")
    invite(client, owner, "ann@example.com")
    token = invitation_token(app, smtp_server, "ann@example.com")
    r = client.post(f"{API}/invitations/accept", headers=bob.headers, json={"token": token})
    assert r.status_code == 403
    assert count(app, Membership) == 1 and count(app, Invitation) == 1


def test_an_unverified_matching_account_cannot_accept(app, client, auth, owner, smtp_server):
    ann = auth.user("ann@example.com")
    invite(client, owner, "ann@example.com")
    token = invitation_token(app, smtp_server, "ann@example.com")
    r = client.post(f"{API}/invitations/accept", headers=ann.headers, json={"token": token})
    assert r.status_code == 403 and "Verify" in r.json["detail"]
    assert count(app, Membership) == 1


def test_inviting_an_existing_member_is_a_conflict(app, client, auth, owner):
    ann = auth.user("ann@example.com")
    make_list(app, {})  # another list, to be sure the check is per list
    with app.app_context():
        db.session.add(Membership(list_id=owner.list_id, user_id=ann.id, role="viewer"))
        db.session.commit()
    r = invite(client, owner, "ann@example.com")
    assert r.status_code == 409 and "email" in r.json["errors"]
    assert count(app, Invitation) == 0 and count(app, OutboxMail) == 2  # the two verification mails


def test_accepting_when_already_a_member_is_a_conflict(app, client, auth, owner, smtp_server):
    ann = auth.user("ann@example.com")
    verified(app, client, smtp_server, "ann@example.com")
    invite(client, owner, "ann@example.com")
    token = invitation_token(app, smtp_server, "ann@example.com")
    with app.app_context():
        db.session.add(Membership(list_id=owner.list_id, user_id=ann.id, role="viewer"))
        db.session.commit()
    r = client.post(f"{API}/invitations/accept", headers=ann.headers, json={"token": token})
    assert r.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "ann@example.com", "role": "emperor"}, "role"),
        ({"email": "not-an-email", "role": "viewer"}, "email"),
        ({"email": "ann@example.com"}, "role"),
        ({"email": "ann@example.com", "role": "viewer", "id": 5}, "id"),
    ],
)
def test_bad_invitation_changes_nothing(app, client, owner, body, field):
    r = client.post(f"{API}/lists/{owner.list_id}/invitations", headers=owner.headers, json=body)
    assert r.status_code == 422 and field in r.json["errors"]
    assert count(app, Invitation) == 0


def test_only_owners_manage_invitations(app, client, auth, owner):
    editor, stranger = auth.user(), auth.user()
    with app.app_context():
        db.session.add(Membership(list_id=owner.list_id, user_id=editor.id, role="editor"))
        db.session.commit()
    url = f"{API}/lists/{owner.list_id}/invitations"
    body = {"email": "ann@example.com", "role": "viewer"}
    assert client.post(url, headers=editor.headers, json=body).status_code == 403
    assert client.post(url, headers=stranger.headers, json=body).status_code == 404
    assert client.get(url, headers=editor.headers).status_code == 403
    assert client.get(url, headers=stranger.headers).status_code == 404


def test_list_show_and_withdraw_invitations(app, client, owner, smtp_server):
    ids = [invite(client, owner, f"p{n}@example.com").json["id"] for n in range(3)]
    url = f"{API}/lists/{owner.list_id}/invitations"
    page = client.get(f"{url}?limit=2", headers=owner.headers)
    assert page.status_code == 200 and [i["id"] for i in page.json["items"]] == ids[::-1][:2]
    rest = client.get(
        page.json["next_cursor"] and f"{url}?limit=2&cursor={page.json['next_cursor']}", headers=owner.headers
    )
    assert [i["id"] for i in rest.json["items"]] == [ids[0]] and rest.json["next_cursor"] is None
    one = client.get(f"{url}/{ids[0]}", headers=owner.headers)
    assert one.status_code == 200 and one.json["email"] == "p0@example.com" and "ETag" in one.headers
    token = invitation_token(app, smtp_server, "p0@example.com")
    assert client.delete(f"{url}/{ids[0]}", headers=owner.headers).status_code == 204
    assert client.get(f"{url}/{ids[0]}", headers=owner.headers).status_code == 404
    assert client.delete(f"{url}/{ids[0]}", headers=owner.headers).status_code == 404
    # A withdrawn invitation's link no longer works.
    with app.app_context():
        assert db.session.execute(select(Invitation.id).where(Invitation.id == ids[0])).first() is None
    r = client.post(
        f"{API}/auth/register", json={"email": "p0@example.com", "password": PASSWORD, "invitation_token": token}
    )
    assert r.status_code == 422


def test_inviting_again_replaces_the_earlier_invitation(app, client, owner, smtp_server):
    first = invite(client, owner, "ann@example.com", "viewer").json
    old_token = invitation_token(app, smtp_server, "ann@example.com")
    second = invite(client, owner, "ann@example.com", "editor").json
    assert second["id"] != first["id"]
    new_token = invitation_token(app, smtp_server, "ann@example.com")
    assert old_token != new_token
    assert count(app, Invitation) == 1


def test_accepting_reaches_the_change_feed_of_the_new_member_and_of_the_owner(app, client, auth, owner, smtp_server):
    ann = auth.user("ann@example.com")
    verified(app, client, smtp_server, "ann@example.com")
    ann_since = client.get(f"{API}/changes", headers=ann.headers).json["next_cursor"]
    owner_since = client.get(f"{API}/changes", headers=owner.headers).json["next_cursor"]
    invite(client, owner, "ann@example.com")
    token = invitation_token(app, smtp_server, "ann@example.com")
    assert client.post(f"{API}/invitations/accept", headers=ann.headers, json={"token": token}).status_code == 200
    gained = client.get(f"{API}/changes", query_string={"since": ann_since}, headers=ann.headers).json["items"]
    assert ("list", "upsert", owner.list_id) in [(i["kind"], i["op"], i["id"]) for i in gained]
    seen = client.get(f"{API}/changes", query_string={"since": owner_since}, headers=owner.headers).json["items"]
    assert ("member", "upsert", ann.id) in [(i["kind"], i["op"], i["id"]) for i in seen]


@pytest.mark.postgres
def test_accepting_while_renaming_gives_the_list_the_new_name(app, client, auth, owner, smtp_server):
    """Ann renames herself and her commit is held back; she accepts an invitation meanwhile.

    The accept waits for the rename (it reads her row under a shared lock), so the member
    entry in the owner's change feed carries the new name, as GET .../members answers.
    """
    import threading
    import time

    from sqlalchemy import event

    ann = auth.user("ann@example.com", display_name="ann")
    verified(app, client, smtp_server, "ann@example.com")
    assert invite(client, owner).status_code == 201
    token = invitation_token(app, smtp_server, "ann@example.com")
    cursor = client.get(f"{API}/changes", headers=owner.headers).json["next_cursor"]
    with app.app_context():
        engine = db.engine
    holding, statuses = threading.Event(), {}

    def late(conn):
        if threading.current_thread().name == "renamer":
            holding.set()
            time.sleep(1.0)

    def rename():
        r = app.test_client().patch(f"{API}/users/me", json={"display_name": "ann 2"}, headers=ann.headers)
        statuses["rename"] = r.status_code

    event.listen(engine, "commit", late)
    try:
        renamer = threading.Thread(target=rename, name="renamer")
        renamer.start()
        assert holding.wait(10)
        r = app.test_client().post(f"{API}/invitations/accept", headers=ann.headers, json={"token": token})
        statuses["accept"] = r.status_code
        renamer.join(30)
    finally:
        event.remove(engine, "commit", late)
    assert statuses == {"rename": 200, "accept": 200}
    items = client.get(f"{API}/changes", query_string={"since": cursor}, headers=owner.headers).json["items"]
    names = [item["data"]["display_name"] for item in items if item["kind"] == "member" and item["id"] == ann.id]
    assert names and names[-1] == "ann 2", items
    members = client.get(f"{API}/lists/{owner.list_id}/members", headers=owner.headers).json["items"]
    assert {m["user_id"]: m["display_name"] for m in members}[ann.id] == "ann 2"
