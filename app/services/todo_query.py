"""Todo filters from the query string, applied to a select already scoped to the caller."""

from datetime import datetime

from flask_jwt_extended import current_user
from sqlalchemy import and_, exists, not_, or_, select

from app.extensions import db
from app.models import Todo, TodoTag
from app.models.base import utcnow

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
    Todo.created_at,
    Todo.updated_at,
)


def rfc3339(value):
    """Parse an RFC 3339 time with an offset (reqparse type)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("a time needs an offset")
    return parsed


def assignee(value):
    """`me` or a positive user id (reqparse type)."""
    if value == "me":
        return value
    number = int(value)
    if not 1 <= number <= 2147483647:
        raise ValueError("out of range")
    return number


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


def with_tags(rows):
    """Todo rows as dicts with their tags (sorted), read in one query: what todo_schema dumps."""
    if not rows:
        return []
    tags = {}
    names = db.session.execute(
        select(TodoTag.todo_id, TodoTag.name)
        .where(TodoTag.todo_id.in_([row.id for row in rows]))
        .order_by(TodoTag.todo_id, TodoTag.name)
    )
    for todo_id, name in names:
        tags.setdefault(todo_id, []).append(name)
    return [{**row._mapping, "tags": tags.get(row.id, [])} for row in rows]
