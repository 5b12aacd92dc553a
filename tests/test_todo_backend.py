"""The Todo-Backend protocol on share links: the reference specs, roles, tokens, CORS, proxies, limits."""

import threading

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ShareLink, Todo, Webhook, WebhookDelivery
from app.webhooks.fanout import fan_out
from tests.conftest import make_config
from tests.test_share_links import PROBLEM, make_list, share

ORIGIN = "https://some-todomvc-client.example"


@pytest.fixture
def app_config(database_url, request):
    return make_config(database_url, **getattr(request, "param", {}))


@pytest.fixture
def owner(auth):
    return auth.user()


@pytest.fixture
def list_id(app, owner):
    return make_list(app, owner.id)


@pytest.fixture
def root(client, owner, list_id):
    """The root URL of an editor link."""
    return share(client, owner, list_id, role="editor")["url"]


@pytest.fixture
def viewer_root(client, owner, list_id):
    return share(client, owner, list_id, role="viewer")["url"]


def post(client, root, **body):
    r = client.post(root, json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json


# The todo-backend.com reference specs, in their order.


def test_root_answers_get(client, root):
    r = client.get(root, headers={"Origin": ORIGIN})
    assert r.status_code == 200
    assert r.json == []
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_root_answers_post_with_the_todo(client, root):
    r = client.post(root, json={"title": "a todo"})
    assert r.status_code == 201
    assert r.json["title"] == "a todo"
    assert set(r.json) == {"id", "url", "title", "completed", "order"}
    assert r.headers["Location"] == r.json["url"]
    assert r.json["url"] == f"{root}/{r.json['id']}"


def test_root_delete_then_empty(client, root):
    post(client, root, title="a todo")
    post(client, root, title="another")
    r = client.delete(root)
    assert r.status_code == 204
    assert r.data == b""
    assert client.get(root).json == []


def test_new_todo_listed_at_root(client, root):
    made = post(client, root, title="walk the dog")
    assert client.get(root).json == [made]


def test_new_todo_not_completed(client, root):
    assert post(client, root, title="blah")["completed"] is False


def test_new_todo_url_returns_the_todo(client, root):
    made = post(client, root, title="my todo")
    r = client.get(made["url"])
    assert r.status_code == 200
    assert r.json == made


def test_navigate_from_list_to_todo(client, root):
    post(client, root, title="todo the first")
    post(client, root, title="todo the second")
    listed = client.get(root).json
    r = client.get(listed[1]["url"])
    assert r.json["title"] == "todo the second"


def test_patch_title(client, root):
    made = post(client, root, title="initial title")
    r = client.patch(made["url"], json={"title": "bathe the cat"})
    assert r.status_code == 200
    assert r.json == {**made, "title": "bathe the cat"}


def test_patch_completed_and_persisted(client, root):
    made = post(client, root, title="blah")
    r = client.patch(made["url"], json={"completed": True})
    assert r.json["completed"] is True
    assert client.get(made["url"]).json["completed"] is True
    assert client.get(root).json[0]["completed"] is True


def test_delete_todo(client, root):
    made = post(client, root, title="blah")
    r = client.delete(made["url"])
    assert r.status_code == 204
    assert client.get(made["url"]).status_code == 404
    assert client.get(root).json == []


def test_create_with_order(client, root):
    made = post(client, root, title="blah", order=523)
    assert made["order"] == 523
    assert client.get(made["url"]).get_data(as_text=True).endswith('"order":523}')


def test_patch_order_remembered(client, root):
    made = post(client, root, title="blah", order=10)
    assert client.patch(made["url"], json={"order": 95}).json["order"] == 95
    assert client.get(made["url"]).json["order"] == 95


# Beyond the reference specs.


def test_fractional_order_round_trips(client, root):
    made = post(client, root, title="between", order=1.5)
    assert client.get(made["url"]).json["order"] == 1.5


def test_new_todos_go_last_and_root_sorts_by_order_then_id(client, root):
    a = post(client, root, title="a")
    b = post(client, root, title="b")
    c = post(client, root, title="c", order=a["order"])
    assert b["order"] > a["order"]
    assert [todo["title"] for todo in client.get(root).json] == ["a", "c", "b"]
    d = post(client, root, title="d")
    assert d["order"] > max(a["order"], b["order"], c["order"])


def test_post_completed(client, root):
    assert post(client, root, title="done already", completed=True)["completed"] is True


def test_put_replaces_the_todo(client, root):
    made = post(client, root, title="old", order=3, completed=True)
    body = {"id": 999, "url": "http://elsewhere/", "title": "new"}
    r = client.put(made["url"], json=body)
    assert r.status_code == 200
    assert r.json == {**made, "title": "new", "completed": False}
    r = client.put(made["url"], json={"title": "newer", "completed": True, "order": 7})
    assert r.json == {**made, "title": "newer", "completed": True, "order": 7}
    assert client.get(made["url"]).json == r.json


def test_etags(client, root):
    made = post(client, root, title="x")
    etag = client.get(made["url"]).headers["ETag"]
    assert client.get(made["url"], headers={"If-None-Match": etag}).status_code == 304
    r = client.patch(made["url"], json={"title": "y"}, headers={"If-Match": etag})
    assert r.status_code == 200
    assert r.headers["ETag"] != etag
    for method in ("patch", "put", "delete"):
        r = getattr(client, method)(made["url"], json={"title": "z"}, headers={"If-Match": etag})
        assert r.status_code == 412, method
    assert client.get(made["url"]).json["title"] == "y"


def test_patch_ignores_echoed_id_and_url(client, root):
    made = post(client, root, title="x")
    r = client.patch(made["url"], json={**made, "id": 5, "url": "http://elsewhere/", "title": "y"})
    assert r.status_code == 200
    assert r.json == {**made, "title": "y"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"title": 5}, "title"),
        ({"title": None}, "title"),
        ({"title": "ok", "completed": "true"}, "completed"),
        ({"title": "ok", "completed": 1}, "completed"),
        ({"title": "ok", "completed": None}, "completed"),
        ({"title": "ok", "order": "1"}, "order"),
        ({"title": "ok", "order": True}, "order"),
        ({"title": "ok", "order": None}, "order"),
        ({"title": "ok", "order": [1]}, "order"),
        ({"title": "ok", "notes": "no such field here"}, "notes"),
    ],
)
@pytest.mark.parametrize("method", ["post", "patch", "put"])
def test_invalid_bodies(client, root, body, field, method):
    url = root if method == "post" else post(client, root, title="valid")["url"]
    r = getattr(client, method)(url, json=body, headers={"Origin": ORIGIN})
    assert r.status_code == 422
    assert r.mimetype == PROBLEM
    assert list(r.json["errors"]) == [field]
    assert r.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("method", ["post", "put"])
