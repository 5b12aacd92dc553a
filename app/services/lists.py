"""Lists as their members see them: the caller's role and the todo counts."""

from sqlalchemy import case, func, select

from app.events import record_event
from app.extensions import db
from app.models import Membership, Todo, TodoList
from app.schemas.todo_list import todo_list_schema
from app.sync import feed


class ListView:
    """A list with the caller's role and its counts, as the list schema dumps it."""

    def __init__(self, todo_list, role, todo_count=0, completed_count=0):
        self.todo_list = todo_list
        self.role = role
        self.todo_count = todo_count
        self.completed_count = completed_count

    def __getattr__(self, name):
        return getattr(self.todo_list, name)


def counts(list_ids):
    """Return {list_id: (todo_count, completed_count)} in one grouped query."""
    if not list_ids:
        return {}
    rows = db.session.execute(
        select(Todo.list_id, func.count(Todo.id), func.sum(case((Todo.completed.is_(True), 1), else_=0)))
        .where(Todo.list_id.in_(list_ids))
        .group_by(Todo.list_id)
    )
    return {list_id: (total, int(done or 0)) for list_id, total, done in rows}


def views(pairs):
    """Turn (TodoList, role) pairs into ListViews with their counts."""
    found = counts([todo_list.id for todo_list, _ in pairs])
    return [ListView(todo_list, role, *found.get(todo_list.id, (0, 0))) for todo_list, role in pairs]


def view_of(membership):
    """The ListView of the list behind the caller's membership."""
    return views([(membership.todo_list, membership.role)])[0]


def create_list(user_id, data):
    """Create a list owned by `user_id`; return its view."""
    todo_list = TodoList(**data)
    todo_list.memberships.append(Membership(user_id=user_id, role="owner"))
    db.session.add(todo_list)
    db.session.flush()
    view = ListView(todo_list, "owner")
    feed.list_upserted(todo_list_schema.dump(view))
    return view


def update_list(membership, data):
    """Rename or describe a list; record list.updated."""
    for field, value in data.items():
        setattr(membership.todo_list, field, value)
    db.session.flush()
    view = view_of(membership)
    dumped = todo_list_schema.dump(view)
    record_event("list.updated", view.id, dumped)
    feed.list_upserted(dumped)
    return view


def delete_list(membership):
    """Delete a list with its todos and members; record list.deleted first."""
    lock_list(membership.list_id)
    view = view_of(membership)
    record_event("list.deleted", view.id, todo_list_schema.dump(view), resolve_now=True)
    feed.list_lost(view.id, feed.members_of(view.id))
    db.session.delete(membership.todo_list)


def lock_list(list_id):
    """Lock a list's row (PostgreSQL) so that no member joins it while the caller reads its members."""
    db.session.execute(select(TodoList.id).where(TodoList.id == list_id).with_for_update())
