"""Registration, login, refresh rotation with reuse detection, logout, token checks."""

import time
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest

from app import create_app
from app.auth.passwords import COMMON_PASSWORDS
from tests.conftest import PASSWORD, make_config
from tests.problems import assert_problem

API = "/api/v1"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def login(client, email, password=PASSWORD, **kwargs):
    return client.post(f"{API}/auth/login", json={"email": email, "password": password}, **kwargs)


# Registration


def test_register_answers_201_with_location_and_no_secret(client):
    r = client.post(
        f"{API}/auth/register", json={"email": "Ann@Example.com", "password": PASSWORD, "display_name": "Ann"}
    )
    assert r.status_code == 201
    body = r.json
    assert r.headers["Location"] == body["url"] == f"http://localhost{API}/users/{body['id']}"
    assert body["email"] == "ann@example.com"
    assert body["role"] == "user" and body["is_active"] is True and body["display_name"] == "Ann"
    assert set(body) == {
        "id",
        "url",
        "email",
        "email_verified",
        "display_name",
        "timezone",
        "role",
        "is_active",
        "created_at",
        "updated_at",
    }
    assert "password" not in r.get_data(as_text=True)


def test_register_duplicate_email_is_409_case_insensitively(client, auth):
    auth.user(email="bob@example.com")
    r = client.post(f"{API}/auth/register", json={"email": "BOB@example.COM", "password": PASSWORD})
    body = assert_problem(r, 409)
    assert body["errors"] == {"email": ["Already registered."]}


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short7c", "Length must be between 8 and 128."),
        ("x" * 129, "Length must be between 8 and 128."),
        ("password1", "This password is too common; choose another."),
        ("PassWord1", "This password is too common; choose another."),
        ("qwertyuiop", "This password is too common; choose another."),
    ],
)
def test_register_refuses_bad_passwords(client, password, message):
    body = assert_problem(
        client.post(f"{API}/auth/register", json={"email": "a@example.com", "password": password}), 422
    )
    assert body["errors"] == {"password": [message]}


def test_register_accepts_128_characters(client):
    r = client.post(f"{API}/auth/register", json={"email": "a@example.com", "password": "Zq9!" * 32})
    assert r.status_code == 201


def test_common_password_list_is_real_and_large():
    assert len(COMMON_PASSWORDS) > 5000
    assert {"password", "12345678", "iloveyou", "sunshine"} <= COMMON_PASSWORDS
    assert all(8 <= len(p) <= 128 for p in COMMON_PASSWORDS)


@pytest.mark.parametrize("field", ["role", "id", "is_active", "created_at", "password_hash"])
def test_register_refuses_privileged_fields(client, field):
    value = {"role": "admin", "id": 7, "is_active": True, "created_at": "2026-01-01T00:00:00Z", "password_hash": "x"}[
        field
    ]
    r = client.post(f"{API}/auth/register", json={"email": "a@example.com", "password": PASSWORD, field: value})
    body = assert_problem(r, 422)
    assert body["errors"] == {field: ["Unknown field."]}


@pytest.mark.parametrize("endpoint", ["register", "login"])
def test_over_long_password_is_refused_before_hashing(client, monkeypatch, endpoint):
    import app.resources.auth as resources

    def fail(*args):
        raise AssertionError("hashed an over-long password")

    monkeypatch.setattr(resources, "hash_password", fail)
    monkeypatch.setattr(resources, "verify_password", fail)
    r = client.post(f"{API}/auth/{endpoint}", json={"email": "a@example.com", "password": "p" * 100_000})
    body = assert_problem(r, 422)
    assert list(body["errors"]) == ["password"]


# Login


def test_login_answers_tokens(client, auth, app):
    user = auth.user()
    r = login(client, user.email.upper())
    assert r.status_code == 200
    body = r.json
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    claims = pyjwt.decode(body["access_token"], app.config["JWT_SECRET_KEY"], algorithms=["HS256"])
    assert claims["sub"] == str(user.id) and claims["type"] == "access" and claims["fresh"] is True
    assert isinstance(claims["sid"], int)
    assert client.get(f"{API}/users/me", headers=bearer(body["access_token"])).json["id"] == user.id


def _without_request_id(response):
    body = dict(response.json)
    body.pop("request_id", None)
    return body


def test_wrong_password_and_unknown_email_answer_alike(client, auth):
    user = auth.user()
    wrong = login(client, user.email, "not-the-password")
    unknown = login(client, "nobody@example.com", "not-the-password")
    assert_problem(wrong, 401)
    assert_problem(unknown, 401)
    assert (
        _without_request_id(wrong)
        == _without_request_id(unknown)
        == {
            "type": "about:blank",
            "title": "Unauthorized",
            "status": 401,
            "detail": "The email or password is incorrect.",
        }
    )
    names = [sorted(name for name, _ in r.headers if name != "X-Request-ID") for r in (wrong, unknown)]
    assert names[0] == names[1]


