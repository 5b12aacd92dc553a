"""Idempotency-Key on POST: replays, mismatches, keys in flight, expiry, and concurrent retries."""

import threading
from datetime import timedelta

import pytest
import requests
from flask import Blueprint
from flask_jwt_extended import current_user, jwt_required
from flask_restful import Resource
from sqlalchemy import func, select

from app.errors import abort
from app.extensions import db
from app.http import ProblemApi, get_json_body, output_json
from app.idempotency import idempotent, request_hash
from app.models import IdempotencyKey, Membership, ShareLink, Todo, TodoList, Webhook, WebhookDelivery
from app.models.base import utcnow
from tests.conftest import make_config

KEY = {"Idempotency-Key": "3f1c2a7e-retry-1"}


def _create_list(name, user_id=None):
    todo_list = TodoList(name=name)
    db.session.add(todo_list)
    db.session.flush()
    if user_id is not None:
        db.session.add(Membership(list_id=todo_list.id, user_id=user_id, role="owner"))
    db.session.commit()
    return {"id": todo_list.id, "name": name}, 201, {"Location": f"http://localhost/things/{todo_list.id}"}


class Things(Resource):
    """A minimal creating endpoint: `explode` fails with a 500, a missing name is a 422."""

    method_decorators = [jwt_required()]

    @idempotent
    def post(self):
        data = get_json_body()
        if not isinstance(data, dict) or not data.get("name"):
            abort(422, errors={"name": ["Missing data for required field."]})
        if data["name"] == "explode":
            raise RuntimeError("boom")
        if data["name"] == "unavailable":
            abort(503)
        return _create_list(data["name"], current_user.id)


class PublicThings(Resource):
    @idempotent
    def post(self):
        return _create_list(get_json_body()["name"])


@pytest.fixture
def things(app):
    """The app with the test-only endpoints /test/things, /test/other-things and /test/public-things."""
    bp = Blueprint("idem_test", __name__, url_prefix="/test")
    api = ProblemApi(bp)
    api.representations = {"application/json": output_json}
    api.add_resource(Things, "/things", "/other-things")
    api.add_resource(PublicThings, "/public-things")
    app.register_blueprint(bp)
    return app


def _count(app, model=TodoList):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar()


def _add_key(app, scope, key, created_at, status=None, body=None, request_hash="0" * 64):
    with app.app_context():
        row = IdempotencyKey(scope=scope, key=key, request_hash=request_hash, status=status, body=body)
        row.created_at = created_at
        db.session.add(row)
        db.session.commit()


def _hash(app, path="/test/things", body=None):
    with app.test_request_context(path, method="POST", json=body or {"name": "a"}):
        return request_hash()


def test_without_key_each_post_creates(things, client, auth):
    user = auth.user()
    for _ in range(2):
        assert client.post("/test/things", json={"name": "a"}, headers=user.headers).status_code == 201
    assert _count(things) == 2


def test_retry_replays_the_first_response(things, client, auth):
    user = auth.user()
    first = client.post("/test/things", json={"name": "a"}, headers={**user.headers, **KEY})
    again = client.post("/test/things", json={"name": "a"}, headers={**user.headers, **KEY})
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Content-Type"] == "application/json; charset=utf-8"
    assert _count(things) == 1


def test_retry_with_the_same_json_differently_written_replays(things, client, auth):
    user = auth.user()
    headers = {**user.headers, **KEY, "Content-Type": "application/json"}
    first = client.post("/test/things", data='{"name": "a"}', headers=headers)
    again = client.post("/test/things", data='{ "name":"a" }\n', headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(things) == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [("/test/things", {"name": "b"}), ("/test/other-things", {"name": "a"}), ("/test/things", {"name": "a", "x": 1})],
)
def test_same_key_with_another_request_is_422(things, client, auth, path, body):
    user = auth.user()
    assert client.post("/test/things", json={"name": "a"}, headers={**user.headers, **KEY}).status_code == 201
    r = client.post(path, json=body, headers={**user.headers, **KEY})
    assert r.status_code == 422
    assert r.content_type == "application/problem+json"
    assert r.json["detail"] == "This Idempotency-Key was already used with a different request."
    assert r.json["errors"] == {"Idempotency-Key": ["Already used with a different method, path or body."]}
    assert _count(things) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "caf\u00e9"])
def test_malformed_key_is_400(things, client, auth, key):
    user = auth.user()
    r = client.post("/test/things", json={"name": "a"}, headers={**user.headers, "Idempotency-Key": key})
    assert r.status_code == 400
    assert r.json["detail"] == "Idempotency-Key must be 1 to 255 printable ASCII characters."
    assert _count(things) == 0


