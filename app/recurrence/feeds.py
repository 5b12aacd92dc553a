"""What the recurrence endpoints read: a page of a todo's occurrences, and a list's calendar."""

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.http import quote_etag

from app.errors import abort
from app.extensions import db
from app.models import Todo, TodoList
from app.pagination import decode_cursor, encode_cursor
from app.recurrence import rules
from app.recurrence.calendar import calendar_bytes

CURSOR_SORT = "occurrence"


def occurrence_page(todo, args):
    """({"due_at"} items, next cursor) of a todo's occurrences: from its due time, or after the cursor's."""
    after = None
    if args.get("cursor"):
        after, todo_id = decode_cursor(args["cursor"], CURSOR_SORT)
        if todo_id != todo.id:
            abort(400, "The cursor is invalid.", errors={"cursor": ["Invalid cursor."]})
    found = rules.upcoming(todo, after=after, limit=args["limit"] + 1)
    items = [{"due_at": when} for when in found[: args["limit"]]]
    cursor = encode_cursor(CURSOR_SORT, found[args["limit"] - 1], todo.id) if len(found) > args["limit"] else None
    return items, cursor


def calendar_feed(list_id, host):
    """(bytes, ETag) of the list's calendar: its open todos with a due time, by id."""
    name = db.session.execute(select(TodoList.name).where(TodoList.id == list_id)).scalar_one()
    todos = db.session.execute(
        select(Todo)
        .where(Todo.list_id == list_id, Todo.completed.is_(False), Todo.due_at.is_not(None))
        .order_by(Todo.id)
        .options(selectinload(Todo.tag_rows))
    ).scalars()
    body = calendar_bytes(name, todos, host)
    return body, quote_etag(hashlib.sha256(body).hexdigest()[:32])
