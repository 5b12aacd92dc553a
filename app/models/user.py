"""Users and their login sessions (refresh-token families)."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, false, select, update
from sqlalchemy.orm import Mapped, mapped_column

from app import revalidation_marks
from app.extensions import db
from app.models.base import NEVER_REUSE_IDS, IdMixin, TimestampMixin, UTCDateTime, utcnow

ROLES = ("user", "admin")


class User(IdMixin, TimestampMixin, db.Model):
    """An account. `email` is stored lower-cased, so it compares case-insensitively."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default="user", nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
    # IANA zone name: the default zone of the todos this user creates.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC", nullable=False)

    __table_args__ = (
        Index("ix_users_role_id", "role", "id"),
        Index("ix_users_created_at_id", "created_at", "id"),
        NEVER_REUSE_IDS,
    )

    @property
    def is_active_admin(self):
        return self.role == "admin" and self.is_active

    def is_last_active_admin(self):
        """Return whether no other active admin exists.

        Locks every active admin row, in id order, until commit: two admins stepping down
        at once are serialized, and the second sees that the first is gone.
        """
        if not self.is_active_admin:
            return False
        admins = db.session.execute(
            select(User.id).where(User.role == "admin", User.is_active.is_(True)).order_by(User.id).with_for_update()
        ).scalars()
        return all(admin_id == self.id for admin_id in admins)


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

    __table_args__ = (Index("ix_auth_sessions_user_id_id", "user_id", "id"), NEVER_REUSE_IDS)

    @property
    def updated_at(self):
        return self.last_used_at

    @property
    def is_live(self):
        return self.revoked_at is None and self.expires_at > utcnow()

    def rotate(self, presented_jti, new_jti, lifetime):
        """Swap the refresh jti if `presented_jti` is still the current one; return whether it was.

        One conditional UPDATE, so two requests presenting the same refresh token cannot
        both win: the loser sees the token as reused.
        """
        now = utcnow()
        result = db.session.execute(
            update(AuthSession)
            .where(
                AuthSession.id == self.id, AuthSession.refresh_jti == presented_jti, AuthSession.revoked_at.is_(None)
            )
            .values(refresh_jti=new_jti, last_used_at=now, expires_at=now + lifetime)
            # Only extends the session: nothing a revalidation cached becomes untrue.
            .execution_options(synchronize_session=False, **revalidation_marks.handled())
        )
        if result.rowcount != 1:
            return False
        self.refresh_jti, self.last_used_at, self.expires_at = new_jti, now, now + lifetime
        return True

    @staticmethod
    def revoke_where(*criteria):
        """Revoke every live session matching `criteria` (one UPDATE); return how many."""
        revoked = (
            db.session.execute(
                update(AuthSession)
                .where(AuthSession.revoked_at.is_(None), *criteria)
                .values(revoked_at=utcnow())
                .returning(AuthSession.id)
                .execution_options(synchronize_session="fetch", **revalidation_marks.handled())
            )
            .scalars()
            .all()
        )
        revalidation_marks.forget_on_commit(db.session, [revalidation_marks.session_key(i) for i in revoked])
        return len(revoked)
