"""What creating, changing, completing and moving a todo means."""

from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload

from app import revalidation_marks
from app.errors import abort
from app.events import record_event
from app.extensions import db
from app.models import Todo, TodoList, TodoTag
from app.models.base import utcnow
from app.permissions import is_member, membership_for
from app.recurrence import rules
from app.recurrence.schedule import reschedule
from app.schemas.todo import todo_schema
from app.sync import feed

# Fields a client writes straight onto the row; the rest have rules below.
PLAIN_FIELDS = ("title", "notes", "due_at", "priority", "order")
# Fields that change when reminders fire: a change of any reschedules them.
SCHEDULE_FIELDS = ("due_at", "recurrence", "timezone", "reminders", "completed")


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


def set_recurrence(todo, data):
    """Apply `recurrence`, `timezone` and `reminders`; both of the first and last need a due time (422).

    Clearing `due_at` clears them. Whenever the client sets the due time, the rule or
    the zone, the rule's DTSTART (`recurrence_anchor`) becomes the todo's due time.
    """
    due_at = data.get("due_at", todo.due_at)
    if due_at is None:
        errors = {field: ["Needs a due_at."] for field in ("recurrence", "reminders") if data.get(field)}
        if errors:
            abort(422, errors=errors)
    for field in ("recurrence", "timezone", "reminders"):
        if field in data:
            setattr(todo, field, data[field])
    if due_at is None:
        todo.recurrence, todo.reminders = None, []
    if {"due_at", "recurrence", "timezone"} & set(data):
        todo.recurrence_anchor = due_at if todo.recurrence else None
        problem = todo.recurrence and rules.rule_problem_at(todo.recurrence, due_at, todo.timezone)
        if problem:
            abort(422, errors={"recurrence": [problem]})


def complete(todo):
    """Complete a todo; return the due time that was done when it recurs, else None.

    A recurring todo moves to its next occurrence after the current due time and stays
    open; when its rule has none left (COUNT, UNTIL) it completes as any other.
    """
    occurrence = todo.due_at if todo.recurrence else None
    following = rules.next_after(todo, todo.due_at) if occurrence else None
    if following is not None:
        todo.due_at = following
    else:
        set_completed(todo, True)
    return occurrence


def create_todo(list_id, user_id, data, default_zone="UTC"):
    """Add a todo to a list, last unless an order is given; record todo.created."""
    check_assignee(list_id, data.get("assignee_id"))
    # Lock the list row (PostgreSQL) so concurrent creates cannot read the same max(order).
    db.session.execute(select(TodoList.id).where(TodoList.id == list_id).with_for_update())
    todo = Todo(list_id=list_id, created_by=user_id, priority=0, completed=False, tag_rows=[], reminders=[])
    todo.timezone = default_zone
    for field in (*PLAIN_FIELDS, "assignee_id"):
        if field in data:
            setattr(todo, field, data[field])
    set_recurrence(todo, data)
    if todo.order is None:
        todo.order = next_order(list_id)
    set_tags(todo, data.get("tags", []))
    set_completed(todo, data.get("completed", False))
    db.session.add(todo)
    db.session.flush()
    if todo.reminders:
        reschedule(todo)
    dumped = todo_schema.dump(todo)
    record_event("todo.created", list_id, dumped)
    feed.todo_upserted(dumped)
    return todo


def update_todo(todo, data):
    """Apply a partial change (maybe a move); record todo.completed and/or todo.updated."""
    if not data:
        return todo
    source_list, was_completed = todo.list_id, todo.completed
    target_list = data.get("list_id", source_list)
    # Every check before the first change: each check's query autoflushes the todo, so an
    # unchecked value set before it (an assignee that does not exist) would reach the database.
    if target_list != source_list:
        membership_for(target_list, "write_todos")  # 404 if unseen, 403 for a viewer
    if "assignee_id" in data or target_list != source_list:
        check_assignee(target_list, data.get("assignee_id", todo.assignee_id))
    if target_list != source_list:
        if "order" not in data:
            todo.order = next_order(target_list)  # before the move: autoflush would count the todo itself
        todo.list_id = target_list
    if "assignee_id" in data:
        todo.assignee_id = data["assignee_id"]
    for field in PLAIN_FIELDS:
        if field in data:
            setattr(todo, field, data[field])
    set_recurrence(todo, data)
    if "tags" in data:
        set_tags(todo, data["tags"])
    completing = data.get("completed") is True and not todo.completed
    occurrence = complete(todo) if completing else None
    if "completed" in data and not completing:
        set_completed(todo, data["completed"])
    others = bool(set(data) - {"completed"}) or (was_completed and not todo.completed)
    todo.updated_at = utcnow()  # a change of tags alone must bump the version too
    db.session.flush()
    if set(SCHEDULE_FIELDS) & set(data):
        reschedule(todo)
    dumped = todo_schema.dump(todo)
    if completing:
        done = {**dumped, "occurrence": _rfc3339(occurrence)} if occurrence else dumped
        record_event("todo.completed", todo.list_id, done)
    if others:
        record_event("todo.updated", todo.list_id, dumped)
        if source_list != todo.list_id:
            record_event("todo.updated", source_list, dumped)
    if source_list != todo.list_id:
        feed.todo_deleted(source_list, todo.id)
    feed.todo_upserted(dumped)
    return todo


def _rfc3339(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def delete_todo(todo):
    """Delete a todo; record todo.deleted first.

    Its tags go by the database's ON DELETE CASCADE, after the DELETE has locked the todo's
    row: the order update_todo takes them in (the todo's row, then its tags). The dump loads
    the tags, and the ORM would delete loaded tag rows before the todo, locking them first:
    with a concurrent PATCH of the tags, each waited for the other (a deadlock, a 503).
    """
    record_event("todo.deleted", todo.list_id, todo_schema.dump(todo))
    feed.todo_deleted(todo.list_id, todo.id)
    db.session.expire(todo, ["tag_rows"])  # unloaded with passive_deletes: left to the database
    db.session.delete(todo)


def clear_completed(list_id):
    """Delete the todos of a list that are completed as they are deleted; record todo.deleted for those.

    Return how many went. The rows are read FOR UPDATE (PostgreSQL re-reads a row that a
    concurrent transaction changed, and drops it once it is no longer completed), and the
    DELETE checks `completed` again, so a todo un-completed meanwhile stays, without event.
    """
    todos = (
        db.session.execute(
            select(Todo)
            .where(Todo.list_id == list_id, Todo.completed.is_(True))
            .with_for_update(of=Todo)
            .options(selectinload(Todo.tag_rows))
        )
        .scalars()
        .all()
    )
    if not todos:
        return 0
    dumped = {todo.id: todo_schema.dump(todo) for todo in todos}
    gone = (
        delete(Todo)
        .where(Todo.id.in_(list(dumped)), Todo.completed.is_(True))
        .returning(Todo.id)
        .execution_options(synchronize_session=False, **revalidation_marks.handled())
    )
    deleted = sorted(db.session.execute(gone).scalars().all())
    for todo_id in deleted:
        record_event("todo.deleted", list_id, dumped[todo_id])
        feed.todo_deleted(list_id, todo_id)
    for todo in todos:
        if todo.id in deleted:
            db.session.expunge(todo)
    revalidation_marks.forget_on_commit(db.session, [revalidation_marks.todo_key(i) for i in deleted])
    return len(deleted)
