"""The caller's profile, password and account; admin user management; the create-admin command."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuthSession, Membership, TodoList, User
from tests.conftest import PASSWORD
from tests.sql import count_statements
from tests.test_auth import API, _set_user, assert_problem, bearer

NEW_PASSWORD = "a-brand-new-passphrase"


# /users/me


def test_me_returns_profile_with_etag(client, auth):
    user = auth.user(display_name="Ann")
    r = client.get(f"{API}/users/me", headers=user.headers)
    assert r.status_code == 200
    assert r.json["email"] == user.email and r.json["display_name"] == "Ann" and r.json["role"] == "user"
    assert "password_hash" not in r.json
    assert r.headers["Cache-Control"] == "no-store"
    again = client.get(f"{API}/users/me", headers={**user.headers, "If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_me_runs_exactly_one_statement(app, client, auth):
    user = auth.user()
    with count_statements(app) as statements:
        r = client.get(f"{API}/users/me", headers=user.headers)
    assert r.status_code == 200
    assert len(statements) == 1, statements


def test_patch_me_changes_display_name_and_clears_it(client, auth):
    user = auth.user()
    r = client.patch(f"{API}/users/me", headers=user.headers, json={"display_name": "New"})
    assert r.status_code == 200 and r.json["display_name"] == "New"
    r = client.patch(f"{API}/users/me", headers=user.headers, json={"display_name": None})
    assert r.status_code == 200 and r.json["display_name"] is None


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"role": "admin"}, {"role": ["Unknown field."]}),
        ({"is_active": True}, {"is_active": ["Unknown field."]}),
        ({"id": 1}, {"id": ["Unknown field."]}),
        ({"email": "new@example.com"}, {"email": ["Email cannot be changed."]}),
        ({"display_name": ""}, {"display_name": ["Length must be between 1 and 100."]}),
        ({"display_name": "x" * 101}, {"display_name": ["Length must be between 1 and 100."]}),
        ({"password": "whatever-else"}, {"password": ["Unknown field."]}),
    ],
)
def test_patch_me_is_strict(client, auth, body, errors):
    user = auth.user()
    r = client.patch(f"{API}/users/me", headers=user.headers, json=body)
    assert assert_problem(r, 422)["errors"] == errors
    assert client.get(f"{API}/users/me", headers=user.headers).json["role"] == "user"


def test_patch_me_with_stale_if_match_is_412(client, auth):
    user = auth.user()
    etag = client.get(f"{API}/users/me", headers=user.headers).headers["ETag"]
    client.patch(f"{API}/users/me", headers=user.headers, json={"display_name": "One"})
    r = client.patch(f"{API}/users/me", headers={**user.headers, "If-Match": etag}, json={"display_name": "Two"})
    assert_problem(r, 412)


# Password change


def test_change_password_keeps_caller_and_ends_other_logins(client, auth):
    user = auth.user()
    other = auth.login(user.email)
    r = client.put(
        f"{API}/users/me/password",
        headers=user.headers,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert r.status_code == 204 and r.data == b""
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 200
    assert client.post(f"{API}/auth/refresh", headers=bearer(user.refresh)).status_code == 200
    assert_problem(client.get(f"{API}/users/me", headers=bearer(other["access_token"])), 401)
    assert_problem(client.post(f"{API}/auth/refresh", headers=bearer(other["refresh_token"])), 401)
    assert_problem(client.post(f"{API}/auth/login", json={"email": user.email, "password": PASSWORD}), 401)
    assert auth.login(user.email, NEW_PASSWORD)["access_token"]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"current_password": "wrong-password", "new_password": NEW_PASSWORD},
            {"current_password": ["Incorrect password."]},
        ),
        (
            {"current_password": PASSWORD, "new_password": "short"},
            {"new_password": ["Length must be between 8 and 128."]},
        ),
        (
            {"current_password": PASSWORD, "new_password": "iloveyou"},
            {"new_password": ["This password is too common; choose another."]},
        ),
        ({"new_password": NEW_PASSWORD}, {"current_password": ["Missing data for required field."]}),
    ],
)
def test_change_password_validation(client, auth, body, errors):
    user = auth.user()
    r = client.put(f"{API}/users/me/password", headers=user.headers, json=body)
    assert assert_problem(r, 422)["errors"] == errors
    assert auth.login(user.email)["access_token"]  # the password did not change


def _stale_token(client, user):
    return client.post(f"{API}/auth/refresh", headers=bearer(user.refresh)).json["access_token"]


def test_change_password_needs_a_fresh_token(client, auth):
    user = auth.user()
    r = client.put(
        f"{API}/users/me/password",
        headers=bearer(_stale_token(client, user)),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert assert_problem(r, 401)["detail"] == "This action needs a fresh login: log in again."


def test_delete_me_needs_a_fresh_token(client, auth):
    user = auth.user()
    r = client.delete(f"{API}/users/me", headers=bearer(_stale_token(client, user)))
    assert assert_problem(r, 401)["detail"] == "This action needs a fresh login: log in again."
    assert auth.login(user.email)["access_token"]


# Deleting an account


def _make_list(app, name, members):
    with app.app_context():
        todo_list = TodoList(name=name)
        db.session.add(todo_list)
        db.session.flush()
        for user_id, role in members:
            db.session.add(Membership(list_id=todo_list.id, user_id=user_id, role=role))
        db.session.commit()
        return todo_list.id


def test_delete_me_deletes_account_sole_owned_lists_and_memberships(app, client, auth):
    ann, bob = auth.user(), auth.user()
    alone = _make_list(app, "alone", [(ann.id, "owner"), (bob.id, "editor")])
    shared = _make_list(app, "shared", [(ann.id, "owner"), (bob.id, "owner")])
    bobs = _make_list(app, "bobs", [(bob.id, "owner"), (ann.id, "viewer")])
    r = client.delete(f"{API}/users/me", headers=ann.headers)
    assert r.status_code == 204
    with app.app_context():
        assert db.session.get(User, ann.id) is None
        assert db.session.get(TodoList, alone) is None
        assert {db.session.get(TodoList, shared).name, db.session.get(TodoList, bobs).name} == {"shared", "bobs"}
        members = db.session.execute(select(Membership.list_id, Membership.user_id)).all()
        assert sorted(members) == sorted([(shared, bob.id), (bobs, bob.id)])
        assert db.session.execute(select(AuthSession).where(AuthSession.user_id == ann.id)).first() is None
    assert_problem(client.get(f"{API}/users/me", headers=ann.headers), 401)
    assert_problem(client.post(f"{API}/auth/login", json={"email": ann.email, "password": PASSWORD}), 401)


# Admin: roles, demotion, deactivation


def test_non_admin_gets_403_on_every_users_endpoint_but_me(client, auth):
    user = auth.user()
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 200
    for method, path in [
        ("get", "/users"),
        ("get", f"/users/{user.id}"),
        ("patch", f"/users/{user.id}"),
        ("delete", f"/users/{user.id}"),
        ("get", "/users/999"),
    ]:
        r = getattr(client, method)(f"{API}{path}", headers=user.headers, json={"role": "admin"})
        assert assert_problem(r, 403)["detail"] == "This needs the admin role."


def test_anonymous_gets_401_on_users(client):
    assert_problem(client.get(f"{API}/users"), 401)


def test_admin_reads_changes_and_deletes_users(client, auth):
    admin, user = auth.user(role="admin"), auth.user()
    r = client.get(f"{API}/users/{user.id}", headers=admin.headers)
    assert r.status_code == 200 and r.json["email"] == user.email and "ETag" in r.headers
    r = client.patch(
        f"{API}/users/{user.id}", headers=admin.headers, json={"role": "admin", "display_name": "Promoted"}
    )
    assert r.status_code == 200 and r.json["role"] == "admin" and r.json["display_name"] == "Promoted"
    assert client.get(f"{API}/users", headers=user.headers).status_code == 200  # promotion bites at once too
    assert client.delete(f"{API}/users/{user.id}", headers=admin.headers).status_code == 204
    assert_problem(client.get(f"{API}/users/{user.id}", headers=admin.headers), 404)
    assert_problem(client.get(f"{API}/users/me", headers=user.headers), 401)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"email": "x@example.com"}, {"email": ["Email cannot be changed."]}),
        ({"role": "root"}, {"role": ["Must be one of: user, admin."]}),
        ({"is_active": "maybe"}, {"is_active": ["Not a valid boolean: use true or false."]}),
        ({"is_active": "true"}, {"is_active": ["Not a valid boolean: use true or false."]}),
        ({"is_active": 1}, {"is_active": ["Not a valid boolean: use true or false."]}),
        ({"is_active": 0}, {"is_active": ["Not a valid boolean: use true or false."]}),
        ({"is_active": None}, {"is_active": ["Field may not be null."]}),
        ({"id": 5}, {"id": ["Unknown field."]}),
        ({"password": "anything-at-all"}, {"password": ["Unknown field."]}),
    ],
)
def test_admin_patch_is_strict(client, auth, body, errors):
    admin, user = auth.user(role="admin"), auth.user()
    r = client.patch(f"{API}/users/{user.id}", headers=admin.headers, json=body)
    assert assert_problem(r, 422)["errors"] == errors


def test_demotion_bites_on_the_next_request(client, auth, app):
    admin = auth.user(role="admin")
    assert client.get(f"{API}/users", headers=admin.headers).status_code == 200
    _set_user(app, admin.id, role="user")
    assert_problem(client.get(f"{API}/users", headers=admin.headers), 403)
    assert client.get(f"{API}/users/me", headers=admin.headers).status_code == 200


def test_demotion_by_another_admin_bites_on_the_next_request(client, auth):
    first, second = auth.user(role="admin"), auth.user(role="admin")
    assert client.patch(f"{API}/users/{second.id}", headers=first.headers, json={"role": "user"}).status_code == 200
    assert_problem(client.get(f"{API}/users", headers=second.headers), 403)


def test_deactivation_bites_on_the_next_request_and_survives_reactivation(client, auth):
    admin, user = auth.user(role="admin"), auth.user()
    assert client.get(f"{API}/users/me", headers=user.headers).status_code == 200
    r = client.patch(f"{API}/users/{user.id}", headers=admin.headers, json={"is_active": False})
    assert r.status_code == 200 and r.json["is_active"] is False
    assert_problem(client.get(f"{API}/users/me", headers=user.headers), 401)
    assert_problem(client.post(f"{API}/auth/login", json={"email": user.email, "password": PASSWORD}), 401)
    client.patch(f"{API}/users/{user.id}", headers=admin.headers, json={"is_active": True})
    # Reactivation lets the user log in again but does not revive the old tokens.
    assert_problem(client.get(f"{API}/users/me", headers=user.headers), 401)
    assert auth.login(user.email)["access_token"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "/users/{id}", {"role": "user"}),
        ("patch", "/users/{id}", {"is_active": False}),
        ("delete", "/users/{id}", None),
        ("delete", "/users/me", None),
    ],
)
def test_last_active_admin_cannot_remove_themselves(client, auth, method, path, body):
    admin = auth.user(role="admin")
    auth.user()  # a plain user does not count
    r = getattr(client, method)(f"{API}{path.format(id=admin.id)}", headers=admin.headers, json=body)
    assert "last active admin" in assert_problem(r, 409)["detail"]
    assert client.get(f"{API}/users/me", headers=admin.headers).json["role"] == "admin"


def test_admin_may_step_down_when_another_active_admin_remains(client, auth, app):
    first, second = auth.user(role="admin"), auth.user(role="admin")
    _set_user(app, second.id, is_active=False)  # an inactive admin does not count
    assert_problem(client.patch(f"{API}/users/{first.id}", headers=first.headers, json={"role": "user"}), 409)
    _set_user(app, second.id, is_active=True)
    r = client.patch(f"{API}/users/{first.id}", headers=first.headers, json={"role": "user"})
    assert r.status_code == 200 and r.json["role"] == "user"


# Admin: the user list


def _emails(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["email"] for item in response.json["items"]]


def test_user_list_filters(client, auth, app):
    admin = auth.user(email="admin@example.com", role="admin")
    auth.user(email="ann@example.com", display_name="Ann Smith")
    auth.user(email="bob@example.com", display_name="Bob 100%")
    carl = auth.user(email="carl@sample.org")
    _set_user(app, carl.id, is_active=False)
    get = lambda query: client.get(f"{API}/users?{query}", headers=admin.headers)  # noqa: E731
    assert _emails(get("")) == ["admin@example.com", "ann@example.com", "bob@example.com", "carl@sample.org"]
    assert _emails(get("role=admin")) == ["admin@example.com"]
    assert _emails(get("is_active=false")) == ["carl@sample.org"]
    assert _emails(get("is_active=true&role=user")) == ["ann@example.com", "bob@example.com"]
    assert _emails(get("q=SAMPLE")) == ["carl@sample.org"]
    assert _emails(get("q=smith")) == ["ann@example.com"]
    assert _emails(get("q=100%25")) == ["bob@example.com"]
    assert _emails(get("q=_")) == []
    assert _emails(get("sort=-email")) == ["carl@sample.org", "bob@example.com", "ann@example.com", "admin@example.com"]


@pytest.mark.parametrize(
    "query", ["is_active=maybe", "role=root", "limit=0", "limit=201", "sort=password_hash", "cursor=nonsense"]
)
def test_user_list_bad_query_is_400(client, auth, query):
    admin = auth.user(role="admin")
    assert_problem(client.get(f"{API}/users?{query}", headers=admin.headers), 400)


def test_user_list_pages_with_cursor_and_link(client, auth):
    admin = auth.user(role="admin")
    for _ in range(4):
        auth.user()
    seen, url = [], f"{API}/users?limit=2"
    while url:
        r = client.get(url, headers=admin.headers)
        assert r.status_code == 200 and len(r.json["items"]) <= 2
        seen += [item["id"] for item in r.json["items"]]
        if r.json["next_cursor"]:
            assert r.headers["Link"].endswith('>; rel="next"')
            url = r.headers["Link"][1:].split(">")[0]
        else:
            assert "Link" not in r.headers
            url = None
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 5


def test_user_list_runs_a_fixed_number_of_statements(app, client, auth):
    admin = auth.user(role="admin")
    for _ in range(5):
        auth.user()
    with count_statements(app) as small:
        client.get(f"{API}/users?limit=2", headers=admin.headers)
    with count_statements(app) as large:
        client.get(f"{API}/users?limit=50", headers=admin.headers)
    assert len(small) == len(large) == 2


# The create-admin command


def _cli(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["users", "create-admin", *args], input=input)


def test_create_admin_from_stdin(app, client):
    result = _cli(app, "Root@Example.com", "--password-stdin", input="a-long-admin-passphrase\n")
    assert result.exit_code == 0, result.output
    assert "Created admin root@example.com." in result.output
    r = client.post(f"{API}/auth/login", json={"email": "root@example.com", "password": "a-long-admin-passphrase"})
    me = client.get(f"{API}/users/me", headers=bearer(r.json["access_token"])).json
    assert me["role"] == "admin" and me["is_active"] is True


def test_create_admin_with_hidden_prompt_and_confirmation(app):
    result = _cli(app, "root@example.com", input="a-long-admin-passphrase\na-long-admin-passphrase\n")
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert "a-long-admin-passphrase" not in result.output


def test_create_admin_prompt_mismatch_asks_again(app):
    result = _cli(app, "root@example.com", input="a-long-admin-passphrase\nsomething-else-entirely\n")
    assert result.exit_code != 0
    with app.app_context():
        assert db.session.execute(select(User)).first() is None


def test_create_admin_promotes_an_existing_user(app, auth, client):
    user = auth.user()
    _set_user(app, user.id, is_active=False)
    result = _cli(app, user.email.upper())
    assert result.exit_code == 0 and "is now an admin" in result.output
    me = client.get(f"{API}/users/me", headers=bearer(auth.login(user.email)["access_token"])).json
    assert me["role"] == "admin" and me["is_active"] is True


@pytest.mark.parametrize(
    ("email", "password"),
    [("not-an-email", "a-long-admin-passphrase"), ("root@example.com", "password"), ("root@example.com", "12345678")],
)
def test_create_admin_refuses_bad_input(app, email, password):
    result = _cli(app, email, "--password-stdin", input=password + "\n")
    assert result.exit_code == 1
    with app.app_context():
        assert db.session.execute(select(User)).first() is None


@pytest.mark.parametrize("existing", [False, True])
def test_create_admin_holds_no_transaction_while_a_person_types(app, database_url, monkeypatch, existing):
    """At the password prompt, other writers go through at once (on SQLite the open transaction held the lock)."""
    import sqlite3

    from app import commands

    if existing:
        _cli(app, "other@example.com", "--password-stdin", input="a-long-admin-passphrase\n")
    seen = {}

    def person_types(from_stdin):
        seen["in_transaction"] = db.session().in_transaction()
        if database_url.startswith("sqlite"):
            writer = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=1)
            try:
                writer.execute("UPDATE users SET display_name = 'x' WHERE id = -1")
                writer.commit()
                seen["writer"] = "ok"
            except sqlite3.OperationalError as e:
                seen["writer"] = str(e)
            finally:
                writer.close()
        return "a-long-admin-passphrase"

    monkeypatch.setattr(commands, "_read_password", person_types)
    result = _cli(app, "root@example.com")
    assert result.exit_code == 0, result.output
    assert seen["in_transaction"] is False
    assert seen.get("writer", "ok") == "ok"
