"""Share links as their owners manage them: create, list, revoke."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Membership, ShareLink, TodoList

PROBLEM = "application/problem+json"
SHARED_PREFIX = "http://localhost/api/v1/shared/"


def make_list(app, owner_id, members=(), name="Groceries"):
    """Create a list owned by `owner_id`, with (user_id, role) members; return its id."""
    with app.app_context():
        todo_list = TodoList(name=name)
        db.session.add(todo_list)
        db.session.flush()
        db.session.add(Membership(list_id=todo_list.id, user_id=owner_id, role="owner"))
        for user_id, role in members:
            db.session.add(Membership(list_id=todo_list.id, user_id=user_id, role=role))
        db.session.commit()
        return todo_list.id


def share(client, owner, list_id, role="editor", **body):
    """Create a share link through the API; return its answer's body."""
    r = client.post(f"/api/v1/lists/{list_id}/share-links", json={"role": role, **body}, headers=owner.headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json


def token_of(url):
    return url.removeprefix(SHARED_PREFIX).removesuffix("/todos")


@pytest.fixture
def owner(auth):
    return auth.user()


@pytest.fixture
def list_id(app, owner):
    return make_list(app, owner.id)


def future(**delta):
    return (datetime.now(UTC) + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_create_share_link(app, client, owner, list_id):
    r = client.post(f"/api/v1/lists/{list_id}/share-links", json={"role": "viewer"}, headers=owner.headers)
    assert r.status_code == 201
    body = r.json
    assert set(body) == {"id", "role", "url", "list_id", "created_by", "created_at", "updated_at", "expires_at"}
    assert body["role"] == "viewer"
    assert body["expires_at"] is None
    assert body["created_by"] == owner.id
    assert body["url"].startswith(SHARED_PREFIX) and body["url"].endswith("/todos")
    assert r.headers["Location"] == f"http://localhost/api/v1/lists/{list_id}/share-links/{body['id']}"
    token = token_of(body["url"])
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    with app.app_context():
        link = db.session.get(ShareLink, body["id"])
        assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (link.token_hash, str(link.id))


def test_create_share_link_with_expiry(client, owner, list_id):
    expires = future(days=7)
    body = share(client, owner, list_id, expires_at=expires.replace("Z", "+02:00"))
    moved = (datetime.fromisoformat(expires) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["expires_at"] == moved


def test_tokens_differ(client, owner, list_id):
    urls = {share(client, owner, list_id)["url"] for _ in range(3)}
    assert len(urls) == 3


def test_list_share_links_hides_url(client, owner, list_id):
    first = share(client, owner, list_id, role="viewer")
    second = share(client, owner, list_id, role="editor")
    r = client.get(f"/api/v1/lists/{list_id}/share-links", headers=owner.headers)
    assert r.status_code == 200
    assert [item["id"] for item in r.json["items"]] == [second["id"], first["id"]]
    assert [item["url"] for item in r.json["items"]] == [None, None]
    assert [item["role"] for item in r.json["items"]] == ["editor", "viewer"]
    assert r.json["next_cursor"] is None


def test_list_share_links_pages(client, owner, list_id):
    made = [share(client, owner, list_id)["id"] for _ in range(3)]
    seen, url = [], f"/api/v1/lists/{list_id}/share-links?limit=2"
    while url:
        r = client.get(url, headers=owner.headers)
        assert r.status_code == 200
        seen += [item["id"] for item in r.json["items"]]
        url = r.json["next_cursor"] and f"/api/v1/lists/{list_id}/share-links?limit=2&cursor={r.json['next_cursor']}"
        if url:
            assert 'rel="next"' in r.headers["Link"]
    assert seen == made[::-1]


def test_list_share_links_bad_cursor(client, owner, list_id):
    r = client.get(f"/api/v1/lists/{list_id}/share-links?cursor=nope", headers=owner.headers)
    assert r.status_code == 400
    assert r.mimetype == PROBLEM


def test_get_share_link(client, owner, list_id):
    made = share(client, owner, list_id)
    r = client.get(f"/api/v1/lists/{list_id}/share-links/{made['id']}", headers=owner.headers)
    assert r.status_code == 200
    assert r.json["id"] == made["id"] and r.json["url"] is None
    r = client.get(r.request.path, headers={**owner.headers, "If-None-Match": r.headers["ETag"]})
    assert r.status_code == 304


def test_revoke_with_stale_if_match(client, owner, list_id):
    made = share(client, owner, list_id)
    path = f"/api/v1/lists/{list_id}/share-links/{made['id']}"
    r = client.delete(path, headers={**owner.headers, "If-Match": '"stale"'})
    assert r.status_code == 412
    assert client.get(made["url"]).status_code == 200
    etag = client.get(path, headers=owner.headers).headers["ETag"]
    assert client.delete(path, headers={**owner.headers, "If-Match": etag}).status_code == 204


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "role"),
        ({"role": "owner"}, "role"),
        ({"role": None}, "role"),
        ({"role": 1}, "role"),
        ({"role": "viewer", "expires_at": "2999-01-01T00:00:00"}, "expires_at"),
        ({"role": "viewer", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"role": "viewer", "expires_at": "tomorrow"}, "expires_at"),
        ({"role": "viewer", "expires_at": "9999-12-31T23:59:59-01:00"}, "expires_at"),
        ({"role": "viewer", "url": "http://x/"}, "url"),
        ({"role": "viewer", "token_hash": "0" * 64}, "token_hash"),
        ({"role": "viewer", "list_id": 2}, "list_id"),
        ({"role": "viewer", "id": 2}, "id"),
    ],
)
def test_create_share_link_invalid(client, owner, list_id, body, field):
    r = client.post(f"/api/v1/lists/{list_id}/share-links", json=body, headers=owner.headers)
    assert r.status_code == 422
    assert r.mimetype == PROBLEM
    assert list(r.json["errors"]) == [field]


