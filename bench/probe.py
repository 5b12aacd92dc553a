"""Set-up through the real API (tokens, ETags, share link, webhooks, cursors) and SQL counts in-process."""

import logging
import random
from contextlib import contextmanager
from urllib.parse import urlencode

import requests
from sqlalchemy import create_engine, event, text
from werkzeug.exceptions import MethodNotAllowed, NotFound

from bench import seed

API = "/api/v1"
WEBHOOK_PORT = 8179  # nothing needs to listen: deliveries are not part of the measurement


def engine_for(url):
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    return create_engine(url)


def login(base, email=seed.READER_EMAIL):
    """An access token from POST /auth/login."""
    r = requests.post(f"{base}{API}/auth/login", json={"email": email, "password": seed.PASSWORD}, timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def todo_ids(url, lists, count, rng):
    """`count` random seeded todo ids from `lists`."""
    engine = engine_for(url)
    with engine.connect() as conn:
        ids = (
            conn.execute(text(f"SELECT id FROM todos WHERE list_id IN ({','.join(map(str, lists))}) ORDER BY id"))
            .scalars()
            .all()
        )
    engine.dispose()
    return rng.sample(ids, min(count, len(ids)))


def etags(base, token, ids):
    """{id: ETag} of GET /todos/<id>, for the ids that answered with one."""
    found = {}
    with requests.Session() as s:
        for todo_id in ids:
            r = s.get(f"{base}{API}/todos/{todo_id}", headers=auth(token), timeout=30)
            if r.status_code == 200 and r.headers.get("ETag"):
                found[todo_id] = r.headers["ETag"]
    return found


def check_304(base, token, todo_id, tag):
    r = requests.get(f"{base}{API}/todos/{todo_id}", headers={**auth(token), "If-None-Match": tag}, timeout=30)
    return r.status_code


def share_link(base, token, list_id):
    """The path of a new editor share link to `list_id`."""
    r = requests.post(
        f"{base}{API}/lists/{list_id}/share-links", json={"role": "editor"}, headers=auth(token), timeout=30
    )
    r.raise_for_status()
    return requests.utils.urlparse(r.json()["url"]).path


def personal_token(base, token, scopes):
    """A new personal access token of the caller of `token`, with `scopes`."""
    body = {"name": "benchmark", "scopes": scopes}
    r = requests.post(f"{base}{API}/auth/tokens", json=body, headers=auth(token), timeout=30)
    r.raise_for_status()
    return r.json()["token"]


def webhooks(base, token, list_id, count):
    """Subscribe `count` webhooks to todo.created on `list_id`; return how many were made."""
    made = 0
    for i in range(count):
        r = requests.post(
            f"{base}{API}/webhooks",
            headers=auth(token),
            timeout=30,
            json={
                "target_url": f"http://127.0.0.1:{WEBHOOK_PORT}/hook/{i}",
                "events": ["todo.created"],
                "list_id": list_id,
            },
        )
        if r.status_code != 201:
            raise RuntimeError(f"POST /webhooks answered {r.status_code}: {r.text[:300]}")
        made += 1
    return made


def cursor_at(base, token, path, page):
    """Walk `path` by next_cursor up to `page` (1-based); return (page reached, its path)."""
    url, reached = path, 1
    with requests.Session() as s:
        while reached < page:
            r = s.get(base + url, headers=auth(token), timeout=30)
            r.raise_for_status()
            cursor = r.json().get("next_cursor")
            if not cursor:
                break
            url = f"{path}&{urlencode({'cursor': cursor})}"
            reached += 1
    return reached, url


def exists(app, path, method="GET"):
    """Whether the app routes `method path`."""
    try:
        app.url_map.bind("localhost").match(path, method)
        return True
    except (NotFound, MethodNotAllowed):
        return False


@contextmanager
def counting(engine):
    """Collect the statements `engine` runs meanwhile (transaction control left out)."""
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def statement_counts(app, requests_to_count):
    """Run each (name, method, path, headers, body) twice in-process, counting the second run's statements."""
    from app.extensions import db

    client = app.test_client()
    with app.app_context():
        engine = db.engine
    logging.getLogger("app.request").disabled = True  # the per-request lines of this warm-up are noise here
    counts = {}
    for name, method, path, headers, body in requests_to_count:
        client.open(path, method=method, headers=headers, json=body)  # warm caches first
        with counting(engine) as statements:
            response = client.open(path, method=method, headers=headers, json=body)
        counts[name] = {"status": response.status_code, "statements": len(statements), "sql": statements}
    logging.getLogger("app.request").disabled = False
    return counts


def shuffled(values, seed_value=7):
    values = list(values)
    random.Random(seed_value).shuffle(values)
    return values
