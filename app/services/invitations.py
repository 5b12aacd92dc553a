"""Invitations by email: invite an address to a list, accept with the matching verified account."""

from datetime import timedelta

from sqlalchemy import delete, select

from app.auth.email_tokens import token_hash
from app.errors import abort
from app.events import record_event
from app.extensions import db
from app.mail.outbox import queue_mail
from app.models import Invitation, Membership, User
from app.models.base import utcnow
from app.schemas.member import member_schema
from app.schemas.todo_list import todo_list_schema
from app.services.lists import lock_list, view_of
from app.sync import feed

LIFETIME = timedelta(days=7)
INVALID = "This invitation is invalid, expired, withdrawn or already accepted."


def invite(list_id, email, role, inviter_id):
    """Invite `email` to a list (409 if a member already has it); an earlier invitation of the address is replaced."""
    member = db.session.execute(
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.list_id == list_id, User.email == email)
    ).first()
    if member is not None:
        abort(409, "A member of the list already has this email address.", errors={"email": ["Already a member."]})
    db.session.execute(delete(Invitation).where(Invitation.list_id == list_id, Invitation.email == email))
    invitation = Invitation(
        list_id=list_id, email=email, role=role, invited_by=inviter_id, expires_at=utcnow() + LIFETIME
    )
    db.session.add(invitation)
    db.session.flush()
    queue_mail("invitation", email, invitation_id=invitation.id)
    return invitation


def by_token(token, field="token"):
    """The live invitation a token was mailed with, or answer 422 keyed `field`."""
    invitation = None
    if isinstance(token, str) and 20 <= len(token) <= 100:
        invitation = db.session.execute(
            select(Invitation).where(Invitation.token_hash == token_hash(token))
        ).scalar_one_or_none()
    if invitation is None or invitation.expires_at <= utcnow():
        abort(422, INVALID, errors={field: ["Invalid or expired invitation."]})
    return invitation


def accept(token, user):
    """Make `user` a member as invited: their verified email must be the invited one (403), not yet a member (409)."""
    invitation = by_token(token)
    # The user's row first (shared, read afresh), then the list: the order profile_changed takes
    # them in, so a rename committed meanwhile is in the member entry, and one after it waits.
    fresh = select(User).where(User.id == user.id).with_for_update(read=True)
    user = db.session.execute(fresh.execution_options(populate_existing=True)).scalar_one()
    if user.email != invitation.email:
        abort(403, "This invitation was sent to another email address.")
    if not user.email_verified:
        abort(403, "Verify your email address before accepting an invitation.")
    lock_list(invitation.list_id)  # as add_member: concurrent membership changes go one at a time
    if db.session.get(Membership, (invitation.list_id, user.id)) is not None:
        abort(409, "You are already a member of this list.")
    membership = Membership(list_id=invitation.list_id, user_id=user.id, role=invitation.role, user=user)
    db.session.add(membership)
    db.session.delete(invitation)
    db.session.flush()
    dumped = member_schema.dump(membership)
    record_event("member.added", invitation.list_id, dumped)
    feed.list_upserted(todo_list_schema.dump(view_of(membership)), users=[(user.id, membership.role)])
    feed.member_upserted(invitation.list_id, dumped)
    return membership
