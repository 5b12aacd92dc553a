"""Personal access tokens: creation from a login, the tdp_ format, scopes, revocation, last use."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import PersonalToken, User
from app.models.base import utcnow
from app.personal_tokens.token_format import checksum, new_token, well_formed
from tests.problems import assert_problem
from tests.sql import count_statements

TOKENS = "/api/v1/auth/tokens"


def create(client, who, scopes=("todos:read",), name="ci script", **extra):
    r = client.post(TOKENS, json={"name": name, "scopes": list(scopes), **extra}, headers=who.headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def token_rows(app):
    with app.app_context():
        return db.session.execute(select(PersonalToken)).scalars().all()


def rfc3339(moment):
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


@pytest.fixture
def alice(auth):
    return auth.user()


# --- the format -------------------------------------------------------------------------------


def test_new_tokens_carry_their_checksum():
    token = new_token()
    assert token.startswith("tdp_") and len(token) == 4 + 32 + 6
    assert well_formed(token)
    body = token[4:36]
    assert token[36:] == checksum(body)
    typo = token[:10] + ("a" if token[10] != "a" else "b") + token[11:]
    assert not well_formed(typo)
    assert not well_formed(token + "x") and not well_formed(token[:-1]) and not well_formed("tdp_" + "!" * 38)


# --- creation, listing, renaming, deletion ----------------------------------------------------


def test_create_shows_the_secret_once_and_stores_only_its_hash(app, client, alice):
    r = create(client, alice, scopes=["todos:read", "lists:write"], name="backup")
    body = r.json
    assert set(body) == {
        "id", "url", "name", "scopes", "token", "created_at", "updated_at", "expires_at", "last_used_at"
    }  # fmt: skip
    assert body["scopes"] == ["todos:read", "lists:write"] and body["name"] == "backup"
    assert body["last_used_at"] is None
    assert r.headers["Location"] == body["url"] == f"http://localhost{TOKENS}/{body['id']}"
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=89, hours=23) < expires - utcnow() <= timedelta(days=90)
    assert well_formed(body["token"])
    (row,) = token_rows(app)
    assert row.token_hash == hashlib.sha256(body["token"].encode()).hexdigest()
    assert body["token"] not in repr([getattr(row, c.name) for c in PersonalToken.__table__.columns])
    shown = client.get(body["url"], headers=alice.headers).json
    listed = client.get(TOKENS, headers=alice.headers).json["items"]
    assert "token" not in shown and [item["id"] for item in listed] == [body["id"]] and "token" not in listed[0]


def test_a_retry_with_the_same_key_creates_nothing_and_replays_without_the_secret(app, client, alice):
    from app.models import IdempotencyKey

    headers = {**alice.headers, "Idempotency-Key": "create-token-1"}
    body = {"name": "deploy", "scopes": ["todos:read"]}
    first = client.post(TOKENS, json=body, headers=headers)
    again = client.post(TOKENS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert well_formed(first.json["token"]) and again.json == {**first.json, "token": None}
    assert again.headers["Location"] == first.headers["Location"]
    assert len(token_rows(app)) == 1
    with app.app_context():
        stored = db.session.execute(select(IdempotencyKey.body)).scalars().all()
    assert stored and all(first.json["token"].encode() not in row for row in stored)


def test_tokens_are_private_to_their_owner(client, auth, alice):
    url = create(client, alice).json["url"]
    bob = auth.user()
    assert_problem(client.get(url, headers=bob.headers), 404)
    assert_problem(client.delete(url, headers=bob.headers), 404)
    assert client.get(TOKENS, headers=bob.headers).json["items"] == []


def test_rename_changes_only_the_name(client, alice):
    created = create(client, alice).json
    r = client.patch(created["url"], json={"name": "renamed"}, headers=alice.headers)
    assert r.status_code == 200 and r.json["name"] == "renamed" and r.json["scopes"] == created["scopes"]
    assert client.get("/api/v1/todos", headers=bearer(created["token"])).status_code == 200
    body = assert_problem(client.patch(created["url"], json={"scopes": ["exports"]}, headers=alice.headers), 422)
    assert "scopes" in body["errors"]


def test_delete_stops_the_token_at_once(client, alice):
    created = create(client, alice).json
    assert client.get("/api/v1/todos", headers=bearer(created["token"])).status_code == 200
    assert client.delete(created["url"], headers=alice.headers).status_code == 204
    assert_problem(client.get("/api/v1/todos", headers=bearer(created["token"])), 401)
    assert_problem(client.get(created["url"], headers=alice.headers), 404)
    assert client.get(TOKENS, headers=alice.headers).json["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": ["todos:read", "todos:admin"]}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": "todos:read"}, "scopes"),
        ({"name": "x"}, "scopes"),
        ({"name": "x", "scopes": ["todos:read"], "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "scopes": ["todos:read"], "expires_at": rfc3339(utcnow() + timedelta(days=367))}, "expires_at"),
        ({"name": "x", "scopes": ["todos:read"], "expires_at": "2027-01-01T00:00:00"}, "expires_at"),
        ({"name": "x" * 101, "scopes": ["todos:read"]}, "name"),
        ({"name": "", "scopes": ["todos:read"]}, "name"),
        ({"name": "   ", "scopes": ["todos:read"]}, "name"),
        ({"scopes": ["todos:read"]}, "name"),
        ({"name": "x", "scopes": ["todos:read"], "user_id": 1}, "user_id"),
        ({"name": "x", "scopes": ["todos:read"], "token": "tdp_mine"}, "token"),
    ],
)
def test_bad_input_is_a_422_keyed_by_field_and_creates_nothing(app, client, alice, body, field):
    problem = assert_problem(client.post(TOKENS, json=body, headers=alice.headers), 422)
    assert field in problem["errors"], problem
    assert token_rows(app) == []


def test_expiry_up_to_366_days_is_accepted(client, alice):
    when = utcnow() + timedelta(days=366) - timedelta(minutes=1)
    assert create(client, alice, expires_at=rfc3339(when)).json["expires_at"] == rfc3339(when)


# --- using a token ----------------------------------------------------------------------------


def test_a_token_works_within_its_scopes_and_write_includes_read(client, alice):
    reader = create(client, alice, scopes=["todos:read", "profile:read"]).json["token"]
    assert client.get("/api/v1/users/me", headers=bearer(reader)).json["id"] == alice.id
    assert client.get("/api/v1/todos", headers=bearer(reader)).status_code == 200
    writer = create(client, alice, scopes=["lists:write"]).json["token"]
    made = client.post("/api/v1/lists", json={"name": "From a script"}, headers=bearer(writer))
    assert made.status_code == 201
    assert client.get(made.json["url"], headers=bearer(writer)).status_code == 200


@pytest.mark.parametrize(
    ("scopes", "method", "path", "needed"),
    [
        (["todos:read"], "get", "/api/v1/lists", "lists:read"),
        (["lists:read"], "post", "/api/v1/lists", "lists:write"),
        (["todos:read"], "get", "/api/v1/users/me", "profile:read"),
        (["todos:write"], "get", "/api/v1/webhooks", "webhooks:read"),
        (["lists:write"], "get", "/api/v1/tags", "todos:read"),
    ],
)
def test_outside_its_scopes_is_a_403_naming_the_scope(client, alice, scopes, method, path, needed):
    token = create(client, alice, scopes=scopes).json["token"]
    r = getattr(client, method)(path, json={"name": "x"} if method == "post" else None, headers=bearer(token))
    body = assert_problem(r, 403)
    assert r.headers["WWW-Authenticate"] == f'Bearer error="insufficient_scope", scope="{needed}"'
    assert needed in body["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", TOKENS),
        ("post", TOKENS),
        ("post", "/api/v1/auth/logout"),
        ("post", "/api/v1/auth/logout-all"),
        ("post", "/api/v1/auth/refresh"),
        ("get", "/api/v1/auth/sessions"),
        ("put", "/api/v1/users/me/password"),
        ("patch", "/api/v1/users/me"),
        ("delete", "/api/v1/users/me"),
        ("get", "/api/v1/users"),
        ("get", "/api/v1/users/1"),
    ],
)
def test_a_token_never_reaches_login_only_endpoints(app, client, auth, method, path):
    admin = auth.user(role="admin")
    every = ["profile:read", "lists:write", "todos:write", "webhooks:write", "changes:read", "exports"]
    token = create(client, admin, scopes=every).json["token"]
    r = getattr(client, method)(path, json={}, headers=bearer(token))
    assert_problem(r, 403)
    assert r.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
    assert len(token_rows(app)) == 1  # a token cannot mint another


def test_a_token_is_never_read_from_a_cookie(app, alice):
    token = create(app.test_client(), alice).json["token"]
    browser = app.test_client()
    browser.set_cookie("access_token_cookie", token, path="/api/")
    assert_problem(browser.get("/api/v1/todos"), 401)


@pytest.mark.parametrize(
    "token",
    [
        "tdp_short",
        "tdp_" + "A" * 38,  # the right shape, a wrong checksum
        "tdp_" + "B" * 32 + checksum("B" * 32),  # well formed, never issued
        "tdp_" + "A" * 32 + checksum("A" * 32) + "=",
    ],
)
def test_a_bad_token_is_a_401(app, client, alice, token):
    create(client, alice)
    assert_problem(client.get("/api/v1/todos", headers=bearer(token)), 401)


def test_a_malformed_token_is_refused_without_a_database_lookup(app, client):
    typo = new_token()[:-1] + "0"
    typo = typo if not well_formed(typo) else typo[:-1] + "1"
    with count_statements(app) as statements:
        assert_problem(client.get("/api/v1/todos", headers=bearer(typo)), 401)
    assert statements == []


def test_an_expired_token_is_a_401(app, client, alice):
    created = create(client, alice).json
    with app.app_context():
        db.session.get(PersonalToken, created["id"]).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    body = assert_problem(client.get("/api/v1/todos", headers=bearer(created["token"])), 401)
    assert "expired" in body["detail"]


def test_the_principal_is_one_query_like_a_login(app, client, alice):
    token = create(client, alice, scopes=["profile:read"]).json["token"]
    client.get("/api/v1/users/me", headers=bearer(token))  # records the first use
    with count_statements(app) as with_jwt:
        assert client.get("/api/v1/users/me", headers=alice.headers).status_code == 200
    with count_statements(app) as with_token:
        assert client.get("/api/v1/users/me", headers=bearer(token)).status_code == 200
    assert len(with_token) == len(with_jwt) == 1
    assert "personal_tokens" in with_token[0] and "users" in with_token[0]


def test_last_used_at_is_kept_to_the_minute_with_one_write_per_minute(app, client, alice):
    created = create(client, alice).json
    with count_statements(app) as statements:
        for _ in range(3):
            assert client.get("/api/v1/todos", headers=bearer(created["token"])).status_code == 200
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1
    used = client.get(created["url"], headers=alice.headers).json["last_used_at"]
    assert used.endswith(":00Z")
    assert abs(datetime.fromisoformat(used.replace("Z", "+00:00")) - utcnow()) < timedelta(minutes=1, seconds=5)
    with app.app_context():  # a minute later, the next use writes again
        db.session.get(PersonalToken, created["id"]).last_used_at = utcnow() - timedelta(minutes=2)
        db.session.commit()
    with count_statements(app) as statements:
        client.get("/api/v1/todos", headers=bearer(created["token"]))
    assert sum(s.lstrip().upper().startswith("UPDATE") for s in statements) == 1


# --- what ends a token, and what does not -----------------------------------------------------


def test_deactivation_revokes_every_token_for_good(app, client, auth, alice):
    admin = auth.user(role="admin")
    token = create(client, alice).json["token"]
    user_url = f"/api/v1/users/{alice.id}"
    etag = client.get(user_url, headers=admin.headers).headers["ETag"]
    r = client.patch(user_url, json={"is_active": False}, headers={**admin.headers, "If-Match": etag})
    assert r.status_code == 200
    assert_problem(client.get("/api/v1/todos", headers=bearer(token)), 401)
    etag = r.headers["ETag"]
    client.patch(user_url, json={"is_active": True}, headers={**admin.headers, "If-Match": etag})
    assert_problem(client.get("/api/v1/todos", headers=bearer(token)), 401)
    assert all(row.revoked_at is not None for row in token_rows(app))


def test_account_deletion_deletes_every_token(app, client, alice):
    token = create(client, alice).json["token"]
    etag = client.get("/api/v1/users/me", headers=alice.headers).headers["ETag"]
    assert client.delete("/api/v1/users/me", headers={**alice.headers, "If-Match": etag}).status_code == 204
    assert_problem(client.get("/api/v1/todos", headers=bearer(token)), 401)
    assert token_rows(app) == []


def test_logout_all_and_a_password_change_leave_tokens_working(client, auth, alice):
    token = create(client, alice).json["token"]
    assert client.post("/api/v1/auth/logout-all", headers=alice.headers).status_code == 204
    fresh = auth.login(alice.email)
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    etag = client.get("/api/v1/users/me", headers=headers).headers["ETag"]
    body = {"current_password": alice.password, "new_password": "another-long-passphrase"}
    r = client.put("/api/v1/users/me/password", json=body, headers={**headers, "If-Match": etag})
    assert r.status_code == 204
    assert client.get("/api/v1/todos", headers=bearer(token)).status_code == 200


# --- the routing table ------------------------------------------------------------------------


def test_every_endpoint_and_method_has_a_scope_decision(app):
    from app.personal_tokens.scopes import LOGIN_ONLY, PUBLIC, SCOPES, endpoint_scope

    undecided = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"OPTIONS"}):
            decision = endpoint_scope(app, rule.endpoint, method)
            if decision not in (*SCOPES, PUBLIC, LOGIN_ONLY):
                undecided.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert undecided == [], "declare `scope` on these Resource classes (app/personal_tokens/scopes.py)"


def test_an_undeclared_endpoint_refuses_tokens(app, client, alice):
    from app.resources.tags import Tags

    token = create(client, alice, scopes=["todos:read"]).json["token"]
    del Tags.scope
    try:
        r = client.get("/api/v1/tags", headers=bearer(token))
    finally:
        Tags.scope = "todos"
    assert_problem(r, 403)
    assert client.get("/api/v1/tags", headers=alice.headers).status_code == 200


def test_scope_declarations():
    from app.personal_tokens.scopes import LOGIN_ONLY, needed_scope

    assert needed_scope("todos", "GET") == needed_scope("todos", "HEAD") == "todos:read"
    assert needed_scope("todos", "DELETE") == "todos:write"
    assert needed_scope("exports", "POST") == needed_scope("exports", "GET") == "exports"
    assert needed_scope("changes:read", "GET") == "changes:read"
    assert needed_scope({"get": "profile:read", "patch": LOGIN_ONLY}, "HEAD") == "profile:read"
    assert needed_scope({"get": "profile:read"}, "PUT") is None
    with pytest.raises(ValueError):
        needed_scope("changes", "GET")  # no changes:write: a family needs both


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_creates_a_token_for_an_account(app, client, alice):
    result = app.test_cli_runner().invoke(
        args=["tokens", "create", alice.email.upper(), "--name", "nightly", "--scopes", "todos:read,lists:read"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert well_formed(token)
    assert client.get("/api/v1/lists", headers=bearer(token)).status_code == 200
    (row,) = token_rows(app)
    assert (row.name, row.scopes, row.user_id) == ("nightly", ["todos:read", "lists:read"], alice.id)


@pytest.mark.parametrize(
    "args",
    [
        ["nobody@example.com", "--name", "x", "--scopes", "todos:read"],
        ["{email}", "--name", "x", "--scopes", "todos:admin"],
        ["{email}", "--name", "x", "--scopes", ""],
        ["{email}", "--name", "x" * 101, "--scopes", "todos:read"],
        ["{email}", "--name", "x", "--scopes", "todos:read", "--days", "400"],
    ],
)
def test_cli_refuses_bad_input_and_creates_nothing(app, alice, args):
    args = [a.replace("{email}", alice.email) for a in args]
    result = app.test_cli_runner().invoke(args=["tokens", "create", *args])
    assert result.exit_code != 0 and "tdp_" not in result.output
    assert token_rows(app) == []
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(User)).scalar() == 1


# --- the OpenAPI document ---------------------------------------------------------------------


def test_the_document_names_the_scope_of_each_operation(client):
    spec = client.get("/api/v1/openapi.json").json
    scheme = spec["components"]["securitySchemes"]["personalToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    paths = spec["paths"]
    assert paths["/api/v1/todos"]["get"]["x-required-scope"] == "todos:read"
    assert paths["/api/v1/lists"]["post"]["x-required-scope"] == "lists:write"
    assert paths["/api/v1/users/me"]["get"]["x-required-scope"] == "profile:read"
    assert {"personalToken": []} in paths["/api/v1/todos"]["get"]["security"]
    assert "403" in paths["/api/v1/todos"]["get"]["responses"]
    for path, method in [("/api/v1/auth/tokens", "post"), ("/api/v1/users/me", "delete"), ("/api/v1/users", "get")]:
        op = paths[path][method]
        assert op["x-personal-tokens"] is False and {"personalToken": []} not in op["security"], path
    for path, ops in paths.items():
        for method, op in ops.items():
            if method != "parameters" and {"bearerAuth": []} in op["security"]:
                assert "x-required-scope" in op or op.get("x-personal-tokens") is False, (method, path)
    created = paths["/api/v1/auth/tokens"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/PersonalToken"}
    assert "token" in spec["components"]["schemas"]["PersonalToken"]["properties"]


# --- rate limits and the revalidation cache ---------------------------------------------------


def test_the_rate_limit_counts_per_user_whatever_the_credential(database_url, auth):
    from app import create_app
    from tests.conftest import AuthActions, make_config

    app = create_app(make_config(database_url, RATELIMIT_ENABLED=True, RATE_LIMIT_DEFAULT="5 per minute"))
    client = app.test_client()
    alice = AuthActions(app).user()  # register + login: 2 requests from this address
    token = client.post(TOKENS, json={"name": "x", "scopes": ["todos:read"]}, headers=alice.headers).json["token"]
    statuses = [
        client.get("/api/v1/todos", headers=headers, environ_base={"REMOTE_ADDR": f"10.9.0.{i}"}).status_code
        for i, headers in enumerate([bearer(token), alice.headers, bearer(token), alice.headers, bearer(token)])
    ]
    assert statuses == [200, 200, 200, 200, 429]  # 5 per user: the create, then 4 reads by either credential


@pytest.mark.redis
def test_the_revalidation_cache_never_answers_a_personal_token(database_url, auth):
    import redis as redis_client

    from app import create_app
    from app.revalidation import PREFIX
    from tests.conftest import REDIS_URL, AuthActions, make_config
    from tests.factories import make_cast

    store = redis_client.Redis.from_url(REDIS_URL)
    for key in store.scan_iter(PREFIX + "*"):
        store.delete(key)
    app = create_app(make_config(database_url, REDIS_URL=REDIS_URL))
    client = app.test_client()
    cast = make_cast(app, AuthActions(app))
    path = f"/api/v1/todos/{cast.todo_id}"
    etag = client.get(path, headers=cast.owner.headers).headers["ETag"]
    for _ in range(2):  # the second is answered from Redis
        assert client.get(path, headers={**cast.owner.headers, "If-None-Match": etag}).status_code == 304

    def cached():
        return {
            key: store.get(key) for key in store.scan_iter(PREFIX + "*") if not key.endswith((b"counter", b"floor"))
        }

    reader = create(client, cast.owner, scopes=["todos:read"]).json
    before = cached()
    outsider = create(client, cast.owner, scopes=["lists:read"]).json["token"]
    with count_statements(app) as statements:
        r = client.get(path, headers={**bearer(reader["token"]), "If-None-Match": etag})
    assert r.status_code == 304 and statements  # through the database, every time
    assert cached() == before  # and nothing it proved was written to the cache
    r = client.get(path, headers={**bearer(outsider), "If-None-Match": etag})
    assert_problem(r, 403)
    assert client.delete(reader["url"], headers=cast.owner.headers).status_code == 204
    assert_problem(client.get(path, headers={**bearer(reader["token"]), "If-None-Match": etag}), 401)
    store.close()
