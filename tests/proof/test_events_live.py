"""Proof: a change committed on one instance reaches an open stream on another within 1 s; logout ends it.

Instance A serves the JSON API with sync workers; instance B serves /events with gevent
workers, as in production (README "Sync"). Both share the database and Redis.
"""

import threading
import time

import pytest
import requests

from tests.conftest import REDIS_URL
from tests.proof.helpers import API, new_user

pytestmark = [pytest.mark.slow, pytest.mark.redis]


class Listener:
    """Reads one SSE stream in a thread; records (arrival time, event text) and when it ended."""

    def __init__(self, url, headers):
        self.events, self.ended = [], threading.Event()
        self.response = requests.get(url, headers=headers, stream=True, timeout=30)
        assert self.response.status_code == 200, self.response.text
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buffer = ""
        try:
            for chunk in self.response.iter_content(chunk_size=None, decode_unicode=True):
                buffer += chunk
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    self.events.append((time.monotonic(), block))
        except requests.RequestException:
            pass
        self.ended.set()

    def wait_for(self, text, seconds):
        """When the first event containing `text` arrived (the deadline if none did)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for arrived, block in list(self.events):
                if text in block:
                    return arrived
            time.sleep(0.002)
        return deadline

    def changes(self):
        return [(t, block) for t, block in self.events if "event: change" in block]


def test_cross_instance_latency_and_revocation(module_server):
    env = {"REDIS_URL": REDIS_URL}
    api = module_server(workers=2, env=env)
    streams = module_server(workers=1, env={**env, "GUNICORN_WORKER_CLASS": "gevent"})
    alice = new_user(api.url)
    headers = {"Authorization": f"Bearer {alice.access}"}
    listener = Listener(streams.url + API + "/events", headers)
    time.sleep(0.5)
    list_id = alice.client.post("/lists", json={"name": "Live"}).json()["id"]
    latencies = []
    for n in range(20):
        started = time.monotonic()
        r = alice.client.post(f"/lists/{list_id}/todos", json={"title": f"todo-{n}"})
        assert r.status_code == 201
        # From before the request (an upper bound of commit-to-event) until the event is read.
        latencies.append(listener.wait_for(f'"title":"todo-{n}"', 3) - started)
        time.sleep(0.05)
    latencies.sort()
    print(f"commit-to-event across instances: p50 {latencies[9] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    assert latencies[-1] < 1.0, latencies
    # Logout on instance A ends the stream on instance B within 5 s.
    assert alice.client.post("/auth/logout").status_code == 204
    assert listener.ended.wait(5)
    # No credentials: a 401 problem at once, not a hanging stream.
    r = requests.get(streams.url + API + "/events", timeout=5)
    assert r.status_code == 401 and r.headers["Content-Type"].startswith("application/problem+json")