@pytest.mark.serial  # compares timings: alone on the machine
@pytest.mark.real_password_hashing
def test_wrong_password_and_unknown_email_take_about_the_same_time(client, auth):
    user = auth.user()

    def fastest(email):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            assert login(client, email, "not-the-password").status_code == 401
            times.append(time.perf_counter() - start)
        return min(times)

    wrong, unknown = fastest(user.email), fastest("nobody@example.com")
    # Both verify one argon2id hash; an unknown email must not answer early.
    assert 0.5 < unknown / wrong < 2.0, (unknown, wrong)


def test_deactivated_user_cannot_log_in_and_answer_matches_wrong_password(client, auth, app):
    user = auth.user()
    _set_user(app, user.id, is_active=False)
    r = login(client, user.email)
    wrong = login(client, user.email, "not-the-password")
    assert_problem(r, 401)
    assert _without_request_id(r) == _without_request_id(wrong)


def _set_user(app, user_id, **values):
    from app.extensions import db
    from app.models import User

    with app.app_context():
        user = db.session.get(User, user_id)
        for name, value in values.items():
            setattr(user, name, value)
        db.session.commit()


# Refresh rotation and reuse detection


def test_refresh_rotates_and_old_refresh_token_is_refused(client, auth):
    user = auth.user()
    r = client.post(f"{API}/auth/refresh", headers=bearer(user.refresh))
    assert r.status_code == 200
    fresh_pair = r.json
    assert fresh_pair["refresh_token"] != user.refresh and fresh_pair["access_token"] != user.access
    assert client.get(f"{API}/users/me", headers=bearer(fresh_pair["access_token"])).status_code == 200
    r2 = client.post(f"{API}/auth/refresh", headers=bearer(fresh_pair["refresh_token"]))
    assert r2.status_code == 200


def test_refresh_token_reuse_revokes_the_whole_login(client, auth):
    user = auth.user()
    other = auth.login(user.email)  # a second login of the same user survives
    rotated = client.post(f"{API}/auth/refresh", headers=bearer(user.refresh)).json
    body = assert_problem(client.post(f"{API}/auth/refresh", headers=bearer(user.refresh)), 401)
    assert "already used" in body["detail"]
    # Every token of that login is now dead: the rotated pair and the original access token.
    assert_problem(client.post(f"{API}/auth/refresh", headers=bearer(rotated["refresh_token"])), 401)
    assert_problem(client.get(f"{API}/users/me", headers=bearer(rotated["access_token"])), 401)
    assert_problem(client.get(f"{API}/users/me", headers=bearer(user.access)), 401)
    assert client.get(f"{API}/users/me", headers=bearer(other["access_token"])).status_code == 200


def test_refreshed_access_token_is_not_fresh(client, auth, app):
    user = auth.user()
    pair = client.post(f"{API}/auth/refresh", headers=bearer(user.refresh)).json
    claims = pyjwt.decode(pair["access_token"], app.config["JWT_SECRET_KEY"], algorithms=["HS256"])
    assert claims["fresh"] is False


# Logout


def test_logout_ends_access_and_refresh_of_that_login_only(client, auth):
    user = auth.user()
    other = auth.login(user.email)
    r = client.post(f"{API}/auth/logout", headers=user.headers)
    assert r.status_code == 204 and r.data == b""
    assert_problem(client.get(f"{API}/users/me", headers=user.headers), 401)
    assert_problem(client.post(f"{API}/auth/refresh", headers=bearer(user.refresh)), 401)
    assert client.get(f"{API}/users/me", headers=bearer(other["access_token"])).status_code == 200


def test_logout_all_ends_every_login(client, auth):
    user = auth.user()
    other = auth.login(user.email)
    assert client.post(f"{API}/auth/logout-all", headers=user.headers).status_code == 204
    for token in (user.access, other["access_token"]):
        assert_problem(client.get(f"{API}/users/me", headers=bearer(token)), 401)
    for token in (user.refresh, other["refresh_token"]):
        assert_problem(client.post(f"{API}/auth/refresh", headers=bearer(token)), 401)


