"""What creating, changing, completing and moving a todo means."""

from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload

from app import revalidation
from app.errors import abort
from app.events import record_event
from app.extensions import db
from app.models import Todo, TodoList, TodoTag
from app.models.base import utcnow
from app.permissions import is_member, membership_for
from app.schemas.todo import todo_schema

# Fields a client writes straight onto the row; the rest have rules below.
PLAIN_FIELDS = ("title", "notes", "due_at", "priority", "order")


def next_order(list_id):
    """The order that puts a new todo last in its list: max(order) + 1."""
    highest = db.session.execute(select(func.max(Todo.order)).where(Todo.list_id == list_id)).scalar()
    return 0.0 if highest is None else float(highest) + 1


def check_assignee(list_id, assignee_id):
    """Answer 422 unless the assignee (if any) is a member of the list."""
    if assignee_id is not None and not is_member(list_id, assignee_id):
        abort(422, errors={"assignee_id": ["The assignee must be a member of the list."]})


def set_tags(todo, names):
    """Replace a todo's tags with `names` (already lower-cased and deduplicated)."""
    existing = {row.name: row for row in todo.tag_rows}
    todo.tag_rows = [existing.get(name) or TodoTag(name=name) for name in names]


def set_completed(todo, completed):
    """Set `completed` and keep `completed_at` in step; return whether it flipped to true."""
    if completed == todo.completed:
        return False
    todo.completed = completed
    todo.completed_at = utcnow() if completed else None
    return completed


def create_todo(list_id, user_id, data):
    """Add a todo to a list, last unless an order is given; record todo.created."""
    check_assignee(list_id, data.get("assignee_id"))
    # Lock the list row (PostgreSQL) so concurrent creates cannot read the same max(order).
    db.session.execute(select(TodoList.id).where(TodoList.id == list_id).with_for_update())
    todo = Todo(list_id=list_id, created_by=user_id, priority=0, completed=False, tag_rows=[])
    for field in (*PLAIN_FIELDS, "assignee_id"):
        if field in data:
            setattr(todo, field, data[field])
    if todo.order is None:
        todo.order = next_order(list_id)
    set_tags(todo, data.get("tags", []))
    set_completed(todo, data.get("completed", False))
    db.session.add(todo)
    db.session.flush()
    record_event("todo.created", list_id, todo_schema.dump(todo))
    return todo


def update_todo(todo, data):
    """Apply a partial change (maybe a move); record todo.completed and/or todo.updated."""
    if not data:
        return todo
    source_list, was_completed = todo.list_id, todo.completed
    if "list_id" in data and data["list_id"] != todo.list_id:
        membership_for(data["list_id"], "write_todos")  # 404 if unseen, 403 for a viewer
        if "order" not in data:
            todo.order = next_order(data["list_id"])  # before the move: autoflush would count the todo itself
        todo.list_id = data["list_id"]
    if "assignee_id" in data or todo.list_id != source_list:
        todo.assignee_id = data.get("assignee_id", todo.assignee_id)
        check_assignee(todo.list_id, todo.assignee_id)
    for field in PLAIN_FIELDS:
        if field in data:
            setattr(todo, field, data[field])
    if "tags" in data:
        set_tags(todo, data["tags"])
    completed_now = set_completed(todo, data["completed"]) if "completed" in data else False
    others = bool(set(data) - {"completed"}) or (was_completed and not todo.completed)
    todo.updated_at = utcnow()  # a change of tags alone must bump the version too
    db.session.flush()
    dumped = todo_schema.dump(todo)
    if completed_now:
        record_event("todo.completed", todo.list_id, dumped)
    if others:
        record_event("todo.updated", todo.list_id, dumped)
        if source_list != todo.list_id:
            record_event("todo.updated", source_list, dumped)
    return todo


def delete_todo(todo):
    """Delete a todo; record todo.deleted first."""
    record_event("todo.deleted", todo.list_id, todo_schema.dump(todo))
    db.session.delete(todo)


def clear_completed(list_id):
    """Delete a list's completed todos; record todo.deleted for each; return how many."""
    todos = (
        db.session.execute(
            select(Todo).where(Todo.list_id == list_id, Todo.completed.is_(True)).options(selectinload(Todo.tag_rows))
        )
        .scalars()
        .all()
    )
    for todo in todos:
        record_event("todo.deleted", list_id, todo_schema.dump(todo))
    if todos:
        ids = [todo.id for todo in todos]
        db.session.execute(delete(Todo).where(Todo.id.in_(ids)).execution_options(**revalidation.handled()))
        revalidation.forget_on_commit(db.session, [revalidation.todo_key(i) for i in ids])
    return len(todos)
