"""Seed a benchmark database: users, lists, memberships, todos and tags, fast.

PostgreSQL loads with COPY (indexes built after the load); SQLite with executemany.
The layout is fixed so the runner knows whom to log in as and which ids exist:

- user 1 (`READER_EMAIL`) owns lists 1-10, 11 (writes) and 12 (webhooks), edits
  lists 13-15 and views 16-17; lists 1-10 and 13-17 hold `reader_todos` todos, the
  same number at every data-set size, so the scaling table compares like with like.
- user 2 owns list 18, the big list that the cursor walk pages through.
- every other list has a random owner and, for 40% of lists, 1-3 more members.

Usage: python -m bench.seed DATABASE_URL [--todos 1000000] [--users 1000] [--lists 10000]
"""

import argparse
import hashlib
import json
import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

PASSWORD = "bench-password-1234"
READER_EMAIL = "bench1@example.com"
HEAVY_EMAIL = "bench2@example.com"
READER_OWNED = tuple(range(1, 11))
WRITE_LIST, WEBHOOK_LIST = 11, 12
READER_EDITS, READER_VIEWS = (13, 14, 15), (16, 17)
READER_READS = READER_OWNED + READER_EDITS + READER_VIEWS
BIG_LIST = 18
FIRST_OTHER_LIST = 19
SEED_VERSION = 1
# fmt: off
TAGS = [
    "work", "home", "errands", "urgent", "later", "waiting", "someday", "phone", "email", "read", "write",
    "review", "design", "code", "ops", "finance", "health", "travel", "family", "garden", "kitchen", "car",
    "bills", "meeting", "call", "plan", "idea", "bug", "chore", "school", "gift", "books", "music", "sport",
    "shopping", "admin", "legal", "taxes", "clean", "fix",
]
# fmt: on
NOW = datetime(2026, 11, 1, tzinfo=UTC).replace(tzinfo=None)  # fixed: seeds are reproducible


def parse_size(value):
    """'10k' -> 10000, '1m' -> 1000000, '2500' -> 2500."""
    value = str(value).strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(value[-1:], 1)
    return int(float(value[:-1] if scale > 1 else value) * scale)


