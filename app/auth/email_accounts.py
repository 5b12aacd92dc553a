"""Account changes proven by mail: email verification, password reset, email change."""

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth import email_tokens
from app.auth.passwords import hash_password, verify_password
from app.errors import abort
from app.extensions import db
from app.mail.outbox import queue_mail
from app.models import AuthSession, User
from app.services.invitations import by_token
from app.services.members import profile_changed

TAKEN = "An account with this email already exists."


def send_verification(user):
    """Queue a verification mail to the user's address (earlier links stop working when it is written)."""
    queue_mail("verify_email", user.email, user_id=user.id, email=user.email)


def request_password_reset(email):
    """Queue a reset mail for `email`: the same single insert whether or not an account has it.

    The worker looks the account up when it writes the mail, and sends nothing when no
    active account has the address, so neither the answer nor its timing tells.
    """
    queue_mail("password_reset", email, email=email)


def _redeemed_user(token, purpose):
    """The active user a token was mailed to, at the address it was mailed to; else the token's 422."""
    user_id, email = email_tokens.redeem(token, purpose)
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or (purpose != "email_change" and user.email != email):
        abort(422, email_tokens.INVALID, errors={"token": ["Invalid or expired token."]})
    return user, email


def reset_password(token, new_password):
    """Set a new password with a reset token; every login of the user ends."""
    user, _ = _redeemed_user(token, "password_reset")
    user.password_hash = hash_password(new_password)
    user.email_verified = True  # the link reached the address
    AuthSession.revoke_where(AuthSession.user_id == user.id)
    return user


def verify_email(token):
    """Mark the address a verification token was mailed to as verified."""
    user, _ = _redeemed_user(token, "verify_email")
    user.email_verified = True
    return user


def email_taken(email, user_id=None):
    found = db.session.execute(select(User.id).where(User.email == email, User.id != user_id)).first()
    return found is not None


def request_email_change(user, new_email, password):
    """Check the password, then mail a confirmation link to `new_email` and a notice to the current address."""
    if not verify_password(user.password_hash, password):
        abort(422, "The password is incorrect.", errors={"password": ["Incorrect password."]})
    if new_email == user.email:
        abort(422, "This is already your email address.", errors={"new_email": ["Same as the current address."]})
    if email_taken(new_email):
        abort(409, TAKEN, errors={"new_email": ["Already registered."]})
    queue_mail("email_change", new_email, user_id=user.id, new_email=new_email)
    queue_mail("email_change_notice", user.email, user_id=user.id, new_email=new_email)


def confirm_email_change(token):
    """Make the address an email-change token was mailed to the user's email (409 if taken meanwhile)."""
    user, new_email = _redeemed_user(token, "email_change")
    if email_taken(new_email, user.id):
        abort(409, TAKEN, errors={"token": ["The new address was registered by another account meanwhile."]})
    user.email, user.email_verified = new_email, True
    profile_changed(user)  # members of the user's lists see the new address in the change feed
    return user


def check_registration(email, invitation_token):
    """Apply REGISTRATION to a sign-up; return whether an invitation proved the address (it is then verified)."""
    mode = current_app.config["REGISTRATION"]
    if mode == "closed":
        abort(403, "Registration is closed; an administrator creates accounts.")
    if invitation_token is None:
        if mode == "invite-only":
            abort(403, "Registration is by invitation only: send the invitation_token of the mail you received.")
        return False
    if by_token(invitation_token, "invitation_token").email != email:
        abort(422, "This invitation was sent to another address.", errors={"invitation_token": ["Not for this email."]})
    return True


def commit_email_change():
    """Commit a confirmed change; an address taken by a concurrent commit is the same 409."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        abort(409, TAKEN, errors={"token": ["The new address was registered by another account meanwhile."]})


def create_account(user):
    """Add and commit a new account (409 if the email is taken); an unverified one gets a verification mail."""
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        abort(409, TAKEN, errors={"email": ["Already registered."]})
    if not user.email_verified:
        send_verification(user)
    db.session.commit()
