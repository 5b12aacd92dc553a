"""Todo reads: the columns of a representation, one readable todo, filters from the query string."""

from datetime import UTC, datetime

from flask_jwt_extended import current_user
from flask_restful import inputs
from sqlalchemy import and_, bindparam, exists, func, not_, or_, select

from app.errors import abort
from app.extensions import db
from app.models import Membership, Todo, TodoTag
from app.models.base import utcnow

# A todo's tags in the row that carries it: one name per tag, joined by a space (a tag is
# letters, digits, '-' and '_', never a space), so a page is one query, not one plus its tags.
TAG_NAMES = (
    select(func.aggregate_strings(TodoTag.name, " "))
    .where(TodoTag.todo_id == Todo.id)
    .correlate(Todo)
    .scalar_subquery()
    .label("tag_names")
)

# What a todo's representation needs: a page reads these as plain rows, not ORM objects.
TODO_COLUMNS = (
    Todo.id,
    Todo.list_id,
    Todo.title,
    Todo.notes,
    Todo.completed,
    Todo.completed_at,
    Todo.due_at,
    Todo.priority,
    Todo.assignee_id,
    Todo.order,
    Todo.created_by,
    Todo.recurrence,
    Todo.timezone,
    Todo.reminders,
    Todo.created_at,
    Todo.updated_at,
    TAG_NAMES,
)

# Built once (a statement object keeps its cache key): GET /todos/<id> runs it every time.
_TODO_ROW = (
    select(*TODO_COLUMNS, Todo.version)
    .join(Membership, Membership.list_id == Todo.list_id)
    .where(Todo.id == bindparam("todo_id"), Membership.user_id == bindparam("user_id"))
)


def todo_row_for(todo_id):
    """Return a readable todo as a row of TODO_COLUMNS and its `version`, or answer 404.

    The read path: one query through the caller's membership (any member may read),
    its tags in the row, no ORM object.
    """
    row = db.session.connection().execute(_TODO_ROW, {"todo_id": todo_id, "user_id": current_user.id}).first()
    if row is None:
        abort(404, "No such todo.")
    return row


def rfc3339(value):
    """Parse an RFC 3339 time with an offset into UTC (reqparse type)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("a time needs an offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before the year 1 in UTC
        raise ValueError("out of range in UTC") from None


def assignee(value):
    """`me` or a positive user id (reqparse type)."""
    if value == "me":
        return value
    number = int(value)
    if not 1 <= number <= 2147483647:
        raise ValueError("out of range")
    return number


assignee.openapi = {
    "anyOf": [{"type": "string", "enum": ["me"]}, {"type": "integer", "minimum": 1, "maximum": 2147483647}]
}


def only_true(value):
    """`true` (reqparse type): the one value clear-completed accepts."""
    if inputs.boolean(value) is not True:
        raise ValueError("must be true")
    return True


only_true.openapi = {"type": "boolean", "enum": [True]}


def filtered(query, args):
    """Narrow `query` (a select of Todo) by the filters in `args`; never widens it."""
    conditions = []
    if args.get("completed") is not None:
        conditions.append(Todo.completed.is_(args["completed"]))
    if args.get("due_before") is not None:
        conditions.append(Todo.due_at < args["due_before"])
    if args.get("due_after") is not None:
        conditions.append(Todo.due_at > args["due_after"])
    if args.get("overdue") is not None:
        overdue = and_(Todo.completed.is_(False), Todo.due_at < utcnow())
        conditions.append(overdue if args["overdue"] else not_(overdue) | Todo.due_at.is_(None))
    if args.get("priority") is not None:
        conditions.append(Todo.priority == args["priority"])
    if args.get("min_priority") is not None:
        conditions.append(Todo.priority >= args["min_priority"])
    for tag in args.get("tag") or ():
        conditions.append(exists(select(TodoTag.todo_id).where(TodoTag.todo_id == Todo.id, TodoTag.name == tag)))
    if args.get("q"):
        q = args["q"]
        conditions.append(or_(Todo.title.icontains(q, autoescape=True), Todo.notes.icontains(q, autoescape=True)))
    if args.get("assignee") is not None:
        wanted = current_user.id if args["assignee"] == "me" else args["assignee"]
        conditions.append(Todo.assignee_id == wanted)
    return query.where(*conditions) if conditions else query


def as_todos(rows):
    """Rows of TODO_COLUMNS as what todo_schema dumps: mappings with their tags as a sorted list."""
    todos = []
    for row in rows:
        todo = row._asdict()
        names = todo.pop("tag_names")
        todo["tags"] = sorted(names.split(" ")) if names else []
        todos.append(todo)
    return todos