@pytest.mark.parametrize("key", ["k", "x" * 255, "a b~!@#$%^&*()"])
def test_wellformed_keys_are_accepted(things, client, auth, key):
    user = auth.user()
    for _ in range(2):
        r = client.post("/test/things", json={"name": "a"}, headers={**user.headers, "Idempotency-Key": key})
        assert r.status_code == 201
    assert r.headers["Idempotent-Replayed"] == "true"
    assert _count(things) == 1


def test_client_error_is_stored_and_replayed(things, client, auth):
    user = auth.user()
    first = client.post("/test/things", json={}, headers={**user.headers, **KEY})
    again = client.post("/test/things", json={}, headers={**user.headers, **KEY})
    assert (first.status_code, again.status_code) == (422, 422)
    assert again.content_type == "application/problem+json"
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(("name", "status"), [("explode", 500), ("unavailable", 503)])
def test_server_error_is_not_stored_so_a_retry_runs_again(things, client, auth, name, status):
    user = auth.user()
    first = client.post("/test/things", json={"name": name}, headers={**user.headers, **KEY})
    assert first.status_code == status
    assert first.content_type == "application/problem+json"
    assert _count(things, IdempotencyKey) == 0
    again = client.post("/test/things", json={"name": name}, headers={**user.headers, **KEY})
    assert again.status_code == status
    assert "Idempotent-Replayed" not in again.headers


def test_keys_are_per_user(things, client, auth):
    alice, bob = auth.user(), auth.user()
    for user in (alice, bob):
        r = client.post("/test/things", json={"name": "a"}, headers={**user.headers, **KEY})
        assert r.status_code == 201
        assert "Idempotent-Replayed" not in r.headers
    assert _count(things) == 2


def test_anonymous_posts_ignore_the_key(things, client):
    for _ in range(2):
        r = client.post("/test/public-things", json={"name": "a"}, headers=KEY)
        assert r.status_code == 201
        assert "Idempotent-Replayed" not in r.headers
    assert _count(things) == 2


def test_key_in_flight_is_409(things, client, auth):
    user = auth.user()
    key = KEY["Idempotency-Key"]
    _add_key(things, f"user:{user.id}", key, utcnow() - timedelta(seconds=5), request_hash=_hash(things))
    r = client.post("/test/things", json={"name": "a"}, headers={**user.headers, **KEY})
    assert r.status_code == 409
    assert r.json["detail"] == "A request with this Idempotency-Key is in progress; retry later."
    assert _count(things) == 0


@pytest.mark.parametrize(
    ("age", "status"), [(timedelta(minutes=2), None), (timedelta(hours=25), 201)], ids=["abandoned", "expired"]
)
def test_abandoned_or_expired_key_runs_afresh(things, client, auth, age, status):
    user = auth.user()
    key = KEY["Idempotency-Key"]
    _add_key(things, f"user:{user.id}", key, utcnow() - age, status=status, body=b"{}", request_hash=_hash(things))
    r = client.post("/test/things", json={"name": "a"}, headers={**user.headers, **KEY})
    assert r.status_code == 201
    assert "Idempotent-Replayed" not in r.headers
    assert _count(things) == 1
    again = client.post("/test/things", json={"name": "a"}, headers={**user.headers, **KEY})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == r.get_data()


def test_purge_command_deletes_keys_older_than_a_day(things):
    _add_key(things, "user:1", "old", utcnow() - timedelta(hours=25), status=201)
    _add_key(things, "user:1", "new", utcnow() - timedelta(hours=23), status=201)
    result = things.test_cli_runner().invoke(args=["idempotency", "purge"])
    assert result.exit_code == 0
    assert result.output == "Deleted 1 expired idempotency key(s).\n"
    with things.app_context():
        assert db.session.execute(select(IdempotencyKey.key)).scalars().all() == ["new"]


def test_operations_are_marked_idempotent_in_the_api_metadata():
    from app.resources import lists, shared

    assert lists.TodoLists.post.__apidoc__["idempotent"] is True
    assert shared.SharedTodoList.post.__apidoc__["idempotent"] is True
    assert lists.TodoLists.get.__apidoc__["idempotent"] is False


HOOK_URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def app_config(database_url):
    return make_config(database_url, WEBHOOK_ALLOWED_HOSTS=["127.0.0.1:9"])


def _created(client, user, path, body=None):
    r = client.post(path, json=body, headers=user.headers)
    assert r.status_code in (201, 202), r.get_data(as_text=True)
    return r.json["url"].replace("http://localhost", "")


def _hook(client, user, list_id):
    return _created(client, user, "/api/v1/webhooks", {"target_url": HOOK_URL, "events": ["todo.created"]})


