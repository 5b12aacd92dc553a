"""What users pick instead: FastAPI + SQLAlchemy 2 ORM + Pydantic v2 under Uvicorn workers.

Written the way FastAPI's full-stack template writes it: a `SessionDep` dependency, a
`CurrentUser` dependency that decodes the bearer JWT with PyJWT and loads the user, ORM
models, and Pydantic response models built `from_attributes`. Same endpoints, same JSON,
same tables and the service's own access tokens (same `JWT_SECRET_KEY`); like the
template, no revocation, rate limits, metrics or request ids.

Run: gunicorn -c gunicorn.conf.py -k uvicorn.workers.UvicornWorker bench.peers.fastapi_peer:app
 (or: uvicorn --workers 2 bench.peers.fastapi_peer:app)
"""

import base64
import json
import os
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Annotated

import jwt
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_serializer
from sqlalchemy import ForeignKey, create_engine, func, select, tuple_
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from bench.peers.common import TODO_FIELDS, database_url

engine = create_engine(database_url(), pool_pre_ping=True)
SECRET = os.environ["JWT_SECRET_KEY"]


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]
    is_active: Mapped[bool]


class Membership(Base):
    __tablename__ = "memberships"
    list_id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str]


class TodoTag(Base):
    __tablename__ = "todo_tags"
    todo_id: Mapped[int] = mapped_column(ForeignKey("todos.id"), primary_key=True)
    name: Mapped[str] = mapped_column(primary_key=True)


class Todo(Base):
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
    tag_rows: Mapped[list[TodoTag]] = relationship(order_by=TodoTag.name, cascade="all, delete-orphan")

    @property
    def tags(self) -> list[str]:
        return [t.name for t in self.tag_rows]


def _utc(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


class TodoPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    url: str = ""
    list_id: int
    title: str
    notes: str | None
    completed: bool
    completed_at: datetime | None
    due_at: datetime | None
    priority: int
    tags: list[str]
    assignee_id: int | None
    order: float
    created_by: int | None
    created_at: datetime
    updated_at: datetime

    @field_serializer("completed_at", "due_at", "created_at", "updated_at")
    def _times(self, value: datetime | None) -> str | None:
        return _utc(value)


class TodoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=500)
    notes: str | None = Field(default=None, max_length=10000)
    due_at: datetime | None = None
    priority: int = Field(default=0, ge=0, le=3)
    tags: list[str] = Field(default_factory=list, max_length=20)
    assignee_id: int | None = None
    order: float | None = None


class TodoUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=500)
    notes: str | None = Field(default=None, max_length=10000)
    completed: bool | None = None
    due_at: datetime | None = None
    priority: int | None = Field(default=None, ge=0, le=3)
    tags: list[str] | None = Field(default=None, max_length=20)
    assignee_id: int | None = None
    order: float | None = None


class TodosPublic(BaseModel):
    items: list[TodoPublic]
    next_cursor: str | None


assert set(TodoPublic.model_fields) == set(TODO_FIELDS)


def get_db() -> Generator[Session, None, None]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]
bearer = HTTPBearer()


