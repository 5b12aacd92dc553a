"""Conditional requests: ETag on single GETs, If-None-Match -> 304, stale If-Match -> 412."""

import pytest

from tests.factories import make_cast
from tests.sql import count_statements


@pytest.fixture
def cast(app, auth):
    return make_cast(app, auth)


def paths(cast):
    return {
        "list": (f"/api/v1/lists/{cast.list_id}", {"name": "Changed"}),
        "todo": (f"/api/v1/todos/{cast.todo_id}", {"title": "Changed"}),
        "member": (f"/api/v1/lists/{cast.list_id}/members/{cast.viewer.id}", {"role": "editor"}),
    }


@pytest.mark.parametrize("kind", ["list", "todo", "member"])
def test_etag_and_304(client, cast, kind):
    path, change = paths(cast)[kind]
    r = client.get(path, headers=cast.owner.headers)
    etag = r.headers["ETag"]
    assert r.status_code == 200 and etag.startswith('"')
    r = client.get(path, headers={**cast.owner.headers, "If-None-Match": etag})
    assert r.status_code == 304 and r.data == b"" and r.headers["ETag"] == etag
    r = client.get(path, headers={**cast.owner.headers, "If-None-Match": '"other", W/' + etag})
    assert r.status_code == 304
    assert client.patch(path, headers=cast.owner.headers, json=change).status_code == 200
    r = client.get(path, headers={**cast.owner.headers, "If-None-Match": etag})
    assert r.status_code == 200 and r.headers["ETag"] != etag


@pytest.mark.parametrize("kind", ["list", "todo", "member"])
def test_stale_if_match_is_412_and_changes_nothing(client, cast, kind):
    path, change = paths(cast)[kind]
    before = client.get(path, headers=cast.owner.headers)
    stale = '"not-the-current-tag"'
    for method in ("patch", "delete"):
        r = getattr(client, method)(path, headers={**cast.owner.headers, "If-Match": stale}, json=change)
        assert r.status_code == 412 and r.mimetype == "application/problem+json"
    assert client.get(path, headers=cast.owner.headers).json == before.json


@pytest.mark.parametrize("kind", ["list", "todo", "member"])
def test_current_if_match_succeeds_and_returns_new_etag(client, cast, kind):
    path, change = paths(cast)[kind]
    etag = client.get(path, headers=cast.owner.headers).headers["ETag"]
    r = client.patch(path, headers={**cast.owner.headers, "If-Match": etag}, json=change)
    assert r.status_code == 200 and r.headers["ETag"] != etag
    assert client.patch(path, headers={**cast.owner.headers, "If-Match": etag}, json=change).status_code == 412
    assert client.patch(path, headers={**cast.owner.headers, "If-Match": "*"}, json=change).status_code == 200


def test_todo_delete_honours_if_match(client, cast):
    path = f"/api/v1/todos/{cast.todo_id}"
    etag = client.get(path, headers=cast.owner.headers).headers["ETag"]
    client.patch(path, headers=cast.owner.headers, json={"priority": 2})
    assert client.delete(path, headers={**cast.owner.headers, "If-Match": etag}).status_code == 412
    fresh = client.get(path, headers=cast.owner.headers).headers["ETag"]
    assert client.delete(path, headers={**cast.owner.headers, "If-Match": fresh}).status_code == 204


def test_todo_304_needs_no_dump(app, client, cast):
    path = f"/api/v1/todos/{cast.todo_id}"
    etag = client.get(path, headers=cast.owner.headers).headers["ETag"]
    with count_statements(app) as statements:
        r = client.get(path, headers={**cast.owner.headers, "If-None-Match": etag})
    assert r.status_code == 304
    assert len(statements) == 2  # the principal and the scoped todo; tags are not loaded


def test_list_etag_follows_its_counts(client, cast):
    path = f"/api/v1/lists/{cast.list_id}"
    etag = client.get(path, headers=cast.owner.headers).headers["ETag"]
    client.patch(f"/api/v1/todos/{cast.todo_id}", headers=cast.owner.headers, json={"completed": True})
    r = client.get(path, headers={**cast.owner.headers, "If-None-Match": etag})
    assert r.status_code == 200 and r.json["completed_count"] == 1
