"""Lists: create, read, change, delete, counts; and the permission matrix of the whole family."""

import pytest

from tests.factories import make_cast, make_list, make_todos
from tests.sql import count_statements

PROBLEM = "application/problem+json"
ROLES = ("owner", "editor", "viewer", "stranger", "admin")


@pytest.fixture
def cast(app, auth):
    return make_cast(app, auth)


def call(client, method, path, user=None, **kwargs):
    headers = user.headers if user else {}
    return client.open("/api/v1" + path, method=method, headers=headers, **kwargs)


# (method, path, body or None, expected status for owner, editor, viewer, stranger, admin)
MATRIX = [
    ("GET", "/lists/{L}", None, (200, 200, 200, 404, 404)),
    ("PATCH", "/lists/{L}", {"name": "Renamed"}, (200, 200, 403, 404, 404)),
    ("DELETE", "/lists/{L}", None, (204, 403, 403, 404, 404)),
    ("GET", "/lists/{L}/members", None, (200, 200, 200, 404, 404)),
    ("POST", "/lists/{L}/members", {"email": "{NEW}", "role": "viewer"}, (201, 403, 403, 404, 404)),
    ("GET", "/lists/{L}/members/{OWNER}", None, (200, 200, 200, 404, 404)),
    ("PATCH", "/lists/{L}/members/{OTHER}", {"role": "editor"}, (200, 403, 403, 404, 404)),
    ("DELETE", "/lists/{L}/members/{OTHER}", None, (204, 403, 403, 404, 404)),
    ("GET", "/lists/{L}/todos", None, (200, 200, 200, 404, 404)),
    ("POST", "/lists/{L}/todos", {"title": "Milk"}, (201, 201, 403, 404, 404)),
    ("DELETE", "/lists/{L}/todos?completed=true", None, (200, 200, 403, 404, 404)),
    ("GET", "/todos/{T}", None, (200, 200, 200, 404, 404)),
    ("PATCH", "/todos/{T}", {"completed": True}, (200, 200, 403, 404, 404)),
    ("DELETE", "/todos/{T}", None, (204, 204, 403, 404, 404)),
    ("GET", "/todos?list_id={L}", None, (200, 200, 200, 404, 404)),
]


@pytest.mark.parametrize("method,path,body,expected", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
@pytest.mark.parametrize("who", range(len(ROLES)), ids=ROLES)
def test_permission_matrix(app, auth, client, cast, method, path, body, expected, who):
    other = auth.user()
    new = auth.user()
    make_list(app, {})  # an unrelated list, so ids differ from counts
    from app.extensions import db
    from app.models import Membership

    with app.app_context():
        db.session.add(Membership(list_id=cast.list_id, user_id=other.id, role="viewer"))
        db.session.commit()
    fill = {"{L}": cast.list_id, "{T}": cast.todo_id, "{OWNER}": cast.owner.id, "{OTHER}": other.id}
    for key, value in fill.items():
        path = path.replace(key, str(value))
    if body and body.get("email") == "{NEW}":
        body = {**body, "email": new.email}
    user = getattr(cast, ROLES[who])
    r = call(client, method, path, user, json=body)
    assert r.status_code == expected[who], r.get_data(as_text=True)
    if r.status_code >= 400:
        assert r.mimetype == PROBLEM
        assert r.json["status"] == expected[who]


@pytest.mark.parametrize("method,path,body,_", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_every_endpoint_needs_a_token(client, cast, method, path, body, _):
    path = path.replace("{L}", str(cast.list_id)).replace("{T}", str(cast.todo_id))
    r = call(client, method, path.replace("{OWNER}", "1").replace("{OTHER}", "1"), json=body)
    assert r.status_code == 401
    assert r.mimetype == PROBLEM
    assert r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/lists", "/todos", "/tags"])
def test_collections_show_strangers_and_admins_nothing(app, client, cast, path):
    make_todos(app, cast.list_id, tags=["x"])
    assert len(call(client, "GET", path, cast.viewer).json["items"]) == (1 if path != "/todos" else 2)
    assert call(client, "GET", path, cast.stranger).json == {"items": [], "next_cursor": None}
    assert call(client, "GET", path, cast.admin).json == {"items": [], "next_cursor": None}


def test_create_list(client, auth):
    user = auth.user()
    r = call(client, "POST", "/lists", user, json={"name": "Home", "description": "Chores"})
    assert r.status_code == 201
    body = r.json
    assert r.headers["Location"] == body["url"] == f"http://localhost/api/v1/lists/{body['id']}"
    assert body["name"] == "Home" and body["description"] == "Chores"
    assert body["role"] == "owner" and body["todo_count"] == 0 and body["completed_count"] == 0
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")
    assert r.headers["ETag"]
    got = call(client, "GET", f"/lists/{body['id']}", user)
    assert got.json == body


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": None}, "name"),
        ({"name": 5}, "name"),
        ({"name": "ok", "id": 3}, "id"),
        ({"name": "ok", "role": "owner"}, "role"),
        ({"name": "ok", "todo_count": 1}, "todo_count"),
        ({"name": "ok", "owner_id": 1}, "owner_id"),
        ({"name": "ok", "description": 7}, "description"),
    ],
)
def test_create_list_invalid(client, auth, body, field):
    r = call(client, "POST", "/lists", auth.user(), json=body)
    assert r.status_code == 422
    assert r.mimetype == PROBLEM
    assert list(r.json["errors"]) == [field]


