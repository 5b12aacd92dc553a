"""Request and response plumbing: JSON bodies, request ids, common headers, absolute URLs."""

import re
import uuid
from contextlib import nullcontext

import orjson
from flask import current_app, g, has_request_context, request, url_for
from flask_restful import Api

from app.errors import DETAILS, abort

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# PostgreSQL text cannot hold U+0000, so it is refused at the door instead of failing in the database.
NUL = "\x00"
NUL_MESSAGE = "Text may not contain the NUL character (U+0000)."


class ProblemApi(Api):
    """A flask-restful Api that leaves every error to the app's own handlers.

    flask-restful's default router answers non-HTTP exceptions itself (a 500 with a
    body of its own, or the exception re-raised only when PROPAGATE_EXCEPTIONS is
    on). Handing them back to Flask keeps one problem+json shape whatever TESTING is.
    """

    def error_router(self, original_handler, e):
        return original_handler(e)


def public_base():
    """The origin every absolute URL is built on: PUBLIC_BASE_URL, never the request's Host.

    Without the setting (development only: production refuses to start), the request's
    own origin, as TRUSTED_PROXIES lets it be read.
    """
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base
    if has_request_context():
        return request.host_url.rstrip("/")
    raise RuntimeError("PUBLIC_BASE_URL is needed to build an absolute URL outside a request")


def external_url(endpoint, **values):
    """The absolute URL of a route (`api.todo`, todo_id=1), on public_base(); works outside a request too."""
    if has_request_context():
        path = url_for(endpoint, **values)
    else:
        path = current_app.url_map.bind("").build(endpoint, values)
    return public_base() + path


def external_request_url():
    """The absolute URL of the current request's path (no query string), on public_base()."""
    return public_base() + request.script_root + request.path


def query_text(min_length, max_length):
    """A reqparse type for a string of `min_length` to `max_length` characters, stated as such in OpenAPI."""

    def parse(value):
        if not min_length <= len(value) <= max_length:
            raise ValueError(f"must be {min_length}-{max_length} characters")
        return value

    parse.openapi = {"type": "string", "minLength": min_length, "maxLength": max_length}
    return parse


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


def contains_nul(value):
    """Return whether any string in `value` (keys included) holds a NUL character."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def refuse_nul(data, raw):
    """A 422 naming the top-level fields whose text holds a NUL character."""
    if b"\\u0000" not in raw:  # JSON can only carry a NUL escaped: most bodies skip the walk
        return
    if isinstance(data, dict):
        fields = sorted(name for name, value in data.items() if contains_nul(name) or contains_nul(value))
    else:
        fields = ["_schema"] if contains_nul(data) else []
    if fields:
        abort(422, DETAILS[422], errors={name: [NUL_MESSAGE] for name in fields})


def refuse_nul_in_query():
    """A 400 naming the query arguments that hold a NUL character (before_request)."""
    if b"%00" not in request.query_string and b"\x00" not in request.query_string:
        return
    names = sorted({name for name, value in request.args.items(multi=True) if NUL in name or NUL in value})
    if names:
        detail = "The query string is invalid: " + ", ".join(names) + "."
        abort(400, detail, errors={name: [NUL_MESSAGE] for name in names})


# An entity-tag list longer than this is no tag the service gave out; the bound is in the document too.
PRECONDITION_MAX_LENGTH = 1024


def refuse_long_preconditions():
    """A 400 for an If-Match or If-None-Match header longer than any tag list a client holds (before_request)."""
    for name in ("If-Match", "If-None-Match"):
        value = request.headers.get(name)
        if value is not None and len(value) > PRECONDITION_MAX_LENGTH:
            detail = f"The {name} header is longer than {PRECONDITION_MAX_LENGTH} characters."
            abort(400, detail, errors={name: [f"At most {PRECONDITION_MAX_LENGTH} characters."]})


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
    refuse_nul(data, raw)
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


def url_context():
    """A request context for absolute URLs built outside a request (the worker), on PUBLIC_BASE_URL when set."""
    if has_request_context():
        return nullcontext()
    base = current_app.config.get("PUBLIC_BASE_URL") or "http://localhost"
    # POST: on SQLite a write request's transactions take the write lock at BEGIN (app.db_engine).
    return current_app.test_request_context("/", method="POST", base_url=base)
