"""Todo lists: `TodoLists` is the collection (/lists), `TodoListItem` one list (/lists/<id>).

The domain noun "list" collides with the house suffix for collections (`TodoList`
would read as "a list of todos", and `TodoListList` reads as a stutter), so in this
family collections are plural nouns and single objects end in `Item`.
"""

from flask import Response
from flask_jwt_extended import current_user, jwt_required
from flask_restful import Resource
from sqlalchemy import select

from app.apidoc import Page, doc
from app.conditional import not_modified, representation_etag, require_match
from app.extensions import db
from app.http import load_body
from app.idempotency import idempotent
from app.models import Membership, TodoList
from app.pagination import page_result, paginate, sort_parser
from app.permissions import membership_for
from app.schemas.todo_list import todo_list_schema, todo_list_update_schema
from app.services import lists

LIST_SORTS = {"name": TodoList.name, "created_at": TodoList.created_at, "updated_at": TodoList.updated_at}
list_parser = sort_parser(LIST_SORTS, "created_at")


def _dump(view, status=200, headers=None):
    body = todo_list_schema.dump(view)
    return body, status, {"ETag": representation_etag(body), **(headers or {})}


class TodoLists(Resource):
    scope = "lists"
    method_decorators = [jwt_required()]

    @doc(
        "List the lists the caller is a member of.",
        query=list_parser,
        responses={200: Page(todo_list_schema)},
        errors=(400,),
        tags=["lists"],
    )
    def get(self):
        """List the caller's lists with their role and counts."""
        args = list_parser.parse_args()
        query = select(TodoList, Membership.role).join(Membership, Membership.list_id == TodoList.id)
        query = query.where(Membership.user_id == current_user.id)
        rows, cursor = paginate(query, args["sort"], LIST_SORTS, TodoList.id, args, db.session, scalars=False)
        return page_result(todo_list_schema.dump(lists.views([tuple(row) for row in rows]), many=True), cursor)

    @doc(
        "Create a list; the caller becomes its owner.",
        body=todo_list_schema,
        responses={201: todo_list_schema},
        errors=(400, 415, 422),
        tags=["lists"],
    )
    @idempotent
    def post(self):
        """Create a list."""
        view = lists.create_list(current_user.id, load_body(todo_list_schema))
        db.session.flush()
        body, status, headers = _dump(view, 201)  # before the commit: see app.resources.todos._dump_flushed
        db.session.commit()
        return body, status, {**headers, "Location": body["url"]}


class TodoListItem(Resource):
    scope = "lists"
    method_decorators = [jwt_required()]

    @doc("Get a list.", responses={200: todo_list_schema, 304: None}, errors=(404,), tags=["lists"])
    def get(self, list_id):
        """Return one list."""
        body, status, headers = _dump(lists.view_of(membership_for(list_id)))
        return not_modified(headers["ETag"]) or (body, status, headers)

    @doc(
        "Rename or describe a list (editor+).",
        body=todo_list_update_schema,
        responses={200: todo_list_schema},
        errors=(400, 403, 404, 412, 415, 422),
        tags=["lists"],
    )
    def patch(self, list_id):
        """Change a list's name or description."""
        membership = membership_for(list_id, "update_list")
        require_match(_dump(lists.view_of(membership))[2]["ETag"])
        view = lists.update_list(membership, load_body(todo_list_update_schema))
        db.session.flush()
        answer = _dump(view)  # before the commit: a list deleted right after it cannot make this a 500
        db.session.commit()
        return answer

    @doc("Delete a list with its todos (owner).", responses={204: None}, errors=(403, 404, 412), tags=["lists"])
    def delete(self, list_id):
        """Delete a list."""
        membership = membership_for(list_id, "delete_list")
        require_match(_dump(lists.view_of(membership))[2]["ETag"])
        lists.delete_list(membership)
        db.session.commit()
        return Response(status=204)
