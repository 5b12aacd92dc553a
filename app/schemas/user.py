"""User and auth schemas."""

from marshmallow import fields, post_load, validate

from app.schemas.base import AbsoluteUrl, ResourceSchema, StrictSchema

PASSWORD_LENGTH = validate.Length(min=8, max=128)


class UserSchema(ResourceSchema):
    url = AbsoluteUrl("api.user", user_id="id")
    email = fields.Email(dump_only=True)
    display_name = fields.String(validate=validate.Length(min=1, max=100), allow_none=True)
    role = fields.String(dump_only=True)
    is_active = fields.Boolean(dump_only=True)


class RegisterSchema(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=PASSWORD_LENGTH)
    display_name = fields.String(validate=validate.Length(min=1, max=100), allow_none=True)

    @post_load
    def normalize(self, data, **kwargs):
        data["email"] = data["email"].strip().lower()
        return data


class LoginSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=128))


class TokenSchema(StrictSchema):
    access_token = fields.String(dump_only=True)
    refresh_token = fields.String(dump_only=True)
    token_type = fields.String(dump_only=True)
    expires_in = fields.Integer(dump_only=True)


user_schema = UserSchema()
register_schema = RegisterSchema()
login_schema = LoginSchema()
token_schema = TokenSchema()
