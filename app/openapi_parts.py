"""The parts of the OpenAPI document that every operation shares: conventions, headers, errors, security."""

import re
from http import HTTPStatus

from app.apidoc import Page, Upload
from app.errors import DETAILS, PROBLEM_MIMETYPE, TITLES
from app.http import PRECONDITION_MAX_LENGTH
from app.personal_tokens.scopes import SCOPES, declaration_of, needed_scope

DESCRIPTION = """A REST API for shared todo lists.

**Conventions.** JSON in and out (`application/json; charset=utf-8`); times are RFC 3339 in UTC with `Z`.
Every object carries `id`, `url`, `created_at`, `updated_at`. A create answers `201` with `Location`; a
delete answers `204`. Absolute URLs (`url`, `Location`, `Link`, webhook payloads) are built on the
service's configured public origin, never on the request's `Host` header. `PATCH` is partial and
`null` clears a nullable field. Unknown or read-only fields in a body are a `422` naming the field.

**Errors** are `application/problem+json` (RFC 9457) with `type`, `title`, `status`, `detail`, `errors`
keyed by field for validation (each a list of messages; one about an item of a list says which, e.g.
`Item 1: ...`), and the `request_id` of the request. Text holding the NUL character (U+0000) is refused:
a `422` naming the field in a body, a `400` naming the argument in the query string.

**Pagination.** Collections take `limit` (1-200, default 50), an opaque `cursor` and `sort` (a field,
`-` in front for descending) and answer `{"items": [...], "next_cursor": "..." | null}` with a
`Link: <...>; rel="next"` header while there is a next page. A bad cursor or sort is a `400`.

**Conditional requests.** A single-object `GET` answers with an `ETag`; `If-None-Match` with the current
tag gives `304`. `PATCH`, `PUT` and `DELETE` honour `If-Match`: a stale tag gives `412`. As in RFC 9110
(13.2.2), the precondition is evaluated before the body is read: a stale tag is a `412` even when the
body is invalid.

**Idempotency.** A `POST` that creates or triggers something honours `Idempotency-Key` (per user, or per
share link, kept 24 hours): a retry with the same key and body replays the first answer with
`Idempotent-Replayed: true`; the same key with another body is a `422`, a key that is not 1-255 printable
ASCII characters a `400`, and a retry while the first request still runs a `409`. The operations that
honour it list the header; `POST`s that create nothing (login, logout, refresh) ignore it.

**Rate limits.** Every API request counts against one budget per user (per client address when
anonymous). Responses carry `RateLimit-Limit` (requests per window), `RateLimit-Remaining` and
`RateLimit-Reset` (the Unix time, in seconds, when the window resets, as GitHub's `x-ratelimit-reset`);
a `429` adds `Retry-After` in seconds. `/healthz`, `/readyz`, `/metrics` and `/docs` are not limited.

**Authentication.** Send `Authorization: Bearer <access_token>`, or from a browser use the HttpOnly
cookies that login sets: a cookie-authenticated write needs the `csrf_access_token` cookie's value in
`X-CSRF-TOKEN`. Share-link operations take no login: the secret token in their path is the credential.

**Personal access tokens.** Scripts and integrations can send `Authorization: Bearer tdp_...`, a token
created from a login (`POST /api/v1/auth/tokens`) and limited to its scopes: `profile:read`, `lists:read`,
`lists:write` (lists, members, share links, invitations), `todos:read`, `todos:write` (todos, tags),
`webhooks:read`, `webhooks:write`, `changes:read`, `exports`; `x:write` includes `x:read`. Each operation
names the scope it needs in `x-required-scope`; outside its scopes a token gets `403` with
`WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`. Operations marked
`x-personal-tokens: false` (`/auth/*`, password, account deletion, admin) need a login: a token gets `403`.
A token is never read from a cookie; a malformed, unknown, expired or revoked one is a `401`. Rate limits
count per user whatever the credential. A token is checked against the database on every request, so a
deleted one stops at once.

**Webhooks.** A change is recorded with its commit (never lost, never sent for a rolled-back change) and
fanned out to the webhooks that follow its list when the delivery worker picks it up, normally within a
second: a webhook created after a change does not receive it, and a member removed before the fan-out no
longer receives it (`member.removed` itself reaches the removed member's webhooks, and `list.deleted` the
deleted list's). Every delivery of one change carries the same `webhook-id`, across retries too.

**Accounts by email.** Mails (verification, password reset, email change, invitations) are written in the
transaction of the change and sent by the worker: never for a change that was rolled back, retried while the
mail server refuses. Their links point at the web app's pages on `PUBLIC_BASE_URL` (`/verify-email`,
`/reset-password`, `/confirm-email-change`, `/accept-invitation`, each with `?token=`); the page posts the
token to the matching endpoint. Tokens carry 256 random bits, work once, and only their hash is stored. With
`REQUIRE_VERIFIED_EMAIL=true`, a login whose email is unverified gets `403` everywhere but `/users/me`
(and `/users/me/email`, to fix a mistyped address), the verification endpoints, login, refresh and logout.
`REGISTRATION` is `open`, `invite-only` (register with an invitation's `invitation_token`) or `closed`
(`403`; administrators create accounts with `flask users create EMAIL`).
**Recurring todos and reminders.** A todo's `recurrence` (an RRULE value) runs in its `timezone`, keeping
the wall-clock time across daylight-saving changes; completing it moves `due_at` to the next occurrence and
leaves it open (`todo.completed` then carries `data.occurrence`, the due time done), or completes it when the
rule has ended. Each of its `reminders` (minutes before `due_at`) fires once per occurrence as a
`todo.reminder` webhook event with `data` `{"todo", "occurrence", "offset_minutes", "remind_at",
"user_ids"}` (the assignee, else every member), within seconds of its time; one more than an hour late (no
worker ran) is skipped and counted in `/metrics`. A share link's `calendar.ics` is the list as an iCalendar
feed.

**Request ids.** Every response carries `X-Request-ID`: the client's when it sent a sane one (1-128 of
`A-Z a-z 0-9 . _ : -`), else a new one. The server's log line for the request carries the same id.
"""

