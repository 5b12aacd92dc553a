"""Entry point of `celery -A app.celery_app worker|beat`: the Celery counterpart of wsgi.py.

The worker drains the webhook outbox whenever a commit enqueues a drain task, and
beat enqueues one every few seconds so that retries go out without a new event, and
purges expired Idempotency-Key responses every hour.
"""

from app import create_app
from app.config import ConfigError
from app.webhooks.broker import DRAIN_TASK, TASK_BUDGET_SECONDS, make_celery

flask_app = create_app()
if not flask_app.config["REDIS_URL"]:
    raise ConfigError("config: Celery needs REDIS_URL (its broker); without it, run `flask webhooks run`")
celery = make_celery(flask_app.config["REDIS_URL"])
celery.conf.beat_schedule_filename = flask_app.instance_path + "/celerybeat-schedule"


@celery.task(name=DRAIN_TASK)
def drain_webhooks():
    """Send the due webhook deliveries."""
    from app.webhooks.worker import drain

    with flask_app.app_context():
        drain(budget_seconds=TASK_BUDGET_SECONDS)


@celery.task(name="todos.purge_idempotency_keys")
def purge_idempotency_keys():
    """Delete stored Idempotency-Key responses older than 24 hours."""
    from app.idempotency import purge_expired

    with flask_app.app_context():
        return purge_expired()


celery.conf.beat_schedule["purge-idempotency-keys"] = {
    "task": "todos.purge_idempotency_keys",
    "schedule": 3600.0,
    "options": {"queue": celery.conf.task_default_queue, "expires": 600},
}
