"""Entry point of `celery -A app.celery_app worker|beat`: the Celery counterpart of wsgi.py.

The worker drains the webhook and mail outboxes whenever a commit enqueues a drain
task, and beat enqueues one of each every few seconds so that retries go out without
a new event, fires due reminders every second, and purges expired Idempotency-Key
responses and change-feed rows past CHANGES_RETENTION_DAYS every hour. Exports and
imports (app/jobs) run on the `jobs` queue: each new job enqueues a run, and beat
enqueues one every few seconds so that a job whose worker died is taken again once its
lease runs out.
"""

from app import create_app
from app.config import ConfigError
from app.jobs import broker as jobs_broker
from app.mail.outbox import MAIL_TASK
from app.webhooks.broker import BEAT_SECONDS, DRAIN_TASK, TASK_BUDGET_SECONDS, make_celery

flask_app = create_app()
if not flask_app.config["REDIS_URL"]:
    raise ConfigError("config: Celery needs REDIS_URL (its broker); without it, run `flask webhooks run`")
celery = make_celery(flask_app.config["REDIS_URL"])
celery.conf.beat_schedule_filename = flask_app.instance_path + "/celerybeat-schedule"


@celery.task(name=DRAIN_TASK)
def drain_webhooks():
    """Send the due webhook deliveries."""
    from app.recurrence.scheduler import tick_safely
    from app.webhooks.worker import drain

    with flask_app.app_context():
        drain(budget_seconds=TASK_BUDGET_SECONDS, between=tick_safely)


@celery.task(name="reminders.tick")
def fire_reminders():
    """Fire the reminders that have come due."""
    from app.recurrence.scheduler import tick

    with flask_app.app_context():
        return tick()


@celery.task(name=MAIL_TASK)
def drain_mail():
    """Send the due mails of the outbox."""
    from app.mail.worker import drain

    with flask_app.app_context():
        drain(budget_seconds=TASK_BUDGET_SECONDS)


celery.conf.beat_schedule["drain-mail"] = {"task": MAIL_TASK, "schedule": BEAT_SECONDS, "options": {"expires": 30}}


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


@celery.task(name="todos.purge_changes")
def purge_changes():
    """Delete change-feed rows past CHANGES_RETENTION_DAYS (and a day's margin)."""
    from app.sync.reader import purge_expired

    with flask_app.app_context():
        return purge_expired()


celery.conf.beat_schedule["purge-changes"] = {
    "task": "todos.purge_changes",
    "schedule": 3600.0,
    "options": {"queue": celery.conf.task_default_queue, "expires": 600},
}
celery.conf.beat_schedule["fire-reminders"] = {
    "task": "reminders.tick",
    "schedule": 1.0,
    # A tick that waited longer than this is useless: the next one does its work.
    "options": {"queue": celery.conf.task_default_queue, "expires": 2},
}


@celery.task(name=jobs_broker.RUN_TASK)
def run_jobs():
    """Run the due export and import jobs."""
    from app.jobs.runner import run_due

    with flask_app.app_context():
        return run_due(budget_seconds=jobs_broker.TASK_BUDGET_SECONDS)


celery.conf.beat_schedule["run-jobs"] = {
    "task": jobs_broker.RUN_TASK,
    "schedule": jobs_broker.BEAT_SECONDS,
    "options": {"queue": jobs_broker.QUEUE, "expires": 30},
}
