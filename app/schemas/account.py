"""Bodies of the account changes proven by mail: password reset, verification, email change."""

from marshmallow import fields, post_load, validate

from app.auth.passwords import MAX_LENGTH
from app.schemas.base import StrictSchema
from app.schemas.user import NEW_PASSWORD

EMAIL = validate.Length(max=254)
TOKEN = fields.String(
    required=True, validate=validate.Length(min=1, max=200), metadata={"description": "The token from the mail's link."}
)


def normalized(data, name):
    data[name] = data[name].strip().lower()
    return data


class PasswordResetRequestSchema(StrictSchema):
    email = fields.Email(required=True, validate=EMAIL)

    @post_load
    def normalize(self, data, **kwargs):
        return normalized(data, "email")


class EmailTokenSchema(StrictSchema):
    token = TOKEN


class PasswordResetConfirmSchema(StrictSchema):
    token = TOKEN
    new_password = fields.String(required=True, load_only=True, **NEW_PASSWORD)


class EmailChangeSchema(StrictSchema):
    new_email = fields.Email(required=True, validate=EMAIL)
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=MAX_LENGTH))

    @post_load
    def normalize(self, data, **kwargs):
        return normalized(data, "new_email")


password_reset_request_schema = PasswordResetRequestSchema()
password_reset_confirm_schema = PasswordResetConfirmSchema()
email_token_schema = EmailTokenSchema()
email_change_schema = EmailChangeSchema()
