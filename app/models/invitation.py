"""Invitations to a list, sent by email to an address that may not have an account yet."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import NEVER_REUSE_IDS, IdMixin, TimestampMixin, UTCDateTime


class Invitation(IdMixin, TimestampMixin, db.Model):
    """A pending invitation; its token (only the SHA-256 is stored) is made when the mail is written."""

    __tablename__ = "invitations"

    list_id: Mapped[int] = mapped_column(ForeignKey("todo_lists.id", ondelete="CASCADE"), nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        Index("ix_invitations_list_id_id", "list_id", "id"),
        Index("ix_invitations_email", "email"),
        NEVER_REUSE_IDS,
    )