def test_logout_is_seen_by_a_second_app_instance(client, auth, database_url):
    user = auth.user()
    second = create_app(make_config(database_url)).test_client()
    assert second.get(f"{API}/users/me", headers=user.headers).status_code == 200
    assert client.post(f"{API}/auth/logout", headers=user.headers).status_code == 204
    body = assert_problem(second.get(f"{API}/users/me", headers=user.headers), 401)
    assert body["detail"] == "The token has been revoked."
    assert_problem(second.post(f"{API}/auth/refresh", headers=bearer(user.refresh)), 401)


def test_refresh_reuse_across_instances_is_detected(client, auth, database_url):
    user = auth.user()
    second = create_app(make_config(database_url)).test_client()
    assert second.post(f"{API}/auth/refresh", headers=bearer(user.refresh)).status_code == 200
    assert_problem(client.post(f"{API}/auth/refresh", headers=bearer(user.refresh)), 401)
    assert_problem(second.get(f"{API}/users/me", headers=user.headers), 401)


@pytest.mark.parametrize(
    "url",
    ["sqlite:////nonexistent-directory/todos.sqlite3", "postgresql://postgres@127.0.0.1:1/todos"],
    ids=["sqlite", "postgresql"],
)
def test_auth_fails_closed_when_the_database_is_down(auth, url):
    user = auth.user()
    down = create_app(make_config(url)).test_client()
    r = down.get(f"{API}/users/me", headers=user.headers)
    body = assert_problem(r, 503)
    assert body["detail"] == "The database is unavailable; try again shortly."


# Token checks


def _claims(app, token):
    return pyjwt.decode(token, app.config["JWT_SECRET_KEY"], algorithms=["HS256"])


def _forge(app, user, kind):
    claims = _claims(app, user.access)
    if kind == "alg-none":
        return pyjwt.encode(claims, None, algorithm="none")
    if kind == "wrong-key":
        return pyjwt.encode(claims, "another-secret-key-" + "z" * 32, algorithm="HS256")
    if kind == "expired":
        claims["exp"] = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())
        return pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    if kind == "hs512":
        return pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS512")
    if kind == "integer-sub":
        claims["sub"] = user.id
        return pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    if kind == "no-sid":
        del claims["sid"]
        return pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    if kind == "other-session":
        claims["sid"] += 1000
        return pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    if kind == "garbage":
        return "not.a.token"
    raise AssertionError(kind)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("alg-none", "The token is invalid: The specified alg value is not allowed."),
        ("wrong-key", "The token is invalid: Signature verification failed."),
        ("expired", "The token has expired."),
        ("hs512", "The token is invalid: The specified alg value is not allowed."),
        ("integer-sub", "The token is invalid: Subject must be a string."),
        ("no-sid", "The token has been revoked."),
        ("other-session", "The token has been revoked."),
        ("garbage", None),
    ],
)
def test_bad_tokens_are_401_problems(client, auth, app, kind, detail):
    user = auth.user()
    body = assert_problem(client.get(f"{API}/users/me", headers=bearer(_forge(app, user, kind))), 401)
    if detail:
        assert body["detail"] == detail


def test_refresh_token_is_not_an_access_token(client, auth):
    user = auth.user()
    body = assert_problem(client.get(f"{API}/users/me", headers=bearer(user.refresh)), 401)
    assert body["detail"] == "The token is invalid: Only non-refresh tokens are allowed."


def test_access_token_is_not_a_refresh_token(client, auth):
    user = auth.user()
    body = assert_problem(client.post(f"{API}/auth/refresh", headers=bearer(user.access)), 401)
    assert body["detail"] == "The token is invalid: Only refresh tokens are allowed."


def test_missing_token_is_401(client):
    body = assert_problem(client.get(f"{API}/users/me"), 401)
    assert body["detail"].startswith("Authentication is required")


@pytest.mark.parametrize("name", ["jwt", "access_token", "token"])
def test_token_in_query_string_is_ignored(client, auth, name):
    user = auth.user()
    assert_problem(client.get(f"{API}/users/me?{name}={user.access}"), 401)


def test_token_in_body_is_ignored(client, auth):
    user = auth.user()
    assert_problem(client.post(f"{API}/auth/logout", json={"access_token": user.access}), 401)
    assert_problem(client.post(f"{API}/auth/refresh", json={"refresh_token": user.refresh}), 401)


def test_concurrent_refreshes_with_one_token_let_only_one_win(auth, database_url):
    import threading

    user = auth.user()
    clients = [create_app(make_config(database_url)).test_client() for _ in range(2)]
    barrier, statuses = threading.Barrier(2), []

    def refresh(client):
        barrier.wait()
        statuses.append(client.post(f"{API}/auth/refresh", headers=bearer(user.refresh)).status_code)

    threads = [threading.Thread(target=refresh, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 401]
