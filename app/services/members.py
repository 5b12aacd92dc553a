"""Membership rules: add by email, change roles, leave; a list keeps at least one owner."""

from sqlalchemy import select

from app.errors import abort
from app.events import record_event
from app.extensions import db
from app.models import Membership, User
from app.schemas.member import member_schema


def add_member(list_id, email, role):
    """Add the user with `email` to a list (404 if no such user, 409 if already a member)."""
    user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if user is None:
        abort(404, "No user has this email address.")
    if db.session.get(Membership, (list_id, user.id)) is not None:
        abort(409, "This user is already a member of the list.")
    membership = Membership(list_id=list_id, user_id=user.id, role=role, user=user)
    db.session.add(membership)
    db.session.flush()
    record_event("member.added", list_id, member_schema.dump(membership))
    return membership


def _owner_count(list_id):
    # FOR UPDATE (PostgreSQL; SQLite writers are serial anyway): two owners cannot demote each other at once.
    owners = select(Membership.user_id).where(Membership.list_id == list_id, Membership.role == "owner")
    return len(db.session.execute(owners.with_for_update()).all())


def _keep_an_owner(membership):
    if membership.role == "owner" and _owner_count(membership.list_id) <= 1:
        abort(409, "A list must keep at least one owner; make someone else owner first.")


def change_role(membership, role):
    """Change a member's role; the last owner cannot be demoted."""
    if role != "owner":
        _keep_an_owner(membership)
    membership.role = role
    db.session.flush()
    return membership


def remove_member(membership):
    """Remove a member (or leave); the last owner cannot go. Record member.removed first."""
    _keep_an_owner(membership)
    record_event("member.removed", membership.list_id, member_schema.dump(membership), resolve_now=True)
    db.session.delete(membership)