def test_create_list_body_must_be_an_object(client, auth):
    r = call(client, "POST", "/lists", auth.user(), json=[{"name": "x"}])
    assert r.status_code == 422
    assert "_schema" in r.json["errors"]


def test_patch_list_partial_and_null_description(client, cast):
    r = call(client, "PATCH", f"/lists/{cast.list_id}", cast.editor, json={"description": "Weekly"})
    assert r.json["name"] == "Groceries" and r.json["description"] == "Weekly"
    assert r.json["role"] == "editor"
    r = call(client, "PATCH", f"/lists/{cast.list_id}", cast.editor, json={"description": None})
    assert r.status_code == 200 and r.json["description"] is None
    r = call(client, "PATCH", f"/lists/{cast.list_id}", cast.editor, json={"name": None})
    assert r.status_code == 422 and list(r.json["errors"]) == ["name"]


def test_delete_list_deletes_its_todos(app, client, cast):
    assert call(client, "DELETE", f"/lists/{cast.list_id}", cast.owner).status_code == 204
    assert call(client, "GET", f"/lists/{cast.list_id}", cast.owner).status_code == 404
    assert call(client, "GET", f"/todos/{cast.todo_id}", cast.owner).status_code == 404
    from app.extensions import db
    from app.models import Todo

    with app.app_context():
        assert db.session.get(Todo, cast.todo_id) is None


def test_lists_show_role_and_counts(app, client, auth):
    user, other = auth.user(), auth.user()
    a = make_list(app, {user.id: "owner"}, name="A")
    b = make_list(app, {user.id: "viewer", other.id: "owner"}, name="B")
    make_list(app, {other.id: "owner"}, name="C")
    make_todos(app, a, 3)
    make_todos(app, a, 2, completed=True)
    items = call(client, "GET", "/lists?sort=name", user).json["items"]
    assert [(i["name"], i["role"], i["todo_count"], i["completed_count"]) for i in items] == [
        ("A", "owner", 5, 2),
        ("B", "viewer", 0, 0),
    ]
    assert items[1]["id"] == b


def test_list_page_statement_count_is_fixed(app, client, auth):
    user = auth.user()
    for _ in range(5):
        make_todos(app, make_list(app, {user.id: "owner"}), 2)
    counts = []
    for limit in (1, 200):
        with count_statements(app) as statements:
            r = call(client, "GET", f"/lists?limit={limit}", user)
        assert r.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1] == 3  # principal, page, grouped counts


@pytest.mark.parametrize("query,field", [("sort=owner", "sort"), ("limit=0", "limit"), ("limit=201", "limit")])
def test_list_query_errors(client, auth, query, field):
    r = call(client, "GET", "/lists?" + query, auth.user())
    assert r.status_code == 400
    assert list(r.json["errors"]) == [field]
