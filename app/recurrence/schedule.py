"""The reminder schedule of one todo: one row per reminder of its current due time still to fire."""

from datetime import timedelta

from sqlalchemy import delete, insert, select

from app.extensions import db
from app.models import ReminderFired, ReminderSchedule
from app.models.base import utcnow

_NO_SYNC = {"synchronize_session": False}


def reschedule(todo, now=None):
    """Replace the todo's scheduled reminders with those of its current due time that are still ahead.

    Nothing is scheduled for a completed todo, one without a due time or without
    reminders (that is how completing cancels). A reminder already fired for this
    occurrence and offset is not scheduled again, so changing the list of reminders
    never repeats one. Call it after a flush, in the transaction of the change.
    """
    now = now or utcnow()
    cancel(todo.id)
    if todo.completed or todo.due_at is None or not todo.reminders:
        return
    fired = set(
        db.session.execute(
            select(ReminderFired.offset_minutes).where(
                ReminderFired.todo_id == todo.id, ReminderFired.occurrence == todo.due_at
            )
        ).scalars()
    )
    rows = [
        {"todo_id": todo.id, "occurrence": todo.due_at, "offset_minutes": minutes, "fire_at": fire_at}
        for minutes in todo.reminders
        if minutes not in fired and (fire_at := todo.due_at - timedelta(minutes=minutes)) > now
    ]
    if rows:
        db.session.execute(insert(ReminderSchedule), rows)


def cancel(todo_id):
    """Drop every scheduled reminder of a todo."""
    db.session.execute(delete(ReminderSchedule).where(ReminderSchedule.todo_id == todo_id), execution_options=_NO_SYNC)