def test_create_share_link_body_not_object(client, owner, list_id):
    r = client.post(f"/api/v1/lists/{list_id}/share-links", json=["viewer"], headers=owner.headers)
    assert r.status_code == 422
    assert r.mimetype == PROBLEM


def test_create_share_link_not_json(client, owner, list_id):
    r = client.post(f"/api/v1/lists/{list_id}/share-links", data="role=viewer", headers=owner.headers)
    assert r.status_code == 415


@pytest.mark.parametrize("role", ["editor", "viewer", None])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_only_owners_manage_links(app, client, auth, owner, list_id, role, method):
    link = share(client, owner, list_id)
    other = auth.user()
    if role:
        with app.app_context():
            db.session.add(Membership(list_id=list_id, user_id=other.id, role=role))
            db.session.commit()
    path = f"/api/v1/lists/{list_id}/share-links" + (f"/{link['id']}" if method == "delete" else "")
    r = getattr(client, method)(path, json={"role": "viewer"} if method == "post" else None, headers=other.headers)
    assert r.status_code == (403 if role else 404)
    assert r.mimetype == PROBLEM
    if role:
        assert r.json["detail"] == "Only an owner can manage share links."


def test_share_links_need_a_token(client, list_id):
    r = client.get(f"/api/v1/lists/{list_id}/share-links")
    assert r.status_code == 401
    assert r.mimetype == PROBLEM


def test_share_links_of_missing_list(client, owner):
    r = client.post("/api/v1/lists/999999/share-links", json={"role": "viewer"}, headers=owner.headers)
    assert r.status_code == 404


def test_revoke_share_link(client, owner, list_id):
    link = share(client, owner, list_id)
    assert client.get(link["url"]).status_code == 200
    r = client.delete(f"/api/v1/lists/{list_id}/share-links/{link['id']}", headers=owner.headers)
    assert r.status_code == 204
    assert r.data == b""
    r = client.get(link["url"])
    assert r.status_code == 404
    assert r.mimetype == PROBLEM
    r = client.delete(f"/api/v1/lists/{list_id}/share-links/{link['id']}", headers=owner.headers)
    assert r.status_code == 404


def test_revoke_link_of_another_list(app, client, owner, list_id):
    other_list = make_list(app, owner.id, name="Other")
    link = share(client, owner, other_list)
    r = client.delete(f"/api/v1/lists/{list_id}/share-links/{link['id']}", headers=owner.headers)
    assert r.status_code == 404
    assert client.get(link["url"]).status_code == 200


def test_expired_link_stops_at_once(app, client, owner, list_id):
    link = share(client, owner, list_id, expires_at=future(hours=1))
    assert client.get(link["url"]).status_code == 200
    with app.app_context():
        row = db.session.get(ShareLink, link["id"])
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    r = client.get(link["url"])
    assert r.status_code == 404
    assert r.json["detail"] == "No such share link, or it was revoked or has expired."


def test_deleting_the_list_removes_its_links(app, client, owner, list_id):
    link = share(client, owner, list_id)
    with app.app_context():
        db.session.delete(db.session.get(TodoList, list_id))
        db.session.commit()
        assert db.session.execute(select(ShareLink)).first() is None
    assert client.get(link["url"]).status_code == 404
