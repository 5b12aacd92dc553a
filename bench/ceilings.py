"""The fastest honest versions of the hot endpoints, served by the same Gunicorn settings as the service.

- `bare`: a WSGI callable that answers a fixed JSON body: the floor of Gunicorn + HTTP.
- `fastest`: a bare WSGI callable (no Flask, no middleware, no auth: the caller is
  `?user=<id>`, default 1, the benchmark's reader) that answers the same paths with the
  same JSON as the service, each with the least work this stack allows: one psycopg
  connection per worker, hand-written SQL in the plan the benchmark prints (EXPLAIN),
  server-side prepared statements, tuples straight from the driver, orjson. Writes do
  the same durable work as the service in one transaction (the todo, its tags, the
  webhook outbox row, the change feed rows under the feed's lock, the stream wake-up
  after the commit), in as few round trips as the data dependencies allow.

  GET  /api/v1/todos?limit=50[&completed=false]   the caller's visible todos, newest first
  GET  /api/v1/lists/<id>/todos?limit=50           one list, in `order`
  GET  /api/v1/todos/<id>                          one todo (If-None-Match: a 304 from its version)
  POST /api/v1/lists/<id>/todos                    create (title, priority, tags)
  PATCH /api/v1/todos/<id>                         change priority and completed

What a ceiling leaves out is what the service adds on purpose: authentication and
instant revocation, rate limits, scopes, validation with its error answers, metrics,
logs and request ids, security headers, signed cursors. The feature-cost table
(bench/feature_costs.py) prices those one at a time.

Run: gunicorn -c gunicorn.conf.py bench.ceilings:bare   (or bench.ceilings:fastest)
"""

import base64
import hashlib
import json
import os
import re
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs

import orjson
import psycopg

BODY = orjson.dumps({"items": [], "next_cursor": None})
HEADERS = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(BODY)))]
JSON_TYPE = ("Content-Type", "application/json; charset=utf-8")
FEED_LOCK = 0x66656564  # app.sync.feed.FEED_LOCK: the writers of the change feed take turns
SYNC_CHANNEL = "todos:sync"  # app.sync.live.CHANNEL


def bare(environ, start_response):
    """Answer every request with the same small JSON body."""
    start_response("200 OK", HEADERS)
    return [BODY]


# The columns of a todo's representation, then its tags as one space-separated string.
COLUMNS = (
    't.id, t.list_id, t.title, t.notes, t.completed, t.completed_at, t.due_at, t.priority, t.assignee_id, t."order", '
    "t.created_by, t.recurrence, t.timezone, t.reminders, t.created_at, t.updated_at, "
    "(SELECT string_agg(g.name, ' ') FROM todo_tags g WHERE g.todo_id = t.id) AS tags"
)

# Every visible list gives at most one page of candidates through its (list_id, created_at, id)
# index; the candidates are cut to one page before a row is read.
PAGE_SQL = f"""
SELECT {COLUMNS} FROM todos t
WHERE t.id IN (
    SELECT c.id FROM memberships m
    CROSS JOIN LATERAL (
        SELECT id, created_at FROM todos WHERE list_id = m.list_id {{filter}}
        ORDER BY created_at DESC, id DESC LIMIT %(n)s
    ) c
    WHERE m.user_id = %(user)s ORDER BY c.created_at DESC, c.id DESC LIMIT %(n)s
)
ORDER BY t.created_at DESC, t.id DESC LIMIT %(n)s
"""
SQL = {
    "page": PAGE_SQL.format(filter=""),
    "page, completed=false": PAGE_SQL.format(filter="AND completed = false"),
    "list page": f"""
SELECT {COLUMNS} FROM todos t JOIN memberships m ON m.list_id = t.list_id AND m.user_id = %(user)s
WHERE t.list_id = %(list)s ORDER BY t."order", t.id LIMIT %(n)s
""",
    "todo": f"""
SELECT {COLUMNS}, t.version FROM todos t JOIN memberships m ON m.list_id = t.list_id AND m.user_id = %(user)s
WHERE t.id = %(id)s
""",
    "version": """
SELECT t.id, t.version, t.assignee_id, t.created_by FROM todos t
JOIN memberships m ON m.list_id = t.list_id AND m.user_id = %(user)s WHERE t.id = %(id)s
""",
    # Writers of a list take turns (the service locks the list row too), so `order` is max + 1.
    "lock list": """
SELECT l.id FROM todo_lists l
JOIN memberships m ON m.list_id = l.id AND m.user_id = %(user)s AND m.role IN ('owner', 'editor')
WHERE l.id = %(list)s FOR UPDATE OF l
""",
    "insert todo": f"""
INSERT INTO todos AS t (list_id, title, notes, completed, priority, "order", created_by, timezone, reminders,
                   version, created_at, updated_at)
VALUES (%(list)s, %(title)s, NULL, false, %(priority)s,
        COALESCE((SELECT max("order") FROM todos WHERE list_id = %(list)s) + 1, 0), %(user)s, 'UTC', '[]',
        1, %(now)s, %(now)s)
RETURNING {COLUMNS}
""",
    "insert tags": "INSERT INTO todo_tags (todo_id, name) SELECT %(id)s, unnest(%(tags)s::varchar[])",
    # The old `completed` comes from the locked row: it decides the todo.completed event.
    "update todo": f"""
WITH old AS (
    SELECT t.id, t.completed FROM todos t
    JOIN memberships m ON m.list_id = t.list_id AND m.user_id = %(user)s AND m.role IN ('owner', 'editor')
    WHERE t.id = %(id)s FOR UPDATE OF t
)
UPDATE todos t SET priority = %(priority)s, completed = %(completed)s,
    completed_at = CASE WHEN NOT %(completed)s THEN NULL WHEN old.completed THEN t.completed_at ELSE %(now)s END,
    version = t.version + 1, updated_at = %(now)s
FROM old WHERE t.id = old.id
RETURNING {COLUMNS}, old.completed AS was_completed
""",
    "unschedule": "DELETE FROM reminder_schedule WHERE todo_id = %(id)s",
    "outbox": """
INSERT INTO webhook_events (event, list_id, payload, webhook_ids, created_at)
VALUES (%(event)s, %(list)s, %(payload)s, NULL, %(now)s)
""",
    "feed lock": "SELECT pg_advisory_xact_lock(%(lock)s)",
    "feed": """
INSERT INTO changes (user_id, list_id, kind, op, object_id, role, data, created_at)
SELECT m.user_id, %(list)s, 'todo', 'upsert', %(id)s, m.role, %(data)s, %(now)s
FROM memberships m WHERE m.list_id = %(list)s
""",
}

