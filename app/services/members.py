"""Membership rules: add by email, change roles, leave; a list keeps at least one owner."""

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.errors import abort
from app.events import record_event
from app.extensions import db
from app.models import Membership, User
from app.schemas.member import member_schema
from app.schemas.todo_list import todo_list_schema
from app.services.lists import lock_list, view_of
from app.sync import feed


def add_member(list_id, email, role):
    """Add the user with `email` to a list (404 if no such user, 409 if already a member)."""
    # The user's row first (shared: a profile change waits, or is waited for), then the list:
    # the order profile_changed takes them in. Concurrent adds of one user: the second sees
    # the first and answers 409.
    found = select(User).where(User.email == email).with_for_update(read=True)
    user = db.session.execute(found.execution_options(populate_existing=True)).scalar_one_or_none()
    if user is None:
        abort(404, "No user has this email address.")
    lock_list(list_id)
    if db.session.get(Membership, (list_id, user.id)) is not None:
        abort(409, "This user is already a member of the list.")
    membership = Membership(list_id=list_id, user_id=user.id, role=role, user=user)
    db.session.add(membership)
    db.session.flush()
    dumped = member_schema.dump(membership)
    record_event("member.added", list_id, dumped)
    feed.list_upserted(todo_list_schema.dump(view_of(membership)), users=[(user.id, role)])
    feed.member_upserted(list_id, dumped)
    return membership


def _owner_count(list_id):
    # FOR UPDATE (PostgreSQL; SQLite writers are serial anyway): two owners cannot demote each other at once.
    owners = select(Membership.user_id).where(Membership.list_id == list_id, Membership.role == "owner")
    return len(db.session.execute(owners.with_for_update()).all())


def _keep_an_owner(membership):
    if membership.role == "owner" and _owner_count(membership.list_id) <= 1:
        abort(409, "A list must keep at least one owner; make someone else owner first.")


def _lock(membership):
    """Lock the member's list (PostgreSQL) so membership changes on it go one at a time; 404 if it just went."""
    # The member's user row first (shared), then the list: the order profile_changed takes them in.
    db.session.execute(select(User.id).where(User.id == membership.user_id).with_for_update(read=True))
    lock_list(membership.list_id)
    # Its role and its user's name as of now: the entry the feed gets is read under the locks.
    if db.session.execute(_fresh_membership(membership.list_id, membership.user_id)).scalar_one_or_none() is None:
        abort(404, "No such member.")


def change_role(membership, role):
    """Change a member's role; the last owner cannot be demoted."""
    _lock(membership)
    if role != "owner":
        _keep_an_owner(membership)
    membership.role = role
    db.session.flush()
    feed.list_upserted(todo_list_schema.dump(view_of(membership)), users=[(membership.user_id, role)])
    feed.member_upserted(membership.list_id, member_schema.dump(membership))
    return membership


def remove_member(membership):
    """Remove a member (or leave); the last owner cannot go. Record member.removed first."""
    _lock(membership)
    _keep_an_owner(membership)
    record_event("member.removed", membership.list_id, member_schema.dump(membership), resolve_now=True)
    feed.list_lost(membership.list_id, [(membership.user_id, None)])
    feed.member_deleted(membership.list_id, membership.user_id)
    db.session.delete(membership)


def profile_changed(user):
    """The user's name or email changed: members of their lists see their member entry change.

    Locks go user row, then list row, in every writer of member entries (add_member and
    _lock too), so none can deadlock. The user's row is written first (the flush holds it
    until the commit); then each list is locked, so a concurrent removal, role change or
    addition on it commits first or waits for this one, and the entry is read again under
    that lock: a member removed meanwhile gets no upsert after its delete, and a role
    changed meanwhile is not overwritten in the feed by the role read before.
    """
    db.session.flush()
    mine = select(Membership.list_id).where(Membership.user_id == user.id).order_by(Membership.list_id)
    list_ids = db.session.execute(mine).scalars().all()  # in id order: two profile changes lock lists alike
    for list_id in list_ids:
        lock_list(list_id)
        membership = db.session.execute(_fresh_membership(list_id, user.id)).scalar_one_or_none()
        if membership is not None:
            feed.member_upserted(list_id, member_schema.dump(membership))


def _fresh_membership(list_id, user_id):
    """A select of a membership and its user as committed now, replacing what the session holds."""
    return (
        select(Membership)
        .where(Membership.list_id == list_id, Membership.user_id == user_id)
        .options(joinedload(Membership.user))
        .execution_options(populate_existing=True)
    )
