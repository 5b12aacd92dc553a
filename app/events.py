"""The transactional outbox: events are written in the transaction of the change."""

import uuid

from sqlalchemy import or_, select

from app.extensions import db
from app.models import Membership, Webhook, WebhookDelivery
from app.models.base import utcnow


def record_event(event, list_id, data):
    """Queue `event` for every active webhook that follows `list_id`.

    Call it before the commit of the change it describes: the rows commit or roll
    back with it, so a committed change is never lost and a rolled-back one never
    sent. Webhooks follow one list, or every list their owner is a member of.
    """
    member_ids = select(Membership.user_id).where(Membership.list_id == list_id)
    webhooks = db.session.execute(
        select(Webhook.id, Webhook.events).where(
            Webhook.active.is_(True),
            Webhook.user_id.in_(member_ids),
            or_(Webhook.list_id == list_id, Webhook.list_id.is_(None)),
        )
    ).all()
    now = utcnow()
    for webhook_id, events in webhooks:
        if event not in events:
            continue
        message_id = "msg_" + uuid.uuid4().hex
        payload = {"id": message_id, "type": event, "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data}
        db.session.add(
            WebhookDelivery(webhook_id=webhook_id, message_id=message_id, event=event, payload=payload,
                            status="pending", next_attempt_at=now)
        )
