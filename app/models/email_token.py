"""Single-use tokens sent by mail: email verification, password reset, email change."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import NEVER_REUSE_IDS, IdMixin, UTCDateTime, utcnow

TOKEN_PURPOSES = ("verify_email", "password_reset", "email_change")


class EmailToken(IdMixin, db.Model):
    """A token mailed to `email` for one purpose; only its SHA-256 is stored, and a newer one replaces it."""

    __tablename__ = "email_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (Index("ix_email_tokens_user_id_purpose", "user_id", "purpose"), NEVER_REUSE_IDS)