def get_current_user(session: SessionDep, creds: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> User:
    try:
        payload = jwt.decode(creds.credentials, SECRET, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        raise HTTPException(status_code=401, detail="Could not validate credentials") from None
    user = session.get(User, int(payload["sub"]))
    if user is None or not user.is_active:
        raise HTTPException(status_code=401, detail="Inactive user")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
app = FastAPI()


def _public(request: Request, todo: Todo) -> TodoPublic:
    out = TodoPublic.model_validate(todo)
    out.url = str(request.url_for("read_todo", todo_id=todo.id))
    return out


def _role(session: Session, list_id: int, user: User) -> str:
    member = session.get(Membership, (list_id, user.id))
    if member is None:
        raise HTTPException(status_code=404, detail="Not found")
    return member.role


def _page(request, session, query, key, limit, cursor, completed) -> TodosPublic:
    if completed is not None:
        query = query.where(Todo.completed.is_(completed))
    column = getattr(Todo, key)
    if cursor:
        value, last_id = json.loads(base64.urlsafe_b64decode(cursor))
        value = value if key == "order" else datetime.fromisoformat(value)
        query = query.where(tuple_(column, Todo.id) < tuple_(value, last_id))
    todos = session.scalars(query.order_by(column.desc(), Todo.id.desc()).limit(limit + 1)).all()
    more, todos = len(todos) > limit, todos[:limit]
    next_cursor = None
    if more:
        last = todos[-1]
        next_cursor = base64.urlsafe_b64encode(json.dumps([str(getattr(last, key)), last.id]).encode()).decode()
    return TodosPublic(items=[_public(request, t) for t in todos], next_cursor=next_cursor)


Limit = Annotated[int, Query(ge=1, le=200)]


@app.get("/api/v1/todos", response_model=TodosPublic)
def read_todos(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    limit: Limit = 50,
    cursor: str | None = None,
    completed: bool | None = None,
):
    visible = select(Membership.list_id).where(Membership.user_id == user.id)
    return _page(
        request, session, select(Todo).where(Todo.list_id.in_(visible)), "created_at", limit, cursor, completed
    )


@app.get("/api/v1/lists/{list_id}/todos", response_model=TodosPublic)
def read_list_todos(
    request: Request,
    list_id: int,
    session: SessionDep,
    user: CurrentUser,
    limit: Limit = 50,
    cursor: str | None = None,
    completed: bool | None = None,
):
    _role(session, list_id, user)
    return _page(request, session, select(Todo).where(Todo.list_id == list_id), "order", limit, cursor, completed)


@app.post("/api/v1/lists/{list_id}/todos", response_model=TodoPublic, status_code=201)
def create_todo(
    request: Request, response: Response, list_id: int, body: TodoCreate, session: SessionDep, user: CurrentUser
):
    if _role(session, list_id, user) == "viewer":
        raise HTTPException(status_code=403, detail="Not enough permissions")
    data = body.model_dump(exclude={"tags"})
    if data["order"] is None:
        data["order"] = (session.scalar(select(func.max(Todo.order)).where(Todo.list_id == list_id)) or 0) + 1
    now = datetime.now(UTC).replace(tzinfo=None)
    todo = Todo(
        **data,
        list_id=list_id,
        created_by=user.id,
        completed=False,
        version=1,
        created_at=now,
        updated_at=now,
        tag_rows=[TodoTag(name=t.lower()) for t in dict.fromkeys(body.tags)],
    )
    session.add(todo)
    session.commit()
    session.refresh(todo)
    out = _public(request, todo)
    response.headers["Location"] = out.url
    return out


@app.get("/api/v1/todos/{todo_id}", response_model=TodoPublic)
def read_todo(
    request: Request,
    response: Response,
    todo_id: int,
    session: SessionDep,
    user: CurrentUser,
    if_none_match: Annotated[str | None, Header()] = None,
):
    todo = session.get(Todo, todo_id)
    if todo is None:
        raise HTTPException(status_code=404, detail="Not found")
    _role(session, todo.list_id, user)
    etag = f'"{todo.id}-{todo.version}"'
    if if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return _public(request, todo)


@app.patch("/api/v1/todos/{todo_id}", response_model=TodoPublic)
def update_todo(request: Request, todo_id: int, body: TodoUpdate, session: SessionDep, user: CurrentUser):
    todo = session.get(Todo, todo_id)
    if todo is None:
        raise HTTPException(status_code=404, detail="Not found")
    if _role(session, todo.list_id, user) == "viewer":
        raise HTTPException(status_code=403, detail="Not enough permissions")
    data = body.model_dump(exclude_unset=True)
    if "tags" in data:
        todo.tag_rows = [TodoTag(name=t.lower()) for t in dict.fromkeys(data.pop("tags") or [])]
    if "completed" in data:
        todo.completed_at = datetime.now(UTC).replace(tzinfo=None) if data["completed"] else None
    for key, value in data.items():
        setattr(todo, key, value)
    todo.version += 1
    todo.updated_at = datetime.now(UTC).replace(tzinfo=None)
    session.commit()
    session.refresh(todo)
    return _public(request, todo)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
