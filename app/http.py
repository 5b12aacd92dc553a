"""Request and response plumbing: JSON bodies, request ids, common headers."""

import re
import uuid

import orjson
from flask import current_app, g, request
from flask_restful import Api

from app.errors import abort

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class ProblemApi(Api):
    """A flask-restful Api that leaves every error to the app's own handlers.

    flask-restful's default router answers non-HTTP exceptions itself (a 500 with a
    body of its own, or the exception re-raised only when PROPAGATE_EXCEPTIONS is
    on). Handing them back to Flask keeps one problem+json shape whatever TESTING is.
    """

    def error_router(self, original_handler, e):
        return original_handler(e)


def output_json(data, code, headers=None):
    """Render a resource's return value with orjson."""
    response = current_app.response_class(orjson.dumps(data), status=code, content_type=JSON_CONTENT_TYPE)
    response.headers.extend(headers or {})
    return response


def json_depth_exceeds(value, limit):
    """Return whether `value` nests deeper than `limit` containers."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def get_json_body():
    """Return the parsed JSON body, or raise the 400/413/415 problem that fits."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        abort(415)
    raw = request.get_data(cache=True)  # enforces MAX_CONTENT_LENGTH with a 413
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        detail = "The JSON body is nested too deeply." if "depth" in str(e).lower() else "The body is not valid JSON."
        abort(400, detail)
    if json_depth_exceeds(data, current_app.config["JSON_NESTING_LIMIT"]):
        abort(400, "The JSON body is nested too deeply.")
    return data


def load_body(schema, **kwargs):
    """Parse the JSON body and load it through a Marshmallow schema (422 on errors)."""
    return schema.load(get_json_body(), **kwargs)


def assign_request_id():
    """Adopt the client's X-Request-ID when it is sane, else make one."""
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def add_common_headers(response):
    """Headers every response carries."""
    response.headers["X-Request-ID"] = g.get("request_id", "")
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "application/json":
        response.headers["Content-Type"] = JSON_CONTENT_TYPE
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response
