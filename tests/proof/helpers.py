"""Shared pieces for the proof suites: an HTTP client, users, DB snapshots, route checks."""

import hashlib
import itertools
import os
import threading
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import create_engine, select

from app.extensions import db
from tests.conftest import PASSWORD

API = "/api/v1"
PROOF_PORTS = "8180-8199"
# Generous limits for suites that are not about rate limiting.
QUIET_LIMITS = {"RATE_LIMIT_DEFAULT": "100000 per minute", "RATE_LIMIT_LOGIN": "100000 per minute"}
# Columns that a read may legitimately touch; everything else must stay byte-identical.
VOLATILE_COLUMNS = {"last_used_at"}
LEAKS = ("Traceback", 'File "', "sqlalchemy", "psycopg", "sqlite3", "SELECT ", "INSERT ", "$argon2", "werkzeug")

_counter = itertools.count(1)
_engines = {}
_engines_lock = threading.Lock()


def sa_url(url):
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_for(url):
    with _engines_lock:
        if url not in _engines:
            _engines[url] = create_engine(sa_url(url))
        return _engines[url]


def snapshot(url):
    """Every row of every table (volatile columns aside), as a digest per table."""
    out = {}
    with engine_for(url).connect() as conn:
        for table in db.metadata.sorted_tables:
            cols = [c for c in table.c if c.name not in VOLATILE_COLUMNS]
            rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).all()
            out[table.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()[:16])
    return out


def count_rows(url, table, **where):
    t = db.metadata.tables[table]
    query = select(t)
    for name, value in where.items():
        query = query.where(t.c[name] == value)
    with engine_for(url).connect() as conn:
        return len(conn.execute(query).all())


class Client:
    """requests against a live server, with the API prefix and a bearer token."""

    def __init__(self, base_url, token=None):
        self.base_url = base_url
        self.token = token
        self.session = requests.Session()

    def call(self, method, path, token=None, headers=None, **kwargs):
        headers = dict(headers or {})
        token = token if token is not None else self.token
        if token:
            headers.setdefault("Authorization", f"Bearer {token}")
        if path.startswith("http"):
            url = path
        elif path.startswith(("/api/", "/healthz", "/readyz", "/metrics", "/docs")):
            url = self.base_url + path
        else:
            url = self.base_url + API + path
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, url, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, **kw):
        return self.call("POST", path, **kw)

    def patch(self, path, **kw):
        return self.call("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def new_user(base_url, prefix="proof"):
    """Register and log in a fresh user; return it with a Client that carries its token."""
    email = f"{prefix}{next(_counter)}-{os.getpid()}@example.com"
    anon = Client(base_url)
    r = anon.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = anon.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    tokens = r.json()
    user_id = anon.get("/users/me", token=tokens["access_token"]).json()["id"]
    return SimpleNamespace(
        id=user_id,
        email=email,
        password=PASSWORD,
        access=tokens["access_token"],
        refresh=tokens["refresh_token"],
        client=Client(base_url, tokens["access_token"]),
    )


def served(app, method, path):
    """Whether the app routes `method path` to an endpoint (not a 404 or 405)."""
    from werkzeug.exceptions import HTTPException

    adapter = app.url_map.bind("localhost")
    try:
        adapter.match(path.split("?")[0], method=method)
        return True
    except HTTPException:
        return False


def require(app, method, path):
    if not served(app, method, path):
        pytest.skip(f"{method} {path.split('?')[0]} is not served by this build")


def assert_problem(r, status):
    """The exact status, problem+json, and nothing leaked in the body."""
    assert r.status_code == status, f"{r.request.method} {r.url}: {r.status_code} {r.text[:500]}"
    if status in (204, 304):
        return
    if status >= 400:
        assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers["Content-Type"]
        body = r.json()
        assert body["status"] == status
        for needle in LEAKS:
            assert needle not in r.text, f"error body leaks {needle!r}: {r.text[:500]}"
