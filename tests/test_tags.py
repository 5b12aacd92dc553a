"""Tags: names and counts over the caller's visible todos only."""

import pytest

from tests.factories import make_list, make_todos
from tests.sql import count_statements


def test_tags_count_visible_todos_only(app, client, auth):
    me, other = auth.user(), auth.user()
    mine = make_list(app, {me.id: "viewer", other.id: "owner"})
    theirs = make_list(app, {other.id: "owner"})
    make_todos(app, mine, 2, tags=["work", "urgent"])
    make_todos(app, mine, 1, tags=["home"])
    make_todos(app, theirs, 5, tags=["work", "secret"])
    r = client.get("/api/v1/tags", headers=me.headers)
    assert r.status_code == 200
    assert r.json == {
        "items": [{"name": "home", "count": 1}, {"name": "urgent", "count": 2}, {"name": "work", "count": 2}],
        "next_cursor": None,
    }
    r = client.get("/api/v1/tags?sort=-name&limit=1", headers=other.headers)
    assert r.json["items"] == [{"name": "work", "count": 7}]
    assert r.json["next_cursor"] and 'rel="next"' in r.headers["Link"]


def test_tags_written_through_the_api_are_lower_cased(app, client, auth):
    me = auth.user()
    list_id = make_list(app, {me.id: "owner"})
    r = client.post(f"/api/v1/lists/{list_id}/todos", headers=me.headers, json={"title": "t", "tags": ["Work", "WORK"]})
    assert r.json["tags"] == ["work"]
    assert client.get("/api/v1/tags", headers=me.headers).json["items"] == [{"name": "work", "count": 1}]


@pytest.mark.parametrize("query,argument", [("sort=count", "sort"), ("limit=500", "limit")])
def test_tags_bad_query(client, auth, query, argument):
    r = client.get("/api/v1/tags?" + query, headers=auth.user().headers)
    assert r.status_code == 400 and list(r.json["errors"]) == [argument]


def test_tags_statement_count_is_fixed(app, client, auth):
    me = auth.user()
    list_id = make_list(app, {me.id: "owner"})
    for n in range(10):
        make_todos(app, list_id, tags=[f"tag{n}"])
    counts = []
    for limit in (1, 200):
        with count_statements(app) as statements:
            assert client.get(f"/api/v1/tags?limit={limit}", headers=me.headers).status_code == 200
        counts.append(len(statements))
    assert counts == [2, 2]
