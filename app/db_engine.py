"""Engine tuning per backend: SQLite gets foreign keys, WAL, a busy timeout, early write locks."""

from flask import has_request_context, request
from sqlalchemy import event

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def configure(engine):
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)


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
        writes = not has_request_context() or request.method not in SAFE_METHODS
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")
