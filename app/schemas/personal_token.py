"""Personal access tokens as their owner sees them (the secret only in the answer that creates one)."""

from marshmallow import ValidationError, fields, validate, validates

from app.models.base import utcnow
from app.personal_tokens.scopes import SCOPES
from app.personal_tokens.service import MAX_LIFETIME
from app.schemas.base import AbsoluteUrl, ResourceSchema, StrictSchema, UTCDateTime

NAME = validate.Length(min=1, max=100)


def not_blank(value):
    if not value.strip():
        raise ValidationError("Must not be blank.")


class PersonalTokenSchema(ResourceSchema):
    url = AbsoluteUrl("api.personal_token", token_id="id")
    name = fields.String(required=True, validate=[NAME, not_blank], metadata={"description": "1-100 characters."})
    scopes = fields.List(
        fields.String(validate=validate.OneOf(SCOPES)),
        required=True,
        validate=validate.Length(min=1, error="Give at least one scope."),
        metadata={"description": "One or more of: " + ", ".join(SCOPES) + ". `x:write` includes `x:read`."},
    )
    expires_at = UTCDateTime(
        load_default=None,
        metadata={"description": "In the future, at most 366 days ahead; absent or null: 90 days from now."},
    )
    last_used_at = UTCDateTime(
        dump_only=True, allow_none=True, metadata={"description": "To the minute; null until first used."}
    )
    token = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "The secret (`tdp_...`), present only in the answer that creates the token "
            "(null in an Idempotency-Key replay): only its hash is stored. Send it as "
            "`Authorization: Bearer <token>`."
        },
    )

    @validates("expires_at")
    def within_lifetime(self, value, **kwargs):
        if value is None:
            return
        if value <= utcnow():
            raise ValidationError("Must be in the future.")
        if value > utcnow() + MAX_LIFETIME:
            raise ValidationError("Must be at most 366 days from now.")


class PersonalTokenUpdateSchema(StrictSchema):
    """Only the name of a token changes; its scopes and expiry are fixed at creation."""

    name = fields.String(required=True, validate=[NAME, not_blank])


personal_token_schema = PersonalTokenSchema()
personal_tokens_schema = PersonalTokenSchema(many=True)
personal_token_update_schema = PersonalTokenUpdateSchema()
