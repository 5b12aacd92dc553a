"""Imports: stream the uploaded file into new lists and todos, a batch at a time, in one transaction.

The file is read row by row (app.jobs.formats) and written BATCH todos at a time, so the
worker's memory does not grow with the file. All or nothing: the lists, todos, tags and
the job's `done` commit together, so a failed or interrupted import (a bad row found
after thousands of good ones) leaves nothing behind, and a retried one never doubles.
Imports make new lists owned by the importer; they never merge into existing ones, and
record no webhook events (nobody else can see the new lists yet).
"""

import os

from sqlalchemy import insert, text, update

from app.extensions import db
from app.http import url_context
from app.jobs import files
from app.jobs.carry import carried_columns
from app.jobs.formats import ListClosed, ListOpened, read
from app.jobs.outcome import JobFailed, finish
from app.models import Membership, Todo, TodoList, TodoTag
from app.models.base import utcnow
from app.schemas.todo_list import todo_list_schema
from app.services.lists import view_of
from app.sync import feed

BATCH = 1000


def run(job_id, attempt, user_id, params, file_path, heartbeat):
    """Import the uploaded file for `user_id`, then record the job done with what it made."""
    try:
        upload = open(file_path, "rb")  # noqa: SIM115 - closed by the with below
    except (OSError, TypeError):
        raise JobFailed("The uploaded file is gone; upload it again.") from None
    filename = params.get("filename")
    with upload:
        size = os.fstat(upload.fileno()).st_size or 1
        # SQLite has one writer at a time: the import's transaction holds the write lock from its
        # first row on, and the heartbeat could record no progress while the file is read. There
        # the whole file is checked first, without writing, and read again to write it.
        passes = 2 if db.session.get_bind().dialect.name == "sqlite" else 1
        done_passes = 0

        def progress():
            heartbeat.progress = (done_passes * 100 + upload.tell() * 100 // size) // passes
            heartbeat.check()

        if passes == 2:
            for count, _ in enumerate(read(upload, filename), start=1):
                if count % BATCH == 0:
                    progress()
            done_passes = 1
        writer = _Writer(user_id, progress)
        for item in read(upload, filename):
            writer.take(item)
    _announce(writer.created, user_id)
    finish(job_id, attempt, status="done", progress=100, result=writer.made, file_path=None)
    db.session.commit()
    files.remove(file_path)


class _Writer:
    """Creates the lists and todos an import reads, in its transaction, BATCH todos at a time."""

    def __init__(self, user_id, progress):
        self.user_id, self.progress = user_id, progress
        self.now = utcnow()
        self.made = {"lists": 0, "todos": 0, "tags": 0}
        self.created = []  # ids of the new lists
        self.opened = None  # the ListOpened of the list being read
        self.batch = []
        self.position = 0  # of the batch's first todo in its list

    def take(self, item):
        if isinstance(item, ListOpened):
            self.opened = item
            self.created.append(_create_list(item, self.user_id, self.now))
            self.made["lists"] += 1
            self.position = 0
        elif isinstance(item, ListClosed):
            self.flush()
            if (item.name, item.description) != (self.opened.name, self.opened.description):
                _describe_list(self.created[-1], item)  # the file gave them after the todos
        else:
            self.batch.append(item)
            if len(self.batch) >= BATCH:
                self.flush()

    def flush(self):
        if not self.batch:
            return
        self.made["tags"] += _create_todos(self.batch, self.position, self.created[-1], self.user_id, self.now)
        self.made["todos"] += len(self.batch)
        self.position += len(self.batch)
        self.batch = []
        self.progress()


def _announce(list_ids, user_id):
    """One change-feed item per new list, in the import's transaction: the owner's clients load its todos."""
    with url_context():
        for list_id in list_ids:
            membership = db.session.get(Membership, (list_id, user_id))
            feed.list_upserted(todo_list_schema.dump(view_of(membership)), users=[(user_id, "owner")])


def _create_list(opened, user_id, now):
    """Insert a list owned by the importer; its name may still be unknown (an empty one until its ListClosed)."""
    list_id = db.session.execute(
        insert(TodoList)
        .values(name=opened.name or "", description=opened.description, created_at=now, updated_at=now)
        .returning(TodoList.id)
    ).scalar_one()
    db.session.execute(
        insert(Membership).values(list_id=list_id, user_id=user_id, role="owner", created_at=now, updated_at=now)
    )
    return list_id


def _describe_list(list_id, closed):
    db.session.execute(
        update(TodoList).where(TodoList.id == list_id).values(name=closed.name, description=closed.description),
        execution_options={"synchronize_session": False},
    )


def _create_todos(chunk, start, list_id, user_id, now):
    """Insert a batch of todos and their tags; return how many tags were attached."""
    rows = [_todo_row(todo, start + index, list_id, user_id, now) for index, todo in enumerate(chunk)]
    ids = _insert_todos(rows)
    pairs = zip(ids, chunk, strict=True)
    tags = [{"todo_id": todo_id, "name": name} for todo_id, todo in pairs for name in todo["tags"]]
    if tags:
        db.session.execute(insert(TodoTag.__table__), tags)
    return len(tags)


def _insert_todos(rows):
    """Insert todo rows; return their ids in the order of the rows."""
    table = Todo.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        # Ids taken from the sequence up front, then one pipelined executemany: an INSERT ... RETURNING
        # of many rows costs psycopg far more client time (it parses the long query text).
        ids = (
            db.session.execute(
                text("SELECT nextval(pg_get_serial_sequence('todos', 'id')) FROM generate_series(1, :n)"),
                {"n": len(rows)},
            )
            .scalars()
            .all()
        )
        db.session.execute(table.insert(), [{**row, "id": todo_id} for row, todo_id in zip(rows, ids, strict=True)])
        return ids
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return db.session.execute(statement, rows).scalars().all()


def _todo_row(todo, position, list_id, user_id, now):
    row = {name: todo.get(name) for name in carried_columns()}
    if row["completed"] and row.get("completed_at") is None:
        row["completed_at"] = now
    if row.get("order") is None:
        row["order"] = float(position)
    # The rule runs from the imported due time (its DTSTART), as when a client sets both.
    row["recurrence_anchor"] = row["due_at"] if row.get("recurrence") else None
    row.update(list_id=list_id, created_by=user_id, created_at=now, updated_at=now, version=1)
    return row
