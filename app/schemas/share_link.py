"""Share links as their owners see them."""

from marshmallow import ValidationError, fields, validate, validates

from app.models.base import utcnow
from app.schemas.base import ResourceSchema, UTCDateTime

SHARE_ROLES = ("editor", "viewer")


class ShareLinkSchema(ResourceSchema):
    role = fields.String(required=True, validate=validate.OneOf(SHARE_ROLES))
    expires_at = UTCDateTime(
        allow_none=True,
        load_default=None,
        metadata={"description": "When the link stops working; null: never. Must be in the future."},
    )
    url = fields.String(
        dump_only=True,
        allow_none=True,
        dump_default=None,
        metadata={
            "description": "Absolute root URL of the link (/api/v1/shared/<token>/todos), for any Todo-Backend "
            "client. Shown only in the answer that creates the link: only a hash of the token is stored, "
            "so it is null afterwards, also in a replay of that answer for the same Idempotency-Key."
        },
    )
    list_id = fields.Integer(dump_only=True)
    created_by = fields.Integer(dump_only=True, allow_none=True)

    @validates("expires_at")
    def in_future(self, value, **kwargs):
        if value is not None and value <= utcnow():
            raise ValidationError("Must be in the future.")


share_link_schema = ShareLinkSchema()
share_links_schema = ShareLinkSchema(many=True)
