"""Todo schemas: the todo object, what a client may write, and the tag rules."""

import math
import numbers

from marshmallow import fields, post_load, validate

from app.schemas.base import AbsoluteUrl, ResourceSchema, UTCDateTime
from app.schemas.fields import MAX_ID, StrictBoolean

TAG_PATTERN = r"^[A-Za-z0-9_-]{1,50}$"
MAX_TAGS = 20


class JSONInteger(fields.Integer):
    """An integer given as a JSON number: no strings, no booleans, no fractions."""

    default_error_messages = {"invalid": "Not a valid integer."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class JSONNumber(fields.Float):
    """A finite JSON number: no strings, no booleans."""

    default_error_messages = {"invalid": "Not a valid number."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise self.make_error("invalid")
        return float(value)


class TodoSchema(ResourceSchema):
    url = AbsoluteUrl("api.todo", todo_id="id")
    list_id = fields.Integer(dump_only=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=500))
    notes = fields.String(allow_none=True, validate=validate.Length(max=10000))
    completed = StrictBoolean()
    completed_at = UTCDateTime(dump_only=True, allow_none=True)
    due_at = UTCDateTime(allow_none=True)
    priority = JSONInteger(validate=validate.Range(min=0, max=3))
    tags = fields.List(
        fields.String(validate=validate.Regexp(TAG_PATTERN, error="Tags are 1-50 letters, digits, '-' or '_'.")),
        validate=validate.Length(max=MAX_TAGS, error="At most 20 tags."),
    )
    assignee_id = JSONInteger(
        allow_none=True, validate=validate.Range(min=1, max=MAX_ID), metadata={"description": "A member of the list."}
    )
    order = JSONNumber(metadata={"description": "Position in the list; new todos go last."})
    created_by = fields.Integer(dump_only=True, allow_none=True)

    @post_load
    def normalize_tags(self, data, **kwargs):
        if "tags" in data:
            data["tags"] = sorted({tag.lower() for tag in data["tags"]})
        return data


class TodoUpdateSchema(TodoSchema):
    list_id = JSONInteger(
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "Move the todo to this list (editor+ on both)."},
    )


todo_schema = TodoSchema()
todo_update_schema = TodoUpdateSchema(partial=True)
