"""The change feed: one row per change and per member who may see it."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import NEVER_REUSE_IDS, UTCDateTime

# A BIGINT sequence on PostgreSQL; SQLite's INTEGER PRIMARY KEY AUTOINCREMENT (never reused).
FEED_ID = BigInteger().with_variant(Integer(), "sqlite")


class Change(db.Model):
    """One change of a list, todo or member, as one user's feed shows it (app.sync.feed writes them).

    `id` is the feed's order: it is taken while the writer holds the feed lock, at the
    commit of the change, so ids are in commit order (see app.sync.feed). `role` is the
    user's role on the list, filled into `data` of a list upsert when it is read.
    `user_id` and `list_id` are no foreign keys: a list's delete outlives the list, and
    the write stays one plain INSERT.
    """

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(FEED_ID, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer, nullable=False)
    list_id: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    op: Mapped[str] = mapped_column(String(8), nullable=False)
    object_id: Mapped[int] = mapped_column(Integer, nullable=False)
    role: Mapped[str | None] = mapped_column(String(16))
    data: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        Index("ix_changes_user_id_id", "user_id", "id"),
        Index("ix_changes_created_at", "created_at"),
        NEVER_REUSE_IDS,
    )
