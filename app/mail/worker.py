"""The mail worker: lease due outbox rows, write each mail once, send it, retry with backoff while SMTP refuses.

Any number of workers (Celery tasks, `flask webhooks run` loops) may drain at once: a
row is leased to one of them by a single atomic claim (FOR UPDATE SKIP LOCKED on
PostgreSQL). A mail is rendered, and its token made, in the transaction that first
leases it, so its retries send the same text with the same Message-ID. A worker that
dies between the server's acceptance and the record may send a mail twice; the
unchanged Message-ID lets mail systems recognise the copy.
"""

import logging
import random
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, or_, select, update

from app.extensions import db
from app.mail import compose, transport
from app.mail.kinds import KINDS
from app.models import OutboxMail
from app.models.base import utcnow

log = logging.getLogger(__name__)

# Seconds to wait after the n-th failed attempt; after the last, the mail has failed (about 2 days in all).
BACKOFF = (10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400)
JITTER = 0.2
BATCH = 10
LEASE_PER_MAIL = timedelta(seconds=30)
_NO_SYNC = {"synchronize_session": False}


def backoff(attempts):
    """The wait after `attempts` failures, or None when out of attempts."""
    if attempts > len(BACKOFF):
        return None
    return timedelta(seconds=BACKOFF[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER))


def _due(now):
    m = OutboxMail
    return and_(m.status == "pending", m.next_attempt_at <= now, or_(m.locked_until.is_(None), m.locked_until < now))


def claim(limit, now):
    """Lease up to `limit` due mails in one short transaction; return (ids, lease end)."""
    m = OutboxMail
    until = now + LEASE_PER_MAIL * limit
    due = select(m.id).where(_due(now)).order_by(m.next_attempt_at, m.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        ids = db.session.execute(due.with_for_update(skip_locked=True)).scalars().all()
        if ids:
            db.session.execute(update(m).where(m.id.in_(ids)).values(locked_until=until), execution_options=_NO_SYNC)
    else:  # SQLite: one UPDATE ... RETURNING under the database's write lock
        statement = update(m).where(m.id.in_(due), _due(now)).values(locked_until=until).returning(m.id)
        ids = db.session.execute(statement, execution_options=_NO_SYNC).scalars().all()
    db.session.commit()
    return sorted(ids), until


def prepare(mail):
    """Render a leased mail the first time it is taken (making its token); return False if it no longer applies."""
    if mail.subject is not None:
        return True
    written = KINDS[mail.kind](mail.context)
    if written is None:
        mail.status, mail.locked_until, mail.context = "dropped", None, {}
        return False
    mail.to_name, template_context = written
    mail.subject, mail.text_body, mail.html_body = compose.render(mail.kind, template_context)
    return True


def _record(mail, until, error, permanent, now):
    """Write the outcome if this worker still holds the lease; a sent mail keeps no link (nor token)."""
    m = OutboxMail
    values = {"attempts": m.attempts + 1, "locked_until": None, "last_error": error and error[:500]}
    wait = None if error is None or permanent else backoff(mail.attempts + 1)
    if error is None:
        values.update(status="sent", sent_at=now, next_attempt_at=None, text_body="", html_body="", context={})
    elif wait is None:
        values.update(status="failed", next_attempt_at=None, text_body="", html_body="", context={})
    else:
        values.update(next_attempt_at=now + wait)
    statement = update(m).where(m.id == mail.id, m.locked_until == until).values(**values)
    held = db.session.execute(statement, execution_options=_NO_SYNC).rowcount
    db.session.commit()
    return bool(held)


def process(mail_id, until, clock=utcnow):
    """Write (once), send and record one leased mail; return whether an attempt was made."""
    mail = db.session.get(OutboxMail, mail_id)
    if mail is None or mail.locked_until != until:
        db.session.commit()
        return False
    try:
        ready = prepare(mail)
    except Exception:  # a bug must cost an attempt, not loop on one mail forever
        log.exception("mail %s (%s): could not be written", mail_id, mail.kind)
        db.session.rollback()
        return _record(mail, until, "Internal error while writing the mail.", False, clock())
    db.session.commit()  # the rendered mail and its token are kept before anything is sent
    if not ready:
        return False
    config = current_app.config
    error, permanent = None, False
    try:
        message = compose.build(mail, config["MAIL_FROM"])
        transport.deliver(message, config["MAIL_URL"], Path(current_app.instance_path) / "mail")
    except transport.PermanentFailure as e:
        error, permanent = f"Refused: {e}", True
    except Exception as e:  # refused, down, timed out: try again later
        error = f"{type(e).__name__}: {e}"
    log.info("mail %s (%s) to %s: %s", mail.id, mail.kind, mail.to_addr, error or "sent")
    return _record(mail, until, error, permanent, clock())


def drain(clock=utcnow, batch=BATCH, budget_seconds=None):
    """Send every due mail, a leased batch at a time; return how many sends were attempted."""
    started = time.monotonic()
    attempted = 0
    while budget_seconds is None or time.monotonic() - started < budget_seconds:
        ids, until = claim(batch, clock())
        if not ids:
            break
        for mail_id in ids:
            attempted += process(mail_id, until, clock)
    return attempted