_HEADER = {"schema": {"type": "string"}}
HEADERS = {
    "X-Request-ID": {"description": "The request's id, as in the server log.", **_HEADER},
    "ETag": {"description": "Tag of the object's current version, for If-None-Match and If-Match.", **_HEADER},
    "Location": {"description": "Absolute URL of the created object.", "schema": {"type": "string", "format": "uri"}},
    "Link": {"description": 'The next page: `<url>; rel="next"`; absent on the last page.', **_HEADER},
    "RateLimit-Limit": {"description": "Requests allowed per window.", "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "Requests left in this window.", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "Unix time (seconds) when the window resets.", "schema": {"type": "integer"}},
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
    "WWW-Authenticate": {"description": "`Bearer`.", **_HEADER},
    "Allow": {"description": "The methods the resource allows.", **_HEADER},
    "Idempotent-Replayed": {
        "description": "`true` when this answer replays the stored first answer to the same `Idempotency-Key`.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
PARAMETERS = {
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": PRECONDITION_MAX_LENGTH},
        "description": "An ETag you hold: `304 Not Modified` while it is current.",
    },
    "IfMatch": {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": PRECONDITION_MAX_LENGTH},
        "description": "The ETag you last fetched: `412` if the object changed since, checked before the body is read.",
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7E]+$"},
        "description": "1 to 255 printable ASCII characters, unique per logical request: a retry with the same "
        "key and body replays the first answer (kept 24 hours, per user).",
    },
}
SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The access token from `POST /api/v1/auth/login`.",
    },
    "cookieAuth": {
        "type": "apiKey",
        "in": "cookie",
        "name": "access_token_cookie",
        "description": "The HttpOnly access cookie set by login (browsers).",
    },
    "refreshCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "refresh_token_cookie",
        "description": "The HttpOnly refresh cookie set by login (browsers).",
    },
    "csrfToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-TOKEN",
        "description": "With cookie authentication, every write carries the value of the "
        "readable `csrf_access_token` (or `csrf_refresh_token`) cookie.",
    },
    "personalToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "tdp_ personal access token",
        "description": "A personal access token (`tdp_` + 32 base62 characters + a 6-character checksum) "
        "from `POST /api/v1/auth/tokens` or `flask tokens create`, within its scopes: an operation that "
        "accepts one names the scope it needs in `x-required-scope`. Only in the Authorization header.",
    },
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "`METRICS_TOKEN`, needed only when the operator sets it.",
    },
}
PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "Messages keyed by field (validation, query string).",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "request_id": {"type": "string"},
    },
}
ERROR_HEADERS = {
    401: ("WWW-Authenticate",),
    405: ("Allow",),
    429: ("Retry-After", *RATE_HEADERS),
    503: ("Retry-After",),
}
NOT_MODIFIED = "NotModified"


def response_name(status):
    return re.sub(r"[^A-Za-z]", "", TITLES.get(status) or HTTPStatus(status).phrase)


