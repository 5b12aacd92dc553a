"""The change feed's item: one change of a list, todo or member."""

from marshmallow import fields, validate

from app.schemas.base import StrictSchema


class ChangeSchema(StrictSchema):
    cursor = fields.String(
        metadata={"description": "The feed's position after this item (opaque): resume with `since` or Last-Event-ID."}
    )
    kind = fields.String(validate=validate.OneOf(("list", "todo", "member")))
    op = fields.String(validate=validate.OneOf(("upsert", "delete")))
    id = fields.Integer(metadata={"description": "The object's id; a member's is its user_id."})
    list_id = fields.Integer()
    at = fields.String(metadata={"description": "When the change was committed (RFC 3339, UTC)."})
    data = fields.Dict(
        allow_none=True,
        metadata={
            "description": "The object as its GET answers it (a member as in /lists/<id>/members); null for a delete."
        },
    )


class ChangePageSchema(StrictSchema):
    items = fields.List(fields.Nested(ChangeSchema), metadata={"description": "The changes, in commit order."})
    next_cursor = fields.String(
        metadata={"description": "Never null: store it and pass it as `since` next time (the head when no items)."}
    )


change_schema = ChangeSchema()
change_page_schema = ChangePageSchema()
