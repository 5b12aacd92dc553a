"""Keyset pagination with opaque, signed cursors, and the shared query parsers."""

import hashlib
import re
from datetime import datetime
from urllib.parse import urlencode

from flask import current_app, request
from flask_restful import inputs, reqparse
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, literal, or_, true, tuple_
from sqlalchemy import select as sa_select

from app.errors import abort
from app.http import external_request_url

MAX_LIMIT = 200
DEFAULT_LIMIT = 50

# The base every collection GET copies: limit and cursor, from the query string only.
page_parser = reqparse.RequestParser(bundle_errors=True, trim=True)
page_parser.add_argument(
    "limit",
    type=inputs.int_range(1, MAX_LIMIT),
    default=DEFAULT_LIMIT,
    location="args",
    help="limit must be an integer from 1 to 200",
)
# The longest cursor the service gives out is about 2,200 URL-safe characters (a title sort past
# 500 incompressible characters); the bound keeps any request line within gunicorn.conf.py's limit.
CURSOR_MAX_LENGTH = 3000
CURSOR_PATTERN = re.compile(r"^[A-Za-z0-9_.-]*$")


def cursor_text(value):
    """A reqparse type for a cursor: URL-safe characters only, at most CURSOR_MAX_LENGTH of them."""
    if len(value) > CURSOR_MAX_LENGTH or not CURSOR_PATTERN.fullmatch(value):
        raise ValueError("not a cursor")
    return value


cursor_text.openapi = {"type": "string", "maxLength": CURSOR_MAX_LENGTH, "pattern": CURSOR_PATTERN.pattern}
page_parser.add_argument(
    "cursor",
    type=cursor_text,
    location="args",
    help=f"cursor must be a cursor from a previous page, at most {CURSOR_MAX_LENGTH} characters",
)


def sort_parser(fields, default):
    """Return a copy of page_parser that also takes `sort` over `fields`."""
    parser = page_parser.copy()
    choices = tuple(fields) + tuple("-" + name for name in fields)
    parser.add_argument(
        "sort",
        type=str,
        choices=choices,
        default=default,
        location="args",
        help=f"sort must be one of: {', '.join(choices)}",
    )
    return parser


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="cursor")


def _encode_value(value):
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value


def _decode_value(value):
    if isinstance(value, dict) and set(value) == {"t"}:
        return datetime.fromisoformat(value["t"])
    return value


def query_fingerprint(exclude=("cursor", "limit")):
    """A short hash of the query string without paging arguments: ties a cursor to its query."""
    items = sorted((k, v) for k, vs in request.args.lists() if k not in exclude for v in vs)
    # The path too: a cursor of one list's todos is no cursor for another list's.
    return hashlib.sha256(repr((request.path, items)).encode()).hexdigest()[:16]


def decode_cursor(cursor, sort):
    """Return (value, tie-break key) from a cursor made for this sort and query, or answer 400."""
    try:
        data = _serializer().loads(cursor)
        if data["s"] != sort or data["f"] != query_fingerprint():
            abort(
                400,
                "The cursor belongs to another query; start again without it.",
                errors={"cursor": ["Cursor does not match this sort or filter."]},
            )
        if isinstance(data["i"], bool) or not isinstance(data["i"], (int, str)):  # ids, or names for tags
            raise ValueError("bad tie-break key")
        return _decode_value(data["v"]), data["i"]
    except (BadSignature, KeyError, TypeError, ValueError):
        abort(400, "The cursor is invalid.", errors={"cursor": ["Invalid cursor."]})


def encode_cursor(sort, value, row_id):
    return _serializer().dumps({"s": sort, "f": query_fingerprint(), "v": _encode_value(value), "i": row_id})


def keyset(column, id_column, descending, after):
    """Return (order_by clauses, where clause or None) for a keyset page; NULLs sort last.

    Past a non-NULL value the bound is one row-value comparison, `(key, id) > (value, last id)`,
    which the databases use as an index range bound (an OR of two comparisons is only a filter).
    The values are bound with the columns' own types, so UTC times compare as stored.
    """
    key = column.desc() if descending else column.asc()
    tie = id_column.desc() if descending else id_column.asc()
    nullable = getattr(column, "nullable", True) and column is not id_column
    order = ([column.is_(None)] if nullable else []) + [key, tie]
    if after is None:
        return order, None
    value, last_id = after
    id_beyond = (id_column < last_id) if descending else (id_column > last_id)
    if column is id_column:
        return [tie], id_beyond
    if value is None:  # past the last non-NULL value: only NULLs remain, in id order
        return order, and_(column.is_(None), id_beyond)
    row = tuple_(column, id_column)
    bound = tuple_(literal(value, column.type), literal(last_id, id_column.type))
    clause = (row < bound) if descending else (row > bound)
    if nullable:
        clause = or_(clause, column.is_(None))
    return order, clause


