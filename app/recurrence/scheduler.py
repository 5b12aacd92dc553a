"""The reminder scheduler: each tick claims the reminders whose time has come and fires each once.

A tick reads the schedule by its fire-time index, so its cost follows the reminders
coming due, not the number of todos. Claiming, recording the fired reminder (a unique
key on todo, occurrence and offset) and recording its `todo.reminder` event happen
in one transaction: a worker killed at any point either did all of it or none of it,
and the next tick (of any worker) takes over. PostgreSQL: SELECT ... FOR UPDATE SKIP
LOCKED, so workers on several instances take different reminders without waiting.
SQLite: one DELETE ... RETURNING under the database's single write lock.
"""

import logging
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from app.events import record_event
from app.extensions import db
from app.http import url_context
from app.models import Membership, ReminderCounter, ReminderFired, ReminderSchedule, Todo
from app.models.base import utcnow
from app.schemas.todo import todo_schema
from app.sync.live import prune_reminders, record_reminder

log = logging.getLogger(__name__)

BATCH = 500
LATE_LIMIT = timedelta(hours=1)  # older than this when claimed: skipped and counted, not sent
FIRED_RETENTION = timedelta(days=2)
_NO_SYNC = {"synchronize_session": False}


def tick(clock=utcnow, batch=BATCH):
    """Fire every reminder that has come due, a claimed batch at a time; return how many were sent."""
    sent = 0
    with url_context():
        while True:
            claimed, fired = _tick_batch(clock(), batch)
            sent += fired
            if claimed < batch:
                break
    _prune(clock())
    return sent


def tick_safely():
    """Run one tick for a worker loop: an error (a database outage) is logged and rolled back, never raised."""
    try:
        return tick()
    except Exception:
        log.exception("reminders: tick failed; the next one retries")
        db.session.rollback()
        return 0


def _tick_batch(now, limit):
    rows = _claim(now, limit)
    if not rows:
        db.session.commit()
        return 0, 0
    late = [row for row in rows if now - row.fire_at > LATE_LIMIT]
    on_time = [row for row in rows if now - row.fire_at <= LATE_LIMIT]
    _mark_fired(late, now, "skipped")
    fresh = _mark_fired(on_time, now, "sent")
    fired = _notify_all([row for row in on_time if (row.todo_id, row.offset_minutes, row.occurrence) in fresh])
    _count({"skipped_late": len(late), "sent": fired})
    db.session.commit()
    if late:
        log.warning("reminders: %d skipped, more than %s late", len(late), LATE_LIMIT)
    return len(rows), fired


def _claim(now, limit):
    """Take up to `limit` due rows off the schedule (in the current transaction); return them."""
    s = ReminderSchedule
    columns = (s.id, s.todo_id, s.occurrence, s.offset_minutes, s.fire_at)
    due = select(s.id).where(s.fire_at <= now).order_by(s.fire_at, s.id).limit(limit)
    if _dialect() == "postgresql":
        rows = db.session.execute(
            select(*columns)
            .where(s.fire_at <= now)
            .order_by(s.fire_at, s.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if rows:
            db.session.execute(delete(s).where(s.id.in_([row.id for row in rows])), execution_options=_NO_SYNC)
        return rows
    return db.session.execute(delete(s).where(s.id.in_(due)).returning(*columns), execution_options=_NO_SYNC).all()


def _mark_fired(rows, now, outcome):
    """Record `rows` as fired; return the keys (todo, offset, occurrence) recorded now, not before."""
    if not rows:
        return set()
    f = ReminderFired
    values = [
        {
            "todo_id": row.todo_id,
            "occurrence": row.occurrence,
            "offset_minutes": row.offset_minutes,
            "fire_at": row.fire_at,
            "fired_at": now,
            "outcome": outcome,
        }
        for row in rows
    ]
    statement = _insert(f).values(values).on_conflict_do_nothing().returning(f.todo_id, f.offset_minutes, f.occurrence)
    return {tuple(key) for key in db.session.execute(statement).all()}


def _notify_all(rows):
    """Send the reminders of `rows` whose todo still is open at that due time with that offset."""
    if not rows:
        return 0
    todos = {
        todo.id: todo
        for todo in db.session.execute(
            select(Todo).where(Todo.id.in_({row.todo_id for row in rows})).options(selectinload(Todo.tag_rows))
        ).scalars()
    }
    members = _members({todo.list_id for todo in todos.values()})
    sent = 0
    for row in rows:
        todo = todos.get(row.todo_id)
        if todo is None or todo.completed or todo.due_at != row.occurrence or row.offset_minutes not in todo.reminders:
            continue  # changed since it was scheduled: its new schedule covers it
        recipients = [todo.assignee_id] if todo.assignee_id else members.get(todo.list_id, [])
        notify_reminder(todo, row.occurrence, row.offset_minutes, recipients)
        sent += 1
    return sent


def _members(list_ids):
    found = {}
    rows = db.session.execute(
        select(Membership.list_id, Membership.user_id)
        .where(Membership.list_id.in_(list_ids))
        .order_by(Membership.user_id)
    )
    for list_id, user_id in rows:
        found.setdefault(list_id, []).append(user_id)
    return found


def notify_reminder(todo, occurrence, offset, user_ids):
    """Tell `user_ids` that `todo`, due at `occurrence`, comes due in `offset` minutes.

    The one place a reminder goes out: in the transaction of the claim, it records the
    `todo.reminder` webhook event in the outbox and the `event: reminder` of the users'
    live streams (app.sync.live), so a claim that rolls back sends neither.
    """
    data = {
        "todo": todo_schema.dump(todo),
        "occurrence": _rfc3339(occurrence),
        "offset_minutes": offset,
        "remind_at": _rfc3339(occurrence - timedelta(minutes=offset)),
        "user_ids": list(user_ids),
    }
    record_event("todo.reminder", todo.list_id, data)
    record_reminder(user_ids, data)


def _count(increments):
    """Add to the scheduler's shared counters (one upsert per counter)."""
    c = ReminderCounter
    for name, amount in increments.items():
        if amount:
            statement = _insert(c).values(name=name, value=amount)
            db.session.execute(
                statement.on_conflict_do_update(index_elements=[c.name], set_={"value": c.value + amount})
            )


def _prune(now):
    """Forget fired reminders past FIRED_RETENTION (their times are past, none is rescheduled), and old live ones."""
    f = ReminderFired
    old = select(f.id).where(f.fired_at < now - FIRED_RETENTION).limit(1000)
    db.session.execute(delete(f).where(f.id.in_(old)), execution_options=_NO_SYNC)
    prune_reminders()
    db.session.commit()


def counters():
    """{name: value} of the scheduler's counters."""
    return dict(db.session.execute(select(ReminderCounter.name, ReminderCounter.value)).all())


def _dialect():
    return db.session.get_bind().dialect.name


def _insert(model):
    return (postgresql.insert if _dialect() == "postgresql" else sqlite.insert)(model)


def _rfc3339(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
