"""Single-use tokens mailed to an address: 256 random bits, stored as SHA-256, replaced by a newer one."""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete

from app.errors import abort
from app.extensions import db
from app.models import EmailToken
from app.models.base import utcnow

LIFETIMES = {
    "verify_email": timedelta(days=7),
    "password_reset": timedelta(minutes=60),
    "email_change": timedelta(hours=24),
}
INVALID = "This link is invalid, expired, or was already used or replaced by a newer one; ask for a new one."


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def new_token():
    """A token for a link: 32 random bytes, URL-safe, and its hash."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def issue(user_id, purpose, email):
    """Return a new token for `purpose` mailed to `email`; the user's earlier ones for `purpose` stop working."""
    db.session.execute(delete(EmailToken).where(EmailToken.user_id == user_id, EmailToken.purpose == purpose))
    token, digest = new_token()
    expires_at = utcnow() + LIFETIMES[purpose]
    db.session.add(EmailToken(user_id=user_id, purpose=purpose, token_hash=digest, email=email, expires_at=expires_at))
    return token


def redeem(token, purpose, field="token"):
    """Use up `token`: return (user_id, email) it was mailed for, or answer 422 keyed `field`.

    One DELETE ... RETURNING, so two requests with the same token cannot both use it.
    """
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        abort(422, INVALID, errors={field: ["Invalid or expired token."]})
    row = db.session.execute(
        delete(EmailToken)
        .where(EmailToken.token_hash == token_hash(token), EmailToken.purpose == purpose)
        .returning(EmailToken.user_id, EmailToken.email, EmailToken.expires_at)
    ).first()
    if row is None or row.expires_at <= utcnow():
        abort(422, INVALID, errors={field: ["Invalid or expired token."]})
    return row.user_id, row.email
