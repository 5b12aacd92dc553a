"""factory_boy factories for lists, members and todos, and a ready-made cast of members."""

from datetime import UTC, datetime
from types import SimpleNamespace

import factory
from factory.alchemy import SQLAlchemyModelFactory

from app.extensions import db
from app.models import Membership, Todo, TodoList, TodoTag


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class TodoListFactory(Base):
    class Meta:
        model = TodoList

    name = factory.Sequence(lambda n: f"List {n}")
    description = None


class MembershipFactory(Base):
    class Meta:
        model = Membership

    role = "viewer"


class TodoFactory(Base):
    class Meta:
        model = Todo

    title = factory.Sequence(lambda n: f"Todo {n}")
    order = factory.Sequence(float)
    priority = 0
    completed = False
    created_at = factory.LazyFunction(lambda: datetime.now(UTC))

    @factory.post_generation
    def tags(self, create, names, **kwargs):
        for name in names or ():
            db.session.add(TodoTag(todo_id=self.id, name=name))
        if names:
            db.session.commit()


def make_list(app, members, **fields):
    """Create a list with `members` ({user_id: role}); return its id."""
    with app.app_context():
        todo_list = TodoListFactory(**fields)
        for user_id, role in members.items():
            MembershipFactory(list_id=todo_list.id, user_id=user_id, role=role)
        return todo_list.id


def make_todos(app, list_id, count=1, **fields):
    """Create `count` todos in a list; return their ids."""
    with app.app_context():
        return [TodoFactory(list_id=list_id, **fields).id for _ in range(count)]


def make_cast(app, auth):
    """An owner, editor and viewer of one list with one todo, plus a stranger and an admin."""
    cast = SimpleNamespace(
        owner=auth.user(), editor=auth.user(), viewer=auth.user(), stranger=auth.user(), admin=auth.user(role="admin")
    )
    cast.list_id = make_list(
        app, {cast.owner.id: "owner", cast.editor.id: "editor", cast.viewer.id: "viewer"}, name="Groceries"
    )
    cast.todo_id = make_todos(app, cast.list_id, created_by=cast.owner.id)[0]
    return cast
