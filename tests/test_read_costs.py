"""What hot reads cost: statements per page and per revalidation, and index-friendly keyset bounds."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

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
def test_a_page_is_two_statements_with_auth_whatever_its_size(app, client, cast, path):
    make_todos(app, cast.list_id, 30, tags=["a", "b"])
    path = "/api/v1" + path.replace("{L}", str(cast.list_id))
    sep = "&" if "?" in path else "?"
    for limit, items in ((1, 1), (50, 31), (200, 31)):
        with count_statements(app) as statements:
            r = client.get(f"{path}{sep}limit={limit}", headers=cast.viewer.headers)
        assert r.status_code == 200
        assert len(r.json["items"]) == items
        assert len(statements) == 2, statements  # principal, page with its tags


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


def test_a_todo_is_two_statements_with_its_tags(app, client, cast):
    make_todos(app, cast.list_id, 1, tags=["b", "a"])
    todo_id = client.get(f"/api/v1/lists/{cast.list_id}/todos?sort=-created_at&limit=1", headers=cast.viewer.headers)
    todo_id = todo_id.json["items"][0]["id"]
    with count_statements(app) as statements:
        r = client.get(f"/api/v1/todos/{todo_id}", headers=cast.viewer.headers)
    assert (r.status_code, r.json["tags"]) == (200, ["a", "b"])
    assert len(statements) == 2, statements  # principal, todo with its membership and tags


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


def test_a_page_dumps_as_marshmallow_dumps_it(app, client, cast):
    """The page dumper is todo_schema.dump without its per-value plumbing: same output for any row."""
    from app.schemas.base import rows_dumper
    from app.schemas.todo import todo_schema

    due = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)
    rows = [
        {
            "id": 1,
            "list_id": 2,
            "title": "a",
            "notes": None,
            "completed": False,
            "completed_at": None,
            "due_at": None,
            "priority": 0,
            "tags": [],
            "assignee_id": None,
            "order": 1.0,
            "created_by": None,
            "recurrence": None,
            "timezone": "UTC",
            "reminders": [],
            "created_at": due,
            "updated_at": due,
        },
        {
            "id": 2147483647,
            "list_id": 9,
            "title": "<b>é</b>",
            "notes": "n",
            "completed": True,
            "completed_at": due,
            "due_at": due.replace(microsecond=999),
            "priority": 3,
            "tags": ["a", "b-c"],
            "assignee_id": 5,
            "order": -0.5,
            "created_by": 5,
            "recurrence": "FREQ=WEEKLY",
            "timezone": "Europe/Paris",
            "reminders": [0, 30],
            "created_at": due,
            "updated_at": due,
        },
        {"id": 3, "list_id": 2, "title": "no optional keys", "created_at": due, "updated_at": due},
        {  # values of other types than the fields': each goes through the field's own _serialize
            "id": 4,
            "list_id": 2,
            "title": "other types",
            "order": 3,
            "priority": True,
            "assignee_id": Decimal("7"),
            "created_at": due.astimezone(timezone(timedelta(hours=5, minutes=30))),
            "updated_at": datetime(200, 6, 26, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-1))),
            "due_at": datetime(9999, 12, 31, 23, 59, 59, 123456, tzinfo=UTC),
        },
    ]
    with app.test_request_context("/"):
        fast, marshmallow = rows_dumper(todo_schema)(rows), todo_schema.dump(rows, many=True)
    assert fast == marshmallow
    assert [list(item) for item in fast] == [list(item) for item in marshmallow]  # the same key order
    assert (fast[3]["order"], fast[3]["priority"], fast[3]["assignee_id"]) == (3.0, 1, 7)
    assert type(fast[3]["order"]) is float and type(fast[3]["priority"]) is int
    assert fast[3]["created_at"] == "2027-03-28T00:30:00Z"
    assert fast[3]["updated_at"] == "0200-06-27T00:59:59Z"  # years padded, fractions dropped
    assert fast[3]["due_at"] == "9999-12-31T23:59:59Z"
