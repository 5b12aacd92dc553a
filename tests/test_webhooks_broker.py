"""Drain wake-ups: a busy process sends at most two per window, and every commit has one after it."""

import json
import time

import pytest
import redis

from app import create_app
from app.webhooks import broker
from tests.conftest import REDIS_URL, make_config


def _queued(client):
    """(task name, eta) of every message in the webhooks queue, oldest first."""
    messages = [json.loads(raw) for raw in reversed(client.lrange(broker.QUEUE, 0, -1))]
    return [(m["headers"]["task"], m["headers"]["eta"]) for m in messages]


@pytest.mark.redis
def test_many_commits_in_a_window_send_one_drain_now_and_one_when_it_ends(database_url):
    queue = redis.Redis.from_url(REDIS_URL)
    queue.delete(broker.QUEUE)  # in the test Redis database only
    app = create_app(make_config(database_url, REDIS_URL=REDIS_URL))
    with app.app_context():
        # A process's first send loads Celery and connects: on a loaded machine more than the
        # window itself. That one goes first; the window under test starts after it.
        broker.notify()
        broker._window_ends = 0.0
        queue.delete(broker.QUEUE)
        for _ in range(5):
            broker.notify()
        queued = _queued(queue)
        assert [name for name, _ in queued] == [broker.DRAIN_TASK, broker.DRAIN_TASK]
        assert queued[0][1] is None  # at once
        assert queued[1][1] is not None  # a follow-up, due when the window ends
        time.sleep(broker.WAKE_SECONDS)
        broker.notify()  # a new window: at once again
        assert [eta for _, eta in _queued(queue)][2:] == [None]
    queue.delete(broker.QUEUE)


def test_no_broker_configured_sends_nothing(database_url):
    app = create_app(make_config(database_url, REDIS_URL=None))
    with app.app_context():
        broker.notify()
    assert broker._window_ends == 0.0
