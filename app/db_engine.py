"""Engine tuning per backend.

SQLite gets foreign keys, WAL, a busy timeout and early write locks. PostgreSQL gets
two round trips fewer on the hot reads and one fewer on every request:

- A connection is pinged before use only when it sat idle in the pool for a while
  (PING_AFTER_IDLE_SECONDS), not at every checkout: a busy worker's connections are
  in use all the time, and a dead one among them fails one request with a 503 and
  the pool is renewed (app.errors), as it would between a ping and the query anyway.
- The GET of a Resource that sets `reads_without_transaction = True` runs without
  BEGIN and ROLLBACK: its statements each read one consistent snapshot, and none of
  its answer depends on two statements seeing the same one (the caller's session,
  then a page of todos). Views that need one snapshot across statements (the change
  feed) leave it unset.
"""

import time

from flask import current_app, has_request_context, request
from sqlalchemy import event, exc

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PING_AFTER_IDLE_SECONDS = 1.0


def configure(engine):
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        _configure_postgresql(engine)


def _reads_without_transaction():
    if not has_request_context() or request.method not in SAFE_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint)
    return getattr(getattr(view, "view_class", None), "reads_without_transaction", False)


def _configure_postgresql(engine):
    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection, record, proxy):
        returned = record.info.get("returned_at")
        if returned is not None and time.monotonic() - returned > PING_AFTER_IDLE_SECONDS:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except Exception as e:  # the pool drops it and checks out another
                raise exc.DisconnectionError() from e
        if _reads_without_transaction():
            dbapi_connection.autocommit = True

    @event.listens_for(engine, "checkin")
    def on_checkin(dbapi_connection, record):
        record.info["returned_at"] = time.monotonic()
        if dbapi_connection is not None and dbapi_connection.autocommit and not dbapi_connection.closed:
            dbapi_connection.autocommit = False


def _configure_sqlite(engine):
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record):
        # Take transaction control from pysqlite so that BEGIN is ours (see on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # A write request takes the write lock when its transaction starts. A deferred
        # transaction that reads and then writes can fail at once with "database is
        # locked" when another worker wrote meanwhile; busy_timeout cannot help there.
        # A worker's long read (an export) says so with the `read_only` execution option.
        if connection.get_execution_options().get("read_only"):
            writes = False
        else:
            writes = not has_request_context() or request.method not in SAFE_METHODS
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")
