"""Sync: `Changes` (/changes), the user's ordered change feed, and `Events` (/events), the same feed live."""

from flask import Response, request
from flask_jwt_extended import current_user, get_jwt, jwt_required
from flask_restful import Resource, inputs, reqparse

from app.apidoc import doc
from app.auth.tokens import current_session
from app.http import query_text
from app.personal_tokens.principal import current_token
from app.schemas.change import change_page_schema, change_schema
from app.sync import reader, stream

TAGS = ["sync"]
CHANGES_DESCRIPTION = """\
One feed per user of list, todo and member upserts and deletes, in the order they were
committed, each carrying the object as its GET answers it (`data`, null for a delete).
Only changes to lists the caller was a member of when they were made. Losing a list
(removed, left, deleted) is a `delete` of that `list`: drop it and everything in it;
gaining one is an `upsert` of the `list`: load its todos and members with GET. A list's
`todo_count` and `completed_count` follow from its todos (not repeated per todo change).

Without `since`: no items and a `next_cursor` at the current head; load the state with
the GET endpoints after asking for it. `next_cursor` is never null. No change is ever
skipped: a transaction that commits after a page was read still appears after that page.
A malformed cursor is a 400; one older than CHANGES_RETENTION_DAYS (30) or unknown is a
410 Gone: reload everything and start from a new head. Scope `changes:read`."""
EVENTS_DESCRIPTION = """\
The same items as GET /changes, live, as Server-Sent Events (`text/event-stream`):

```
id: <cursor>
event: change
data: {"cursor": "<cursor>", "kind": "todo", "op": "upsert", "id": 7, "list_id": 3, "at": "...", "data": {...}}

event: reminder
data: {...}

: keep-alive
```

Starts after `since`, or after the `Last-Event-ID` header (EventSource sends it when it
reconnects), or at the head without either; a reconnect misses nothing. A comment line
is sent every 15 s. Takes a bearer token or the access cookie (no CSRF header on a GET).
The server ends the stream within 5 s when that login is revoked (logout, session
deleted, password change elsewhere, deactivation), and when the access token expires:
refresh, then reconnect with the last cursor. A change committed on any instance reaches
open streams on every instance within 1 s. Reminders are sent live only (not replayed).
Errors (401, 400, 410) come as problem+json before the stream starts. Scope `changes:read`."""

# A feed cursor is under 100 characters; the bound keeps a request line within what Gunicorn reads.
CURSOR = query_text(0, 200)
changes_parser = reqparse.RequestParser(bundle_errors=True, trim=True)
changes_parser.add_argument("since", type=CURSOR, location="args", help="since must be a cursor from the feed")
changes_parser.add_argument(
    "limit",
    type=inputs.int_range(1, reader.MAX_LIMIT),
    default=reader.DEFAULT_LIMIT,
    location="args",
    help=f"limit must be an integer from 1 to {reader.MAX_LIMIT}",
)
events_parser = reqparse.RequestParser(bundle_errors=True, trim=True)
events_parser.add_argument("since", type=CURSOR, location="args", help="since must be a cursor from the feed")


class Changes(Resource):
    scope = "changes:read"
    method_decorators = [jwt_required()]

    @doc(
        "The caller's changes after a cursor, in commit order.",
        query=changes_parser,
        responses={200: change_page_schema},
        errors=(400, 410),
        tags=TAGS,
        description=CHANGES_DESCRIPTION,
        etag=False,
    )
    def get(self):
        """Return a page of the caller's change feed."""
        args = changes_parser.parse_args()
        rows, cursor = reader.page(current_user.id, reader.start(args["since"]), args["limit"])
        items = change_schema.dump([reader.item(row) for row in rows], many=True)
        return {"items": items, "next_cursor": cursor.encode()}


class Events(Resource):
    scope = "changes:read"
    method_decorators = [jwt_required()]

    @doc(
        "The caller's changes, live, as Server-Sent Events.",
        query=events_parser,
        responses={200: "text/event-stream"},
        errors=(400, 410),
        tags=TAGS,
        description=EVENTS_DESCRIPTION,
        etag=False,
    )
    def get(self):
        """Stream the caller's change feed."""
        since = request.headers.get("Last-Event-ID") or events_parser.parse_args()["since"]
        cursor = reader.start(since or None)
        login, personal = current_session(), current_token()  # one of them: a login or a personal token
        expires_at = personal.expires_at.timestamp() if personal else get_jwt()["exp"]
        body = stream.events(current_user.id, login and login.id, expires_at, cursor, personal and personal.id)
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return Response(body, mimetype="text/event-stream", headers=headers)
