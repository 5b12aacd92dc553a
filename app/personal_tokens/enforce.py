"""The one place scopes are enforced: before any view runs, from the matched view's declaration."""

from flask import current_app, request
from flask_jwt_extended import verify_jwt_in_request

from app.errors import abort
from app.personal_tokens.principal import current_token, header_token
from app.personal_tokens.scopes import LOGIN_ONLY, PUBLIC, endpoint_scope, expand

LOGIN_NEEDED = "A personal access token cannot be used here: this needs a login."


def enforce_scope():
    """Refuse a personal token outside its scopes (403); requests without one pass untouched.

    The token is verified first, so a malformed, unknown, expired or revoked one is a 401
    wherever it is sent; the view then reuses what was loaded here (no second query).
    """
    token = header_token()
    if token is None or request.endpoint is None or request.method == "OPTIONS":
        return None
    needed = endpoint_scope(current_app, request.endpoint, request.method)
    if needed == PUBLIC:
        return None
    verify_jwt_in_request()
    if needed in (None, LOGIN_ONLY):  # undeclared endpoints fail closed
        abort(403, LOGIN_NEEDED, headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'})
    if needed not in expand(current_token().scopes):
        challenge = f'Bearer error="insufficient_scope", scope="{needed}"'
        abort(403, f"This token lacks the {needed} scope.", headers={"WWW-Authenticate": challenge})
    return None
