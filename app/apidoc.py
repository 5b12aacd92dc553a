"""Operation metadata for the OpenAPI document, attached to Resource methods.

`@doc(...)` changes nothing at run time: it records which query parser, body schema
and response schemas a method uses (the same objects that validate and dump), so
that app/openapi.py can generate the document from them.
"""


def _one(schema):
    """The schema of one item: a many=True instance would make the document an array of arrays."""
    if getattr(schema, "many", False):
        raise TypeError(f"Page and Bare take the schema of one item, not {type(schema).__name__}(many=True).")
    return schema


class Page:
    """Marks a response that is a cursor page of `schema`: {"items": [...], "next_cursor"}."""

    def __init__(self, schema):
        self.schema = _one(schema)


class Bare:
    """Marks a response that is a bare JSON array of `schema` (the Todo-Backend protocol)."""

    def __init__(self, schema):
        self.schema = _one(schema)


class Upload:
    """Marks a multipart/form-data request body of one file part named `name`."""

    def __init__(self, name, description):
        self.name, self.description = name, description


def openapi_type(schema):
    """Mark a custom reqparse `type` callable with its OpenAPI schema, e.g. {"type": "string"}."""

    def decorator(fn):
        fn.openapi = schema
        return fn

    return decorator


def doc(
    summary,
    *,
    query=None,
    body=None,
    responses=None,
    errors=(),
    auth=True,
    operation_id=None,
    tags=None,
    description=None,
    examples=None,
    etag=True,
):
    """Describe one operation.

    summary: one line. query: a reqparse RequestParser (location="args").
    body: the Marshmallow schema instance that loads the body.
    body: or Upload(name, description) for a multipart/form-data file upload.
    responses: {status: schema instance | Page(schema) | Bare(schema) | None | "media/type"
    | {"media/type": component schema name or "string"}}.
    errors: the problem+json statuses this operation can answer (401 is implied by auth).
    auth: "bearer" security applies (False for public operations, "share" for share-link tokens,
    "refresh" for a refresh token, "metrics" for the METRICS_TOKEN).
    description: longer text for the document. examples: {"body": {...}, status: {...}}.
    etag: False for a GET of an object that carries no ETag (a feed page is never the same twice).
    """

    def decorator(fn):
        fn.__apidoc__ = {
            "summary": summary,
            "query": query,
            "body": body,
            "responses": responses or {},
            "errors": tuple(errors),
            "auth": auth,
            "operation_id": operation_id,
            "tags": tags,
            "description": description,
            "examples": examples or {},
            "etag": etag,
            # Set by app.idempotency.idempotent: the operation honours an Idempotency-Key header.
            "idempotent": getattr(fn, "__idempotent__", False),
        }
        return fn

    return decorator
