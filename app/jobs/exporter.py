"""Exports: the caller's lists, streamed from the database into a JSON or CSV file, a batch of rows at a time.

The JSON export (format `todos-api-export`, version 1) is
`{"format", "version", "exported_at", "lists": [...], "webhooks": [...]}`; each list is
`{id, name, description, role, created_at, updated_at, members, tags, todos}`, each todo
the CARRIED fields of app.jobs.carry plus its id, assignee_id, created_at and updated_at;
webhooks come without their secret. The CSV export is one row per todo (COLUMNS below).
Memory stays flat: todos are read `BATCH` rows at a time (a server-side cursor on
PostgreSQL) with the tags of that batch, and written out before the next batch.
"""

import csv
import io
import os
import time
from datetime import timedelta

import orjson
from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import files
from app.jobs.carry import CARRIED, carried_todo_schema, column_names
from app.jobs.export_format import EXPORT_FORMAT_DOC, FORMAT, VERSION
from app.jobs.outcome import JobFailed, finish
from app.models import Membership, Todo, TodoList, TodoTag, User, Webhook
from app.models.base import utcnow
from app.schemas.base import UTCDateTime, rows_dumper

BATCH = 1000
CSV_COLUMNS = ("list_id", "list_name", "id", *CARRIED, "assignee_id", "created_at", "updated_at")
__all__ = ["CONTENT_TYPES", "EXPORT_FORMAT_DOC", "run"]
CONTENT_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8"}
# A cell starting with one of these is read as a formula by spreadsheets: it is prefixed with "'".
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_time = UTCDateTime()


def run(job_id, attempt, user_id, params, file_path, heartbeat):
    """Write the export file, then record the job done with its result."""
    fmt = params["format"]
    # One snapshot for the whole file on PostgreSQL; on SQLite the long read must not take
    # the write lock (see app/db_engine.py).
    options = {"read_only": True}
    if db.session.get_bind().dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    db.session.connection(execution_options=options)
    lists = _lists(user_id, params.get("list_id"))
    total = _count([row.id for row in lists]) or 1
    path = files.export_path(job_id, fmt)
    for leftover in path.parent.glob(f"{path.name}.*.part"):  # of an earlier run that was killed
        files.remove(leftover)
    partial = path.with_name(f"{path.name}.{attempt}.part")
    done = 0
    pace = _Pace(current_app.config["EXPORT_DUTY_CYCLE"])
    with open(partial, "wb") as out:
        writer = _JsonWriter(out, user_id) if fmt == "json" else _CsvWriter(out)
        writer.start()
        for position, todo_list in enumerate(lists):
            writer.open_list(todo_list, position)
            for batch in _todo_batches(todo_list.id):
                writer.todos(todo_list, batch)
                done += len(batch)
                heartbeat.progress = done * 100 // total
                heartbeat.check()
                pace.rest()
            writer.close_list(todo_list)
        writer.finish()
    db.session.rollback()  # end the long read before writing the outcome
    os.replace(partial, path)
    now = utcnow()
    result = {"lists": len(lists), "todos": done, "size": path.stat().st_size, "content_type": CONTENT_TYPES[fmt]}
    days = current_app.config["EXPORT_RETENTION_DAYS"]
    expires_at = now + timedelta(days=days)
    done_values = {"result": result, "file_path": str(path), "finished_at": now, "expires_at": expires_at}
    finish(job_id, attempt, status="done", progress=100, **done_values)
    db.session.commit()


class _Pace:
    """Rests between batches so that the export works `duty_cycle` of its time.

    An export is a long run of CPU work (its own, and the database's for its reads); on a
    host it shares with web workers, resting after each batch for as long as the work since
    the last rest, times (1 - duty_cycle) / duty_cycle, leaves them that share of the CPU
    it would take (bench/jobs.py measures the p99 of GET /todos meanwhile).
    """

    def __init__(self, duty_cycle, clock=time.monotonic, sleep=time.sleep):
        self.factor = (1 - duty_cycle) / duty_cycle
        self.clock, self.sleep = clock, sleep
        self.since = clock()

    def rest(self):
        if self.factor:
            self.sleep((self.clock() - self.since) * self.factor)
        self.since = self.clock()


def _lists(user_id, list_id):
    query = (
        select(TodoList.id, TodoList.name, TodoList.description, TodoList.created_at, TodoList.updated_at)
        .add_columns(Membership.role)
        .join(Membership, Membership.list_id == TodoList.id)
        .where(Membership.user_id == user_id)
        .order_by(TodoList.id)
    )
    if list_id is not None:
        query = query.where(TodoList.id == list_id)
    rows = db.session.execute(query).all()
    if list_id is not None and not rows:
        raise JobFailed(f"List {list_id} does not exist or you are no longer a member of it.")
    return rows


