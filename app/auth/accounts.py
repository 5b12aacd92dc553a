"""Account rules: password changes, admin changes that must keep an admin, deletion."""

from sqlalchemy import delete, select

from app.auth.passwords import hash_password, verify_password
from app.errors import abort
from app.events import record_event
from app.extensions import db
from app.models import AuthSession, Membership, TodoList

LAST_ADMIN = "The last active admin cannot demote, deactivate or delete themselves; make another admin first."


def change_password(user, session, current_password, new_password):
    """Set a new password and end every other login of the user (the caller's stays)."""
    if not verify_password(user.password_hash, current_password):
        abort(422, "The current password is incorrect.", errors={"current_password": ["Incorrect password."]})
    user.password_hash = hash_password(new_password)
    AuthSession.revoke_where(AuthSession.user_id == user.id, AuthSession.id != session.id)


def update_account(user, changes):
    """Apply an admin's `changes` (role, is_active, display_name) to `user`."""
    demoting = changes.get("role", user.role) != "admin"
    deactivating = changes.get("is_active", user.is_active) is False
    if (demoting or deactivating) and user.is_last_active_admin():
        abort(409, LAST_ADMIN)
    if deactivating and user.is_active:
        # Tokens already stop at once (is_active is read per request); revoking them
        # too keeps a later reactivation from bringing the old logins back.
        AuthSession.revoke_where(AuthSession.user_id == user.id)
    for name, value in changes.items():
        setattr(user, name, value)


def delete_account(user):
    """Delete `user`, the lists they alone own, and their memberships."""
    if user.is_last_active_admin():
        abort(409, LAST_ADMIN)
    other_owners = select(Membership.list_id).where(Membership.role == "owner", Membership.user_id != user.id)
    sole_owned = db.session.execute(
        select(TodoList.id, TodoList.name)
        .join(Membership, Membership.list_id == TodoList.id)
        .where(Membership.user_id == user.id, Membership.role == "owner", TodoList.id.not_in(other_owners))
    ).all()
    for list_id, name in sole_owned:
        record_event("list.deleted", list_id, {"id": list_id, "name": name}, resolve_now=True)
    if sole_owned:
        db.session.execute(delete(TodoList).where(TodoList.id.in_([row.id for row in sole_owned])))
    db.session.execute(delete(Membership).where(Membership.user_id == user.id))
    db.session.delete(user)
