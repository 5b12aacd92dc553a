"""Member schemas: a user's role on a list."""

from marshmallow import fields, post_load, validate

from app.models import MEMBER_ROLES
from app.schemas.base import AbsoluteUrl, StrictSchema, UTCDateTime

ROLE = validate.OneOf(MEMBER_ROLES)


class MemberSchema(StrictSchema):
    id = fields.Integer(attribute="user_id", dump_only=True, metadata={"description": "The member's user id."})
    url = AbsoluteUrl("api.member", list_id="list_id", user_id="user_id")
    user_id = fields.Integer(dump_only=True)
    email = fields.Email(attribute="user.email", dump_only=True)
    display_name = fields.String(attribute="user.display_name", dump_only=True, allow_none=True)
    role = fields.String(required=True, validate=ROLE)
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


class MemberCreateSchema(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    role = fields.String(load_default="viewer", validate=ROLE)

    @post_load
    def normalize(self, data, **kwargs):
        data["email"] = data["email"].strip().lower()
        return data


member_schema = MemberSchema()
member_create_schema = MemberCreateSchema()
