"""The caller's logins: GET /auth/sessions and ending one with DELETE /auth/sessions/<id>."""

import pytest

from app import create_app
from tests.conftest import PASSWORD, make_config
from tests.test_auth import API, assert_problem, bearer


def login_as(client, email, agent, addr):
    r = client.post(
        f"{API}/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"User-Agent": agent},
        environ_base={"REMOTE_ADDR": addr},
    )
    assert r.status_code == 200
    return r.json


@pytest.fixture
def two_logins(client, auth):
    user = auth.user()
    phone = login_as(client, user.email, "Phone/1.0", "192.0.2.10")
    laptop = login_as(client, user.email, "Laptop/2.0", "192.0.2.20")
    return user, phone, laptop


def test_sessions_lists_active_logins_with_current_flag(client, two_logins):
    user, phone, laptop = two_logins
    r = client.get(f"{API}/auth/sessions", headers=bearer(laptop["access_token"]))
    assert r.status_code == 200
    items = r.json["items"]
    assert r.json["next_cursor"] is None
    assert len(items) == 3  # the fixture's own login, the phone, the laptop
    assert set(items[0]) == {
        "id",
        "url",
        "created_at",
        "updated_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "ip",
        "current",
    }
    newest = items[0]  # newest first
    assert (newest["user_agent"], newest["ip"], newest["current"]) == ("Laptop/2.0", "192.0.2.20", True)
    assert [item["current"] for item in items] == [True, False, False]
    assert items[1]["user_agent"] == "Phone/1.0" and items[1]["ip"] == "192.0.2.10"
    assert newest["url"] == f"http://localhost{API}/auth/sessions/{newest['id']}"
    assert newest["created_at"].endswith("Z")


def test_sessions_are_paginated(client, two_logins):
    user, phone, laptop = two_logins
    headers = bearer(laptop["access_token"])
    first = client.get(f"{API}/auth/sessions?limit=2", headers=headers)
    assert len(first.json["items"]) == 2 and first.json["next_cursor"]
    assert 'rel="next"' in first.headers["Link"]
    second = client.get(f"{API}/auth/sessions?limit=2&cursor={first.json['next_cursor']}", headers=headers)
    assert len(second.json["items"]) == 1 and second.json["next_cursor"] is None
    ids = [item["id"] for item in first.json["items"] + second.json["items"]]
    assert len(set(ids)) == 3
    assert_problem(client.get(f"{API}/auth/sessions?sort=ip", headers=headers), 400)
    assert_problem(client.get(f"{API}/auth/sessions?cursor=bogus", headers=headers), 400)


def test_sessions_hide_revoked_logins_and_other_users(client, auth, two_logins):
    user, phone, laptop = two_logins
    stranger = auth.user()
    client.post(f"{API}/auth/logout", headers=bearer(phone["access_token"]))
    items = client.get(f"{API}/auth/sessions", headers=bearer(laptop["access_token"])).json["items"]
    assert [item["user_agent"] for item in items][:1] == ["Laptop/2.0"]
    assert len(items) == 2 and "Phone/1.0" not in [item["user_agent"] for item in items]
    assert len(client.get(f"{API}/auth/sessions", headers=stranger.headers).json["items"]) == 1


def _session_id(client, token, agent):
    items = client.get(f"{API}/auth/sessions", headers=bearer(token)).json["items"]
    return next(item["id"] for item in items if item["user_agent"] == agent)


def test_delete_session_ends_that_login_everywhere(client, database_url, two_logins):
    user, phone, laptop = two_logins
    phone_id = _session_id(client, laptop["access_token"], "Phone/1.0")
    second = create_app(make_config(database_url)).test_client()
    assert second.get(f"{API}/users/me", headers=bearer(phone["access_token"])).status_code == 200
    r = client.delete(f"{API}/auth/sessions/{phone_id}", headers=bearer(laptop["access_token"]))
    assert r.status_code == 204 and "Set-Cookie" not in r.headers
    assert_problem(second.get(f"{API}/users/me", headers=bearer(phone["access_token"])), 401)
    assert_problem(second.post(f"{API}/auth/refresh", headers=bearer(phone["refresh_token"])), 401)
    assert client.get(f"{API}/users/me", headers=bearer(laptop["access_token"])).status_code == 200
    # Already ended: it is gone.
    assert_problem(client.delete(f"{API}/auth/sessions/{phone_id}", headers=bearer(laptop["access_token"])), 404)


def test_get_one_session(client, two_logins):
    user, phone, laptop = two_logins
    phone_id = _session_id(client, laptop["access_token"], "Phone/1.0")
    r = client.get(f"{API}/auth/sessions/{phone_id}", headers=bearer(laptop["access_token"]))
    assert r.status_code == 200 and r.json["id"] == phone_id and r.json["current"] is False


def test_delete_current_session_logs_out(client, two_logins):
    user, phone, laptop = two_logins
    laptop_id = _session_id(client, laptop["access_token"], "Laptop/2.0")
    r = client.delete(f"{API}/auth/sessions/{laptop_id}", headers=bearer(laptop["access_token"]))
    assert r.status_code == 204 and "access_token_cookie=;" in r.headers.get("Set-Cookie", "")
    assert_problem(client.get(f"{API}/users/me", headers=bearer(laptop["access_token"])), 401)


def test_another_users_session_is_404(client, auth, two_logins):
    user, phone, laptop = two_logins
    stranger = auth.user()
    phone_id = _session_id(client, laptop["access_token"], "Phone/1.0")
    assert_problem(client.delete(f"{API}/auth/sessions/{phone_id}", headers=stranger.headers), 404)
    assert_problem(client.get(f"{API}/auth/sessions/{phone_id}", headers=stranger.headers), 404)
    assert_problem(client.delete(f"{API}/auth/sessions/999999", headers=stranger.headers), 404)
    assert client.get(f"{API}/users/me", headers=bearer(phone["access_token"])).status_code == 200


def test_refresh_updates_last_used_at_and_keeps_the_session(client, two_logins):
    user, phone, laptop = two_logins
    phone_id = _session_id(client, laptop["access_token"], "Phone/1.0")
    pair = client.post(f"{API}/auth/refresh", headers=bearer(phone["refresh_token"])).json
    items = client.get(f"{API}/auth/sessions", headers=bearer(pair["access_token"])).json["items"]
    phone_item = next(item for item in items if item["id"] == phone_id)
    assert phone_item["current"] is True
    assert phone_item["last_used_at"] >= phone_item["created_at"]


def test_session_etag_and_if_match(client, two_logins):
    user, phone, laptop = two_logins
    headers = bearer(laptop["access_token"])
    phone_id = _session_id(client, laptop["access_token"], "Phone/1.0")
    r = client.get(f"{API}/auth/sessions/{phone_id}", headers=headers)
    assert (
        client.get(
            f"{API}/auth/sessions/{phone_id}", headers={**headers, "If-None-Match": r.headers["ETag"]}
        ).status_code
        == 304
    )
    stale = client.delete(f"{API}/auth/sessions/{phone_id}", headers={**headers, "If-Match": '"stale"'})
    assert_problem(stale, 412)
    current = client.delete(f"{API}/auth/sessions/{phone_id}", headers={**headers, "If-Match": r.headers["ETag"]})
    assert current.status_code == 204
