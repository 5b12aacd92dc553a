"""Verify a request's HS256 token once: one HMAC and one JSON parse, remembered on `g`.

The rate-limit key needs the token's user before the view runs, and flask-jwt-extended
then decodes the same token again (twice, through PyJWT). Both read it from here, so a
request verifies its token once. Anything unusual (another algorithm, a bad signature,
an expired or not-yet-valid token, a missing claim) gives None, and flask-jwt-extended's
own decoder then answers with its usual errors.
"""

import base64
import hashlib
import hmac
import re
import time

import flask_jwt_extended
import flask_jwt_extended.exceptions
import flask_jwt_extended.view_decorators
import orjson
from flask import current_app, g, has_request_context
from flask_jwt_extended.config import config

# Three unpadded base64url segments and nothing else: no second spelling of a valid token.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _b64decode(part):
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


def verify_hs256(token, key):
    """The claims of an HS256 token signed with `key` that is valid now, else None."""
    if not _COMPACT_JWS.fullmatch(token):
        return None
    try:
        signing_input, signature = token.encode("ascii").rsplit(b".", 1)
        expected = hmac.new(key, signing_input, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64decode(signature)):
            return None
        header, payload = signing_input.split(b".")
        if orjson.loads(_b64decode(header)).get("alg") != "HS256":
            return None
        claims = orjson.loads(_b64decode(payload))
        now = time.time()
        if float(claims["exp"]) <= now or float(claims.get("nbf", 0)) > now or float(claims.get("iat", 0)) > now:
            return None
        if not isinstance(claims["sub"], str):
            return None
        return claims
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeError, orjson.JSONDecodeError):
        return None


def token_claims(token):
    """The verified claims of `token` under this app's JWT key, computed once per request."""
    cached = g.get("_token_claims") if has_request_context() else None
    if cached is not None and cached[0] == token:
        return cached[1]
    claims = verify_hs256(token, current_app.config["JWT_SECRET_KEY"].encode())
    if has_request_context():
        g._token_claims = (token, claims)
    return claims


PERSONAL_PREFIX = "tdp_"  # app.personal_tokens.token_format.PREFIX, without importing the models here
PERSONAL_HEADER = {"typ": "personal"}


class JWTManager(flask_jwt_extended.JWTManager):
    """flask-jwt-extended, reusing the request's verified claims instead of decoding again.

    A personal access token (`tdp_...`) is no JWT: it is resolved by app.personal_tokens into
    the same claims shape, so `jwt_required()` and `current_user` serve both credentials.
    """

    # How a personal token becomes claims: set by the app factory (app.personal_tokens.principal.
    # claims_for), so that this module, imported by app.extensions, imports nothing above it.
    personal_claims = None

    def _decode_jwt_from_config(self, encoded_token, csrf_value=None, allow_expired=False):
        if encoded_token.startswith(PERSONAL_PREFIX):
            if self.personal_claims is None:
                raise flask_jwt_extended.exceptions.JWTDecodeError("personal access tokens are not enabled")
            return self.personal_claims(encoded_token)
        # The one decoding hook the library has. CSRF checks, expired tokens and audience or
        # issuer rules (none are configured today) take the library's own path.
        plain = not (csrf_value or allow_expired or config.decode_audience or config.decode_issuer)
        claims = token_claims(encoded_token) if plain else None
        if claims is None:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        return {"type": "access", "fresh": False, "jti": None, **claims}


_unverified_headers = flask_jwt_extended.view_decorators.get_unverified_jwt_headers


def _headers_of(encoded_token):
    """A personal token has no JOSE header to read: give it a fixed one."""
    if encoded_token.startswith(PERSONAL_PREFIX):
        return PERSONAL_HEADER
    return _unverified_headers(encoded_token)


# flask-jwt-extended reads the header of the token it has just decoded through this name alone.
flask_jwt_extended.view_decorators.get_unverified_jwt_headers = _headers_of
