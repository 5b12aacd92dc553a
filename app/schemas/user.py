"""User, session and auth schemas."""

from marshmallow import ValidationError, fields, post_load, pre_load, validate

from app.auth.passwords import MAX_LENGTH, MIN_LENGTH, password_problem
from app.auth.tokens import current_session
from app.models import ROLES
from app.recurrence.rules import zone_problem
from app.schemas.base import AbsoluteUrl, ResourceSchema, StrictSchema, UTCDateTime
from app.schemas.fields import StrictBoolean

DISPLAY_NAME = validate.Length(min=1, max=100)
TIMEZONE_DOC = {
    "description": "IANA time zone (e.g. `Europe/Paris`); the default zone of the todos this user creates. "
    "Default `UTC`; an unknown zone is a 422.",
    "example": "Europe/Paris",
}


def known_zone(value):
    problem = zone_problem(value)
    if problem:
        raise ValidationError(problem)


def acceptable_password(value):
    """Refuse passwords on the common-passwords list (the Length validator beside it answers for the length)."""
    problem = password_problem(value) if MIN_LENGTH <= len(value) <= MAX_LENGTH else None
    if problem:
        raise ValidationError(problem)


# The length is stated in the OpenAPI document (minLength/maxLength); the common-password
# list cannot be, so the description says it.
NEW_PASSWORD = {
    "validate": [validate.Length(min=MIN_LENGTH, max=MAX_LENGTH), acceptable_password],
    "metadata": {"description": f"{MIN_LENGTH}-{MAX_LENGTH} characters, not a commonly used password."},
}


def refuse_email_change(data):
    if isinstance(data, dict) and "email" in data:
        raise ValidationError("Email cannot be changed.", "email")
    return data


class UserSchema(ResourceSchema):
    url = AbsoluteUrl("api.user", user_id="id")
    email = fields.Email(dump_only=True)
    email_verified = fields.Boolean(dump_only=True)
    display_name = fields.String(validate=DISPLAY_NAME, allow_none=True)
    timezone = fields.String(dump_only=True, metadata=TIMEZONE_DOC)
    role = fields.String(dump_only=True)
    is_active = fields.Boolean(dump_only=True)


class ProfileUpdateSchema(StrictSchema):
    """What a user may change on their own profile."""

    display_name = fields.String(validate=DISPLAY_NAME, allow_none=True)
    timezone = fields.String(validate=known_zone, metadata=TIMEZONE_DOC)

    @pre_load
    def no_email(self, data, **kwargs):
        return refuse_email_change(data)


class AdminUserUpdateSchema(ProfileUpdateSchema):
    """What an admin may change on any account."""

    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = StrictBoolean()


class RegisterSchema(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, **NEW_PASSWORD)
    display_name = fields.String(validate=DISPLAY_NAME, allow_none=True)
    invitation_token = fields.String(
        load_only=True,
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "The token of an invitation mailed to this email: required when REGISTRATION is "
            "invite-only; the account's email is then verified."
        },
    )

    @post_load
    def normalize(self, data, **kwargs):
        data["email"] = data["email"].strip().lower()
        return data


class LoginSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=MAX_LENGTH))


class PasswordChangeSchema(StrictSchema):
    current_password = fields.String(required=True, load_only=True, validate=validate.Length(max=MAX_LENGTH))
    new_password = fields.String(required=True, load_only=True, **NEW_PASSWORD)


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