def problem_response(status):
    title = TITLES.get(status) or HTTPStatus(status).phrase
    example = {"type": "about:blank", "title": title, "status": status, "detail": DETAILS.get(status, title)}
    if status == 422:
        example["errors"] = {"title": ["Field may not be blank."]}
    response = {
        "description": DETAILS.get(status, title),
        "content": {PROBLEM_MIMETYPE: {"schema": {"$ref": "#/components/schemas/Problem"}, "example": example}},
    }
    if status in ERROR_HEADERS:
        response["headers"] = {name: {"$ref": f"#/components/headers/{name}"} for name in ERROR_HEADERS[status]}
    return response


ERROR_STATUSES = (400, 401, 403, 404, 405, 409, 410, 412, 413, 415, 422, 429, 500, 503)


def register_components(spec):
    """Problem schema, the shared error responses, headers, parameters and security schemes."""
    spec.components.schema("Problem", PROBLEM)
    for status in ERROR_STATUSES:
        spec.components.response(response_name(status), problem_response(status))
    spec.components.response(
        NOT_MODIFIED,
        {"description": "The ETag you sent is current.", "headers": {"ETag": {"$ref": "#/components/headers/ETag"}}},
    )
    spec.components.response(
        "Error",
        {
            "description": "Any other error, e.g. 500 or 503 (database unavailable).",
            "content": {PROBLEM_MIMETYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        },
    )
    for name, header in HEADERS.items():
        spec.components.header(name, header)
    for name, parameter in PARAMETERS.items():
        spec.components.parameter(name, "header", parameter)
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    _register_export_format(spec)


def _register_export_format(spec):
    from app.jobs.carry import CarriedTodoSchema
    from app.jobs.export_format import document_schema

    spec.components.schema("ExportedTodo", schema=CarriedTodoSchema)
    spec.components.schema("ExportDocument", document_schema())


def _camel(name):
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-]", name) if part)


def _singular(name):
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def operation_id(endpoint, method, meta):
    """A readable id from the endpoint and method: listTodos, createTodo, getTodo, updateTodo, deleteTodo."""
    if meta and meta.get("operation_id"):
        return meta["operation_id"]
    name = _camel(endpoint.split(".", 1)[1])
    responses = (meta or {}).get("responses", {})
    many = any(type(spec).__name__ in ("Page", "Bare") for spec in responses.values())
    if method == "GET":
        return ("list" if many else "get") + name
    if method == "POST":
        return "create" + _singular(name) if 201 in responses and name.endswith("s") else name[:1].lower() + name[1:]
    return {"PATCH": "update", "PUT": "replace", "DELETE": "delete"}[method] + name


TAGS = {"auth": "Authentication", "shared": "Shared lists (Todo-Backend)", "openapi.json": "Operations"}


def tag(rule):
    if not rule.endpoint.startswith("api."):
        return "Operations"
    first = rule.rule.removeprefix("/api/v1/").split("/", 1)[0]
    return TAGS.get(first, _camel(first))


def _security(auth, method):
    write = method not in ("GET", "HEAD")
    if auth is True:
        return [{"bearerAuth": []}, {"cookieAuth": [], "csrfToken": []} if write else {"cookieAuth": []}]
    if auth == "refresh":
        return [{"bearerAuth": []}, {"refreshCookie": [], "csrfToken": []}]
    if auth == "metrics":
        return [{}, {"metricsToken": []}]
    return []


def _ref(kind, name):
    return {"$ref": f"#/components/{kind}/{name}"}


def _idempotent(meta):
    """Whether the operation honours Idempotency-Key (app.idempotency.idempotent records it)."""
    return bool(meta.get("idempotent"))


def _success(status, spec, content, rule, method, meta):
    """One 2xx/3xx response with its body and the convention headers that apply to it."""
    api, shared = rule.endpoint.startswith("api."), meta.get("auth") == "share"
    response = {"description": HTTPStatus(status).phrase}
    if isinstance(spec, str):  # a media type without a schema: the document itself, the docs page, metrics
        response["content"] = {spec: {"schema": {"type": "object" if spec.endswith("json") else "string"}}}
    elif isinstance(spec, dict):  # media types of a file: a component schema's name, or "string"
        response["content"] = {
            media: {"schema": {"type": "string"} if name == "string" else _ref("schemas", name)}
            for media, name in spec.items()
        }
    elif spec is not None:
        response["content"] = {"application/json": {"schema": content(spec)}}
        if status in meta["examples"]:
            response["content"]["application/json"]["example"] = meta["examples"][status]
    headers = ["X-Request-ID"]
    if api:
        headers += RATE_HEADERS
    if status in (201, 202):  # the created object; for 202, the job or delivery to follow
        headers.append("Location")
    if isinstance(spec, Page):
        headers.append("Link")
    if method == "GET" and api and not shared and _is_object(spec) and meta.get("etag", True):
        headers.append("ETag")
    if _idempotent(meta):
        headers.append("Idempotent-Replayed")
    response["headers"] = {name: _ref("headers", name) for name in headers}
    return response


