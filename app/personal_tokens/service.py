"""Creating personal tokens: the only moment their secret exists outside its owner's hands."""

from datetime import timedelta

from app.extensions import db
from app.models import PersonalToken
from app.models.base import utcnow
from app.personal_tokens.token_format import hash_token, new_token

DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=366)


def create_token(user_id, name, scopes, expires_at=None):
    """Add a token to the session; return (row, secret). Only the secret's hash is stored."""
    secret = new_token()
    personal = PersonalToken(
        user_id=user_id,
        name=name,
        scope=" ".join(dict.fromkeys(scopes)),  # each scope once, in the order given
        token_hash=hash_token(secret),
        expires_at=expires_at or utcnow() + DEFAULT_LIFETIME,
    )
    db.session.add(personal)
    db.session.flush()
    return personal, secret
