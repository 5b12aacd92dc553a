"""One database per data-set size: create, seed when missing or different, reset between rounds."""

from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench import seed
from bench.probe import engine_for


def label(size):
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}m"
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def dataset_urls(base_url, sizes):
    """{size: URL}: `<database>_<size>` on PostgreSQL, `<file>_<size>.sqlite3` on SQLite."""
    urls = {}
    for size in sizes:
        url = make_url(base_url)
        if url.get_backend_name() == "sqlite":
            path = Path(url.database).resolve()  # Flask-SQLAlchemy reads relative paths from instance/
            name = f"{path.stem}_{label(size)}{path.suffix or '.sqlite3'}"
            urls[size] = f"sqlite:///{path.with_name(name)}"
        else:
            urls[size] = url.set(database=f"{url.database}_{label(size)}").render_as_string(hide_password=False)
    return urls


def create_database(url):
    """Create the database of `url` when it does not exist yet."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


def prepare(url, size, reseed, log):
    """Make sure `url` holds the data set of `size` todos; return its parameters."""
    params = seed.plan(size)
    if not reseed and seed.read_meta(url) == params:
        log(f"data set {label(size)}: already seeded ({url.rsplit('/', 1)[-1]})")
        return params
    create_database(url)
    log(f"data set {label(size)}: seeding {size:,} todos into {url.rsplit('/', 1)[-1]}")
    seed.seed(url, params, log)
    return params


def reset(url, params):
    """Remove what earlier rounds and runs added, so every round reads the seeded data."""
    engine = engine_for(url)
    with engine.begin() as conn:
        for sql in (
            "DELETE FROM todo_tags WHERE todo_id > :n",
            "DELETE FROM todos WHERE id > :n",
            "DELETE FROM webhook_deliveries",
            "DELETE FROM webhook_events",
            "DELETE FROM idempotency_keys",
        ):
            conn.exec_driver_sql(sql.replace(":n", str(int(params["todos"]))))
    engine.dispose()


def reset_run(url):
    """Forget the sessions, tokens, links and webhooks of earlier runs (done before the servers start)."""
    engine = engine_for(url)
    tables = ("webhook_events", "webhook_deliveries", "webhooks", "share_links", "personal_tokens", "auth_sessions")
    with engine.begin() as conn:
        for table in tables:
            conn.exec_driver_sql(f"DELETE FROM {table}")
    engine.dispose()
