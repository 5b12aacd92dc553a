"""Todo schemas: the todo object, what a client may write, and the tag rules."""

import math
import numbers

from marshmallow import ValidationError, fields, post_load, validate

from app.recurrence.rules import MAX_COUNT, PARTS, normalize, rule_problem, zone_problem
from app.schemas.base import AbsoluteUrl, ResourceSchema, UTCDateTime
from app.schemas.fields import MAX_ID, StrictBoolean

TAG_PATTERN = r"^[A-Za-z0-9_-]{1,50}$"
MAX_TAGS = 20
MAX_REMINDERS = 5
MAX_REMINDER_MINUTES = 40320  # four weeks


def valid_rule(value):
    problem = rule_problem(normalize(value))
    if problem:
        raise ValidationError(problem)


def valid_zone(value):
    problem = zone_problem(value)
    if problem:
        raise ValidationError(problem)


def distinct(values):
    if len(set(values)) != len(values):
        raise ValidationError("Reminders must be distinct.")


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
    recurrence = fields.String(
        allow_none=True,
        validate=[validate.Length(max=500), valid_rule],
        metadata={
            "description": "An RFC 5545 RRULE value such as `FREQ=WEEKLY;BYDAY=MO,WE`, run in `timezone` from the "
            f"due time it was set with (its DTSTART). Parts: {', '.join(PARTS)}; FREQ one of DAILY, WEEKLY, "
            f"MONTHLY, YEARLY; COUNT 1-{MAX_COUNT}, counted from that first due time (completions do not reset "
            "it); UNTIL a UTC time (`20271231T235959Z`). Needs `due_at`. Completing the todo moves `due_at` to "
            "the next occurrence and leaves it open; when there is none it completes.",
            "example": "FREQ=WEEKLY;BYDAY=MO",
        },
    )
    timezone = fields.String(
        validate=valid_zone,
        metadata={
            "description": "IANA zone the rule runs in (default: the creator's profile `timezone`): occurrences "
            "keep their wall-clock time across daylight-saving changes.",
            "example": "Europe/Paris",
        },
    )
    reminders = fields.List(
        JSONInteger(validate=validate.Range(min=0, max=MAX_REMINDER_MINUTES)),
        validate=[validate.Length(max=MAX_REMINDERS, error="At most 5 reminders."), distinct],
        metadata={
            "description": "Up to 5 distinct whole minutes before `due_at` (0-40320) at which a `todo.reminder` "
            "fires, once per occurrence; answered in ascending order. Needs `due_at`; clearing `due_at` clears "
            "them, as it clears `recurrence`.",
            "example": [0, 30],
        },
    )
    created_by = fields.Integer(dump_only=True, allow_none=True)

    @post_load
    def normalize_tags(self, data, **kwargs):
        if "tags" in data:
            data["tags"] = sorted({tag.lower() for tag in data["tags"]})
        if data.get("recurrence") is not None:
            data["recurrence"] = normalize(data["recurrence"])
        if "reminders" in data:
            data["reminders"] = sorted(data["reminders"])
        return data


class TodoUpdateSchema(TodoSchema):
    list_id = JSONInteger(
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "Move the todo to this list (editor+ on both)."},
    )


todo_schema = TodoSchema()
todo_update_schema = TodoUpdateSchema(partial=True)