def _count(list_ids):
    if not list_ids:
        return 0
    return db.session.execute(select(func.count()).select_from(Todo).where(Todo.list_id.in_(list_ids))).scalar()


def _todo_batches(list_id):
    """Yield the list's todos as dicts in list order, BATCH at a time, each with its tags."""
    columns = [getattr(Todo, name) for name in column_names()]
    query = select(*columns).where(Todo.list_id == list_id).order_by(Todo.order, Todo.id)
    result = db.session.execute(query.execution_options(yield_per=BATCH))
    for partition in result.partitions():
        todos = [dict(row._mapping) for row in partition]
        tags = {}
        ids = [todo["id"] for todo in todos]
        # In the primary key's order: one index probe per todo. Ordered by name alone, the
        # planner may walk the (name, todo_id) index over every tag of the database instead
        # (47 ms a batch at 180,000 tags, against 1.7 ms).
        tagged = select(TodoTag.todo_id, TodoTag.name).where(TodoTag.todo_id.in_(ids))
        for todo_id, name in db.session.execute(tagged.order_by(TodoTag.todo_id, TodoTag.name)):
            tags.setdefault(todo_id, []).append(name)
        for todo in todos:
            todo["tags"] = tags.get(todo["id"], [])
        yield todos


_dump_carried = rows_dumper(carried_todo_schema)


def _todos_json(batch):
    """The batch's todos as the export writes them: id, the CARRIED fields, then the informational ones."""
    return [
        {
            "id": todo["id"],
            **carried,
            "assignee_id": todo["assignee_id"],
            "created_at": _time._serialize(todo["created_at"], None, None),
            "updated_at": _time._serialize(todo["updated_at"], None, None),
        }
        for todo, carried in zip(batch, _dump_carried(batch), strict=True)
    ]


class _JsonWriter:
    """Writes the JSON document piece by piece: never the whole document in memory."""

    def __init__(self, out, user_id):
        self.out, self.user_id = out, user_id

    def start(self):
        head = {"format": FORMAT, "version": VERSION, "exported_at": _time._serialize(utcnow(), None, None)}
        self.out.write(orjson.dumps(head)[:-1] + b',"lists":[')

    def open_list(self, todo_list, position):
        data = {
            "id": todo_list.id,
            "name": todo_list.name,
            "description": todo_list.description,
            "role": todo_list.role,
            "created_at": _time._serialize(todo_list.created_at, None, None),
            "updated_at": _time._serialize(todo_list.updated_at, None, None),
            "members": _members(todo_list.id),
            "tags": _tags(todo_list.id),
        }
        self.out.write((b"," if position else b"") + orjson.dumps(data)[:-1] + b',"todos":[')
        self.first = True

    def todos(self, todo_list, batch):
        chunk = b",".join(orjson.dumps(todo) for todo in _todos_json(batch))
        self.out.write((b"" if self.first else b",") + chunk)
        self.first = False

    def close_list(self, todo_list):
        self.out.write(b"]}")

    def finish(self):
        self.out.write(b'],"webhooks":' + orjson.dumps(_webhooks(self.user_id)) + b"}")


class _CsvWriter:
    """Writes one row per todo, with a header row."""

    def __init__(self, out):
        self.out = io.TextIOWrapper(out, encoding="utf-8", newline="")
        self.csv = csv.writer(self.out)

    def start(self):
        self.csv.writerow(CSV_COLUMNS)

    def open_list(self, todo_list, position):
        pass

    def todos(self, todo_list, batch):
        for data in _todos_json(batch):
            data.update(list_id=todo_list.id, list_name=todo_list.name, tags=" ".join(data["tags"]))
            self.csv.writerow([_cell(data[name]) for name in CSV_COLUMNS])

    def close_list(self, todo_list):
        pass

    def finish(self):
        self.out.flush()
        self.out.detach()


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return str(value)


def _members(list_id):
    rows = db.session.execute(
        select(Membership.user_id, User.email, User.display_name, Membership.role)
        .join(User, User.id == Membership.user_id)
        .where(Membership.list_id == list_id)
        .order_by(Membership.user_id)
    )
    return [dict(row._mapping) for row in rows]


def _tags(list_id):
    rows = db.session.execute(
        select(TodoTag.name, func.count())
        .join(Todo, Todo.id == TodoTag.todo_id)
        .where(Todo.list_id == list_id)
        .group_by(TodoTag.name)
        .order_by(TodoTag.name)
    )
    return [{"name": name, "count": count} for name, count in rows]


def _webhooks(user_id):
    rows = db.session.execute(select(Webhook).where(Webhook.user_id == user_id).order_by(Webhook.id)).scalars()
    return [
        {
            "id": w.id,
            "target_url": w.target_url,
            "events": w.events,
            "list_id": w.list_id,
            "active": w.enabled,
            "created_at": _time._serialize(w.created_at, None, None),
        }
        for w in rows
    ]
