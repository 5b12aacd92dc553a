"""The todo fields an export writes and an import restores: the one list to extend.

A field added to the todo model and to TodoSchema (say `recurrence`, `timezone`,
`reminders`) travels through exports and imports once its name is added to CARRIED:
the exporter reads the column of that name and dumps it with TodoSchema's field, the
importer loads it with the same field (so with the same validation). A field whose
input rules differ from TodoSchema's goes in OVERRIDES too.
"""

from marshmallow import ValidationError, post_load

from app.recurrence.rules import normalize
from app.schemas.base import StrictSchema, UTCDateTime
from app.schemas.todo import TodoSchema

# Written by every export and restored by every import, in this order.
CARRIED = (
    "title",
    "notes",
    "completed",
    "completed_at",
    "due_at",
    "priority",
    "tags",
    "order",
    "recurrence",
    "timezone",
)
# Written by a JSON export for the reader's information; an import ignores them.
INFORMATIONAL = ("id", "assignee_id", "created_at", "updated_at")
# Carried fields whose rules differ from TodoSchema's (there, completed_at is read-only).
OVERRIDES = {"completed_at": UTCDateTime(allow_none=True)}
# Carried fields that are not a column of the todos table.
NOT_COLUMNS = ("tags",)


def carried_columns():
    """The carried fields that are columns of the todos table."""
    return [name for name in CARRIED if name not in NOT_COLUMNS]


def column_names():
    """The todos columns an export reads: the carried ones, then the informational ones."""
    return [name for name in (*INFORMATIONAL, *CARRIED) if name not in NOT_COLUMNS]


_CarriedBase = StrictSchema.from_dict(
    {name: OVERRIDES.get(name) or TodoSchema._declared_fields[name] for name in CARRIED}, name="CarriedTodoBase"
)


class CarriedTodoSchema(_CarriedBase):
    """A todo as exports write it and imports read it (without the informational fields)."""

    @post_load
    def tidy(self, data, **kwargs):
        data["tags"] = sorted({tag.lower() for tag in data.get("tags") or ()})
        data.setdefault("completed", False)
        data.setdefault("priority", 0)
        if not data["completed"]:
            data["completed_at"] = None
        if data.get("recurrence") is not None:
            if data.get("due_at") is None:
                raise ValidationError({"recurrence": ["A recurring todo needs a due_at."]})
            data["recurrence"] = normalize(data["recurrence"])
        data.setdefault("timezone", "UTC")
        return data


carried_todo_schema = CarriedTodoSchema()
