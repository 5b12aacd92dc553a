"""Account rules: password changes, admin changes that must keep an admin, deletion."""

from sqlalchemy import delete, or_, select

from app.auth.passwords import hash_password, verify_password
from app.errors import abort
from app.events import record_event
from app.extensions import db
from app.models import AuthSession, Change, Membership, PersonalToken, Todo, TodoList
from app.schemas.todo import todo_schema
from app.services.lists import lock_list
from app.services.members import profile_changed
from app.sync import feed

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
        # too keeps a later reactivation from bringing the old logins and personal tokens back.
        AuthSession.revoke_where(AuthSession.user_id == user.id)
        PersonalToken.revoke_where(PersonalToken.user_id == user.id)
    for name, value in changes.items():
        setattr(user, name, value)
    if "display_name" in changes:
        profile_changed(user)


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
    doomed = [row.id for row in sole_owned]
    for list_id, name in sole_owned:
        record_event("list.deleted", list_id, {"id": list_id, "name": name}, resolve_now=True)
        lock_list(list_id)
        feed.list_lost(list_id, [member for member in feed.members_of(list_id) if member[0] != user.id])
    kept = select(Membership.list_id).where(Membership.user_id == user.id, Membership.list_id.not_in(doomed))
    for list_id in db.session.execute(kept).scalars():
        feed.member_deleted(list_id, user.id)
    # Their todos elsewhere lose the assignee or author (ON DELETE SET NULL): members see that too.
    authored = or_(Todo.assignee_id == user.id, Todo.created_by == user.id)
    touched = db.session.execute(select(Todo.id).where(authored, Todo.list_id.not_in(doomed))).scalars().all()
    if sole_owned:
        db.session.execute(delete(TodoList).where(TodoList.id.in_(doomed)))
    db.session.execute(delete(Membership).where(Membership.user_id == user.id))
    db.session.execute(delete(Change).where(Change.user_id == user.id))
    db.session.delete(user)
    if touched:
        db.session.flush()
        reloaded = select(Todo).where(Todo.id.in_(touched)).execution_options(populate_existing=True)
        for todo in db.session.execute(reloaded).scalars():
            feed.todo_upserted(todo_schema.dump(todo))
