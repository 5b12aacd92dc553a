"""Every layer's errors come out as problem+json, with TESTING off as in production."""

import pytest
from flask import Blueprint
from flask_restful import Resource

from app.errors import field_errors
from app.http import ProblemApi, load_body
from app.schemas.user import register_schema
from tests.conftest import make_config
from tests.problems import assert_problem


def test_testing_is_off(app):
    assert app.testing is False
    assert app.config["PROPAGATE_EXCEPTIONS"] is False


def test_unknown_route_is_404(client):
    assert_problem(client.get("/api/v1/nowhere"), 404)
    assert_problem(client.get("/nowhere"), 404)


@pytest.mark.parametrize("path", ["/api/v1/users/abc", "/api/v1/users/0", "/api/v1/users/99999999999999"])
def test_bad_id_in_path_is_404(client, path):
    assert_problem(client.get(path), 404)


def test_method_not_allowed_has_allow(client):
    r = client.delete("/api/v1/auth/login")
    assert_problem(r, 405)
    assert "POST" in r.headers["Allow"]


def test_malformed_json_is_400(client):
    body = assert_problem(client.post("/api/v1/auth/register", data="{bad", content_type="application/json"), 400)
    assert body["detail"] == "The body is not valid JSON."


@pytest.mark.parametrize("depth", [40, 5000, 100_000])
def test_deeply_nested_json_is_400(client, depth):
    data = "[" * depth + "]" * depth
    body = assert_problem(client.post("/api/v1/auth/register", data=data, content_type="application/json"), 400)
    assert "nested" in body["detail"]


def test_non_json_body_is_415(client):
    assert_problem(client.post("/api/v1/auth/register", data="email=a@b.c"), 415)


def test_wrong_shape_is_422(client):
    body = assert_problem(client.post("/api/v1/auth/register", json=[1, 2]), 422)
    assert body["errors"] == {"_schema": ["Invalid input type."]}


def test_validation_error_is_422_per_field_and_echoes_nothing(client):
    r = client.post("/api/v1/auth/register", json={"email": "nope", "password": "s3cret-value-xyz", "role": "admin"})
    body = assert_problem(r, 422)
    assert set(body["errors"]) == {"email", "role"}
    assert "s3cret-value-xyz" not in r.get_data(as_text=True)


def test_nested_validation_errors_are_listed_under_their_field(client, auth):
    user = auth.user()
    body = {"target_url": "https://hooks.example.com/x", "events": ["todo.created", "nope", 3]}
    r = client.post("/api/v1/webhooks", json=body, headers=user.headers)
    errors = assert_problem(r, 422)["errors"]
    assert errors["events"][0].startswith("Item 1: Must be one of: todo.created, ")
    assert errors["events"][1:] == ["Item 2: Not a valid string."]


@pytest.mark.parametrize(
    ("messages", "flat"),
    [
        ({"title": ["Field may not be blank."]}, {"title": ["Field may not be blank."]}),
        ({"events": {0: ["Bad."], 2: ["Worse."]}}, {"events": ["Item 0: Bad.", "Item 2: Worse."]}),
        ({"a": {"b": {3: ["Deep.", "Deeper."]}}}, {"a": ["B, item 3: Deep.", "B, item 3: Deeper."]}),
        ({"payload": "Not a dict."}, {"payload": ["Not a dict."]}),
    ],
)
def test_field_errors_lists_nested_messages_under_their_field(messages, flat):
    assert field_errors(messages) == flat


NUL_MESSAGE = "Text may not contain the NUL character (U+0000)."


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/v1/lists", {"name": "a\u0000b"}, "name"),
        ("post", "/api/v1/lists", {"name": "ok", "description": "\u0000"}, "description"),
        ("post", "/api/v1/lists", {"na\u0000me": "ok"}, "na\u0000me"),
        ("post", "/api/v1/webhooks", {"target_url": "https://x.example.com/", "events": ["\u0000"]}, "events"),
        ("patch", "/api/v1/users/me", {"display_name": "\u0000"}, "display_name"),
        ("post", "/api/v1/auth/login", {"email": "a\u0000@example.com", "password": "x"}, "email"),
    ],
)
def test_nul_character_in_a_body_is_422(client, auth, method, path, body, field):
    r = getattr(client, method)(path, json=body, headers=auth.user().headers)
    assert assert_problem(r, 422)["errors"] == {field: [NUL_MESSAGE]}


@pytest.mark.parametrize(
    ("query", "field"), [("q=%00", "q"), ("q=a%00b", "q"), ("cursor=%00", "cursor"), ("tag=x&tag=%00", "tag")]
)
def test_nul_character_in_the_query_string_is_400(client, auth, query, field):
    r = client.get(f"/api/v1/todos?{query}", headers=auth.user().headers)
    assert assert_problem(r, 400)["errors"] == {field: [NUL_MESSAGE]}


def test_body_over_limit_is_413(database_url):
    from app import create_app

    app = create_app(make_config(database_url, MAX_CONTENT_LENGTH=100))
    r = app.test_client().post("/api/v1/auth/register", json={"email": "a@b.co", "password": "x" * 200})
    assert_problem(r, 413)


def test_missing_token_is_401_with_www_authenticate(client):
    r = client.get("/api/v1/users/me")
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["abc", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."])
def test_malformed_token_is_401_not_422(client, token):
    assert_problem(client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}), 401)


def test_non_admin_on_admin_endpoint_is_403(client, auth):
    user = auth.user()
    assert_problem(client.get(f"/api/v1/users/{user.id}", headers=user.headers), 403)


class Boom(Resource):
    def get(self):
        raise RuntimeError("secret-internal-detail SELECT * FROM users")

    def post(self):
        return load_body(register_schema)


@pytest.fixture
def boom_client(app):
    bp = Blueprint("boom", __name__, url_prefix="/boom")
    ProblemApi(bp).add_resource(Boom, "/")
    app.register_blueprint(bp)
    return app.test_client()


def test_unexpected_exception_is_500_without_details(boom_client, caplog):
    r = boom_client.get("/boom/", headers={"X-Request-ID": "req-123"})
    body = assert_problem(r, 500)
    assert "secret-internal-detail" not in r.get_data(as_text=True)
    assert body["request_id"] == "req-123"
    assert "secret-internal-detail" in caplog.text  # the log has it


def test_marshmallow_error_in_resource_is_422_not_500(boom_client):
    r = boom_client.post("/boom/", json={"password": "hunter2hunter2"})
    body = assert_problem(r, 422)
    assert "hunter2hunter2" not in r.get_data(as_text=True)
    assert "email" in body["errors"]


def test_every_response_has_request_id_and_nosniff(client):
    for r in (client.get("/healthz"), client.get("/nowhere")):
        assert len(r.headers["X-Request-ID"]) >= 16
        assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("given", "kept"), [("abc-123", True), ("x" * 200, False), ("bad id;", False)])
def test_request_id_echoed_only_when_sane(client, given, kept):
    r = client.get("/healthz", headers={"X-Request-ID": given})
    assert (r.headers["X-Request-ID"] == given) is kept


def test_api_responses_are_not_cached(client):
    r = client.get("/api/v1/users/me")
    assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.postgres
def test_a_connection_lost_mid_request_does_not_fail_the_teardown(app, database_url):
    """The session's closing rollback meets a dead connection: the request still ends cleanly."""
    import psycopg
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()  # a transaction is open
        admin = database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    # Leaving the context ran the teardown without raising; the next request works.
    with app.app_context():
        assert db.session.execute(text("SELECT 1")).scalar() == 1
