"""PostgreSQL connection handling (app/db_engine.py): reads without a transaction, pings only after idling."""

import psycopg
import pytest
from sqlalchemy import event, text

from app import db_engine
from app.extensions import db
from tests.factories import make_cast

pytestmark = pytest.mark.postgres


@pytest.fixture
def cast(app, auth):
    return make_cast(app, auth)


@pytest.fixture
def autocommit_seen(app):
    """The DBAPI connection's autocommit flag at each statement the app runs."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(conn.connection.dbapi_connection.autocommit)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_hot_reads_run_without_a_transaction_and_give_back_a_transactional_connection(
    app, client, cast, autocommit_seen
):
    for path in (f"/lists/{cast.list_id}/todos", "/todos", f"/todos/{cast.todo_id}"):
        autocommit_seen.clear()
        assert client.get("/api/v1" + path, headers=cast.viewer.headers).status_code == 200
        assert autocommit_seen and all(autocommit_seen), path
    with app.app_context(), db.engine.connect() as conn:
        assert conn.connection.dbapi_connection.autocommit is False  # the pool got it back as it was


def test_other_requests_keep_their_transaction(client, cast, autocommit_seen):
    assert client.get("/api/v1/changes", headers=cast.viewer.headers).status_code == 200
    r = client.post(f"/api/v1/lists/{cast.list_id}/todos", json={"title": "t"}, headers=cast.owner.headers)
    assert r.status_code == 201
    assert autocommit_seen and not any(autocommit_seen)


def _kill_pooled_connection(app):
    """End the server side of the connection the app's pool holds (as a restarted PostgreSQL would)."""
    with app.app_context(), db.engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        dsn = conn.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


def test_a_connection_that_idled_is_pinged_and_replaced_when_dead(app, client, cast, monkeypatch):
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert client.get("/api/v1/todos", headers=cast.viewer.headers).status_code == 200
    _kill_pooled_connection(app)
    assert client.get("/api/v1/todos", headers=cast.viewer.headers).status_code == 200


def test_a_busy_connection_is_not_pinged_a_dead_one_fails_once_then_the_pool_renews(app, client, cast, monkeypatch):
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE_SECONDS", 3600.0)
    assert client.get("/api/v1/todos", headers=cast.viewer.headers).status_code == 200
    _kill_pooled_connection(app)
    r = client.get("/api/v1/todos", headers=cast.viewer.headers)
    assert (r.status_code, r.mimetype) == (503, "application/problem+json")
    assert client.get("/api/v1/todos", headers=cast.viewer.headers).status_code == 200
