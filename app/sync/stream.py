"""The live event stream: the feed as Server-Sent Events, woken by app.sync.live, ended on revocation or expiry."""

import queue
import time

import orjson
from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Membership
from app.sync import reader
from app.sync.live import hub_for

# How many changes a stream reads per query; it reads again at once while pages are full.
BATCH = 500


def sse(event, data, event_id=None):
    """One SSE event; `data` is one line of JSON (JSON never contains a raw newline)."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {orjson.dumps(data).decode()}\n\n"


def events(user_id, session_id, expires_at, cursor, token_id=None):
    """Generate the stream of `user_id` after `cursor` until the login is revoked or the token expires.

    Runs outside the request: each read takes the app context and gives its database
    connection back at once, so an idle stream holds no connection.
    """
    app = current_app._get_current_object()
    heartbeat = app.config["EVENTS_HEARTBEAT_SECONDS"]
    list_ids = db.session.execute(select(Membership.list_id).where(Membership.user_id == user_id)).scalars().all()
    hub = hub_for(app)
    stream = hub.open(user_id, session_id, list_ids, token_id)  # before the first read of the feed below
    db.session.remove()

    def generate():
        nonlocal cursor
        try:
            yield ": connected\nretry: 2000\n\n"
            next_beat = time.monotonic() + heartbeat
            while True:
                with app.app_context():
                    rows, cursor = reader.page(user_id, cursor, BATCH)
                    items = [reader.item(row) for row in rows]
                    db.session.remove()
                for row, item in zip(rows, items, strict=True):
                    if row.kind == "list":
                        (stream.list_ids.add if row.op == "upsert" else stream.list_ids.discard)(row.list_id)
                    yield sse("change", item, item["cursor"])
                if len(rows) == BATCH:
                    continue
                while True:
                    now = time.time()
                    if now >= expires_at:
                        return
                    wait = min(next_beat - time.monotonic(), expires_at - now)
                    try:
                        message = stream.inbox.get(timeout=max(wait, 0))
                    except queue.Empty:
                        if time.monotonic() >= next_beat:
                            next_beat = time.monotonic() + heartbeat
                            yield ": keep-alive\n\n"
                        continue
                    if message.get("revoked"):
                        return
                    if "reminder" in message:
                        yield sse("reminder", message["reminder"])
                        continue
                    break
        finally:
            hub.close(stream)

    return generate()
