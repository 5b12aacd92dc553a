"""Todos and their tags."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import NEVER_REUSE_IDS, IdMixin, TimestampMixin, UTCDateTime


class Todo(IdMixin, TimestampMixin, db.Model):
    """One thing to do, on one list."""

    __tablename__ = "todos"

    list_id: Mapped[int] = mapped_column(ForeignKey("todo_lists.id", ondelete="CASCADE"), nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    notes: Mapped[str | None] = mapped_column(Text)
    completed: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    order: Mapped[float] = mapped_column("order", Float, nullable=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # An RFC 5545 RRULE value, run in `timezone` from `recurrence_anchor` (its DTSTART): the
    # due time the rule was set from. Completing the todo moves `due_at` along the rule and
    # leaves the anchor, so that COUNT counts from the original start (app.recurrence).
    recurrence: Mapped[str | None] = mapped_column(String(500))
    recurrence_anchor: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC", nullable=False)
    # Whole minutes before due_at, ascending; [] for none.
    reminders: Mapped[list] = mapped_column(JSON, default=list, server_default="[]", nullable=False)
    # Bumped on every change; the ETag of a todo is derived from it.
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    tag_rows = relationship("TodoTag", cascade="all, delete-orphan", passive_deletes=True, order_by="TodoTag.name")

    __mapper_args__ = {"version_id_col": version}

    # Keyset pagination needs (scope, sort key, id) for every sort offered. `completed` rides
    # along (PostgreSQL INCLUDE, free in size) so a completed= filter over several lists stays
    # an index-only scan: see paginate_scoped.
    __table_args__ = (
        Index("ix_todos_list_order", "list_id", "order", "id", postgresql_include=["completed"]),
        Index("ix_todos_list_created", "list_id", "created_at", "id", postgresql_include=["completed"]),
        Index("ix_todos_list_updated", "list_id", "updated_at", "id", postgresql_include=["completed"]),
        Index("ix_todos_list_due", "list_id", "due_at", "id", postgresql_include=["completed"]),
        Index("ix_todos_list_priority", "list_id", "priority", "id", postgresql_include=["completed"]),
        Index("ix_todos_list_title", "list_id", "title", "id", postgresql_include=["completed"]),
        Index("ix_todos_list_completed", "list_id", "completed", "id"),
        Index("ix_todos_assignee", "assignee_id", "id"),
        Index("ix_todos_created_by", "created_by"),
        NEVER_REUSE_IDS,
    )

    @property
    def tags(self):
        return [row.name for row in self.tag_rows]


class TodoTag(db.Model):
    """A tag on a todo: a lower-cased name."""

    __tablename__ = "todo_tags"

    todo_id: Mapped[int] = mapped_column(ForeignKey("todos.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(50), primary_key=True)

    __table_args__ = (Index("ix_todo_tags_name_todo_id", "name", "todo_id"),)
