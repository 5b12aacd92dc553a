"""What each kind of mail says: the worker writes it (making its token) just before the first send.

Each function takes the outbox row's context and returns (recipient's name, template
context), or None when the mail no longer applies (the account is gone, the address
changed, the invitation was withdrawn): the row is then dropped, unsent.
"""

from sqlalchemy import select

from app.auth import email_tokens
from app.extensions import db
from app.mail.links import page_link
from app.models import Invitation, TodoList, User
from app.models.base import utcnow


def verify_email(context):
    user = db.session.get(User, context["user_id"])
    if user is None or not user.is_active or user.email != context["email"] or user.email_verified:
        return None
    token = email_tokens.issue(user.id, "verify_email", user.email)
    link = page_link(context["base_url"], "verify_email", token)
    return user.display_name, {"name": user.display_name, "link": link, "days": 7}


def password_reset(context):
    user = db.session.execute(select(User).where(User.email == context["email"])).scalar_one_or_none()
    if user is None or not user.is_active:
        return None
    token = email_tokens.issue(user.id, "password_reset", user.email)
    link = page_link(context["base_url"], "password_reset", token)
    return user.display_name, {"name": user.display_name, "link": link, "minutes": 60}


def email_change(context):
    user = db.session.get(User, context["user_id"])
    if user is None or not user.is_active:
        return None
    token = email_tokens.issue(user.id, "email_change", context["new_email"])
    link = page_link(context["base_url"], "email_change", token)
    return user.display_name, {"name": user.display_name, "link": link, "new_email": context["new_email"]}


def email_change_notice(context):
    user = db.session.get(User, context["user_id"])
    if user is None:
        return None
    return user.display_name, {"name": user.display_name, "new_email": context["new_email"]}


def invitation(context):
    row = db.session.execute(
        select(Invitation, TodoList.name, User.display_name, User.email)
        .join(TodoList, TodoList.id == Invitation.list_id)
        .outerjoin(User, User.id == Invitation.invited_by)
        .where(Invitation.id == context["invitation_id"])
    ).first()
    if row is None or row.Invitation.expires_at <= utcnow():
        return None
    token, row.Invitation.token_hash = email_tokens.new_token()
    link = page_link(context["base_url"], "invitation", token)
    invited = row.Invitation
    return None, {
        "name": None,
        "inviter": row.display_name or row.email or "Someone",
        "list_name": row.name,
        "role": invited.role,
        "link": link,
        "expires": invited.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
    }


KINDS = {
    "verify_email": verify_email,
    "password_reset": password_reset,
    "email_change": email_change,
    "email_change_notice": email_change_notice,
    "invitation": invitation,
}
