"""The transactional outbox: events are written in the transaction of the change."""

import uuid

from sqlalchemy import event as sa_event
from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Membership, Webhook, WebhookDelivery
from app.models.base import utcnow

# Set on a session that recorded deliveries; its commit then wakes the delivery worker.
_PENDING = "webhook_deliveries_recorded"


def record_event(event, list_id, data):
    """Queue `event` for every enabled webhook that follows `list_id`.

    Call it before the commit of the change it describes: the rows commit or roll
    back with it, so a committed change is never lost and a rolled-back one never
    sent. `data` is the API representation of the object (the schema's dump).
    Webhooks follow one list, or every list their owner is a member of; the members
    are read now, so call it before deleting a list or removing a member.
    """
    member_ids = select(Membership.user_id).where(Membership.list_id == list_id)
    webhooks = db.session.execute(
        select(Webhook.id, Webhook.events).where(
            Webhook.active.is_(True),
            Webhook.user_id.in_(member_ids),
            or_(Webhook.list_id == list_id, Webhook.all_lists.is_(True)),
        )
    ).all()
    rows = [delivery_row(webhook_id, event, data) for webhook_id, events in webhooks if event in events]
    if rows:  # one multi-row INSERT in the caller's transaction, however many webhooks follow the list
        db.session.execute(insert(WebhookDelivery), rows)
        wake_worker_on_commit()


def delivery_row(webhook_id, event, data):
    """The column values of one pending delivery of `event`, due now."""
    now = utcnow()
    message_id = "msg_" + uuid.uuid4().hex
    payload = {"id": message_id, "type": event, "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data}
    return {
        "webhook_id": webhook_id,
        "message_id": message_id,
        "event": event,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def queue_delivery(webhook_id, event, data):
    """Add one pending delivery of `event` to the session; it commits with the caller's change."""
    delivery = WebhookDelivery(**delivery_row(webhook_id, event, data))
    db.session.add(delivery)
    wake_worker_on_commit()
    return delivery


def wake_worker_on_commit():
    """Have the session's next commit ask the delivery worker to drain the outbox."""
    db.session.info[_PENDING] = True


def _after_commit(session):
    """Ask the delivery worker to drain the outbox now, so deliveries go out promptly."""
    if session.info.pop(_PENDING, False):
        from app.webhooks.broker import notify

        notify()


def _forget(session, *args):
    session.info.pop(_PENDING, None)


sa_event.listen(Session, "after_commit", _after_commit)
sa_event.listen(Session, "after_rollback", _forget)
