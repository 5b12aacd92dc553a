"""The Todo-Backend protocol on a share link: the token in the path is the only credential."""

from flask import Response
from flask_restful import Resource

from app import sharing
from app.apidoc import Bare, doc
from app.conditional import not_modified, require_match, todo_etag
from app.extensions import db
from app.http import load_body
from app.idempotency import idempotent
from app.personal_tokens.scopes import PUBLIC
from app.ratelimit import limiter
from app.schemas.todo_backend import todo_backend_list_schema, todo_backend_patch_schema, todo_backend_schema
from app.services import todos

# One budget per link across both endpoints, whoever calls (the API-wide limit per address applies too).
token_limit = limiter.shared_limit(sharing.rate_limit, scope="share-link", key_func=sharing.rate_limit_key)

TAGS = ["shared (Todo-Backend)"]
READ_ERRORS = (404, 429)
WRITE_ERRORS = (400, 403, 404, 412, 413, 415, 422, 429)


def answer(todo, status=200, **headers):
    """The todo with its ETag (the same tag the member API gives it)."""
    return todo_backend_schema.dump(todo), status, {"ETag": todo_etag(todo), **headers}


def save_change(todo, data):
    """Apply a PATCH or PUT as a member's change would be applied, commit, and answer the todo."""
    require_match(todo_etag(todo))
    todos.update_todo(todo, data)
    db.session.flush()
    answered = answer(todo)  # before the commit: a concurrent delete after it cannot make this a 500
    db.session.commit()
    return answered


class SharedTodoList(Resource):
    scope = PUBLIC

    @doc(
        "List the todos of the shared list: a bare array, by order then id.",
        auth="share",
        responses={200: Bare(todo_backend_schema)},
        errors=READ_ERRORS,
        tags=TAGS,
    )
    @token_limit
    def get(self, token):
        """List the shared list's todos."""
        link = sharing.link_for(token)
        return todo_backend_list_schema.dump(sharing.list_todos(link.list_id))

    @doc(
        "Create a todo (editor link): not completed and last unless given.",
        auth="share",
        body=todo_backend_schema,
        responses={201: todo_backend_schema},
        errors=WRITE_ERRORS,
        tags=TAGS,
    )
    @token_limit
    @idempotent
    def post(self, token):
        """Create a todo on the shared list."""
        link = sharing.link_for(token, write=True)
        data = load_body(todo_backend_schema)
        todo = sharing.create_todo(link.list_id, data)
        db.session.flush()
        body, status, headers = answer(todo, 201)
        db.session.commit()
        return body, status, {**headers, "Location": body["url"]}

    @doc(
        "Delete every todo of the shared list (editor link).",
        auth="share",
        responses={204: None},
        errors=(403, 404, 429),
        tags=TAGS,
    )
    @token_limit
    def delete(self, token):
        """Delete all the shared list's todos."""
        link = sharing.link_for(token, write=True)
        sharing.clear_todos(link.list_id)
        db.session.commit()
        return Response(status=204)


class SharedTodo(Resource):
    scope = PUBLIC

    @doc(
        "Return one todo of the shared list.",
        auth="share",
        responses={200: todo_backend_schema},
        errors=READ_ERRORS,
        tags=TAGS,
    )
    @token_limit
    def get(self, token, todo_id):
        """Return one todo."""
        link = sharing.link_for(token)
        todo = sharing.todo_in(link.list_id, todo_id)
        return not_modified(todo_etag(todo)) or answer(todo)

    @doc(
        "Change any of title, completed and order (editor link); id and url are ignored.",
        auth="share",
        body=todo_backend_patch_schema,
        responses={200: todo_backend_schema},
        errors=WRITE_ERRORS,
        tags=TAGS,
    )
    @token_limit
    def patch(self, token, todo_id):
        """Change some fields of a todo."""
        link = sharing.link_for(token, write=True)
        todo = sharing.todo_in(link.list_id, todo_id)
        return save_change(todo, load_body(todo_backend_patch_schema))

    @doc(
        "Replace a todo (editor link): title required, completed false unless given, order kept unless given; "
        "id and url are ignored.",
        auth="share",
        body=todo_backend_schema,
        responses={200: todo_backend_schema},
        errors=WRITE_ERRORS,
        tags=TAGS,
    )
    @token_limit
    def put(self, token, todo_id):
        """Replace a todo."""
        link = sharing.link_for(token, write=True)
        todo = sharing.todo_in(link.list_id, todo_id)
        data = load_body(todo_backend_schema)
        return save_change(todo, {"completed": False, **data})

    @doc("Delete one todo (editor link).", auth="share", responses={204: None}, errors=(403, 404, 412, 429), tags=TAGS)
    @token_limit
    def delete(self, token, todo_id):
        """Delete a todo."""
        link = sharing.link_for(token, write=True)
        todo = sharing.todo_in(link.list_id, todo_id)
        require_match(todo_etag(todo))
        todos.delete_todo(todo)
        db.session.commit()
        return Response(status=204)
