"""Secret links that open one list to people without an account."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import NEVER_REUSE_IDS, IdMixin, TimestampMixin, UTCDateTime


class ShareLink(IdMixin, TimestampMixin, db.Model):
    """A bearer link to a list; only the SHA-256 of its token is stored."""

    __tablename__ = "share_links"

    list_id: Mapped[int] = mapped_column(ForeignKey("todo_lists.id", ondelete="CASCADE"), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_share_links_list_id_id", "list_id", "id"), NEVER_REUSE_IDS)
