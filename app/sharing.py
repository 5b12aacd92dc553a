"""Share links: secret tokens that open one list, and the todo changes made through them."""

import hashlib
import secrets

from flask import current_app, request
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from app import revalidation_marks
from app.errors import abort
from app.events import record_event
from app.extensions import db
from app.models import ShareLink, Todo
from app.models.base import utcnow
from app.schemas.todo import todo_schema
from app.services import todos
from app.sync import feed

# secrets.token_urlsafe(32): 256 random bits, 43 URL-safe characters.
TOKEN_BYTES = 32


def hash_token(token):
    """Return the SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_link(list_id, role, expires_at, created_by):
    """Add a new link to the session; return (link, token). The token is never stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = ShareLink(
        list_id=list_id, role=role, expires_at=expires_at, created_by=created_by, token_hash=hash_token(token)
    )
    db.session.add(link)
    return link, token


def link_for(token, write=False):
    """Return the live link of `token`; 404 when unknown, revoked or expired, 403 when a viewer writes."""
    link = db.session.execute(select(ShareLink).where(ShareLink.token_hash == hash_token(token))).scalar_one_or_none()
    if link is None or (link.expires_at is not None and link.expires_at <= utcnow()):
        abort(404, "No such share link, or it was revoked or has expired.")
    if write and link.role != "editor":
        abort(403, "This share link is read-only.")
    return link


def rate_limit_key():
    """Key the share-link limit on the token's hash: one budget per link, whoever calls."""
    return "share:" + hash_token(request.view_args.get("token", ""))


def rate_limit():
    """RATE_LIMIT_SHARED of the running app."""
    return current_app.config["RATE_LIMIT_SHARED"]


def list_todos(list_id):
    """Return every todo of a list, ordered by order then id."""
    return db.session.execute(select(Todo).where(Todo.list_id == list_id).order_by(Todo.order, Todo.id)).scalars()


def todo_in(list_id, todo_id):
    """Return one todo of a list, or answer 404."""
    todo = db.session.execute(select(Todo).where(Todo.id == todo_id, Todo.list_id == list_id)).scalar_one_or_none()
    if todo is None:
        abort(404, "No such todo.")
    return todo


def create_todo(list_id, data):
    """Add a todo made through a link (no author), last unless an order is given; record todo.created."""
    return todos.create_todo(list_id, None, data)


def clear_todos(list_id):
    """Delete every todo of a list; record todo.deleted for each."""
    doomed = (
        db.session.execute(select(Todo).where(Todo.list_id == list_id).options(selectinload(Todo.tag_rows)))
        .scalars()
        .all()
    )
    for todo in doomed:
        record_event("todo.deleted", list_id, todo_schema.dump(todo))
        feed.todo_deleted(list_id, todo.id)
    if doomed:
        ids = [todo.id for todo in doomed]
        db.session.execute(delete(Todo).where(Todo.id.in_(ids)).execution_options(**revalidation_marks.handled()))
        revalidation_marks.forget_on_commit(db.session, [revalidation_marks.todo_key(i) for i in ids])
