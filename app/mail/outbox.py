"""Queue a mail in the outbox, in the caller's transaction; its commit wakes the mail worker."""

import functools
import logging
import time
import uuid
from email.utils import parseaddr

from flask import current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from app.extensions import db
from app.mail.links import public_base_url
from app.models import OutboxMail

log = logging.getLogger(__name__)

MAIL_TASK = "mail.drain"
QUEUE = "webhooks"  # the one queue the worker consumes (app.webhooks.broker)
COOL_OFF_SECONDS = 5
_PENDING = "mail_queued"
_unreachable_until = 0.0


def queue_mail(kind, to_addr, **context):
    """Add a mail of `kind` to `to_addr` to the session: it is sent if, and only if, the caller commits.

    `context` is what the worker needs to write it (ids, addresses; never a secret). The
    links are built on the public base URL known now.
    """
    domain = parseaddr(current_app.config["MAIL_FROM"])[1].rpartition("@")[2] or "localhost"
    mail = OutboxMail(
        kind=kind,
        to_addr=to_addr,
        context={**context, "base_url": public_base_url()},
        message_id=f"<{uuid.uuid4().hex}@{domain}>",
    )
    db.session.add(mail)
    db.session.info[_PENDING] = True
    return mail


@functools.cache
def _producer(broker_url):
    from app.webhooks.broker import make_celery

    return make_celery(broker_url)


def notify():
    """Have a mail drain task start now, best effort: the beat and the polling loop catch up anyway."""
    global _unreachable_until
    url = current_app.config.get("REDIS_URL") if has_app_context() else None
    if not url or time.monotonic() < _unreachable_until:
        return
    try:
        _producer(url).send_task(MAIL_TASK, queue=QUEUE, retry=False, expires=60)
    except Exception as e:  # the request must not fail: the mail is committed and the beat sends it
        _unreachable_until = time.monotonic() + COOL_OFF_SECONDS
        log.warning("mail: could not enqueue a drain task (%s); the periodic drain will send it", e)


def _after_commit(session):
    if session.info.pop(_PENDING, False):
        notify()


def _forget(session, *args):
    session.info.pop(_PENDING, None)


sa_event.listen(Session, "after_commit", _after_commit)
sa_event.listen(Session, "after_rollback", _forget)
