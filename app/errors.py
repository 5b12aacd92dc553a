"""One error shape, RFC 9457 problem+json, for every layer of the service."""

import logging
from http import HTTPStatus

import orjson
from flask import Response, g, request
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app.logs import safe_path

log = logging.getLogger("app.errors")

PROBLEM_MIMETYPE = "application/problem+json"

# Default `detail` per status, so every problem reads as a sentence a client can show.
DETAILS = {
    400: "The request could not be understood.",
    401: "Authentication is required: send a valid access token.",
    403: "You are not allowed to do this.",
    404: "The requested resource was not found.",
    405: "The method is not allowed for this resource.",
    409: "The request conflicts with the current state of the resource.",
    412: "The resource has changed since you last fetched it.",
    413: "The request body is too large.",
    415: "The request body must be JSON (Content-Type: application/json).",
    422: "The request body is invalid.",
    429: "Too many requests; slow down.",
    500: "An unexpected error occurred.",
    503: "The service is temporarily unavailable; try again shortly.",
}


# RFC 9110 names where Python's table still has the older ones.
TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


class APIError(HTTPException):
    """An HTTP error carrying a problem detail, optional field errors and headers."""

    def __init__(self, status, detail=None, errors=None, headers=None):
        self.code = status
        super().__init__(description=detail or DETAILS.get(status))
        self.errors = errors
        self.extra_headers = headers or {}


def problem(status, detail=None, errors=None, headers=None):
    """Build a problem+json response."""
    body = {
        "type": "about:blank",
        "title": TITLES.get(status) or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or DETAILS.get(status) or HTTPStatus(status).description,
    }
    if errors:
        body["errors"] = errors
    request_id = g.get("request_id") if g else None
    if request_id:
        body["request_id"] = request_id
    # Non-string keys: Marshmallow keys errors of list items by index.
    response = Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status=status, mimetype=PROBLEM_MIMETYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def abort(status, detail=None, errors=None, headers=None):
    """Raise an APIError; it is rendered as problem+json."""
    raise APIError(status, detail, errors, headers)


def _handle_http(e):
    headers = dict(getattr(e, "extra_headers", {}))
    if isinstance(e, MethodNotAllowed) and e.valid_methods:
        headers["Allow"] = ", ".join(sorted(e.valid_methods))
    if e.code == 429 and not isinstance(e, APIError):
        return _handle_rate_limit(e)
    detail = e.description if isinstance(e, APIError) else DETAILS.get(e.code, e.description)
    errors = getattr(e, "errors", None)
    data = getattr(e, "data", None)  # reqparse: {"message": {argument: help}}
    if isinstance(data, dict) and isinstance(data.get("message"), dict):
        errors = {name: [str(text)] for name, text in data["message"].items()}
        detail = "The query string is invalid: " + ", ".join(sorted(errors)) + "."
    return problem(e.code or 500, detail, errors, headers)


def _handle_rate_limit(e):
    from app.ratelimit import retry_after_seconds

    return problem(429, DETAILS[429], headers={"Retry-After": str(retry_after_seconds())})


def _handle_validation(e):
    messages = e.messages
    if isinstance(messages, list):  # the body as a whole was of the wrong shape
        messages = {"_schema": messages}
    return problem(422, DETAILS[422], errors=field_errors(messages))


def field_errors(messages):
    """Marshmallow's messages as {field: [text, ...]}: a list's or object's inner errors say where they are.

    {"events": {1: ["Must be one of: ..."]}} becomes {"events": ["Item 1: Must be one of: ..."]}.
    """
    return {str(field): list(_texts(value)) for field, value in messages.items()}


def _texts(value, path=()):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _texts(inner, (*path, key))
        return
    where = ", ".join(f"item {key}" if isinstance(key, int) else str(key) for key in path)
    prefix = where[:1].upper() + where[1:] + ": " if where else ""
    for text in value if isinstance(value, list | tuple) else [value]:
        yield prefix + str(text)


def _handle_database(e):
    if isinstance(e, OperationalError) or getattr(e, "connection_invalidated", False):
        log.warning("database unavailable: %s", type(e.orig).__name__ if e.orig else e)
        return problem(503, "The database is unavailable; try again shortly.", headers={"Retry-After": "5"})
    return _handle_unexpected(e)


def _handle_stale(e):
    # Another request updated the same row version first (optimistic locking).
    from app.extensions import db

    db.session.rollback()
    if request.headers.get("If-Match"):
        # The caller's precondition held when read but not when written: it failed.
        return problem(412, DETAILS[412])
    return problem(409, "The resource was changed by another request; fetch it again and retry.")


def _handle_unexpected(e):
    if isinstance(e, HTTPException):
        return _handle_http(e)
    if isinstance(e, RecursionError):
        return problem(400, "The JSON body is nested too deeply.")
    log.exception("unhandled error on %s %s", request.method, safe_path())
    return problem(500)


def _release_session(exc):
    """End the request's session without letting a dead connection fail the request.

    Closing rolls back an open transaction; if the database went away meanwhile that
    rollback raises, and an exception in teardown escapes Flask's error handlers (the
    server would answer its own HTML 500 after the response was decided). The
    connection is discarded instead; Flask-SQLAlchemy's own teardown then finds nothing.
    """
    from app.extensions import db

    try:
        db.session.remove()
    except DBAPIError as e:
        log.warning("database unavailable while ending a request's session: %s", type(e.orig).__name__)
        db.session.registry.clear()


def register_error_handlers(app):
    """Route every exception, from any layer, to one problem+json shape."""
    app.teardown_appcontext(_release_session)  # registered after Flask-SQLAlchemy's, so it runs first
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(ValidationError, _handle_validation)
    app.register_error_handler(DBAPIError, _handle_database)
    app.register_error_handler(StaleDataError, _handle_stale)
    app.register_error_handler(Exception, _handle_unexpected)
