"""Reading the change feed: opaque cursors, pages in commit order, expiry, and the retention purge."""

from datetime import UTC, datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, select

from app.errors import abort
from app.extensions import db
from app.models import Change
from app.models.base import utcnow

MAX_LIMIT = 1000
DEFAULT_LIMIT = 500
# The purge keeps rows this much longer than a cursor is accepted, so a cursor still
# accepted never points before a purged row, whatever the clocks of the writers.
PURGE_MARGIN = timedelta(days=1)


class Cursor:
    """A position in the feed: the last id applied, and the time the feed was known complete to it.

    Sent as a signed, URL-safe string: a client cannot forge or mistype one into another
    position (a bad one is a 400). The time makes an old cursor a 410 once rows it
    would need may have been purged.
    """

    def __init__(self, position, at):
        self.position = position
        self.at = at

    def encode(self):
        return _serializer().dumps([self.position, int(self.at.timestamp())])

    @classmethod
    def decode(cls, text):
        try:
            position, seconds = _serializer().loads(text)
            if not isinstance(position, int) or not isinstance(seconds, int) or position < 0:
                raise ValueError
            return cls(position, datetime.fromtimestamp(seconds, UTC))
        except (BadSignature, ValueError, TypeError, OverflowError, OSError):
            abort(400, "The cursor is malformed: use one the feed gave.", errors={"since": ["Invalid cursor."]})


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="changes-cursor")


def retention():
    return timedelta(days=current_app.config["CHANGES_RETENTION_DAYS"])


def head():
    """A cursor at the newest change of anyone: the feed of a client that starts now."""
    return Cursor(_newest(), utcnow())


def _newest():
    return db.session.execute(select(func.max(Change.id))).scalar() or 0


def check(cursor):
    """Answer 410 when the cursor is older than the retention or unknown here (ahead of the feed)."""
    if cursor.at < utcnow() - retention():
        abort(410, "The cursor has expired: reload everything, then follow the feed from a new cursor.")


def page(user_id, cursor, limit):
    """Return (rows, next cursor): the user's changes after `cursor`, in commit order."""
    now = utcnow()
    after = select(Change).where(Change.user_id == user_id, Change.id > cursor.position)
    rows = db.session.execute(after.order_by(Change.id).limit(limit)).scalars().all()
    if len(rows) == limit:
        return rows, Cursor(rows[-1].id, rows[-1].created_at)
    if not rows and cursor.position > _newest():
        abort(410, "The cursor is unknown to this feed: reload everything, then follow it from a new cursor.")
    # The page ends at the head: the feed was complete up to here when the query ran.
    return rows, Cursor(rows[-1].id if rows else cursor.position, now)


def item(row):
    """One feed item as clients receive it."""
    data = row.data
    if row.kind == "list" and data is not None:
        data = {**data, "role": row.role}
    return {
        "cursor": Cursor(row.id, row.created_at).encode(),
        "kind": row.kind,
        "op": row.op,
        "id": row.object_id,
        "list_id": row.list_id,
        "at": row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": data,
    }


def purge_expired():
    """Delete changes past the retention (and its margin); keep the newest row, the feed's head. Return how many."""
    cutoff = utcnow() - retention() - PURGE_MARGIN
    newest = _newest()
    result = db.session.execute(delete(Change).where(Change.created_at < cutoff, Change.id < newest))
    db.session.commit()
    return result.rowcount


def start(since):
    """The cursor a read starts from: `since` decoded and checked, or the head without one."""
    if since is None:
        return head()
    cursor = Cursor.decode(since)
    check(cursor)
    return cursor
