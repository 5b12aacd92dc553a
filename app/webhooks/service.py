"""Webhook rules: the per-user cap, the list a webhook follows, disabling, ping and redelivery."""

from flask import current_app
from sqlalchemy import func, or_, select, update

from app.errors import abort
from app.events import queue_delivery, wake_worker_on_commit
from app.extensions import db
from app.models import User, Webhook, WebhookDelivery
from app.models.base import utcnow
from app.permissions import is_member
from app.webhooks.signing import new_secret

MAX_PER_USER = 20


def find(user_id, webhook_id):
    """Return the user's webhook, or answer 404 (someone else's is as missing as none)."""
    webhook = db.session.execute(
        select(Webhook).where(Webhook.id == webhook_id, Webhook.user_id == user_id)
    ).scalar_one_or_none()
    if webhook is None:
        abort(404, "No such webhook.")
    return webhook


def find_delivery(webhook, delivery_id):
    """Return one delivery of the webhook, or answer 404."""
    delivery = db.session.execute(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id == webhook.id)
    ).scalar_one_or_none()
    if delivery is None:
        abort(404, "No such delivery.")
    return delivery


def create(user_id, data):
    """Create a webhook for the user; 409 beyond the cap, 404 for a list they are not a member of."""
    # Lock the user's row so that concurrent creations cannot pass the cap together.
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())
    limit = current_app.config.get("WEBHOOKS_PER_USER", MAX_PER_USER)
    count = db.session.execute(select(func.count()).where(Webhook.user_id == user_id)).scalar_one()
    if count >= limit:
        abort(409, f"You already have {limit} webhooks, the most allowed; delete one first.")
    list_id = data.get("list_id")
    if list_id is not None and not is_member(list_id, user_id):
        abort(404, "No such list.")
    webhook = Webhook(user_id=user_id, list_id=list_id, all_lists=list_id is None, secret=new_secret(), **_fields(data))
    db.session.add(webhook)
    db.session.flush()
    return webhook


def update_webhook(webhook, data):
    """Apply a PATCH; re-enabling a webhook whose list was deleted is a 409."""
    if data.get("active") and webhook.orphaned:
        abort(409, "The list this webhook followed was deleted; create a new webhook.")
    if data.get("active") is False and webhook.active:
        deactivate(webhook.id, "The webhook was disabled by its owner.")
    for name, value in _fields(data).items():
        setattr(webhook, name, value)
    return webhook


def _fields(data):
    return {name: data[name] for name in ("target_url", "events", "active") if name in data}


def deactivate(webhook_id, reason):
    """Disable a webhook and give up its pending deliveries (those not being sent right now)."""
    now = utcnow()
    db.session.execute(
        update(Webhook).where(Webhook.id == webhook_id).values(active=False, updated_at=now),
        execution_options={"synchronize_session": "fetch"},
    )
    d = WebhookDelivery
    db.session.execute(
        update(d)
        .where(d.webhook_id == webhook_id, d.status == "pending", or_(d.locked_until.is_(None), d.locked_until < now))
        .values(status="failed", next_attempt_at=None, last_error=reason, updated_at=now),
        execution_options={"synchronize_session": False},
    )


def ping(webhook):
    """Queue a `ping` delivery carrying the webhook itself."""
    from app.schemas.webhook import webhook_schema

    return queue_delivery(webhook.id, "ping", {"webhook": webhook_schema.dump(webhook)})


def redeliver(delivery):
    """Queue a delivery again, with the same webhook-id and a fresh set of attempts."""
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    wake_worker_on_commit()
    return delivery
