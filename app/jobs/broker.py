"""The nudge a new job sends to the Celery workers; without REDIS_URL the polling loops find it."""

import functools
import logging

from flask import current_app

from app.webhooks.broker import make_celery

log = logging.getLogger(__name__)

RUN_TASK = "jobs.run"
QUEUE = "jobs"
BEAT_SECONDS = 10.0  # beat enqueues a run this often: retries of lapsed leases, nudges that were lost
TASK_BUDGET_SECONDS = 300  # a run task stops claiming new jobs after this long (a started job finishes)


@functools.cache
def _producer(broker_url):
    return make_celery(broker_url)


def enqueue():
    """Have a worker run the due jobs, best effort: the job row is committed either way (beat catches up)."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return
    try:
        _producer(url).send_task(RUN_TASK, queue=QUEUE, retry=False, expires=600)
    except Exception as e:  # the periodic run takes the job; the request must not fail
        log.warning("jobs: could not enqueue a run task (%s); the periodic run will take the job", e)
