"""User, session and auth schemas."""

from marshmallow import ValidationError, fields, post_load, pre_load, validate

from app.auth.passwords import MAX_LENGTH, password_problem
from app.auth.tokens import current_session
from app.models import ROLES
from app.schemas.base import AbsoluteUrl, ResourceSchema, StrictSchema, UTCDateTime
from app.schemas.fields import StrictBoolean

DISPLAY_NAME = validate.Length(min=1, max=100)


def acceptable_password(value):
    """Refuse passwords outside 8-128 characters or on the common-passwords list."""
    problem = password_problem(value)
    if problem:
        raise ValidationError(problem)


def refuse_email_change(data):
    if isinstance(data, dict) and "email" in data:
        raise ValidationError("Email cannot be changed.", "email")
    return data


class UserSchema(ResourceSchema):
    url = AbsoluteUrl("api.user", user_id="id")
    email = fields.Email(dump_only=True)
    display_name = fields.String(validate=DISPLAY_NAME, allow_none=True)
    role = fields.String(dump_only=True)
    is_active = fields.Boolean(dump_only=True)


class ProfileUpdateSchema(StrictSchema):
    """What a user may change on their own profile."""

    display_name = fields.String(validate=DISPLAY_NAME, allow_none=True)

    @pre_load
    def no_email(self, data, **kwargs):
        return refuse_email_change(data)


class AdminUserUpdateSchema(ProfileUpdateSchema):
    """What an admin may change on any account."""

    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = StrictBoolean()


class RegisterSchema(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=acceptable_password)
    display_name = fields.String(validate=DISPLAY_NAME, allow_none=True)

    @post_load
    def normalize(self, data, **kwargs):
        data["email"] = data["email"].strip().lower()
        return data


class LoginSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=MAX_LENGTH))


class PasswordChangeSchema(StrictSchema):
    current_password = fields.String(required=True, load_only=True, validate=validate.Length(max=MAX_LENGTH))
    new_password = fields.String(required=True, load_only=True, validate=acceptable_password)


class TokenSchema(StrictSchema):
    access_token = fields.String(dump_only=True)
    refresh_token = fields.String(dump_only=True)
    token_type = fields.String(dump_only=True)
    expires_in = fields.Integer(dump_only=True)


class SessionSchema(ResourceSchema):
    """One login (refresh-token family) of the caller."""

    url = AbsoluteUrl("api.session", session_id="id")
    last_used_at = UTCDateTime(dump_only=True)
    expires_at = UTCDateTime(dump_only=True)
    user_agent = fields.String(dump_only=True, allow_none=True)
    ip = fields.String(dump_only=True, allow_none=True)
    current = fields.Function(lambda s: s.id == getattr(current_session(), "id", None), dump_only=True)


user_schema = UserSchema()
profile_update_schema = ProfileUpdateSchema()
admin_user_update_schema = AdminUserUpdateSchema()
register_schema = RegisterSchema()
login_schema = LoginSchema()
password_change_schema = PasswordChangeSchema()
token_schema = TokenSchema()
session_schema = SessionSchema()
