"""A request's token is verified once, by one HMAC; anything unusual takes flask-jwt-extended's own path."""

import time

import jwt
import pytest

from app.auth.claims import verify_hs256

KEY = b"k" * 40
NOW = int(time.time())


def _jwt(claims, key=KEY, algorithm="HS256", headers=None):
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


VALID = {"sub": "5", "exp": NOW + 600, "iat": NOW - 1, "nbf": NOW - 1}


@pytest.mark.parametrize(
    ("token", "subject"),
    [
        (_jwt(VALID), "5"),
        (_jwt({"sub": "5", "exp": NOW + 600}), "5"),
        (_jwt(VALID, key=b"x" * 40), None),
        (_jwt({**VALID, "exp": NOW - 1}), None),
        (_jwt({**VALID, "nbf": NOW + 600}), None),
        (_jwt({**VALID, "iat": NOW + 600}), None),
        (_jwt({**VALID, "sub": 5}), None),
        (_jwt({"sub": "5"}), None),
        (_jwt({"exp": NOW + 600}), None),
        (_jwt(VALID, key=None, algorithm="none"), None),
        (_jwt(VALID, headers={"alg": "HS512"}), None),
        (_jwt(VALID)[:-3], None),
        (_jwt(VALID)[:-2] + "!" + _jwt(VALID)[-2:], None),
        (_jwt(VALID) + "=", None),
        ("garbage", None),
        ("a.b.c", None),
        ("ü.ä.ö", None),
    ],
)
def test_verify_hs256(token, subject):
    claims = verify_hs256(token, KEY)
    assert (claims and claims["sub"]) == subject


@pytest.fixture
def pyjwt_decodes(monkeypatch):
    """Count PyJWT decodes (the real function still runs)."""
    calls = []
    real = jwt.decode

    def counting(*args, **kwargs):
        calls.append(kwargs.get("options"))
        return real(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return calls


def test_an_authenticated_request_needs_no_pyjwt_decode(client, auth, pyjwt_decodes):
    user = auth.user()
    r = client.get("/api/v1/users/me", headers=user.headers)
    assert r.status_code == 200
    assert r.json["email"] == user.email
    assert pyjwt_decodes == []


def test_a_token_signed_with_another_key_is_still_a_401(client, auth, app):
    user = auth.user()
    forged = _jwt({"sub": str(user.id), "sid": 1, "type": "access", "exp": NOW + 600}, key=b"z" * 40)
    r = client.get("/api/v1/users/me", headers={"Authorization": "Bearer " + forged})
    assert r.status_code == 401
    assert r.json["detail"] == "The token is invalid: Signature verification failed."


def test_an_expired_token_is_still_named_expired(client, auth, app):
    user = auth.user()
    expired = _jwt(
        {"sub": str(user.id), "sid": 1, "type": "access", "exp": NOW - 10},
        key=app.config["JWT_SECRET_KEY"].encode(),
    )
    r = client.get("/api/v1/users/me", headers={"Authorization": "Bearer " + expired})
    assert r.status_code == 401
    assert r.json["detail"] == "The token has expired."


def test_a_refresh_token_is_still_refused_where_an_access_token_is_needed(client, auth):
    user = auth.user()
    r = client.get("/api/v1/users/me", headers={"Authorization": "Bearer " + user.refresh})
    assert r.status_code == 401
    assert r.json["detail"] == "The token is invalid: Only non-refresh tokens are allowed."