ENDPOINTS = {
    "lists": (lambda c, u, lid: "/api/v1/lists", {"name": "Groceries"}, TodoList),
    "todos": (lambda c, u, lid: f"/api/v1/lists/{lid}/todos", {"title": "Milk"}, Todo),
    "members": (
        lambda c, u, lid: f"/api/v1/lists/{lid}/members",
        {"email": "friend@example.com", "role": "viewer"},
        Membership,
    ),
    "share links": (lambda c, u, lid: f"/api/v1/lists/{lid}/share-links", {"role": "viewer"}, ShareLink),
    "shared todos": (
        lambda c, u, lid: _created(c, u, f"/api/v1/lists/{lid}/share-links", {"role": "editor"}),
        {"title": "Bread"},
        Todo,
    ),
    "webhooks": (lambda c, u, lid: "/api/v1/webhooks", {"target_url": HOOK_URL, "events": ["todo.created"]}, Webhook),
    "ping": (lambda c, u, lid: _hook(c, u, lid) + "/ping", None, WebhookDelivery),
    "redeliver": (lambda c, u, lid: _created(c, u, _hook(c, u, lid) + "/ping") + "/redeliver", None, None),
}


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_every_creating_post_replays(app, client, auth, name):
    path_of, body, model = ENDPOINTS[name]
    user = auth.user()
    auth.user(email="friend@example.com")
    list_id = client.post("/api/v1/lists", json={"name": "Home"}, headers=user.headers).json["id"]
    path = path_of(client, user, list_id)
    before = model and _count(app, model)
    first = client.post(path, json=body, headers={**user.headers, **KEY})
    again = client.post(path, json=body, headers={**user.headers, **KEY})
    assert first.status_code in (201, 202), first.get_data(as_text=True)
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == first.status_code
    if name == "share links":  # the token is shown once: a replay shows what later reads show
        assert again.json == {**first.json, "url": None}
    else:
        assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    if model is not None:
        assert _count(app, model) == before + 1


def _stored(app):
    with app.app_context():
        rows = db.session.execute(select(IdempotencyKey)).scalars().all()
        return [(row.body or b"") + (row.location or "").encode() for row in rows]


def test_no_share_token_is_stored_in_a_replay(app, client, auth):
    user = auth.user()
    list_id = client.post("/api/v1/lists", json={"name": "Home"}, headers=user.headers).json["id"]
    headers = {**user.headers, **KEY}
    link = client.post(f"/api/v1/lists/{list_id}/share-links", json={"role": "editor"}, headers=headers).json
    token = link["url"].split("/shared/")[1].split("/")[0]
    root = link["url"].replace("http://localhost", "")
    first = client.post(root, json={"title": "Bread"}, headers=KEY)
    again = client.post(root, json={"title": "Bread"}, headers=KEY)
    assert first.status_code == again.status_code == 201
    assert token in first.json["url"] and token in first.headers["Location"]
    assert (again.get_data(), again.headers["Location"]) == (first.get_data(), first.headers["Location"])
    stored = _stored(app)
    assert len(stored) == 2 and all(token.encode() not in row for row in stored)


@pytest.mark.slow
def test_the_poll_worker_purges_expired_keys(app, database_url, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    with app.app_context():
        for key, age in (("old", timedelta(hours=25)), ("new", timedelta(hours=1))):
            db.session.add(IdempotencyKey(scope="user:1", key=key, request_hash="h", created_at=utcnow() - age))
        db.session.commit()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "APP_ENV")}
    env.update(DATABASE_URL=database_url, SECRET_KEY="p" * 40, JWT_SECRET_KEY="q" * 40, FLASK_APP="wsgi:app")
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "webhooks", "run", "--poll"],
        env=env,
        cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        keys = None
        while time.monotonic() < deadline:
            with app.app_context():
                keys = db.session.execute(select(IdempotencyKey.key)).scalars().all()
                db.session.rollback()
            if keys == ["new"]:
                break
            time.sleep(0.2)
        assert keys == ["new"]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(10)


@pytest.mark.slow
def test_concurrent_retries_on_a_live_server_create_one_object(live_server):
    server = live_server(workers=3)
    api = server.url + "/api/v1"
    credentials = {"email": "racer@example.com", "password": "correct-horse-battery"}
    assert requests.post(api + "/auth/register", json=credentials, timeout=10).status_code == 201
    token = requests.post(api + "/auth/login", json=credentials, timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "race-1"}
    start, answers = threading.Barrier(8), []

    def post():
        start.wait()
        r = requests.post(api + "/lists", json={"name": "Once"}, headers=headers, timeout=30)
        answers.append((r.status_code, r.content, r.headers.get("Idempotent-Replayed")))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _, _ in answers)
    assert set(statuses) <= {201, 409}, answers
    assert [status for status, _, replayed in answers if not replayed].count(201) == 1
    assert len({body for status, body, _ in answers if status == 201}) == 1
    r = requests.get(api + "/lists", headers={"Authorization": headers["Authorization"]}, timeout=10)
    assert [item["name"] for item in r.json()["items"]] == ["Once"]
    again = requests.post(api + "/lists", json={"name": "Once"}, headers=headers, timeout=10)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
