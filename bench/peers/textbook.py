"""The textbook version of this stack, as the seed guide writes it: the benchmark's first peer.

flask-restful `Resource` classes, `reqparse` for the query string, Marshmallow schemas over
Flask-SQLAlchemy ORM models, and `@jwt_required()` with a `user_lookup_loader` that loads
the user per request. It serves the hot endpoints of the service with the same JSON, on
the same tables, and verifies the service's own access tokens (same `JWT_SECRET_KEY`).
What it leaves out, as the textbook does: revocation, rate limits, metrics, request ids,
idempotency, problem+json.

Run: gunicorn -c gunicorn.conf.py bench.peers.textbook:app
"""

import base64
import json
import os
from datetime import datetime

from flask import Flask, request, url_for
from flask_jwt_extended import JWTManager, current_user, jwt_required
from flask_restful import Api, Resource, abort, inputs, reqparse
from flask_sqlalchemy import SQLAlchemy
from marshmallow import Schema, fields, validate
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bench.peers.common import TODO_FIELDS, database_url


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    is_active: Mapped[bool]


class Membership(db.Model):
    __tablename__ = "memberships"
    list_id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str]


class TodoTag(db.Model):
    __tablename__ = "todo_tags"
    todo_id: Mapped[int] = mapped_column(ForeignKey("todos.id"), primary_key=True)
    name: Mapped[str] = mapped_column(primary_key=True)


class Todo(db.Model):
    __tablename__ = "todos"
    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int]
    title: Mapped[str]
    notes: Mapped[str | None]
    completed: Mapped[bool]
    completed_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    priority: Mapped[int]
    assignee_id: Mapped[int | None]
    order: Mapped[float] = mapped_column("order")
    created_by: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int]
    tag_rows = relationship(TodoTag, order_by=TodoTag.name, cascade="all, delete-orphan")

    @property
    def tags(self):
        return [t.name for t in self.tag_rows]


class UTCTime(fields.DateTime):
    def _serialize(self, value, attr, obj, **kwargs):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


class TodoSchema(Schema):
    id = fields.Integer(dump_only=True)
    url = fields.Method("get_url", dump_only=True)
    list_id = fields.Integer(dump_only=True)
    title = fields.String(required=True, validate=validate.Length(1, 500))
    notes = fields.String(allow_none=True, validate=validate.Length(max=10000))
    completed = fields.Boolean()
    completed_at = UTCTime(dump_only=True)
    due_at = UTCTime(allow_none=True)
    priority = fields.Integer(validate=validate.Range(0, 3))
    tags = fields.List(fields.String(validate=validate.Length(1, 50)), validate=validate.Length(max=20))
    assignee_id = fields.Integer(allow_none=True)
    order = fields.Float()
    created_by = fields.Integer(dump_only=True)
    created_at = UTCTime(dump_only=True)
    updated_at = UTCTime(dump_only=True)

    def get_url(self, todo):
        return url_for("todo", todo_id=todo.id, _external=True)


assert set(TodoSchema().fields) == set(TODO_FIELDS)
todo_schema = TodoSchema()
todo_update_schema = TodoSchema(partial=True)

app = Flask(__name__)
app.config.update(
    SQLALCHEMY_DATABASE_URI=database_url(),
    JWT_SECRET_KEY=os.environ["JWT_SECRET_KEY"],
    SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
)
db.init_app(app)
jwt = JWTManager(app)
api = Api(app, prefix="/api/v1")


@jwt.user_lookup_loader
def load_user(jwt_header, jwt_data):
    return db.session.get(User, int(jwt_data["sub"]))


page_parser = reqparse.RequestParser()
page_parser.add_argument("limit", type=inputs.int_range(1, 200), default=50, location="args")
page_parser.add_argument("cursor", type=str, location="args")
page_parser.add_argument("completed", type=inputs.boolean, location="args")


def visible_lists():
    return db.select(Membership.list_id).where(Membership.user_id == current_user.id)


def role_in(list_id):
    member = db.session.get(Membership, (list_id, current_user.id))
    if member is None:
        abort(404)
    return member.role


def page(query, args, key):
    """Keyset page over (key desc/asc, id) with a base64 JSON cursor."""
    if args["completed"] is not None:
        query = query.where(Todo.completed.is_(args["completed"]))
    column = getattr(Todo, key)
    if args["cursor"]:
        after = json.loads(base64.urlsafe_b64decode(args["cursor"]))
        value = after[0] if key == "order" else datetime.fromisoformat(after[0])
        query = query.where(db.tuple_(column, Todo.id) < db.tuple_(value, after[1]))
    todos = db.session.scalars(query.order_by(column.desc(), Todo.id.desc()).limit(args["limit"] + 1)).all()
    more, todos = len(todos) > args["limit"], todos[: args["limit"]]
    cursor = None
    if more:
        last = getattr(todos[-1], key)
        cursor = base64.urlsafe_b64encode(json.dumps([str(last), todos[-1].id]).encode()).decode()
    return {"items": todo_schema.dump(todos, many=True), "next_cursor": cursor}


class TodoList(Resource):
    method_decorators = [jwt_required()]

    def get(self):
        args = page_parser.parse_args()
        return page(db.select(Todo).where(Todo.list_id.in_(visible_lists())), args, "created_at")


class ListTodoList(Resource):
    method_decorators = [jwt_required()]

    def get(self, list_id):
        role_in(list_id)
        args = page_parser.parse_args()
        return page(db.select(Todo).where(Todo.list_id == list_id), args, "order")

    def post(self, list_id):
        if role_in(list_id) == "viewer":
            abort(403)
        data = {"priority": 0, "completed": False, **todo_schema.load(request.get_json())}
        tags = data.pop("tags", [])
        if "order" not in data:
            last = db.session.scalar(db.select(db.func.max(Todo.order)).where(Todo.list_id == list_id))
            data["order"] = (last or 0) + 1
        now = db.func.now()
        todo = Todo(list_id=list_id, created_by=current_user.id, version=1, created_at=now, updated_at=now, **data)
        todo.tag_rows = [TodoTag(name=t.lower()) for t in dict.fromkeys(tags)]
        db.session.add(todo)
        db.session.commit()
        return todo_schema.dump(todo), 201, {"Location": url_for("todo", todo_id=todo.id, _external=True)}


class TodoItem(Resource):
    method_decorators = [jwt_required()]

    def _load(self, todo_id):
        todo = db.session.get(Todo, todo_id)
        if todo is None:
            abort(404)
        return todo, role_in(todo.list_id)

    def get(self, todo_id):
        todo, _ = self._load(todo_id)
        etag = f'"{todo.id}-{todo.version}"'
        if request.headers.get("If-None-Match") == etag:
            return "", 304, {"ETag": etag}
        return todo_schema.dump(todo), 200, {"ETag": etag}

    def patch(self, todo_id):
        todo, role = self._load(todo_id)
        if role == "viewer":
            abort(403)
        data = todo_update_schema.load(request.get_json())
        if "tags" in data:
            todo.tag_rows = [TodoTag(name=t.lower()) for t in dict.fromkeys(data.pop("tags"))]
        if "completed" in data:
            todo.completed_at = db.func.now() if data["completed"] else None
        for key, value in data.items():
            setattr(todo, key, value)
        todo.version += 1
        todo.updated_at = db.func.now()
        db.session.commit()
        return todo_schema.dump(todo)


api.add_resource(TodoList, "/todos")
api.add_resource(ListTodoList, "/lists/<int:list_id>/todos")
api.add_resource(TodoItem, "/todos/<int:todo_id>", endpoint="todo")


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
