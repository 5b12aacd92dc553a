"""Users and their login sessions (refresh-token families)."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import IdMixin, TimestampMixin, UTCDateTime, utcnow

ROLES = ("user", "admin")


class User(IdMixin, TimestampMixin, db.Model):
    """An account. `email` is stored lower-cased, so it compares case-insensitively."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default="user", nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    __table_args__ = (
        Index("ix_users_role_id", "role", "id"),
        Index("ix_users_created_at_id", "created_at", "id"),
    )


class AuthSession(IdMixin, db.Model):
    """One login: the family of refresh tokens that descend from it.

    Access and refresh tokens carry the session id (`sid`). Revoking the row ends
    every token of the login at once, in every worker and instance, because every
    authenticated request reads it together with the user row.
    """

    __tablename__ = "auth_sessions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    refresh_jti: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str | None] = mapped_column(String(256))
    ip: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_auth_sessions_user_id_id", "user_id", "id"),)

    @property
    def updated_at(self):
        return self.last_used_at

