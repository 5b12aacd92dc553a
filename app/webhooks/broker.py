"""The Celery side of delivery: the app factory, and the nudge a commit sends to the workers."""

import functools
import logging
import time

from celery import Celery
from flask import current_app, has_app_context

log = logging.getLogger(__name__)

DRAIN_TASK = "webhooks.drain"
QUEUE = "webhooks"
BEAT_SECONDS = 5.0
TASK_BUDGET_SECONDS = 50  # a drain task hands over to the next one after this long
COOL_OFF_SECONDS = 5  # after a failed enqueue, skip the broker this long (the beat catches up)
WAKE_SECONDS = 1.0  # a process wakes the workers at most twice per this long
_unreachable_until = 0.0
_window_ends = 0.0  # end of the current wake-up window of this process
_follow_up_sent = False  # whether a drain is already due at _window_ends


def make_celery(broker_url):
    """Return a Celery app on the Redis broker: short timeouts, one queue, no results."""
    celery = Celery("todos", broker=broker_url, set_as_current=False)
    celery.conf.update(
        task_default_queue=QUEUE,
        task_ignore_result=True,
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        broker_connection_timeout=2,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"socket_connect_timeout": 1, "socket_timeout": 2},
        beat_schedule={"drain-webhooks": {"task": DRAIN_TASK, "schedule": BEAT_SECONDS, "options": {"expires": 30}}},
        timezone="UTC",
    )
    return celery


@functools.cache
def _producer(broker_url):
    return make_celery(broker_url)


def notify():
    """Have a drain task start after this commit, best effort: the outbox row is committed either way.

    A drain empties the whole outbox, so a busy process need not send one per commit:
    the first commit of a window sends one at once, later commits in that window share
    one follow-up due when the window ends, so every commit still has a drain after it.
    Without REDIS_URL the `flask webhooks run` loop polls the outbox instead. A broker
    that does not answer costs at most about a second, once per cool-off period.
    """
    global _window_ends, _follow_up_sent
    url = current_app.config.get("REDIS_URL") if has_app_context() else None
    now = time.monotonic()
    if not url or now < _unreachable_until:
        return
    if now >= _window_ends:
        _window_ends, _follow_up_sent = now + WAKE_SECONDS, False
        _send(url, countdown=None)
    elif not _follow_up_sent:
        _follow_up_sent = True
        _send(url, countdown=_window_ends - now)


def _send(url, countdown):
    global _unreachable_until
    try:
        _producer(url).send_task(DRAIN_TASK, queue=QUEUE, retry=False, expires=60, countdown=countdown)
    except Exception as e:  # the periodic drain delivers it; the request must not fail
        _unreachable_until = time.monotonic() + COOL_OFF_SECONDS
        log.warning("webhooks: could not enqueue a drain task (%s); the periodic drain will send it", e)
