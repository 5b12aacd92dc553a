"""Who may do what on a list: role rules and lookups scoped to the caller's memberships.

Every list, member and todo is fetched through a query joined to the caller's own
membership, so an id the caller may not see answers exactly like a missing one (404),
and a visible one whose role is too weak answers 403. Admins get no implicit access.
"""

from flask_jwt_extended import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.errors import abort
from app.extensions import db
from app.models import Membership, Todo, TodoList

# The weakest role that may perform each action on a list.
RULES = {
    "read": "viewer",
    "write_todos": "editor",
    "update_list": "editor",
    "delete_list": "owner",
    "manage_members": "owner",
}

DENIED = {
    "write_todos": "Viewers cannot change todos; this needs the editor role.",
    "update_list": "Renaming the list needs the editor role.",
    "delete_list": "Only an owner can delete the list.",
    "manage_members": "Only an owner can manage members.",
}


def authorize(membership, action):
    """Answer 403 unless `membership` allows `action`."""
    if not membership.allows(RULES[action]):
        abort(403, DENIED.get(action))


def visible_list_ids(user_id=None):
    """A select of the ids of the lists the caller (or `user_id`) is a member of (memberships index)."""
    user_id = current_user.id if user_id is None else user_id
    return select(Membership.list_id).where(Membership.user_id == user_id)


def membership_for(list_id, action="read"):
    """Return the caller's Membership on a list (its todo_list loaded), or answer 404/403."""
    row = db.session.execute(
        select(Membership, TodoList)
        .join(TodoList, TodoList.id == Membership.list_id)
        .where(Membership.list_id == list_id, Membership.user_id == current_user.id)
    ).first()
    if row is None:
        abort(404, "No such list.")
    authorize(row.Membership, action)
    return row.Membership


def todo_for(todo_id, action="read", tags=True):
    """Return (todo, caller's membership on its list), or answer 404/403.

    Its tags come in the same query (its answer shows them) unless `tags` is false: a
    delete leaves them to the database's cascade.
    """
    options = (joinedload(Todo.tag_rows),) if tags else ()
    row = (
        db.session.execute(
            select(Todo, Membership)
            .join(Membership, Membership.list_id == Todo.list_id)
            .where(Todo.id == todo_id, Membership.user_id == current_user.id)
            .options(*options)
        )
        .unique()
        .first()
    )
    if row is None:
        abort(404, "No such todo.")
    authorize(row.Membership, action)
    return row.Todo, row.Membership


def todo_version_for(todo_id):
    """Return a row of what a todo's ETag is made of (id, version, assignee_id, created_by) and its list_id,
    or answer 404.

    The revalidation path: one small query through the caller's membership, no ORM object.
    """
    row = db.session.execute(
        select(Todo.id, Todo.version, Todo.assignee_id, Todo.created_by, Todo.list_id)
        .join(Membership, Membership.list_id == Todo.list_id)
        .where(Todo.id == todo_id, Membership.user_id == current_user.id)
    ).first()
    if row is None:
        abort(404, "No such todo.")
    return row


def is_member(list_id, user_id):
    """Return whether `user_id` is a member of the list."""
    found = db.session.execute(
        select(Membership.user_id).where(Membership.list_id == list_id, Membership.user_id == user_id)
    ).first()
    return found is not None
