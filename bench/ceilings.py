"""The fastest honest versions, served by the same Gunicorn settings as the service.

- `bare`: a WSGI callable that answers a fixed JSON body (the floor of Gunicorn + HTTP).
- `core`: one plain Flask view that runs the SQL of `GET /todos?limit=50` (the caller's
  visible lists' todos, newest first, 51 rows, then their tags) with SQLAlchemy Core
  and answers the same JSON with orjson. No auth, no schema, no ORM: the caller is
  `?user=<id>` (default 1). `completed=true|false` filters like the real endpoint.

Run: gunicorn -c gunicorn.conf.py bench.ceilings:bare   (or bench.ceilings:core)
"""

import os

import orjson
from flask import Flask, Response, request
from sqlalchemy import create_engine, select

from app.models import Membership, Todo, TodoTag

BODY = orjson.dumps({"items": [], "next_cursor": None})
HEADERS = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(BODY)))]


def bare(environ, start_response):
    """Answer every request with the same small JSON body."""
    start_response("200 OK", HEADERS)
    return [BODY]


def _engine():
    url = os.environ["DATABASE_URL"]
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 15})
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=5)


def _time(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


T = Todo.__table__
COLUMNS = [
    T.c[name]
    for name in (
        "id",
        "list_id",
        "title",
        "notes",
        "completed",
        "completed_at",
        "due_at",
        "priority",
        "assignee_id",
        "order",
        "created_by",
        "created_at",
        "updated_at",
    )
]


def _page_query(user_id, limit, completed):
    visible = select(Membership.list_id).where(Membership.user_id == user_id)
    query = select(*COLUMNS).where(T.c.list_id.in_(visible))
    if completed is not None:
        query = query.where(T.c.completed.is_(completed))
    return query.order_by(T.c.created_at.desc(), T.c.id.desc()).limit(limit + 1)


def _todo(row, tags, base):
    return {
        "id": row.id,
        "url": f"{base}api/v1/todos/{row.id}",
        "list_id": row.list_id,
        "title": row.title,
        "notes": row.notes,
        "completed": row.completed,
        "completed_at": _time(row.completed_at),
        "due_at": _time(row.due_at),
        "priority": row.priority,
        "tags": tags.get(row.id, []),
        "assignee_id": row.assignee_id,
        "order": row.order,
        "created_by": row.created_by,
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
    }


core = Flask(__name__)
engine = _engine()


@core.get("/api/v1/todos")
def todos():
    """The first page of the caller's todos, newest first, with their tags."""
    user_id = int(request.args.get("user", 1))
    limit = int(request.args.get("limit", 50))
    completed = {"true": True, "false": False}.get(request.args.get("completed", ""))
    with engine.connect() as conn:
        rows = conn.execute(_page_query(user_id, limit, completed)).all()
        more, rows = len(rows) > limit, rows[:limit]
        tags = {}
        if rows:
            tag_rows = conn.execute(
                select(TodoTag.todo_id, TodoTag.name)
                .where(TodoTag.todo_id.in_([r.id for r in rows]))
                .order_by(TodoTag.todo_id, TodoTag.name)
            )
            for todo_id, name in tag_rows:
                tags.setdefault(todo_id, []).append(name)
    base = request.host_url
    body = {"items": [_todo(r, tags, base) for r in rows], "next_cursor": "x" if more else None}
    return Response(orjson.dumps(body), content_type="application/json; charset=utf-8")
