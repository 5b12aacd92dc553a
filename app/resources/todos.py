"""Todos: `ListTodos` (/lists/<id>/todos), `Todos` (/todos, every visible list), `TodoItem` (/todos/<id>).

Collections are plural nouns and single objects end in `Item`, as in the lists
family, because `TodoList` names the list model.
"""

from flask import Response, request
from flask_jwt_extended import current_user, jwt_required
from flask_restful import Resource, inputs, reqparse
from sqlalchemy import and_, select

from app.apidoc import Page, doc
from app.auth.tokens import current_session
from app.conditional import not_modified, require_match, todo_etag
from app.errors import abort
from app.extensions import db
from app.http import load_body, query_text
from app.idempotency import idempotent
from app.models import Membership, Todo
from app.pagination import page_result, paginate, paginate_scoped, sort_parser
from app.permissions import membership_for, todo_for, todo_version_for, visible_list_ids
from app.revalidation import remember
from app.schemas.base import rows_dumper
from app.schemas.todo import todo_schema, todo_update_schema
from app.services import todos
from app.services.todo_query import TODO_COLUMNS, as_todos, assignee, filtered, only_true, rfc3339, todo_row_for

TODO_SORTS = {
    "order": Todo.order,
    "created_at": Todo.created_at,
    "updated_at": Todo.updated_at,
    "due_at": Todo.due_at,
    "priority": Todo.priority,
    "title": Todo.title,
}
TAG = inputs.regex(r"^[A-Za-z0-9_-]{1,50}$")
# A todo holds at most 20 tags and the filter asks for all of them: more can match nothing.
TAG.max_items = MAX_TAG_FILTERS = 20


def todo_parser(default_sort):
    """The filters every todo collection takes, over the shared sort and page arguments."""
    parser = sort_parser(TODO_SORTS, default_sort)
    add = parser.add_argument
    add("completed", type=inputs.boolean, location="args", help="completed must be true or false")
    add("overdue", type=inputs.boolean, location="args", help="overdue must be true or false")
    add("due_before", type=rfc3339, location="args", help="due_before must be an RFC 3339 time with an offset")
    add("due_after", type=rfc3339, location="args", help="due_after must be an RFC 3339 time with an offset")
    add("priority", type=inputs.int_range(0, 3), location="args", help="priority must be an integer from 0 to 3")
    add("min_priority", type=inputs.int_range(0, 3), location="args", help="min_priority must be an integer 0-3")
    add(
        "tag",
        type=TAG,
        action="append",
        location="args",
        help="tag must be 1-50 letters, digits, '-' or '_'; at most 20 of them",
    )
    # Not trimmed: a q of white space alone is a search for it, not an empty (refused) q.
    add("q", type=query_text(1, 200), location="args", help="q must be 1-200 characters", trim=False)
    add("assignee", type=assignee, location="args", help="assignee must be 'me' or a user id")
    return parser


list_todos_parser = todo_parser("order")
todos_parser = todo_parser("-created_at")
todos_parser.add_argument(
    "list_id", type=inputs.int_range(1, 2147483647), location="args", help="list_id must be a positive integer"
)
clear_parser = reqparse.RequestParser(bundle_errors=True)
clear_parser.add_argument(
    "completed",
    type=only_true,
    required=True,
    location="args",
    help="completed=true is required: only completed todos can be cleared",
)


def _page(query, args, list_ids=None):
    """(rows, cursor) of `query` filtered by `args`; `list_ids` (a select) spreads it over several lists."""
    tags = args.get("tag") or ()
    if len(tags) > MAX_TAG_FILTERS:
        abort(400, f"At most {MAX_TAG_FILTERS} tags can be asked for.", errors={"tag": [f"At most {MAX_TAG_FILTERS}."]})
    args = {**args, "tag": [tag.lower() for tag in tags]}
    query = filtered(query, args)
    if list_ids is None:
        return paginate(query, args["sort"], TODO_SORTS, Todo.id, args, db.session, scalars=False, core=True)
    return paginate_scoped(
        query, list_ids, Todo.list_id, args["sort"], TODO_SORTS, Todo.id, args, db.session, scalars=False, core=True
    )


def _list_page(list_id, args):
    """(rows, cursor) of one list's todos, scoped by a join on the caller's membership.

    The membership is looked up apart only when the page is empty, to tell an empty
    list from one the caller cannot see (404): a page costs one query, plus its tags.
    """
    member = and_(Membership.list_id == Todo.list_id, Membership.user_id == current_user.id)
    rows, cursor = _page(select(*TODO_COLUMNS).join(Membership, member).where(Todo.list_id == list_id), args)
    if not rows:
        membership_for(list_id)
    return rows, cursor


