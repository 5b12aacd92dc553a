"""Count the SQL statements an app runs, to hold endpoints to a fixed number."""

from contextlib import contextmanager

from sqlalchemy import event

from app.extensions import db


@contextmanager
def count_statements(app):
    """Yield a list that collects every statement the app's engine executes meanwhile."""
    with app.app_context():
        engine = db.engine
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
