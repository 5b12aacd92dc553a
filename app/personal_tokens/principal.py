"""Who a personal token speaks for: one query for the token and its user, per request.

No cache outlives the request: a DELETE, a revocation or a deactivation is seen by the
very next request on every process and instance, exactly as for logins.
"""

import logging

from flask import g, request
from jwt.exceptions import DecodeError, ExpiredSignatureError
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db
from app.models import PersonalToken, User
from app.models.base import utcnow
from app.personal_tokens.token_format import hash_token, looks_personal, well_formed

log = logging.getLogger(__name__)


def header_token():
    """The personal token in the Authorization header, else None. Cookies are never read."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer ":
        return None
    token = header[7:].strip()
    return token if looks_personal(token) else None


# Built once, as the login's (app.auth.tokens): every request with a personal token runs it.
_PRINCIPAL = (
    select(User, PersonalToken)
    .join(PersonalToken, PersonalToken.user_id == User.id)
    .where(PersonalToken.token_hash == bindparam("token_hash"))
)


def load_principal(token):
    """(user, token row) of a well-formed `token`, or (None, None); read once per request."""
    if "principal" not in g:
        row = db.session.execute(_PRINCIPAL, {"token_hash": hash_token(token)}).first()
        g.principal = tuple(row) if row else (None, None)
        user, personal = g.principal
        if personal is not None and personal.is_live and user.is_active:
            _touch(personal)
    return g.principal


def _touch(personal):
    """Keep last_used_at to the minute: write only when the stored minute is older than this one."""
    minute = utcnow().replace(second=0, microsecond=0)
    if personal.last_used_at is not None and personal.last_used_at >= minute:
        return
    session = db.session()
    previous, session.expire_on_commit = session.expire_on_commit, False  # keep the loaded user and token
    try:
        table = PersonalToken.__table__
        session.execute(
            update(table)
            .where(table.c.id == personal.id, or_(table.c.last_used_at.is_(None), table.c.last_used_at < minute))
            .values(last_used_at=minute, updated_at=table.c.updated_at)  # a use is not an edit
        )
        session.commit()
        set_committed_value(personal, "last_used_at", minute)
    except SQLAlchemyError as e:  # best effort: the next request tries again
        session.rollback()
        log.warning("personal token %s: could not record its use (%s)", personal.id, e)
    finally:
        session.expire_on_commit = previous


def user_id_for(token):
    """The user id a personal token names (live or not), for the rate-limit key; None when unknown."""
    if not well_formed(token):
        return None
    user, _ = load_principal(token)
    return user.id if user is not None else None


def claims_for(token):
    """flask-jwt-extended claims for a personal token in the Authorization header, or a JWT error.

    A malformed token is refused before any database lookup; an unknown one is invalid; an
    expired one says so; a revoked one, or one of a deactivated user, passes here and is
    refused by the revocation check, like a revoked login.
    """
    if header_token() != token:
        raise DecodeError("a personal access token is accepted only in the Authorization header")
    if not well_formed(token):
        raise DecodeError("malformed personal access token")
    user, personal = load_principal(token)
    if personal is None:
        raise DecodeError("unknown personal access token")
    claims = {"type": "access", "fresh": False, "jti": None, "sub": str(user.id), "pat": personal.id}
    if personal.revoked_at is None and personal.expires_at <= utcnow():
        expired = ExpiredSignatureError("expired personal access token")
        expired.jwt_header, expired.jwt_data = {"typ": "personal"}, claims  # as flask-jwt-extended's own
        raise expired
    return claims


def current_token():
    """The PersonalToken of this request's verified credential, else None (a login, or none)."""
    credential = g.principal[1] if "principal" in g else None
    return credential if isinstance(credential, PersonalToken) else None
