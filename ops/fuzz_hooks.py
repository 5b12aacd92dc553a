"""Schemathesis hooks for `python -m ops.fuzz`: a bearer token that survives logout and account deletion.

Fuzzed operations include logout, logout-all, password change and DELETE /users/me,
which end the token in use. The provider logs in again on a 401, and registers a new
user when the old one is gone.
"""

import itertools
import os

import requests
import schemathesis

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