# For the report: each endpoint's SQL and the parameters of the benchmark's first request.
PLANS = {
    "GET /todos?limit=50": ("page", {"user": 1, "n": 51}),
    "GET /todos?limit=50&completed=false": ("page, completed=false", {"user": 1, "n": 51}),
    "GET /lists/<id>/todos?limit=50": ("list page", {"user": 1, "list": 1, "n": 51}),
    "GET /todos/<id>": ("todo", {"user": 1, "id": 1}),
    "GET /todos/<id> (If-None-Match: 304)": ("version", {"user": 1, "id": 1}),
}


_state = {}


def _conn():
    """This worker's connection, opened at its first request (after Gunicorn's fork)."""
    conn = _state.get("conn")
    if conn is None or conn.closed:
        conn = _state["conn"] = psycopg.connect(
            _dsn_of(os.environ["DATABASE_URL"]), autocommit=True, prepare_threshold=0
        )
    return conn


def _redis():
    client = _state.get("redis")
    if client is None and os.environ.get("REDIS_URL"):
        import redis

        client = _state["redis"] = redis.Redis.from_url(os.environ["REDIS_URL"])
    return client


def _time(value):
    return value.replace(microsecond=0).isoformat() + "Z" if value is not None else None


def _todo(row, base):
    return {
        "id": row[0],
        "url": f"{base}/api/v1/todos/{row[0]}",
        "list_id": row[1],
        "title": row[2],
        "notes": row[3],
        "completed": row[4],
        "completed_at": _time(row[5]),
        "due_at": _time(row[6]),
        "priority": row[7],
        "tags": sorted(row[16].split(" ")) if row[16] else [],
        "assignee_id": row[8],
        "order": row[9],
        "created_by": row[10],
        "recurrence": row[11],
        "timezone": row[12],
        "reminders": row[13],
        "created_at": _time(row[14]),
        "updated_at": _time(row[15]),
    }


def _etag(todo_id, version, assignee_id, created_by):
    """app.conditional.todo_etag."""
    raw = f"{todo_id}.{version}.{assignee_id}.{created_by}"
    return '"t' + hashlib.sha256(raw.encode()).hexdigest()[:24] + '"'


def _answer(start_response, status, body=None, headers=()):
    data = orjson.dumps(body) if body is not None else b""
    start_response(status, [JSON_TYPE, ("Content-Length", str(len(data))), *headers])
    return [data]


def _page(rows, limit, base, key):
    more, rows = len(rows) > limit, rows[:limit]
    cursor = None
    if more:  # the last row's sort key and id, as the service's cursor carries them
        cursor = base64.urlsafe_b64encode(orjson.dumps([str(key(rows[-1])), rows[-1][0]])).decode()
    return {"items": [_todo(row, base) for row in rows], "next_cursor": cursor}


def _wake(list_id):
    """What the service publishes after a commit that wrote changes: the streams' wake-up."""
    client = _redis()
    if client is not None:
        client.publish(SYNC_CHANNEL, json.dumps({"lists": [list_id], "users": []}))


def _outbox(event, list_id, todo, now):
    payload = {"id": "msg_" + uuid.uuid4().hex, "type": event, "created_at": _time(now), "data": todo}
    return [
        (SQL["outbox"], {"event": event, "list": list_id, "payload": orjson.dumps(payload).decode(), "now": now}),
    ]


def _feed(list_id, todo, now):
    return [
        (SQL["feed lock"], {"lock": FEED_LOCK}),
        (SQL["feed"], {"list": list_id, "id": todo["id"], "data": orjson.dumps(todo).decode(), "now": now}),
    ]


