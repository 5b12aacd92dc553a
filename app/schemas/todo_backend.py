"""Todos as the Todo-Backend protocol shows them: id, url, title, completed, order."""

import math

from flask import request
from marshmallow import fields, pre_load, validate

from app.http import external_url
from app.schemas.base import StrictSchema
from app.schemas.fields import StrictBoolean

TITLE_LENGTH = validate.Length(min=1, max=500)
# Fields a client echoes back from a todo it fetched; they are read-only and ignored.
ECHOED = ("id", "url")


class JSONNumber(fields.Float):
    """A finite JSON number, dumped as an integer when it is one (523 stays 523)."""

    default_error_messages = {"invalid": "Not a valid number."}

    def __init__(self, **kwargs):
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        value = float(value)
        return int(value) if value.is_integer() and math.fabs(value) < 2**53 else value


class SharedTodoUrl(fields.Field):
    """The absolute URL of a todo under the share link of the current request."""

    def __init__(self, **kwargs):
        super().__init__(dump_only=True, **kwargs)

    def get_value(self, obj, attr, accessor=None, default=None):
        return obj

    def _serialize(self, value, attr, obj, **kwargs):
        return external_url("api.shared_todo", token=request.view_args["token"], todo_id=obj.id)


class TodoBackendSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    url = SharedTodoUrl(metadata={"description": "Absolute URL of the todo under this share link."})
    title = fields.String(required=True, validate=TITLE_LENGTH)
    completed = StrictBoolean(metadata={"description": "New todos are not completed unless given."})
    order = JSONNumber(metadata={"description": "Position in the list; new todos go last unless given."})

    @pre_load
    def drop_echoed(self, data, **kwargs):
        """Ignore the read-only id and url that clients send back with a todo they fetched."""
        if isinstance(data, dict):
            data = {key: value for key, value in data.items() if key not in ECHOED}
        return data


todo_backend_schema = TodoBackendSchema()  # POST and PUT: the whole todo
todo_backend_patch_schema = TodoBackendSchema(partial=True)
todo_backend_list_schema = TodoBackendSchema(many=True)