def paginate(select, sort, columns, id_column, args, session, scalars=True, core=False):
    """Run `select` one keyset page at a time.

    `columns` maps each sortable field to its column; `sort` is the field, with a
    leading "-" for descending. Returns (rows, next_cursor). One query, whatever the
    page size: no COUNT, no OFFSET. `core`: `select` names columns only, so it runs on
    the session's connection, without the ORM's execution layer (rows, not entities).
    """
    field = sort.lstrip("-")
    column = columns[field]
    after = decode_cursor(args["cursor"], sort) if args.get("cursor") else None
    order, where = keyset(column, id_column, sort.startswith("-"), after)
    if where is not None:
        select = select.where(where)
    select = select.order_by(*order).limit(args["limit"] + 1)
    result = session.connection().execute(select) if core else session.execute(select)
    rows = list(result.scalars() if scalars else result)
    if len(rows) <= args["limit"]:
        return rows, None
    rows = rows[: args["limit"]]
    last = rows[-1]
    value = _attr(last, column)
    return rows, encode_cursor(sort, value, _attr(last, id_column))


def paginate_scoped(select, scope_ids, scope_column, sort, columns, id_column, args, session, scalars=True, core=False):
    """paginate() over the rows of several scopes (the caller's lists), `scope_ids` being a select of their ids.

    On PostgreSQL each scope first contributes at most one page of candidates, (id, sort
    key) only, through its own (scope, sort key, id) index (a LATERAL join; an index-only
    scan when the filters are on indexed columns); the candidates are cut to one page
    before any row is read, so a page costs about scopes x limit index entries plus one
    page of rows, however many rows the scopes hold. Elsewhere it is a plain `scope IN (...)`.
    """
    if session.get_bind().dialect.name != "postgresql":
        in_scopes = select.where(scope_column.in_(scope_ids))
        return paginate(in_scopes, sort, columns, id_column, args, session, scalars, core)
    column, descending = columns[sort.lstrip("-")], sort.startswith("-")
    after = decode_cursor(args["cursor"], sort) if args.get("cursor") else None
    order, where = keyset(column, id_column, descending, after)
    scopes = scope_ids.subquery()
    keys = (id_column,) if column is id_column else (id_column, column)
    inner = select.with_only_columns(*keys).where(scope_column == scopes.c[0])
    if where is not None:
        inner = inner.where(where)
    inner = inner.order_by(*order).limit(args["limit"] + 1).lateral()
    first, _ = keyset(inner.c[len(keys) - 1], inner.c[0], descending, None)
    candidates = sa_select(inner.c[0]).select_from(scopes.join(inner, true())).order_by(*first).limit(args["limit"] + 1)
    return paginate(select.where(id_column.in_(candidates)), sort, columns, id_column, args, session, scalars, core)


def _attr(row, column):
    key = column.key
    if hasattr(row, "_mapping"):  # a Row: a labelled column, or an attribute of an entity in it
        if key in row._mapping:
            return row._mapping[key]
        for item in row:
            if hasattr(item, key):
                return getattr(item, key)
        return row._mapping[column]
    return getattr(row, key)


def page_response(items, next_cursor):
    """Return (body, headers) of a page: items, next_cursor and a Link header."""
    headers = {}
    if next_cursor:
        args = request.args.to_dict(flat=False)
        args["cursor"] = [next_cursor]
        url = external_request_url() + "?" + urlencode(args, doseq=True)
        headers["Link"] = f'<{url}>; rel="next"'
    return {"items": items, "next_cursor": next_cursor}, headers


def page_result(items, next_cursor):
    """Return a Resource's (body, 200, headers) for a page."""
    body, headers = page_response(items, next_cursor)
    return body, 200, headers
