"""Todo lists and their members."""

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import NEVER_REUSE_IDS, IdMixin, TimestampMixin

# Member roles, weakest first; a role may do everything the roles before it may.
MEMBER_ROLES = ("viewer", "editor", "owner")


class TodoList(IdMixin, TimestampMixin, db.Model):
    """A shared list of todos."""

    __tablename__ = "todo_lists"

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)

    memberships = relationship(
        "Membership", back_populates="todo_list", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (NEVER_REUSE_IDS,)


class Membership(TimestampMixin, db.Model):
    """A user's role on a list."""

    __tablename__ = "memberships"

    list_id: Mapped[int] = mapped_column(ForeignKey("todo_lists.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)

    todo_list = relationship("TodoList", back_populates="memberships")
    user = relationship("User")

    __table_args__ = (Index("ix_memberships_user_id_list_id", "user_id", "list_id", "role"),)

    def allows(self, needed):
        """Return whether this membership's role is at least `needed`."""
        return MEMBER_ROLES.index(self.role) >= MEMBER_ROLES.index(needed)
