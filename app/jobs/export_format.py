"""The JSON export format (`todos-api-export`, version 1), described once for the exporter and the OpenAPI document."""

from app.jobs.carry import CARRIED

FORMAT, VERSION = "todos-api-export", 1

EXPORT_FORMAT_DOC = f"""**The JSON export** (`format: "{FORMAT}"`, `version: {VERSION}`; schema `ExportDocument`):
`{{"format", "version", "exported_at", "lists": [...], "webhooks": [...]}}`. Each list is
`{{id, name, description, role, created_at, updated_at, members, tags, todos}}` with `members`
`[{{user_id, email, display_name, role}}]`, `tags` `[{{name, count}}]` and `todos` in list order, each
`{{id, {", ".join(CARRIED)}, assignee_id, created_at, updated_at}}` (the rules of `Todo`). `webhooks` are
the caller's, without their secrets. A later version adds fields and bumps `version` only when a reader
of this one would misread it. Importing the file (`POST /imports`) into any account recreates its lists
and todos (not members, assignees, ids, times of creation or webhooks).

**The CSV export** (`text/csv; charset=utf-8`, UTF-8, a header row): one row per todo, columns
`list_id, list_name, id, {", ".join(CARRIED)}, assignee_id, created_at, updated_at`; tags are separated
by spaces, booleans are `true`/`false`, empty cells are null. A text cell that starts with `=`, `+`, `-`,
`@`, a tab or a carriage return gets a leading `'` so that spreadsheets do not run it as a formula.

Files are kept `EXPORT_RETENTION_DAYS` (default 7) after the export is done, then removed: the download
answers `410`."""


def _object(properties, required=()):
    found = {"type": "object", "properties": properties}
    if required:  # OpenAPI 3.0 refuses an empty `required`
        found["required"] = list(required)
    return found


_TIME = {"type": "string", "format": "date-time"}


def document_schema():
    """The OpenAPI schema of a JSON export; its todos are `ExportedTodo` (the carried fields)."""
    member = _object(
        {
            "user_id": {"type": "integer"},
            "email": {"type": "string"},
            "display_name": {"type": "string", "nullable": True},
            "role": {"type": "string", "enum": ["viewer", "editor", "owner"]},
        }
    )
    todo = {
        "allOf": [
            {"$ref": "#/components/schemas/ExportedTodo"},
            _object(
                {
                    "id": {"type": "integer"},
                    "assignee_id": {"type": "integer", "nullable": True},
                    "created_at": _TIME,
                    "updated_at": _TIME,
                }
            ),
        ]
    }
    todo_list = _object(
        {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "description": {"type": "string", "nullable": True},
            "role": {"type": "string"},
            "created_at": _TIME,
            "updated_at": _TIME,
            "members": {"type": "array", "items": member},
            "tags": {"type": "array", "items": _object({"name": {"type": "string"}, "count": {"type": "integer"}})},
            "todos": {"type": "array", "items": todo},
        },
        required=("name", "todos"),
    )
    webhook = _object(
        {
            "id": {"type": "integer"},
            "target_url": {"type": "string"},
            "events": {"type": "array", "items": {"type": "string"}},
            "list_id": {"type": "integer", "nullable": True},
            "active": {"type": "boolean"},
            "created_at": _TIME,
        }
    )
    return {
        **_object(
            {
                "format": {"type": "string", "enum": [FORMAT]},
                "version": {"type": "integer", "enum": [VERSION]},
                "exported_at": _TIME,
                "lists": {"type": "array", "items": todo_list},
                "webhooks": {"type": "array", "items": webhook},
            },
            required=("format", "version", "lists"),
        ),
        "description": "A JSON export (see POST /exports).",
    }
