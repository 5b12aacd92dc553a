"""Keyset pagination with opaque, signed cursors, and the shared query parsers."""

import hashlib
from datetime import datetime

from flask import current_app, request
from flask_restful import inputs, reqparse
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, or_

from app.errors import abort

MAX_LIMIT = 200
DEFAULT_LIMIT = 50

# The base every collection GET copies: limit and cursor, from the query string only.
page_parser = reqparse.RequestParser(bundle_errors=True, trim=True)
page_parser.add_argument("limit", type=inputs.int_range(1, MAX_LIMIT), default=DEFAULT_LIMIT, location="args",
                         help="limit must be an integer from 1 to 200")
page_parser.add_argument("cursor", type=str, location="args", help="cursor must be a string")


def sort_parser(fields, default):
    """Return a copy of page_parser that also takes `sort` over `fields`."""
    parser = page_parser.copy()
    choices = tuple(fields) + tuple("-" + name for name in fields)
    parser.add_argument("sort", type=str, choices=choices, default=default, location="args",
                        help=f"sort must be one of: {', '.join(choices)}")
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
    return hashlib.sha256(repr(items).encode()).hexdigest()[:16]


def decode_cursor(cursor, sort):
    """Return (value, id) from a cursor made for this sort and query, or answer 400."""
    try:
        data = _serializer().loads(cursor)
        if data["s"] != sort or data["f"] != query_fingerprint():
            abort(400, "The cursor belongs to another query; start again without it.",
                  errors={"cursor": ["Cursor does not match this sort or filter."]})
        return _decode_value(data["v"]), int(data["i"])
    except (BadSignature, KeyError, TypeError, ValueError):
        abort(400, "The cursor is invalid.", errors={"cursor": ["Invalid cursor."]})


def encode_cursor(sort, value, row_id):
    return _serializer().dumps({"s": sort, "f": query_fingerprint(), "v": _encode_value(value), "i": row_id})


def keyset(column, id_column, descending, after):
    """Return (order_by clauses, where clause or None) for a keyset page; NULLs sort last."""
    key = column.desc() if descending else column.asc()
    tie = id_column.desc() if descending else id_column.asc()
    nullable = getattr(column, "nullable", True) and column is not id_column
    order = ([column.is_(None)] if nullable else []) + [key, tie]
    if after is None:
        return order, None
    value, last_id = after
    beyond = (column < value) if descending else (column > value)
    id_beyond = (id_column < last_id) if descending else (id_column > last_id)
    if column is id_column:
        return [tie], id_beyond
    if value is None:
        return order, and_(column.is_(None), id_beyond)
    clause = or_(beyond, and_(column == value, id_beyond))
    if nullable:
        clause = or_(clause, column.is_(None))
    return order, clause


def paginate(select, sort, columns, id_column, args, session, scalars=True):
    """Run `select` one keyset page at a time.

    `columns` maps each sortable field to its column; `sort` is the field, with a
    leading "-" for descending. Returns (rows, next_cursor). One query, whatever the
    page size: no COUNT, no OFFSET.
    """
    field = sort.lstrip("-")
    column = columns[field]
    after = decode_cursor(args["cursor"], sort) if args.get("cursor") else None
    order, where = keyset(column, id_column, sort.startswith("-"), after)
    if where is not None:
        select = select.where(where)
    select = select.order_by(*order).limit(args["limit"] + 1)
    result = session.execute(select)
    rows = list(result.scalars() if scalars else result)
    if len(rows) <= args["limit"]:
        return rows, None
    rows = rows[: args["limit"]]
    last = rows[-1]
    value = _attr(last, column)
    return rows, encode_cursor(sort, value, _attr(last, id_column))


def _attr(row, column):
    key = column.key
    if hasattr(row, key):
        return getattr(row, key)
    return row._mapping[column]


def page_response(items, next_cursor):
    """Return (body, headers) of a page: items, next_cursor and a Link header."""
    headers = {}
    if next_cursor:
        args = request.args.to_dict(flat=False)
        args["cursor"] = [next_cursor]
        from urllib.parse import urlencode

        url = request.base_url + "?" + urlencode(args, doseq=True)
        headers["Link"] = f'<{url}>; rel="next"'
    return {"items": items, "next_cursor": next_cursor}, headers
