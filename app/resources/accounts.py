"""Account changes proven by mail: password reset, email verification, email change confirmation."""

from flask import Response
from flask_jwt_extended import current_user, jwt_required
from flask_restful import Resource

from app.apidoc import doc
from app.auth import email_accounts
from app.auth.throttle import reset_throttles, token_throttles
from app.errors import abort
from app.extensions import db
from app.http import load_body
from app.personal_tokens.scopes import LOGIN_ONLY, PUBLIC
from app.schemas.account import email_token_schema, password_reset_confirm_schema, password_reset_request_schema

ACCEPTED = {202: None}
TOKEN_NOTE = (
    "A token is used once; a used, expired or superseded (a newer one was mailed) token is a 422 keyed `token`. "
    "Refused tokens are throttled per client address like failed logins (429)."
)


def accepted():
    return Response(status=202)


def no_content():
    return Response(status=204)


class PasswordReset(Resource):
    scope = PUBLIC
    decorators = reset_throttles

    @doc(
        "Ask for a password reset link by mail",
        body=password_reset_request_schema,
        responses=ACCEPTED,
        errors=(422, 429),
        auth=False,
        description="Always 202 with no body, in the same time whether or not an account has the address: the "
        "worker looks the account up and mails an active one a link valid 60 minutes (a newer link replaces it). "
        "Throttled per email and per client address like login (429).",
    )
    def post(self):
        """Queue a password reset mail."""
        email_accounts.request_password_reset(load_body(password_reset_request_schema)["email"])
        db.session.commit()
        return accepted()


class PasswordResetConfirm(Resource):
    scope = PUBLIC
    decorators = token_throttles

    @doc(
        "Set a new password with the token of a reset mail; every login of the account ends",
        body=password_reset_confirm_schema,
        responses={204: None},
        errors=(422, 429),
        auth=False,
        description=TOKEN_NOTE,
    )
    def post(self):
        """Reset the password."""
        data = load_body(password_reset_confirm_schema)
        email_accounts.reset_password(data["token"], data["new_password"])
        db.session.commit()
        return no_content()


class VerifyEmail(Resource):
    scope = PUBLIC
    decorators = token_throttles

    @doc(
        "Verify the account's email with the token of a verification mail",
        body=email_token_schema,
        responses={204: None},
        errors=(422, 429),
        auth=False,
        description=TOKEN_NOTE + " A token for an address the account no longer has is refused too.",
    )
    def post(self):
        """Verify an email address."""
        email_accounts.verify_email(load_body(email_token_schema)["token"])
        db.session.commit()
        return no_content()


class VerifyEmailResend(Resource):
    scope = LOGIN_ONLY
    method_decorators = [jwt_required()]

    @doc(
        "Mail a new verification link to the caller's address",
        responses=ACCEPTED,
        errors=(409,),
        description="202 with no body; earlier links stop working once the new one is written. "
        "409 when the address is already verified.",
    )
    def post(self):
        """Queue a new verification mail."""
        if current_user.email_verified:
            abort(409, "Your email address is already verified.")
        email_accounts.send_verification(current_user)
        db.session.commit()
        return accepted()


class ConfirmEmailChange(Resource):
    scope = PUBLIC
    decorators = token_throttles

    @doc(
        "Make the change of email asked with PUT /users/me/email, with the token mailed to the new address",
        body=email_token_schema,
        responses={204: None},
        errors=(409, 422, 429),
        auth=False,
        description=TOKEN_NOTE + " 409 when another account registered the new address meanwhile (the token "
        "stays unused). The new address is then verified.",
    )
    def post(self):
        """Change the email address."""
        email_accounts.confirm_email_change(load_body(email_token_schema)["token"])
        email_accounts.commit_email_change()
        return no_content()
