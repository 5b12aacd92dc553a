"""Tag schema: a tag name and how many of the caller's visible todos carry it."""

from marshmallow import fields

from app.schemas.base import StrictSchema


class TagSchema(StrictSchema):
    name = fields.String(dump_only=True)
    count = fields.Integer(dump_only=True)


tag_schema = TagSchema()