def test_title_required(client, root, method):
    url = root if method == "post" else post(client, root, title="valid")["url"]
    r = getattr(client, method)(url, json={"completed": True})
    assert r.status_code == 422
    assert r.json["errors"] == {"title": ["Missing data for required field."]}


def test_title_of_500_characters(client, root):
    assert post(client, root, title="x" * 500)["title"] == "x" * 500


def test_body_must_be_json(client, root):
    assert client.post(root, data="title=x", content_type="text/plain").status_code == 415
    r = client.post(root, data="{", content_type="application/json")
    assert r.status_code == 400
    assert r.mimetype == PROBLEM
    assert client.post(root, json=["title"]).status_code == 422


# Roles and tokens.


def test_viewer_reads(client, root, viewer_root):
    made = post(client, root, title="shared")
    token_url = made["url"].replace(root, viewer_root)
    assert client.get(viewer_root).json == [{**made, "url": token_url}]
    assert client.get(token_url).json["title"] == "shared"


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("post", "root", {"title": "x"}),
        ("delete", "root", None),
        ("patch", "todo", {"title": "x"}),
        ("put", "todo", {"title": "x"}),
        ("delete", "todo", None),
    ],
)
def test_viewer_cannot_write(client, root, viewer_root, method, target, body):
    made = post(client, root, title="keep me")
    url = viewer_root if target == "root" else made["url"].replace(root, viewer_root)
    r = getattr(client, method)(url, json=body, headers={"Origin": ORIGIN})
    assert r.status_code == 403
    assert r.mimetype == PROBLEM
    assert r.json["detail"] == "This share link is read-only."
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(root).json == [made]


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("get", "root"),
        ("post", "root"),
        ("delete", "root"),
        ("get", "todo"),
        ("patch", "todo"),
        ("put", "todo"),
        ("delete", "todo"),
    ],
)
@pytest.mark.parametrize("state", ["unknown", "revoked", "expired"])
def test_dead_tokens_are_404(app, client, owner, list_id, root, method, target, state):
    made = post(client, root, title="keep me")
    link = share(client, owner, list_id)
    if state == "unknown":
        dead = link["url"].replace("/shared/", "/shared/x")
    elif state == "revoked":
        dead = link["url"]
        client.delete(f"/api/v1/lists/{list_id}/share-links/{link['id']}", headers=owner.headers)
    else:
        dead = link["url"]
        with app.app_context():
            from datetime import UTC, datetime

            db.session.get(ShareLink, link["id"]).expires_at = datetime.now(UTC)
            db.session.commit()
    url = dead if target == "root" else f"{dead}/{made['id']}"
    r = getattr(client, method)(url, json={"title": "x"} if method != "get" else None, headers={"Origin": ORIGIN})
    assert r.status_code == 404
    assert r.mimetype == PROBLEM
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(root).json == [made]