def plan(todos, users=1000, lists=10000):
    """The parameters of a data set of `todos` todos."""
    users, lists = max(users, 8), max(lists, FIRST_OTHER_LIST + 10)
    reader = min(2000, todos // 5)
    big = min(60_000, todos * 3 // 10)
    return {
        "version": SEED_VERSION,
        "todos": todos,
        "users": users,
        "lists": lists,
        "reader_todos": reader,
        "big_list_todos": big,
        "schema": schema_fingerprint(),
    }


def schema_fingerprint():
    """A short hash of every table, column, type and index of app.models: a changed schema seeds again."""
    from app.extensions import db
    from app.models import Todo  # noqa: F401  (registers every table)

    parts = []
    for table in sorted(db.metadata.tables.values(), key=lambda t: t.name):
        parts += [f"{table.name}.{c.name}:{c.type}" for c in table.columns]
        parts += sorted(f"{table.name}#{ix.name}" for ix in table.indexes)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _users(params, password_hash):
    created = NOW - timedelta(days=400)
    for uid in range(1, params["users"] + 1):
        yield (uid, f"bench{uid}@example.com", password_hash, f"Bench user {uid}", "user", True, created, created)


def _owner(list_id, users):
    if list_id <= WEBHOOK_LIST or list_id in READER_VIEWS or list_id in READER_EDITS:
        return 1 if list_id <= WEBHOOK_LIST else 3 + list_id % 3
    return 2 if list_id == BIG_LIST else 2 + list_id % (users - 1)


def _lists_and_members(params, rng):
    users, created = params["users"], NOW - timedelta(days=380)
    lists, members = [], []
    for lid in range(1, params["lists"] + 1):
        owner = _owner(lid, users)
        lists.append((lid, f"List {lid}", "Seeded list" if lid % 3 else None, created, created))
        members.append((lid, owner, "owner", created, created))
        if lid in READER_EDITS or lid in READER_VIEWS:
            members.append((lid, 1, "editor" if lid in READER_EDITS else "viewer", created, created))
        elif lid >= FIRST_OTHER_LIST and rng.random() < 0.4:
            others = rng.sample(range(3, users + 1), rng.randint(1, 3))
            for uid in others:
                if uid != owner:
                    role = rng.choices(("editor", "viewer", "owner"), (5, 4, 1))[0]
                    members.append((lid, uid, role, created, created))
    return lists, members


def _pick_list(params, rng):
    roll, total = rng.random() * params["todos"], params["todos"]
    if roll < params["reader_todos"]:
        return rng.choice(READER_READS)
    if roll < params["reader_todos"] + params["big_list_todos"] or total < 50:
        return BIG_LIST
    return rng.randint(FIRST_OTHER_LIST, params["lists"])


def _todos(params, rng):
    """Yield todo rows in id order; created_at grows with the id, with jitter."""
    total, span = params["todos"], timedelta(days=365).total_seconds()
    start, positions = NOW - timedelta(days=366), {}
    for tid in range(1, total + 1):
        lid = _pick_list(params, rng)
        positions[lid] = order = positions.get(lid, 0) + 1
        owner = _owner(lid, params["users"])
        created = start + timedelta(seconds=span * tid / total + rng.random() * 3600)
        updated = created + timedelta(seconds=rng.random() * 86400 * 20)
        done = rng.random() < 0.3
        due = created + timedelta(days=rng.randint(-5, 60)) if rng.random() < 0.4 else None
        notes = f"Notes for todo {tid}: remember the details before starting." if rng.random() < 0.4 else None
        assignee = owner if rng.random() < 0.2 else None
        yield (
            tid,
            lid,
            f"Todo {tid} on list {lid}",
            notes,
            done,
            updated if done else None,
            due,
            rng.choice((0, 0, 1, 1, 2, 3)),
            assignee,
            float(order),
            owner,
            1,
            created,
            updated,
        )


def _tags(total):
    """Yield (todo_id, name): 0-3 distinct tags per todo, derived from the id (no memory)."""
    for tid in range(1, total + 1):
        mix = (tid * 2654435761) & 0xFFFFFFFF
        for j in range((0, 0, 1, 1, 2, 3)[mix % 6]):
            yield (tid, TAGS[(mix // 6 + j * 7) % len(TAGS)])


COLUMNS = {
    "users": ("id", "email", "password_hash", "display_name", "role", "is_active", "created_at", "updated_at"),
    "todo_lists": ("id", "name", "description", "created_at", "updated_at"),
    "memberships": ("list_id", "user_id", "role", "created_at", "updated_at"),
    "todos": (
        "id",
        "list_id",
        "title",
        "notes",
        "completed",
        "completed_at",
        "due_at",
        "priority",
        "assignee_id",
        "order",
        "created_by",
        "version",
        "created_at",
        "updated_at",
    ),
    "todo_tags": ("todo_id", "name"),
}


def _sqlite_value(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's own SQLite format
    return value


def _load(conn, table, rows):
    """Bulk-load `rows` into `table`: COPY on PostgreSQL, executemany elsewhere."""
    cols = COLUMNS[table]
    quoted = ", ".join(f'"{c}"' for c in cols)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' * len(cols))})"
    raw = conn.connection.driver_connection.cursor()
    batch = []
    for row in rows:
        batch.append(tuple(_sqlite_value(v) for v in row))
        if len(batch) >= 20_000:
            raw.executemany(sql, batch)
            batch.clear()
    if batch:
        raw.executemany(sql, batch)


def _engine(url):
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    return create_engine(url)


def read_meta(url):
    """The parameters the database was seeded with, or None."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT params FROM bench_seed")).first()
            return json.loads(row[0]) if row else None
    except Exception:
        return None
    finally:
        engine.dispose()


def seed(url, params, log=print):
    """Drop and recreate the schema of app.models at `url`, then load a data set."""
    from app.auth.passwords import hash_password
    from app.extensions import db
    from app.models import Membership, Todo, TodoTag  # noqa: F401  (registers every table)

    started, rng = time.monotonic(), random.Random(params["todos"])
    engine, metadata = _engine(url), db.metadata
    heavy = [metadata.tables[name] for name in ("todos", "todo_tags", "memberships")]
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_seed"))
        metadata.drop_all(conn)
        metadata.create_all(conn)
        postgres = conn.dialect.name == "postgresql"
        for table in heavy:  # building indexes once after the load is much faster
            for index in table.indexes:
                index.drop(conn)
        if postgres and conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar():
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # the data is consistent by construction
        lists, members = _lists_and_members(params, rng)
        _load(conn, "users", _users(params, hash_password(PASSWORD)))  # one hash, reused by every user
        _load(conn, "todo_lists", lists)
        _load(conn, "memberships", members)
        _load(conn, "todos", _todos(params, rng))
        _load(conn, "todo_tags", _tags(params["todos"]))
        log(f"seed: rows loaded in {time.monotonic() - started:.1f}s; building indexes")
        for table in heavy:
            for index in table.indexes:
                index.create(conn)
        if postgres:
            for table in (
                "users",
                "todo_lists",
                "todos",
                "auth_sessions",
                "webhooks",
                "webhook_deliveries",
                "share_links",
            ):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                    )
                )
        conn.execute(text("CREATE TABLE bench_seed (params TEXT NOT NULL)"))
        conn.execute(text("INSERT INTO bench_seed (params) VALUES (:p)"), {"p": json.dumps(params)})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    engine.dispose()
    log(f"seed: {params['todos']:,} todos ready in {time.monotonic() - started:.1f}s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--todos", default="1m", type=parse_size)
    parser.add_argument("--users", default=1000, type=int)
    parser.add_argument("--lists", default=10000, type=int)
    args = parser.parse_args(argv)
    from bench.datasets import create_database

    create_database(args.database_url)
    seed(args.database_url, plan(args.todos, args.users, args.lists))


if __name__ == "__main__":
    main()
