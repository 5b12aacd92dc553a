"""The transactional outbox: events are written in the transaction of the change."""

import uuid

from sqlalchemy import event as sa_event
from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Membership, User, Webhook, WebhookDelivery, WebhookEvent
from app.models.base import utcnow

# Set on a session that recorded events; its commit then wakes the delivery worker.
_PENDING = "webhook_events_recorded"


def record_event(event, list_id, data, resolve_now=False):
    """Record `event` on list `list_id` in the outbox: one row, however many webhooks follow the list.

    Call it before the commit of the change it describes: the row commits or rolls
    back with it, so a committed change is never lost and a rolled-back one never
    sent. `data` is the API representation of the object (the schema's dump). The
    delivery worker fans the event out to the webhooks that follow the list when it
    picks it up (app.webhooks.fanout). `resolve_now` finds them now instead, for the
    events whose change takes the audience away (`member.removed`, `list.deleted`):
    call it then before removing the member or deleting the list.
    """
    now = utcnow()
    targets = None
    if resolve_now:
        targets = subscribers(event, list_id)
        if not targets:
            return
    db.session.execute(
        insert(WebhookEvent).values(
            event=event, list_id=list_id, payload=message(event, data, now), webhook_ids=targets, created_at=now
        )
    )
    wake_worker_on_commit()


def subscribers(event, list_id):
    """Ids of the enabled webhooks of the list's active members that follow it and take `event`, as of now."""
    member_ids = (
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.list_id == list_id, User.is_active.is_(True))
    )
    webhooks = db.session.execute(
        select(Webhook.id, Webhook.events)
        .where(
            Webhook.active.is_(True),
            Webhook.user_id.in_(member_ids),
            or_(Webhook.list_id == list_id, Webhook.all_lists.is_(True)),
        )
        .order_by(Webhook.id)
    ).all()
    return [webhook_id for webhook_id, events in webhooks if event in events]


def message(event, data, now):
    """The body every webhook receives for `event`: `{"id", "type", "created_at", "data"}`, with a new id."""
    return {
        "id": "msg_" + uuid.uuid4().hex,
        "type": event,
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": data,
    }


def delivery_row(webhook_id, payload, due, now):
    """The column values of one pending delivery of the message `payload`, due at `due`."""
    return {
        "webhook_id": webhook_id,
        "message_id": payload["id"],
        "event": payload["type"],
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": due,
        "created_at": due,
        "updated_at": now,
    }


def queue_delivery(webhook_id, event, data):
    """Add one pending delivery of `event` to the session; it commits with the caller's change."""
    now = utcnow()
    delivery = WebhookDelivery(**delivery_row(webhook_id, message(event, data, now), now, now))
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
