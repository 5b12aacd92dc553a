"""The outbox worker: fan events out, lease due deliveries, send them, record the outcome, schedule retries.

Any number of workers (Celery tasks, `flask webhooks run` loops, on any host) may
drain at once: a delivery is leased to one of them by a single atomic claim, and a
worker that dies mid-delivery leaves it to be sent again, with the same
`webhook-id`, once the lease runs out (at least once). Before each batch, the recorded
events are fanned out into deliveries (app.webhooks.fanout).
"""

import logging
import random
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from app.extensions import db
from app.models import Webhook, WebhookDelivery
from app.models.base import utcnow
from app.webhooks import delivery as http
from app.webhooks.fanout import fan_out

log = logging.getLogger(__name__)

# Seconds to wait after the n-th failed attempt; after the last, the delivery has failed.
BACKOFF = (10, 60, 300, 1800, 7200, 21600, 43200, 86400)
JITTER = 0.2  # each wait is stretched or shrunk by up to 20 %
BATCH = 5
# Long enough for one delivery (10 s timeout plus name resolution) with room to spare.
LEASE_PER_DELIVERY = timedelta(seconds=30)
LEASE_MARGIN = timedelta(seconds=15)  # never start a send this close to the lease's end
_NO_SYNC = {"synchronize_session": False}


def backoff(attempts):
    """Return the wait before the next attempt after `attempts` failures, or None when out of attempts."""
    if attempts > len(BACKOFF):
        return None
    base = BACKOFF[attempts - 1]
    return timedelta(seconds=base * random.uniform(1 - JITTER, 1 + JITTER))


def _due(now):
    d = WebhookDelivery
    return and_(
        d.status == "pending",
        d.next_attempt_at <= now,
        or_(d.locked_until.is_(None), d.locked_until < now),
    )


def claim(limit, now):
    """Lease up to `limit` due deliveries in one short transaction; return (ids, lease end).

    PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, then set the lease, so concurrent
    claims pass each other without waiting or taking the same row. SQLite: one
    UPDATE ... RETURNING under the database's write lock, so claims are serialized.
    """
    d = WebhookDelivery
    until = now + LEASE_PER_DELIVERY * limit
    due = select(d.id).where(_due(now)).order_by(d.next_attempt_at, d.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        # Two statements: a LIMIT subquery inside the UPDATE may be re-run and take more rows.
        ids = db.session.execute(due.with_for_update(skip_locked=True)).scalars().all()
        if ids:
            db.session.execute(update(d).where(d.id.in_(ids)).values(locked_until=until), execution_options=_NO_SYNC)
    else:
        statement = update(d).where(d.id.in_(due), _due(now)).values(locked_until=until).returning(d.id)
        ids = db.session.execute(statement, execution_options=_NO_SYNC).scalars().all()
    db.session.commit()
    return sorted(ids), until


def release(ids, until):
    """Give back leases that were not used, so another worker may take them at once."""
    d = WebhookDelivery
    db.session.execute(
        update(d).where(d.id.in_(ids), d.locked_until == until).values(locked_until=None),
        execution_options=_NO_SYNC,
    )
    db.session.commit()


def load(delivery_id):
    """Return a claimed delivery with its webhook's URL and secret (a plain row), or None if deleted."""
    d = WebhookDelivery
    row = db.session.execute(
        select(d.id, d.webhook_id, d.message_id, d.attempts, d.payload, Webhook.target_url, Webhook.secret)
        .join(Webhook, Webhook.id == d.webhook_id)
        .where(d.id == delivery_id)
    ).first()
    db.session.commit()  # hold no transaction (nor SQLite's write lock) while the request is out
    return row


def record(item, until, outcome, now):
    """Write an attempt's outcome, if this worker still holds the lease; disable on 410 Gone."""
    d = WebhookDelivery
    attempts = item.attempts + 1
    values = {
        "attempts": d.attempts + 1,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "locked_until": None,
        "updated_at": now,
    }
    wait = None if outcome.ok or outcome.gone else backoff(attempts)
    if outcome.ok:
        values.update(status="delivered", next_attempt_at=None)
    elif wait is None:
        values.update(status="failed", next_attempt_at=None)
    else:
        values.update(next_attempt_at=now + wait)
    held = db.session.execute(
        update(d).where(d.id == item.id, d.locked_until == until).values(**values),
        execution_options=_NO_SYNC,
    ).rowcount
    if held and outcome.gone:
        from app.webhooks.service import deactivate

        deactivate(item.webhook_id, "The webhook was disabled: its URL answered 410 Gone.")
    db.session.commit()
    return bool(held)


def process(delivery_id, until, clock=utcnow):
    """Send one leased delivery and record the outcome; return whether the outcome was recorded."""
    item = load(delivery_id)
    if item is None:
        return False
    try:
        allowed_hosts = current_app.config["WEBHOOK_ALLOWED_HOSTS"]
        outcome = http.send(item.target_url, item.secret, item.payload, allowed_hosts)
    except Exception:  # a bug must cost an attempt, not loop on one delivery forever
        log.exception("webhook delivery %s: unexpected error", delivery_id)
        outcome = http.Outcome(False, error="Internal error while sending.")
    log.info("webhook delivery %s (%s): %s", delivery_id, item.message_id, outcome.status_code or outcome.error)
    return record(item, until, outcome, clock())


def drain(clock=utcnow, batch=BATCH, budget_seconds=None):
    """Fan out new events and send every due delivery, a leased batch at a time; return how many were attempted.

    `budget_seconds` bounds how long to keep claiming (a Celery task hands over to
    the next one); `clock` is the time the outbox is judged by.
    """
    started = time.monotonic()
    attempted = 0
    while budget_seconds is None or time.monotonic() - started < budget_seconds:
        fan_out(clock)
        ids, until = claim(batch, clock())
        if not ids:
            break
        for index, delivery_id in enumerate(ids):
            if clock() >= until - LEASE_MARGIN:
                release(ids[index:], until)
                break
            process(delivery_id, until, clock)
            attempted += 1
    return attempted
