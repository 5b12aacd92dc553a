"""Todo list schemas: the list as its members see it, and its writable fields."""

from marshmallow import fields, validate

from app.schemas.base import AbsoluteUrl, ResourceSchema


class TodoListSchema(ResourceSchema):
    url = AbsoluteUrl("api.list", list_id="id")
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=10000))
    role = fields.String(dump_only=True, metadata={"description": "The caller's role on the list."})
    todo_count = fields.Integer(dump_only=True)
    completed_count = fields.Integer(dump_only=True)


todo_list_schema = TodoListSchema()
todo_list_update_schema = TodoListSchema(partial=True)
