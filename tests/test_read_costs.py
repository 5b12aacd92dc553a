"""What hot reads cost: statements per page and per revalidation, and index-friendly keyset bounds."""

from datetime import UTC, datetime

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from app.models import Todo
from app.pagination import keyset
from tests.factories import make_cast, make_list, make_todos
from tests.sql import count_statements


@pytest.fixture
def cast(app, auth):
    return make_cast(app, auth)


@pytest.mark.parametrize("path", ["/lists/{L}/todos", "/todos", "/todos?list_id={L}", "/todos?list_id={L}&sort=due_at"])
def test_a_page_is_three_statements_with_auth_whatever_its_size(app, client, cast, path):
    make_todos(app, cast.list_id, 30, tags=["a", "b"])
    path = "/api/v1" + path.replace("{L}", str(cast.list_id))
    sep = "&" if "?" in path else "?"
    for limit, items in ((1, 1), (50, 31), (200, 31)):
        with count_statements(app) as statements:
            r = client.get(f"{path}{sep}limit={limit}", headers=cast.viewer.headers)
        assert r.status_code == 200
        assert len(r.json["items"]) == items
        assert len(statements) == 3, statements  # principal, page, tags


def test_an_empty_list_is_an_empty_page_for_members_and_404_for_others(app, client, cast):
    empty = make_list(app, {cast.owner.id: "owner"})
    with count_statements(app) as statements:
        r = client.get(f"/api/v1/lists/{empty}/todos", headers=cast.owner.headers)
    assert (r.status_code, r.json) == (200, {"items": [], "next_cursor": None})
    assert len(statements) == 3  # principal, page, membership
    r = client.get(f"/api/v1/lists/{empty}/todos", headers=cast.stranger.headers)
    assert (r.status_code, r.json["detail"]) == (404, "No such list.")
    r = client.get(f"/api/v1/todos?list_id={empty}", headers=cast.stranger.headers)
    assert (r.status_code, r.json["detail"]) == (404, "No such list.")


def test_page_items_carry_their_tags_sorted(app, client, cast):
    make_todos(app, cast.list_id, 2, tags=["zeta", "alpha"])
    items = client.get(f"/api/v1/lists/{cast.list_id}/todos", headers=cast.viewer.headers).json["items"]
    assert [t["tags"] for t in items] == [[], ["alpha", "zeta"], ["alpha", "zeta"]]


def test_a_revalidation_is_two_statements_and_scoped_to_members(app, client, cast):
    url = f"/api/v1/todos/{cast.todo_id}"
    etag = client.get(url, headers=cast.viewer.headers).headers["ETag"]
    with count_statements(app) as statements:
        r = client.get(url, headers={**cast.viewer.headers, "If-None-Match": etag})
    assert (r.status_code, r.data, r.headers["ETag"]) == (304, b"", etag)
    assert len(statements) == 2  # principal, version through the membership
    r = client.get(url, headers={**cast.stranger.headers, "If-None-Match": etag})
    assert (r.status_code, r.json["detail"]) == (404, "No such todo.")


def test_a_stale_revalidation_gets_the_todo(app, client, cast):
    url = f"/api/v1/todos/{cast.todo_id}"
    etag = client.get(url, headers=cast.viewer.headers).headers["ETag"]
    assert client.patch(url, json={"title": "Oat milk"}, headers=cast.editor.headers).status_code == 200
    r = client.get(url, headers={**cast.viewer.headers, "If-None-Match": etag})
    assert r.status_code == 200
    assert r.json["title"] == "Oat milk"
    assert r.headers["ETag"] != etag


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["postgresql", "sqlite"])
@pytest.mark.parametrize(
    ("column", "descending", "expected"),
    [
        (Todo.created_at, True, "(todos.created_at, todos.id) < ("),
        (Todo.title, False, "(todos.title, todos.id) > ("),
        (Todo.due_at, False, "(todos.due_at, todos.id) > ("),
    ],
)
def test_keyset_bound_is_one_row_value_comparison(dialect, column, descending, expected):
    value = datetime(2026, 1, 2, tzinfo=UTC) if column is not Todo.title else "milk"
    _, where = keyset(column, Todo.id, descending, (value, 7))
    compiled = where.compile(dialect=dialect)
    assert expected in str(compiled)
    assert " OR todos.due_at IS NULL" in str(compiled) if column is Todo.due_at else " OR " not in str(compiled)
    if dialect.name == "postgresql" and column is not Todo.title:
        assert "::TIMESTAMP WITHOUT TIME ZONE" in str(compiled)  # bound as the column's own type
