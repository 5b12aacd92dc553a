"""`flask webhooks ...`: run the delivery worker, or drain the outbox once."""

import logging
import signal
import time

import click
from flask import current_app
from flask.cli import AppGroup

webhooks_cli = AppGroup("webhooks", help="Deliver webhooks.")
log = logging.getLogger("app.webhooks")


@webhooks_cli.command("run")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls of the outbox.")
@click.option("--poll", is_flag=True, help="Poll the outbox even when REDIS_URL is set (no Celery).")
def run(interval, poll):
    """Deliver webhooks until stopped: a Celery worker with beat on REDIS_URL, else a polling loop."""
    logging.basicConfig(level=current_app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if current_app.config["REDIS_URL"] and not poll:
        from app.celery_app import celery

        celery.worker_main(
            ["worker", "--beat", "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
        )
        return
    _poll(interval)


def _poll(interval):
    """Drain the outbox, then sleep `interval` when it is empty; SIGTERM stops after the current delivery."""
    from app.extensions import db
    from app.webhooks.worker import drain

    stopping = []
    signal.signal(signal.SIGTERM, lambda *args: stopping.append(True))
    log.info("webhooks: polling the outbox every %.1f s", interval)
    try:
        while not stopping:
            try:
                sent = drain(budget_seconds=30)
            except Exception:  # a database outage must not end the worker; it retries
                log.exception("webhooks: drain failed; retrying")
                db.session.rollback()
                sent = 0
            finally:
                db.session.remove()
            if not sent:
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    log.info("webhooks: stopped")


@webhooks_cli.command("drain")
def drain_once():
    """Send every due delivery once, then exit."""
    from app.webhooks.worker import drain

    click.echo(f"{drain()} deliveries attempted.")