def test_todo_of_another_list_is_404(app, client, owner, root):
    other_root = share(client, owner, make_list(app, owner.id, name="Other"))["url"]
    made = post(client, other_root, title="elsewhere")
    for method in ("get", "patch", "put", "delete"):
        r = getattr(client, method)(f"{root}/{made['id']}", json={"title": "x"} if method in ("patch", "put") else None)
        assert r.status_code == 404, method
    assert client.get(made["url"]).json == made


@pytest.mark.parametrize("path", ["/abc", "/0", "/99999999999", "/1/extra"])
def test_bad_todo_paths_are_404(client, root, path):
    r = client.get(root + path, headers={"Origin": ORIGIN})
    assert r.status_code == 404
    assert r.mimetype == PROBLEM
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_method_not_allowed(client, root):
    r = client.put(root, json=[])
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]


# The same todos members see, and their events.


def test_changes_are_the_members_todos(app, client, owner, list_id, root):
    with app.app_context():
        db.session.add(
            Webhook(
                user_id=owner.id,
                list_id=list_id,
                target_url="https://hooks.example/x",
                secret="s",
                events=["todo.created", "todo.updated", "todo.completed", "todo.deleted"],
            )
        )
        db.session.commit()
    made = post(client, root, title="from a link")
    with app.app_context():
        todo = db.session.get(Todo, made["id"])
        assert (todo.list_id, todo.created_by, todo.version) == (list_id, None, 1)
        created_at = todo.updated_at
    client.patch(made["url"], json={"title": "renamed"})
    client.patch(made["url"], json={"completed": True})
    client.delete(made["url"])
    with app.app_context():
        fan_out()  # the delivery worker's first step: one delivery per subscribed webhook
        deliveries = db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars().all()
        assert [d.event for d in deliveries] == ["todo.created", "todo.updated", "todo.completed", "todo.deleted"]
        data = deliveries[2].payload["data"]
        assert (data["id"], data["title"], data["completed"], data["list_id"]) == (made["id"], "renamed", True, list_id)
        assert "/shared/" not in str([d.payload for d in deliveries])  # the token never leaves in an event
        assert data["updated_at"] >= created_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_patch_bumps_version_and_completed_at(app, client, root):
    made = post(client, root, title="x")
    client.patch(made["url"], json={"completed": True})
    with app.app_context():
        todo = db.session.get(Todo, made["id"])
        assert todo.version == 2
        assert todo.completed_at is not None
    client.patch(made["url"], json={"completed": False})
    with app.app_context():
        assert db.session.get(Todo, made["id"]).completed_at is None


def test_concurrent_creates(app, root):
    results, errors = [], []
    clients = [app.test_client() for _ in range(8)]
    start = threading.Barrier(8)

    def create(n):
        try:
            start.wait(timeout=10)
            r = clients[n].post(root, json={"title": f"todo {n}"})
            results.append((r.status_code, r.json))
        except Exception as e:  # noqa: BLE001 - surfaced by the assert below
            errors.append(e)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [status for status, _ in results] == [201] * 8
    assert len({body["id"] for _, body in results}) == 8
    assert sorted(body["order"] for _, body in results) == list(range(8))
    assert len(app.test_client().get(root).json) == 8


# CORS, proxies and limits.


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("target", ["root", "todo", "unknown"])
def test_preflight_from_any_origin(client, root, method, target):
    url = {"root": root, "todo": f"{root}/1", "unknown": "/api/v1/shared/nope/todos/1"}[target]
    headers = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "Content-Type, X-Anything",
    }
    r = client.options(url, headers=headers)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert method in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Allow-Headers"].lower() == "content-type, x-anything"
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_cors_on_success_without_credentials(client, root):
    r = client.post(root, json={"title": "x"}, headers={"Origin": "null"})
    assert r.status_code == 201
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers
    assert "Location" in r.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}], indirect=True)
def test_absolute_urls_behind_a_proxy(client, owner, list_id):
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "todos.example.org"}
    r = client.post(f"/api/v1/lists/{list_id}/share-links", json={"role": "editor"}, headers={**owner.headers, **proxy})
    root = r.json["url"]
    assert root.startswith("https://todos.example.org/api/v1/shared/")
    r = client.post(root.removeprefix("https://todos.example.org"), json={"title": "x"}, headers=proxy)
    assert r.json["url"].startswith(root + "/")
    assert r.headers["Location"] == r.json["url"]


def test_forwarded_headers_ignored_without_trusted_proxies(client, root):
    r = client.post(root, json={"title": "x"}, headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil"})
    assert r.json["url"].startswith("http://localhost/api/v1/shared/")


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "RATE_LIMIT_SHARED": "3 per minute"}], indirect=True
)
def test_rate_limited_per_token(client, owner, list_id):
    first = share(client, owner, list_id)["url"]
    second = share(client, owner, list_id)["url"]
    assert [client.get(first).status_code for _ in range(3)] == [200, 200, 200]
    r = client.post(first, json={"title": "x"}, headers={"Origin": ORIGIN})
    assert r.status_code == 429
    assert r.mimetype == PROBLEM
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(second).status_code == 200
