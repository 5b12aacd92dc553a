"""Schemathesis hooks for `python -m ops.fuzz`: a bearer token that survives logout and account deletion.

Fuzzed operations include logout, logout-all, password change and DELETE /users/me,
which end the token in use. The provider logs in again on a 401, and registers a new
user when the old one is gone.

Schema-valid cases (positive_data_acceptance) leave out what no schema can make valid:
a drawn `cursor` (opaque, signed by the server), a drawn `If-Match` (a random tag is stale:
412; without it the write is unconditional), and an `Idempotency-Key` drawn again for
another body (422): each positive case gets a key of its own. ops/fuzz.toml lists the
rules of the domain a schema cannot state either.

`use_after_free` runs through `use_after_free_of_resources`: the same check, except for
DELETE /lists/{id}/todos?completed=true, which clears the completed todos and leaves the
collection in place (README, "Lists and todos"), so reading the collection afterwards is
no use after free.
"""

import itertools
import os
import re

import requests
import schemathesis
from schemathesis.openapi.checks import UseAfterFree
from schemathesis.specs.openapi.checks import use_after_free

BASE = os.environ.get("FUZZ_BASE_URL", "http://127.0.0.1:8180") + "/api/v1"
PASSWORD = "fuzz-correct-horse-battery"
_serial = itertools.count(1)


@schemathesis.auth(refresh_interval=120)
class FreshToken:
    """Log in (registering first when needed) and hand back an access token."""

    email = None

    def get(self, case, ctx):
        if self.email:
            r = requests.post(f"{BASE}/auth/login", json={"email": self.email, "password": PASSWORD}, timeout=30)
            if r.status_code == 200:
                return r.json()["access_token"]
        self.email = f"fuzz{os.getpid()}-{next(_serial)}@example.com"
        r = requests.post(f"{BASE}/auth/register", json={"email": self.email, "password": PASSWORD}, timeout=30)
        r.raise_for_status()
        r = requests.post(f"{BASE}/auth/login", json={"email": self.email, "password": PASSWORD}, timeout=30)
        r.raise_for_status()
        return r.json()["access_token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


_keys = itertools.count(1)
VALID_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """Leave the unknowable values out of schema-valid cases (see the module docstring)."""
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return
    if case.query:
        case.query.pop("cursor", None)
    headers = case.headers or {}
    headers.pop("If-Match", None)
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and VALID_KEY.match(key):
        headers["Idempotency-Key"] = f"{key[:200]}-{os.getpid()}-{next(_keys)}"


# The one DELETE that removes items of a collection, not the resource at its URL.
CLEAR_COMPLETED = re.compile(r"^DELETE /api/v1/lists/\d+/todos$")


@schemathesis.check
def use_after_free_of_resources(ctx, response, case):
    """Schemathesis' use_after_free, except after the clear-completed DELETE (ops/fuzz.py excludes the original)."""
    try:
        return use_after_free(ctx, response, case)
    except UseAfterFree as failure:
        if CLEAR_COMPLETED.match(failure.free):
            return None
        raise
