"""Column types and mixins shared by every model."""

from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column


def utcnow():
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Store naive UTC; hand back aware UTC, the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None else None


# On SQLite, AUTOINCREMENT keeps ids from being reused after the newest row is deleted,
# so an old URL never reaches a new object. PostgreSQL sequences never reuse ids.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class IdMixin:
    """An integer primary key."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class TimestampMixin:
    """`created_at` and `updated_at`, maintained by the database session."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
