"""Recurrence: a todo's next due times (`TodoOccurrences`) and a share link's calendar feed (`SharedCalendar`)."""

from flask import Response, request
from flask_jwt_extended import jwt_required
from flask_restful import Resource, inputs

from app import sharing
from app.apidoc import Page, doc
from app.conditional import not_modified
from app.pagination import page_parser, page_result
from app.permissions import todo_for
from app.personal_tokens.scopes import PUBLIC
from app.recurrence.feeds import calendar_feed, occurrence_page
from app.resources.shared import TAGS, token_limit
from app.schemas.occurrence import occurrence_schema

occurrences_parser = page_parser.copy()
occurrences_parser.replace_argument(
    "limit", type=inputs.int_range(1, 100), default=10, location="args", help="limit must be an integer from 1 to 100"
)


class TodoOccurrences(Resource):
    scope = "todos"
    method_decorators = [jwt_required()]

    @doc(
        "List a todo's next due times (viewer+): its due_at, then the rule's occurrences after it.",
        description="A todo without a due time, or completed, has none; one that does not recur has its due_at "
        "only. `limit` is 1-100 (default 10); `next_cursor` continues after the last due time given.",
        query=occurrences_parser,
        responses={200: Page(occurrence_schema)},
        errors=(400, 404),
        tags=["todos"],
    )
    def get(self, todo_id):
        """List a todo's next occurrences."""
        todo, _ = todo_for(todo_id, tags=False)
        items, cursor = occurrence_page(todo, occurrences_parser.parse_args())
        return page_result(occurrence_schema.dump(items, many=True), cursor)


class SharedCalendar(Resource):
    scope = PUBLIC

    @doc(
        "The shared list as an iCalendar feed (RFC 5545) for calendar apps to subscribe to.",
        description="One VEVENT per open todo with a due time: UID `todo-<id>@<host>` (stable), SUMMARY (title), "
        "DESCRIPTION (notes), DTSTART (the due time, in the todo's zone, with its VTIMEZONE), RRULE when it "
        "recurs (from the current due time: a COUNT is given as the UNTIL of its last occurrence), one VALARM "
        "per reminder, CATEGORIES (tags). Answers an ETag; If-None-Match with it gives 304.",
        auth="share",
        responses={200: "text/calendar", 304: None},
        errors=(404, 429),
        tags=TAGS,
    )
    @token_limit
    def get(self, token):
        """Answer the shared list's calendar."""
        link = sharing.link_for(token)
        body, etag = calendar_feed(link.list_id, request.host)
        headers = {"ETag": etag, "Cache-Control": "no-store"}
        return not_modified(etag) or Response(body, content_type="text/calendar; charset=utf-8", headers=headers)