def _is_object(spec):
    return spec is not None and not isinstance(spec, str | dict) and type(spec).__name__ not in ("Page", "Bare")


def _minimal(view_class, method):
    handler = getattr(view_class, method.lower(), None)
    summary = ((handler.__doc__ or "").strip().splitlines() or ["Undocumented operation."])[0]
    return {
        "summary": summary,
        "query": None,
        "body": None,
        "responses": {200: None},
        "errors": (),
        "auth": True,
        "operation_id": None,
        "tags": None,
        "description": None,
        "examples": {},
        "undocumented": True,
    }


def _personal_tokens(op, view_class, method, errors):
    """The scope a personal token needs here (x-required-scope), or x-personal-tokens: false."""
    needed = needed_scope(declaration_of(view_class), method)
    if needed in SCOPES:
        op["security"].append({"personalToken": []})
        op["x-required-scope"] = needed
        note = f"A personal access token needs the `{needed}` scope."
    else:
        op["x-personal-tokens"] = False
        note = "Needs a login: a personal access token gets `403` here."
    op["description"] = (op.get("description", "") + "\n\n" + note).strip()
    errors.add(403)


def _upload_schema(upload):
    part = {"type": "string", "format": "binary", "description": upload.description}
    return {"schema": {"type": "object", "required": [upload.name], "properties": {upload.name: part}}}


def operation(rule, method, view_class, meta, content, query_parameters):
    """The OpenAPI operation of one route and method."""
    meta = meta or _minimal(view_class, method)
    api, auth = rule.endpoint.startswith("api."), meta["auth"]
    conventional = api and auth is True
    op = {
        "summary": meta["summary"],
        "operationId": operation_id(rule.endpoint, method, meta),
        "tags": list(meta["tags"] or [tag(rule)]),
        "security": _security(auth, method),
        "parameters": [],
    }
    if meta.get("description"):
        op["description"] = meta["description"]
    if auth == "share":
        share_note = "No login and no cookies: the secret share token in the path is the credential."
        op["description"] = (op.get("description", "") + "\n\n" + share_note).strip()
    if meta.get("undocumented"):
        op["x-undocumented"] = True
    errors = set(meta["errors"])
    if meta["query"] is not None:
        op["parameters"] += query_parameters(meta["query"])
        errors.add(400)
    if isinstance(meta["body"], Upload):
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": _upload_schema(meta["body"])}}
        errors.update((400, 413, 415, 422))
    elif meta["body"] is not None:
        body = {"schema": meta["body"]}
        if "body" in meta["examples"]:
            body["example"] = meta["examples"]["body"]
        op["requestBody"] = {"required": True, "content": {"application/json": body}}
        errors.update((400, 413, 415, 422))
    if auth in (True, "refresh"):
        errors.add(401)
    if api and auth in (True, "refresh"):
        _personal_tokens(op, view_class, method, errors)
    if "<" in rule.rule:
        errors.add(404)
    if api:
        errors.add(429)
    responses = {
        str(status): _success(status, spec, content, rule, method, meta)
        for status, spec in sorted(meta["responses"].items())
    } or {"200": {"description": "OK"}}
    etag = meta.get("etag", True)
    if method == "GET" and conventional and etag and any(_is_object(spec) for spec in meta["responses"].values()):
        op["parameters"].append("IfNoneMatch")  # a component name: apispec makes it a $ref
        responses["304"] = _ref("responses", NOT_MODIFIED)
    if method in ("PATCH", "PUT", "DELETE") and conventional:
        op["parameters"].append("IfMatch")  # a component name: apispec makes it a $ref
        errors.add(412)
    # Only operations wrapped in app.idempotency.idempotent honour the header (login, logout and refresh do not).
    if _idempotent(meta):
        op["parameters"].append("IdempotencyKey")  # a component name: apispec makes it a $ref
        errors.update((400, 409, 422))  # a malformed key; the first request still in flight; a reused key
    for status in sorted(errors):
        known = status in ERROR_STATUSES
        responses[str(status)] = _ref("responses", response_name(status)) if known else problem_response(status)
    responses["default"] = _ref("responses", "Error")
    op["responses"] = responses
    return op
