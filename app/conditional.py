"""Conditional requests: ETags, If-None-Match (304) and If-Match (412)."""

import hashlib

import orjson
from flask import current_app, request
from werkzeug.http import quote_etag

from app.errors import abort


def representation_etag(data):
    """A strong ETag from a hash of a dumped representation."""
    return quote_etag(hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32])


def todo_etag(todo):
    """A strong ETag from a todo's id and version: cheap, no dump needed.

    The version bumps on every change of the row; assignee and creator are in the tag
    too because the database clears them (SET NULL) without touching the version.
    """
    raw = f"{todo.id}.{todo.version}.{todo.assignee_id}.{todo.created_by}"
    return quote_etag("t" + hashlib.sha256(raw.encode()).hexdigest()[:24])


def not_modified(etag):
    """Return a 304 response when If-None-Match holds `etag` (weak comparison), else None."""
    if request.if_none_match and request.if_none_match.contains_weak(_unquote(etag)):
        response = current_app.response_class(status=304)
        response.headers["ETag"] = etag
        return response
    return None


def require_match(etag):
    """Answer 412 when an If-Match header is sent and does not hold `etag` (strong comparison)."""
    if request.if_match and not request.if_match.contains(_unquote(etag)):
        abort(412, "The resource has changed since you fetched it; fetch it again and retry.")


def _unquote(etag):
    return etag.strip('"')
