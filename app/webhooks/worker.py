"""The outbox worker: fan events out, lease due deliveries, send them, record the outcome, schedule retries.

Any number of workers (Celery tasks, `flask webhooks run` loops, on any host) may
drain at once: a delivery is leased to one of them by a single atomic claim, and a
worker that dies mid-delivery leaves it to be sent again, with the same
`webhook-id`, once the lease runs out (at least once). Before each claim, the recorded
events are fanned out into deliveries (app.webhooks.fanout).

Deliveries are fair and isolated, so one tenant's slow endpoint cannot stall everyone:
a claim takes the oldest due delivery of each owner before the second of any owner;
a worker sends up to MAX_IN_FLIGHT at once, at most PER_TARGET to one host:port; a
delivery whose target is busy, or cooling off after it did not answer, goes back to
the queue for a moment (no attempt counted) instead of waiting in the worker; and a
target that refuses or does not answer at all fails within the connect timeout.
"""

import logging
import random
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from app.extensions import db
from app.models import User, Webhook, WebhookDelivery
from app.models.base import utcnow
from app.webhooks import delivery as http
from app.webhooks.fanout import fan_out

log = logging.getLogger(__name__)

# Seconds to wait after the n-th failed attempt; after the last, the delivery has failed.
BACKOFF = (10, 60, 300, 1800, 7200, 21600, 43200, 86400)
JITTER = 0.2  # each wait is stretched or shrunk by up to 20 %
BATCH = 5
MAX_IN_FLIGHT = 8  # sends at once per worker
PER_TARGET = 2  # of which at most this many to one host:port, and one per webhook (its order is kept)
TARGET_COOL_OFF = timedelta(seconds=30)  # a target that did not answer at all is left alone this long
POLL_SECONDS = 0.2  # while sends are out, look for new work this often
# Long enough for one delivery (10 s timeout plus name resolution) with room to spare.
LEASE_PER_DELIVERY = timedelta(seconds=30)
LEASE_MARGIN = timedelta(seconds=15)  # never start a send this close to the lease's end
_NO_SYNC = {"synchronize_session": False}
OWNER_INACTIVE = "Not sent: the webhook's owner is deactivated."


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

    Fair per owner: the oldest due delivery of every webhook owner comes before the
    second of any, so one user's backlog never pushes another's delivery back.
    PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, then set the lease, so concurrent
    claims pass each other without waiting or taking the same row. SQLite: one
    UPDATE ... RETURNING under the database's write lock, so claims are serialized.
    """
    d = WebhookDelivery
    until = now + LEASE_PER_DELIVERY * limit
    turn = func.row_number().over(partition_by=Webhook.user_id, order_by=(d.next_attempt_at, d.id))
    ranked = select(d.id, d.next_attempt_at, turn.label("turn")).join(Webhook, Webhook.id == d.webhook_id)
    ranked = ranked.where(_due(now)).subquery()
    due = select(ranked.c.id).order_by(ranked.c.turn, ranked.c.next_attempt_at, ranked.c.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        # Two statements: a LIMIT subquery inside the UPDATE may be re-run and take more rows.
        locked = select(d.id).where(d.id.in_(due), _due(now)).with_for_update(skip_locked=True)
        ids = db.session.execute(locked).scalars().all()
        if ids:
            db.session.execute(update(d).where(d.id.in_(ids)).values(locked_until=until), execution_options=_NO_SYNC)
    else:
        statement = update(d).where(d.id.in_(due), _due(now)).values(locked_until=until).returning(d.id)
        ids = db.session.execute(statement, execution_options=_NO_SYNC).scalars().all()
    db.session.commit()
    return sorted(ids), until


def defer(delivery_id, until, when):
    """Give a leased delivery back, due at `when`, without counting an attempt (its target is busy or cooling off)."""
    d = WebhookDelivery
    db.session.execute(
        update(d).where(d.id == delivery_id, d.locked_until == until).values(locked_until=None, next_attempt_at=when),
        execution_options=_NO_SYNC,
    )
    db.session.commit()


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
        select(
            d.id, d.webhook_id, d.message_id, d.attempts, d.payload, Webhook.target_url, Webhook.secret, User.is_active
        )
        .join(Webhook, Webhook.id == d.webhook_id)
        .join(User, User.id == Webhook.user_id)
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
    wait = None if outcome.ok or outcome.final else backoff(attempts)
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


def _send(item, allowed_hosts):
    """Send one delivery (in a sending thread: no database here); never raises."""
    try:
        return http.send(item.target_url, item.secret, item.payload, allowed_hosts)
    except Exception:  # a bug must cost an attempt, not loop on one delivery forever
        log.exception("webhook delivery %s: unexpected error", item.id)
        return http.Outcome(False, error="Internal error while sending.")


def _recorded(item, until, outcome, now):
    log.info("webhook delivery %s (%s): %s", item.id, item.message_id, outcome.status_code or outcome.error)
    return record(item, until, outcome, now)


def process(delivery_id, until, clock=utcnow):
    """Send one leased delivery and record the outcome; return whether the outcome was recorded."""
    item = load(delivery_id)
    if item is None:
        return False
    if not item.is_active:  # queued before its owner was deactivated: nothing goes out
        return record(item, until, http.Outcome(False, error=OWNER_INACTIVE, given_up=True), clock())
    return _recorded(item, until, _send(item, current_app.config["WEBHOOK_ALLOWED_HOSTS"]), clock())


class _Drain:
    """One drain's state: the sends out, their targets and webhooks, the targets cooling off."""

    def __init__(self, clock, pool):
        self.clock, self.pool = clock, pool
        self.allowed_hosts = current_app.config["WEBHOOK_ALLOWED_HOSTS"]
        self.out = {}  # future -> (item, lease end, target)
        self.busy = Counter()  # target -> sends out
        self.webhooks = set()  # webhooks with a send out
        self.cooling = {}  # target -> until when it is left alone
        self.attempted = 0

    def start(self, ids, until):
        """Send the leased deliveries in the pool; give back those whose target or webhook is busy."""
        busy = []
        for delivery_id in ids:
            item = load(delivery_id)
            if item is None:
                continue
            now = self.clock()
            target = http.target_of(item.target_url)
            if not item.is_active:  # queued before its owner was deactivated: nothing goes out
                record(item, until, http.Outcome(False, error=OWNER_INACTIVE, given_up=True), now)
                self.attempted += 1
            elif self.cooling.get(target, now) > now:
                defer(delivery_id, until, self.cooling[target])
            elif self.busy[target] >= PER_TARGET or item.webhook_id in self.webhooks:
                busy.append(delivery_id)
            else:
                self.busy[target] += 1
                self.webhooks.add(item.webhook_id)
                self.out[self.pool.submit(_send, item, self.allowed_hosts)] = (item, until, target)
        if busy:
            release(busy, until)  # due as before: claimed again once a slot frees, in order
        return len(ids) - len(busy)

    def collect(self, timeout):
        """Record the sends that finished within `timeout` seconds."""
        done, _ = wait(list(self.out), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            item, until, target = self.out.pop(future)
            self.busy[target] -= 1
            self.webhooks.discard(item.webhook_id)
            outcome = future.result()
            now = self.clock()
            if outcome.unreachable:
                self.cooling[target] = now + TARGET_COOL_OFF
            _recorded(item, until, outcome, now)
            self.attempted += 1


def drain(clock=utcnow, batch=MAX_IN_FLIGHT, budget_seconds=None, between=None):
    """Fan out new events and send every due delivery, up to `batch` at once; return how many were attempted.

    New work is claimed whenever a send slot is free, also while other sends are out, so
    a delivery that becomes due never waits for a slow one. `budget_seconds` bounds how
    long to keep claiming (a Celery task hands over to the next one); the sends already
    out are finished. `clock` is the time the outbox is judged by. `between`, if given, is
    called on every turn of the loop (at least every POLL_SECONDS while sends are out):
    other periodic work of the same worker (the reminder scheduler) keeps its pace while
    slow webhooks are sent.
    """
    started = time.monotonic()
    slots = max(1, min(batch, MAX_IN_FLIGHT))
    with ThreadPoolExecutor(slots, thread_name_prefix="webhook-send") as pool:
        state = _Drain(clock, pool)
        while True:
            if between:
                between()
            taken = 0
            if (budget_seconds is None or time.monotonic() - started < budget_seconds) and len(state.out) < slots:
                fan_out(clock)
                ids, until = claim(slots - len(state.out), clock())
                taken = state.start(ids, until)
            if state.out:
                state.collect(POLL_SECONDS)
            elif not taken:
                return state.attempted
