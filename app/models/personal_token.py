"""Personal access tokens: a user's long-lived bearer tokens, each limited to its scopes."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, update
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import NEVER_REUSE_IDS, IdMixin, TimestampMixin, UTCDateTime, utcnow


class PersonalToken(IdMixin, TimestampMixin, db.Model):
    """One personal access token; only the SHA-256 of its secret is stored.

    Every request that presents it reads this row together with its user (one query),
    so revoking or deleting it, or deactivating the user, ends it at once everywhere.
    """

    __tablename__ = "personal_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # Space-separated, as OAuth writes scopes: "todos:read lists:write".
    scope: Mapped[str] = mapped_column(String(255), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_personal_tokens_user_id_id", "user_id", "id"), NEVER_REUSE_IDS)

    @property
    def scopes(self):
        return self.scope.split()

    @property
    def is_live(self):
        return self.revoked_at is None and self.expires_at > utcnow()

    @staticmethod
    def revoke_where(*criteria):
        """Revoke every unrevoked token matching `criteria` in one UPDATE; return how many."""
        result = db.session.execute(
            update(PersonalToken)
            .where(PersonalToken.revoked_at.is_(None), *criteria)
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session="fetch")
        )
        return result.rowcount