dump_todos = rows_dumper(todo_schema)


def _dump_page(rows, cursor):
    return page_result(dump_todos(as_todos(rows)), cursor)


def _dump(todo, status=200, headers=None):
    body = todo_schema.dump(todo)
    return body, status, {"ETag": todo_etag(todo), **(headers or {})}


def _dump_flushed(todo, status=200):
    """The answer to a write, taken after its flush and before its commit: what this change made.

    After the commit the todo would be reloaded, and a concurrent DELETE committed in
    between would turn a change that succeeded into a 500.
    """
    db.session.flush()
    return _dump(todo, status)


class ListTodos(Resource):
    scope = "todos"
    reads_without_transaction = True  # app.db_engine: its GET needs no BEGIN/ROLLBACK
    method_decorators = [jwt_required()]

    @doc(
        "List a list's todos (viewer+); default sort `order`.",
        query=list_todos_parser,
        responses={200: Page(todo_schema)},
        errors=(400, 404),
        tags=["todos"],
    )
    def get(self, list_id):
        """List the todos of one list."""
        return _dump_page(*_list_page(list_id, list_todos_parser.parse_args()))

    @doc(
        "Add a todo (editor+); it goes last unless `order` is given.",
        body=todo_schema,
        responses={201: todo_schema},
        errors=(400, 403, 404, 415, 422),
        tags=["todos"],
    )
    @idempotent
    def post(self, list_id):
        """Create a todo."""
        membership_for(list_id, "write_todos")
        todo = todos.create_todo(list_id, current_user.id, load_body(todo_schema), current_user.timezone)
        body, status, headers = _dump_flushed(todo, 201)
        db.session.commit()
        return body, status, {**headers, "Location": body["url"]}

    @doc(
        "Delete the completed todos of a list (editor+); `completed=true` is required.",
        query=clear_parser,
        responses={200: None},
        errors=(400, 403, 404),
        tags=["todos"],
    )
    def delete(self, list_id):
        """Clear a list's completed todos."""
        membership_for(list_id, "write_todos")
        clear_parser.parse_args()  # completed=true, else a 400
        deleted = todos.clear_completed(list_id)
        db.session.commit()
        return {"deleted": deleted}


class Todos(Resource):
    scope = "todos"
    reads_without_transaction = True  # app.db_engine: its GET needs no BEGIN/ROLLBACK
    method_decorators = [jwt_required()]

    @doc(
        "List todos across every list the caller can see; default sort `-created_at`.",
        query=todos_parser,
        responses={200: Page(todo_schema)},
        errors=(400, 404),
        tags=["todos"],
    )
    def get(self):
        """List the caller's visible todos."""
        args = todos_parser.parse_args()
        if args["list_id"] is not None:
            return _dump_page(*_list_page(args["list_id"], args))
        return _dump_page(*_page(select(*TODO_COLUMNS), args, list_ids=visible_list_ids()))


class TodoItem(Resource):
    scope = "todos"
    reads_without_transaction = True  # app.db_engine: its GET needs no BEGIN/ROLLBACK
    method_decorators = [jwt_required()]

    @doc("Get a todo (viewer+).", responses={200: todo_schema, 304: None}, errors=(404,), tags=["todos"])
    def get(self, todo_id):
        """Return one todo; a revalidation with the current ETag reads only its version.

        What that revalidation proved is cached, so the next one is answered from Redis
        before this view runs (app/revalidation.py).
        """
        if request.if_none_match:
            row = todo_version_for(todo_id)
            etag = todo_etag(row)
            remember(current_user, current_session(), row.list_id, todo_id, etag)
            unchanged = not_modified(etag)
            if unchanged:
                return unchanged
        row = todo_row_for(todo_id)
        return dump_todos(as_todos([row]))[0], 200, {"ETag": todo_etag(row)}

    @doc(
        "Change a todo (editor+): any writable field, `completed`, or `list_id` to move it.",
        body=todo_update_schema,
        responses={200: todo_schema},
        errors=(400, 403, 404, 409, 412, 415, 422),
        tags=["todos"],
    )
    def patch(self, todo_id):
        """Change a todo."""
        todo, _ = todo_for(todo_id, "write_todos")
        require_match(todo_etag(todo))
        todos.update_todo(todo, load_body(todo_update_schema))
        answer = _dump_flushed(todo)
        db.session.commit()
        return answer

    @doc("Delete a todo (editor+).", responses={204: None}, errors=(403, 404, 412), tags=["todos"])
    def delete(self, todo_id):
        """Delete a todo."""
        todo, _ = todo_for(todo_id, "write_todos", tags=False)
        require_match(todo_etag(todo))
        todos.delete_todo(todo)
        db.session.commit()
        return Response(status=204)
