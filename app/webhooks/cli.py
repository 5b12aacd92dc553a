"""`flask webhooks ...`: run the delivery worker, or drain the outbox once."""

import logging
import signal
import time

import click
from flask import current_app
from flask.cli import AppGroup

webhooks_cli = AppGroup("webhooks", help="Deliver webhooks and mail (the outbox worker).")
log = logging.getLogger("app.webhooks")
PURGE_SECONDS = 3600  # as often as Celery beat purges expired Idempotency-Key responses


@webhooks_cli.command("run")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls of the outbox.")
@click.option("--poll", is_flag=True, help="Poll the outbox even when REDIS_URL is set (no Celery).")
def run(interval, poll):
    """Deliver webhooks until stopped: a Celery worker with beat on REDIS_URL, else a polling loop."""
    logging.basicConfig(level=current_app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if current_app.config["REDIS_URL"] and not poll:
        from app.celery_app import celery

        celery.worker_main(
            [
                "worker",
                "--beat",
                "--pool=solo",
                "--queues=webhooks,jobs",  # exports and imports (app/jobs) too
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
            ]
        )
        return
    _poll(interval)


def _poll(interval):
    """Drain the webhook and mail outboxes, fire due reminders and run due jobs, sleeping `interval` when idle;
    SIGTERM stops after the current delivery or job."""
    from app.extensions import db
    from app.jobs.cli import run_safely
    from app.mail.worker import drain as drain_mail
    from app.recurrence.scheduler import tick_safely
    from app.webhooks.worker import drain

    stopping = []
    signal.signal(signal.SIGTERM, lambda *args: stopping.append(True))
    log.info("webhooks: polling the outbox and the reminder schedule every %.1f s", interval)
    next_purge = time.monotonic()
    try:
        while not stopping:
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + PURGE_SECONDS
                _purge()
            try:
                sent = drain(budget_seconds=30, between=tick_safely)
                sent += drain_mail(budget_seconds=30)
            except Exception:  # a database outage must not end the worker; it retries
                log.exception("webhooks: drain failed; retrying")
                db.session.rollback()
                sent = 0
            finally:
                db.session.remove()
            # Exports and imports: one job per turn (budget 0), so deliveries wait for one job at most.
            sent += run_safely(budget_seconds=0)
            if not sent:
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    log.info("webhooks: stopped")


def _purge():
    """Delete expired Idempotency-Key responses (the Celery worker's beat does it in that mode)."""
    from app.extensions import db
    from app.idempotency import purge_expired

    try:
        log.info("idempotency: purged %d expired key(s)", purge_expired())
    except Exception:  # a database outage must not end the worker; the next hour tries again
        log.exception("idempotency: purge failed")
        db.session.rollback()
    finally:
        db.session.remove()


@webhooks_cli.command("drain")
def drain_once():
    """Send every due delivery and mail once, then exit."""
    from app.mail.worker import drain as drain_mail
    from app.webhooks.worker import drain

    click.echo(f"{drain()} deliveries attempted.")
    click.echo(f"{drain_mail()} mails attempted.")
