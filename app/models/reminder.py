"""Reminders: the schedule of fire times to come, what has fired, the scheduler's counters, and live ones in flight."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import NEVER_REUSE_IDS, IdMixin, UTCDateTime
from app.models.change import FEED_ID


class ReminderSchedule(IdMixin, db.Model):
    """One reminder to fire: a todo, the occurrence (due time) it is for, its offset and its fire time.

    Rows exist only for open todos' current due time, so a scheduler tick reads the
    rows whose `fire_at` has come (an index range), however many todos there are.
    """

    __tablename__ = "reminder_schedule"

    todo_id: Mapped[int] = mapped_column(ForeignKey("todos.id", ondelete="CASCADE"), nullable=False)
    occurrence: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    offset_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("todo_id", "occurrence", "offset_minutes", name="uq_reminder_schedule_key"),
        Index("ix_reminder_schedule_fire_at", "fire_at", "id"),
    )


class ReminderFired(IdMixin, db.Model):
    """A reminder that fired (or was skipped as too late): never again for this todo, occurrence and offset."""

    __tablename__ = "reminders_fired"

    todo_id: Mapped[int] = mapped_column(ForeignKey("todos.id", ondelete="CASCADE"), nullable=False)
    occurrence: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    offset_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)  # "sent" or "skipped"

    __table_args__ = (
        UniqueConstraint("todo_id", "occurrence", "offset_minutes", name="uq_reminders_fired_key"),
        Index("ix_reminders_fired_fired_at", "fired_at"),
    )


class ReminderCounter(db.Model):
    """A monotonic counter of the scheduler, shared by every worker (read by /metrics)."""

    __tablename__ = "reminder_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)


class LiveReminder(db.Model):
    """A sent reminder on its way to open event streams when there is no Redis (app.sync.live).

    Written in the transaction of the reminder's claim, in commit order (as the change
    feed's rows: ids taken under a lock held until the commit), and read by every
    process's stream watcher by id. Kept for minutes only: a stream that is not open
    when a reminder is sent never gets it.
    """

    __tablename__ = "live_reminders"

    id: Mapped[int] = mapped_column(FEED_ID, primary_key=True, autoincrement=True)
    user_ids: Mapped[list] = mapped_column(JSON, nullable=False)
    payload: Mapped[dict] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_live_reminders_created_at", "created_at"), NEVER_REUSE_IDS)
