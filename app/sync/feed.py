"""Writing the change feed: in the transaction of each change, numbered in commit order.

Why the numbering is commit-ordered (the feed's one hard promise: no reader ever
skips a change). A change is only buffered on the session while the request works
(`record`). Its rows are written in the session's `before_commit`, after everything
else of the transaction, and on PostgreSQL only once the writer holds one
transaction-level advisory lock (FEED_LOCK), which it keeps until its COMMIT is done.
The ids come from the table's sequence while the lock is held, so:

- two writers of feed rows take their ids one after the other, each only once the
  one before it has committed (or rolled back): ids increase in commit order;
- PostgreSQL makes a commit visible to new snapshots before it releases the
  transaction's locks, so a reader whose snapshot shows id N also shows every
  committed id below N: a page read past N can never have a lower id appear later.

A cursor is therefore just the last id a client has applied (plus a time, see
app.sync.cursor), and the next page is `id > cursor` in id order. The lock is held
for the INSERT and the COMMIT only (no other lock is taken after it, so it cannot
deadlock), which serializes the commits of writes that change lists, todos or
members. SQLite has one writer at a time (write transactions begin IMMEDIATE), so its
AUTOINCREMENT ids are commit-ordered already. A rolled-back transaction writes no row
(or burns only sequence numbers, which leaves gaps, never disorder).

Who sees a change is decided at that same point, under the lock: rows go to the
members of the list as committed then (`INSERT ... SELECT` from memberships), so a
member added by a transaction that committed just before sees the change, and one
removed just before does not. The lock is taken by a statement of its own: under READ
COMMITTED the INSERT's snapshot is then taken after the lock was granted, so it sees the
memberships of every feed writer that committed before. Changes that take access away name their audience
when they are recorded (`users=`), before the memberships are gone.
"""

from sqlalchemy import JSON, Integer, String, bindparam, cast, func, insert, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Change, Membership
from app.models.base import UTCDateTime, utcnow

# The key of the PostgreSQL advisory lock that orders the feed's writers ("feed" in ASCII).
FEED_LOCK = 0x66656564
_BUFFER = "sync_feed_entries"
_WAKE = "sync_feed_wake"
_COLUMNS = ["user_id", "list_id", "kind", "op", "object_id", "role", "data", "created_at"]

_list_id = bindparam("list_id", type_=Integer)
# One row per member of the list as of the commit, with that member's role.
_FOR_MEMBERS = insert(Change).from_select(
    _COLUMNS,
    select(
        Membership.user_id,
        cast(_list_id, Integer),
        cast(bindparam("kind"), String(8)),
        cast(bindparam("op"), String(8)),
        cast(bindparam("object_id"), Integer),
        Membership.role,
        bindparam("data", type_=JSON(none_as_null=True)),
        bindparam("created_at", type_=UTCDateTime),
    ).where(Membership.list_id == _list_id),
)


def record(kind, op, list_id, object_id, data=None, users=None):
    """Add a change to the feed of the session's transaction; it is written at its commit.

    `kind` is list, todo or member; `op` upsert or delete; `data` the object as its GET
    answers it (a list without `role`, which each member's row fills in), None for a
    delete. `users` lists (user_id, role) pairs that see it; None means the members
    of the list when the transaction commits.
    """
    entry = {"list_id": list_id, "kind": kind, "op": op, "object_id": object_id, "data": data}
    db.session.info.setdefault(_BUFFER, []).append((entry, users))


def members_of(list_id):
    """(user_id, role) of every member of a list now; call it before the change takes them away."""
    rows = db.session.execute(select(Membership.user_id, Membership.role).where(Membership.list_id == list_id))
    return [tuple(row) for row in rows]


def _write(session):
    """Write the buffered changes, holding the feed lock until the commit (see the module docstring)."""
    entries = session.info.pop(_BUFFER, None)
    if not entries:
        return
    session.flush()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(FEED_LOCK)))
    now = utcnow()
    lists, users = set(), set()
    batch, batch_is_explicit = [], None
    for entry, audience in entries:
        explicit = audience is not None
        if batch and explicit != batch_is_explicit:
            _insert(connection, batch, batch_is_explicit)
            batch = []
        batch_is_explicit = explicit
        if explicit:
            users.update(user_id for user_id, _ in audience)
            batch += [{**entry, "user_id": user_id, "role": role, "created_at": now} for user_id, role in audience]
        else:
            lists.add(entry["list_id"])
            batch.append({**entry, "created_at": now})
            if entry["kind"] == "list":
                # A stream learns its lists from its feed: wake a new list's members by name.
                users.update(user_id for user_id, _ in members_of(entry["list_id"]))
    if batch:
        _insert(connection, batch, batch_is_explicit)
    session.info[_WAKE] = (lists, users)


def _insert(connection, rows, explicit):
    connection.execute(insert(Change) if explicit else _FOR_MEMBERS, rows)


def _after_commit(session):
    wake = session.info.pop(_WAKE, None)
    if wake:
        from app.sync.live import changed

        changed(*wake)


def _forget(session, previous_transaction):
    # Every rollback of the session, also one with no database transaction begun yet.
    if previous_transaction.nested:
        return
    session.info.pop(_BUFFER, None)
    session.info.pop(_WAKE, None)


sa_event.listen(Session, "before_commit", _write)
sa_event.listen(Session, "after_commit", _after_commit)
sa_event.listen(Session, "after_soft_rollback", _forget)


def list_upserted(list_dump, users=None):
    """A list was created or changed (`list_dump` as GET /lists/<id> answers it; each row gets its member's role)."""
    data = {name: value for name, value in list_dump.items() if name != "role"}
    record("list", "upsert", list_dump["id"], list_dump["id"], data, users)


def list_lost(list_id, users):
    """`users` ((user_id, role) pairs) lost the list: deleted, or they were removed or left."""
    record("list", "delete", list_id, list_id, None, users)


def todo_upserted(todo_dump):
    record("todo", "upsert", todo_dump["list_id"], todo_dump["id"], todo_dump)


def todo_deleted(list_id, todo_id):
    record("todo", "delete", list_id, todo_id)


def member_upserted(list_id, member_dump):
    record("member", "upsert", list_id, member_dump["user_id"], member_dump)


def member_deleted(list_id, user_id):
    record("member", "delete", list_id, user_id)
