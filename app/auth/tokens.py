"""JWT wiring: token issue, the one-query revocation check, problem+json errors."""

import uuid

from flask import current_app, g, request
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import bindparam, select

from app.errors import problem
from app.extensions import db, jwt
from app.models import AuthSession, User
from app.models.base import utcnow


def new_jti():
    return uuid.uuid4().hex


def issue_tokens(user, session, fresh):
    """Return (access, refresh) tokens for a session; the refresh token carries its current jti."""
    claims = {"sid": session.id}
    access = create_access_token(identity=str(user.id), additional_claims=claims, fresh=fresh)
    refresh = create_refresh_token(identity=str(user.id), additional_claims={**claims, "jti": session.refresh_jti})
    return access, refresh


def start_session(user):
    """Record a new login (refresh-token family) for `user` and return it, flushed."""
    session = AuthSession(
        user_id=user.id,
        refresh_jti=new_jti(),
        expires_at=utcnow() + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"],
        user_agent=(request.user_agent.string or "")[:256] or None,
        ip=(request.remote_addr or "")[:64] or None,
    )
    db.session.add(session)
    db.session.flush()
    return session


# Built once: every authenticated request runs it, and a statement object keeps its cache key.
_PRINCIPAL = (
    select(User, AuthSession)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(User.id == bindparam("user_id"), AuthSession.id == bindparam("session_id"))
)


def _load_principal(jwt_data):
    """Load the user and session of a token in one query; cache it on `g`.

    A personal access token's user and token row were put there by app.personal_tokens.
    """
    if "principal" not in g:
        try:
            user_id, session_id = int(jwt_data["sub"]), int(jwt_data["sid"])
        except (KeyError, TypeError, ValueError):
            g.principal = (None, None)
            return g.principal
        row = db.session.execute(_PRINCIPAL, {"user_id": user_id, "session_id": session_id}).first()
        g.principal = tuple(row) if row else (None, None)
    return g.principal


def register_jwt_callbacks():
    """Bind flask-jwt-extended's hooks; called once from create_app."""

    @jwt.token_in_blocklist_loader
    def is_revoked(jwt_header, jwt_data):
        # Any database error propagates: the request fails closed with a 503, never passes.
        user, credential = _load_principal(jwt_data)  # a login's session or a personal token
        return user is None or not user.is_active or not credential.is_live

    @jwt.user_lookup_loader
    def load_user(jwt_header, jwt_data):
        return _load_principal(jwt_data)[0]

    def unauthorized(detail):
        return problem(401, detail)

    jwt.unauthorized_loader(lambda reason: unauthorized("Authentication is required: " + reason.rstrip(".") + "."))
    jwt.invalid_token_loader(lambda reason: unauthorized("The token is invalid: " + reason.rstrip(".") + "."))
    jwt.expired_token_loader(lambda header, data: unauthorized("The token has expired."))
    jwt.revoked_token_loader(lambda header, data: unauthorized("The token has been revoked."))
    jwt.needs_fresh_token_loader(lambda header, data: unauthorized("This action needs a fresh login: log in again."))
    jwt.user_lookup_error_loader(lambda header, data: unauthorized("The token's user no longer exists."))
    jwt.token_verification_failed_loader(lambda header, data: unauthorized("The token is invalid."))


def current_session():
    """The AuthSession of the verified token of this request; None for a personal token."""
    credential = g.principal[1] if "principal" in g else None
    return credential if isinstance(credential, AuthSession) else None
