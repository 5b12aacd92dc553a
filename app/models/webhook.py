"""Webhook subscriptions, the events recorded for them (the transactional outbox) and their deliveries."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import NEVER_REUSE_IDS, IdMixin, TimestampMixin, UTCDateTime

EVENTS = (
    "todo.created",
    "todo.updated",
    "todo.completed",
    "todo.deleted",
    "list.updated",
    "list.deleted",
    "member.added",
    "member.removed",
    "todo.reminder",
)


class Webhook(IdMixin, TimestampMixin, db.Model):
    """A user's subscription of a URL to events on one list or all their lists."""

    __tablename__ = "webhooks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    # SET NULL, not CASCADE: deleting the list must not take the webhook and its
    # pending `list.deleted` delivery with it. `all_lists` tells "every list" apart
    # from "its list was deleted" (list_id NULL either way).
    list_id: Mapped[int | None] = mapped_column(ForeignKey("todo_lists.id", ondelete="SET NULL"))
    all_lists: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
    target_url: Mapped[str] = mapped_column(String(2048), nullable=False)
    events: Mapped[list] = mapped_column(JSON, nullable=False)
    secret: Mapped[str] = mapped_column(String(128), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    __table_args__ = (
        Index("ix_webhooks_user_id_id", "user_id", "id"),
        Index("ix_webhooks_list_id", "list_id"),
        NEVER_REUSE_IDS,
    )

    @property
    def orphaned(self):
        """Whether the one list this webhook followed was deleted."""
        return self.list_id is None and not self.all_lists

    @property
    def enabled(self):
        """Whether new events are recorded for this webhook."""
        return self.active and not self.orphaned


class WebhookEvent(IdMixin, db.Model):
    """One change, written in its transaction; the worker fans it out into deliveries, then deletes it.

    One row per change, however many webhooks follow the list: the request pays for one
    INSERT. `list_id` is no foreign key, so that a `list.deleted` event outlives its list.
    `webhook_ids` names the targets when they were resolved as the event was recorded
    (when the change itself takes the audience away); None means every webhook that
    follows the list when the worker picks the event up. The ids are not exposed and
    the rows are deleted once fanned out, so SQLite may reuse them.
    """

    __tablename__ = "webhook_events"

    event: Mapped[str] = mapped_column(String(32), nullable=False)
    list_id: Mapped[int] = mapped_column(Integer, nullable=False)
    payload: Mapped[dict] = mapped_column(JSON, nullable=False)
    webhook_ids: Mapped[list | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class WebhookDelivery(IdMixin, TimestampMixin, db.Model):
    """One event for one webhook: made by the fan-out (or a ping), sent by the worker."""

    __tablename__ = "webhook_deliveries"

    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False)
    message_id: Mapped[str] = mapped_column(String(64), nullable=False)
    event: Mapped[str] = mapped_column(String(32), nullable=False)
    payload: Mapped[dict] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
        NEVER_REUSE_IDS,
    )
