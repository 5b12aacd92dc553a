"""Browser SPAs: HttpOnly token cookies, the CSRF double submit, cookie attributes, logout."""

import pytest

from app import create_app
from tests.conftest import PASSWORD, make_config
from tests.test_auth import API, assert_problem


def cookie_login(client, auth):
    user = auth.user()
    r = client.post(f"{API}/auth/login", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 200
    return user, r


PATHS = {"access_token_cookie": "/api/", "refresh_token_cookie": "/api/v1/auth/"}


def cookie(client, name):
    found = client.get_cookie(name, path=PATHS.get(name, "/"))
    return found.value if found else None


def set_cookies(response):
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def test_login_sets_httponly_token_cookies_and_readable_csrf_cookies(client, auth):
    _, r = cookie_login(client, auth)
    cookies = set_cookies(r)
    assert set(cookies) == {"access_token_cookie", "csrf_access_token", "refresh_token_cookie", "csrf_refresh_token"}
    assert "HttpOnly" in cookies["access_token_cookie"] and "Path=/api/" in cookies["access_token_cookie"]
    assert "HttpOnly" in cookies["refresh_token_cookie"] and "Path=/api/v1/auth/" in cookies["refresh_token_cookie"]
    assert "HttpOnly" not in cookies["csrf_access_token"] and "HttpOnly" not in cookies["csrf_refresh_token"]
    assert "SameSite=Lax" in cookies["access_token_cookie"]
    assert "Secure" not in cookies["access_token_cookie"]  # development over plain http


def test_cookie_attributes_follow_configuration(auth, database_url):
    app = create_app(make_config(database_url, COOKIE_SECURE=True, COOKIE_SAMESITE="Strict"))
    client = app.test_client()
    client.post(f"{API}/auth/register", json={"email": "spa@example.com", "password": PASSWORD})
    r = client.post(f"{API}/auth/login", json={"email": "spa@example.com", "password": PASSWORD})
    for header in set_cookies(r).values():
        assert "Secure" in header and "SameSite=Strict" in header


def test_cookie_authenticated_read_needs_no_csrf_header(client, auth):
    user, _ = cookie_login(client, auth)
    r = client.get(f"{API}/users/me")
    assert r.status_code == 200 and r.json["id"] == user.id


def test_cookie_authenticated_write_without_csrf_header_is_401(client, auth):
    cookie_login(client, auth)
    body = assert_problem(client.patch(f"{API}/users/me", json={"display_name": "X"}), 401)
    assert body["detail"] == "Authentication is required: Missing CSRF token."


def test_cookie_authenticated_write_with_wrong_csrf_header_is_401(client, auth):
    cookie_login(client, auth)
    r = client.patch(f"{API}/users/me", json={"display_name": "X"}, headers={"X-CSRF-TOKEN": "forged"})
    body = assert_problem(r, 401)
    assert body["detail"] == "Authentication is required: CSRF double submit tokens do not match."


def test_cookie_authenticated_write_with_csrf_header_works(client, auth):
    cookie_login(client, auth)
    r = client.patch(
        f"{API}/users/me", json={"display_name": "Spa"}, headers={"X-CSRF-TOKEN": cookie(client, "csrf_access_token")}
    )
    assert r.status_code == 200 and r.json["display_name"] == "Spa"


def test_cookie_refresh_needs_the_refresh_csrf_token(client, auth):
    cookie_login(client, auth)
    assert_problem(client.post(f"{API}/auth/refresh"), 401)
    access_csrf = cookie(client, "csrf_access_token")
    assert_problem(client.post(f"{API}/auth/refresh", headers={"X-CSRF-TOKEN": access_csrf}), 401)
    r = client.post(f"{API}/auth/refresh", headers={"X-CSRF-TOKEN": cookie(client, "csrf_refresh_token")})
    assert r.status_code == 200
    assert set(set_cookies(r)) == {
        "access_token_cookie",
        "csrf_access_token",
        "refresh_token_cookie",
        "csrf_refresh_token",
    }
    assert client.get(f"{API}/users/me").status_code == 200


def test_cookie_logout_needs_csrf_and_unsets_cookies(client, auth):
    cookie_login(client, auth)
    old_access = cookie(client, "access_token_cookie")
    assert old_access
    assert_problem(client.post(f"{API}/auth/logout"), 401)
    r = client.post(f"{API}/auth/logout", headers={"X-CSRF-TOKEN": cookie(client, "csrf_access_token")})
    assert r.status_code == 204
    cleared = set_cookies(r)
    assert set(cleared) == {"access_token_cookie", "csrf_access_token", "refresh_token_cookie", "csrf_refresh_token"}
    assert all("Max-Age=0" in header and "Expires=Thu, 01 Jan 1970" in header for header in cleared.values())
    assert all("SameSite=Lax" in header for header in cleared.values())
    assert "HttpOnly" in cleared["access_token_cookie"] and "HttpOnly" not in cleared["csrf_access_token"]
    assert cookie(client, "access_token_cookie") is None
    # The session is revoked too, so a copy of the cookie kept by an attacker is dead.
    client.set_cookie("access_token_cookie", old_access, path="/api/")
    assert_problem(client.get(f"{API}/users/me"), 401)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_bearer_header_writes_need_no_csrf(client, auth, method):
    user = auth.user()
    r = getattr(client, method)(f"{API}/users/me", headers=user.headers, json={"display_name": "B"})
    assert r.status_code in {200, 204, 405}
    assert r.status_code != 401