def _create(conn, user, list_id, body, base):
    data = orjson.loads(body)
    now = datetime.now(UTC).replace(tzinfo=None)
    tags = sorted({tag.lower() for tag in data.get("tags", [])})
    with conn.transaction():
        if conn.execute(SQL["lock list"], {"user": user, "list": list_id}, prepare=True).fetchone() is None:
            return None
        params = {"list": list_id, "title": data["title"], "priority": data.get("priority", 0), "user": user}
        row = conn.execute(SQL["insert todo"], {**params, "now": now}, prepare=True).fetchone()
        todo = {**_todo(row, base), "tags": tags}
        steps = [(SQL["insert tags"], {"id": todo["id"], "tags": tags})] if tags else []
        steps += _outbox("todo.created", list_id, todo, now) + _feed(list_id, todo, now)
        with conn.pipeline():
            for sql, step_params in steps:
                conn.execute(sql, step_params, prepare=True)
    _wake(list_id)
    return todo


def _update(conn, user, todo_id, body, base):
    data = orjson.loads(body)
    now = datetime.now(UTC).replace(tzinfo=None)
    with conn.transaction():
        params = {"user": user, "id": todo_id, "priority": data["priority"], "completed": data["completed"]}
        row = conn.execute(SQL["update todo"], {**params, "now": now}, prepare=True).fetchone()
        if row is None:
            return None
        todo, was_completed = _todo(row, base), row[17]
        steps = []
        if was_completed != todo["completed"]:
            steps.append((SQL["unschedule"], {"id": todo_id}))
            if todo["completed"]:
                steps += _outbox("todo.completed", todo["list_id"], todo, now)
        steps += _outbox("todo.updated", todo["list_id"], todo, now) + _feed(todo["list_id"], todo, now)
        with conn.pipeline():
            for sql, step_params in steps:
                conn.execute(sql, step_params, prepare=True)
    _wake(todo["list_id"])
    return todo


LIST_TODOS = re.compile(r"^/api/v1/lists/(\d+)/todos$")
TODO = re.compile(r"^/api/v1/todos/(\d+)$")
NOT_FOUND = {"type": "about:blank", "title": "Not Found", "status": 404}


def fastest(environ, start_response):
    """The hot endpoints, each the fastest honest way (see the module docstring)."""
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    args = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    user, limit = int(args.get("user", 1)), int(args.get("limit", 50))
    base = "http://127.0.0.1"
    conn = _conn()
    if path == "/api/v1/todos" and method == "GET":
        name = "page, completed=false" if args.get("completed") == "false" else "page"
        rows = conn.execute(SQL[name], {"user": user, "n": limit + 1}, prepare=True).fetchall()
        return _answer(start_response, "200 OK", _page(rows, limit, base, lambda r: r[14]))
    if match := LIST_TODOS.match(path):
        list_id = int(match[1])
        if method == "GET":
            params = {"user": user, "list": list_id, "n": limit + 1}
            rows = conn.execute(SQL["list page"], params, prepare=True).fetchall()
            return _answer(start_response, "200 OK", _page(rows, limit, base, lambda r: r[9]))
        todo = _create(conn, user, list_id, environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)), base)
        if todo is None:
            return _answer(start_response, "404 Not Found", NOT_FOUND)
        return _answer(start_response, "201 Created", todo, [("Location", todo["url"])])
    if match := TODO.match(path):
        todo_id = int(match[1])
        if method == "GET":
            wanted = environ.get("HTTP_IF_NONE_MATCH")
            if wanted:
                row = conn.execute(SQL["version"], {"user": user, "id": todo_id}, prepare=True).fetchone()
                if row is not None and _etag(*row) in (wanted, "W/" + wanted):
                    start_response("304 Not Modified", [("ETag", _etag(*row))])
                    return [b""]
            row = conn.execute(SQL["todo"], {"user": user, "id": todo_id}, prepare=True).fetchone()
            if row is None:
                return _answer(start_response, "404 Not Found", NOT_FOUND)
            etag = _etag(row[0], row[17], row[8], row[10])
            return _answer(start_response, "200 OK", _todo(row, base), [("ETag", etag)])
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        todo = _update(conn, user, todo_id, body, base)
        if todo is None:
            return _answer(start_response, "404 Not Found", NOT_FOUND)
        return _answer(start_response, "200 OK", todo)
    return _answer(start_response, "404 Not Found", NOT_FOUND)


def explain(database_url):
    """{endpoint: its ceiling's SQL and EXPLAIN (ANALYZE, BUFFERS) plan} on the benchmark's data."""
    plans = {}
    with psycopg.connect(_dsn_of(database_url), autocommit=True) as conn:
        for endpoint, (name, params) in PLANS.items():
            lines = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + SQL[name], params).fetchall()
            plans[endpoint] = {"sql": " ".join(SQL[name].split()), "plan": [line[0] for line in lines]}
    return plans


def _dsn_of(url):
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql://" + url[len(prefix) :]
    return url
