"""Invitations to a list as its owners see them, and the body that accepts one."""

from marshmallow import fields, post_load, validate

from app.models import MEMBER_ROLES
from app.schemas.base import AbsoluteUrl, ResourceSchema, StrictSchema, UTCDateTime


class InvitationSchema(ResourceSchema):
    url = AbsoluteUrl("api.invitation", list_id="list_id", invitation_id="id")
    email = fields.Email(required=True, validate=validate.Length(max=254))
    role = fields.String(required=True, validate=validate.OneOf(MEMBER_ROLES))
    list_id = fields.Integer(dump_only=True)
    invited_by = fields.Integer(dump_only=True, allow_none=True)
    expires_at = UTCDateTime(dump_only=True, metadata={"description": "7 days after creation."})

    @post_load
    def normalize(self, data, **kwargs):
        data["email"] = data["email"].strip().lower()
        return data


class InvitationAcceptSchema(StrictSchema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The token from the invitation mail's link."},
    )


invitation_schema = InvitationSchema()
invitations_schema = InvitationSchema(many=True)
invitation_accept_schema = InvitationAcceptSchema()
