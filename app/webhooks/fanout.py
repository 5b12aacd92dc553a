"""The fan-out: the worker turns each recorded event into one pending delivery per subscribed webhook."""

from collections import defaultdict

from sqlalchemy import delete, insert, or_, select

from app.events import delivery_row
from app.extensions import db
from app.models import Membership, User, Webhook, WebhookDelivery, WebhookEvent
from app.models.base import utcnow

BATCH = 100
_NO_SYNC = {"synchronize_session": False}


def fan_out(clock=utcnow, batch=BATCH):
    """Turn every recorded event into deliveries, oldest first; return how many events were fanned out.

    The subscribers of an event are resolved here, when a worker picks it up (normally
    within about a second of the commit), not in the request that made the change: the
    request then pays for one INSERT however many webhooks follow the list. They are the
    active webhooks that take the event's type, follow its list (that list, or all their
    lists), belong to an active member of the list at that moment, and were created no later
    than the event (a new webhook never receives older events). Events whose change
    takes the audience away (`member.removed`, `list.deleted`) name their webhooks,
    resolved as they were recorded.

    Each batch inserts its deliveries and deletes its events in one transaction, so a
    crash neither loses a fan-out nor repeats one. PostgreSQL: SELECT ... FOR UPDATE
    SKIP LOCKED, so concurrent workers take different events without waiting. SQLite:
    a worker's transaction holds the write lock from its start, so fan-outs are serial.
    """
    done = 0
    while True:
        count = _fan_out_batch(batch, clock())
        done += count
        if count < batch:
            return done


def _fan_out_batch(limit, now):
    e = WebhookEvent
    events = db.session.execute(
        select(e.id, e.event, e.list_id, e.payload, e.webhook_ids, e.created_at)
        .order_by(e.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
    ).all()
    if events:
        rows = [delivery_row(webhook_id, item.payload, item.created_at, now) for item, webhook_id in _targets(events)]
        if rows:
            db.session.execute(insert(WebhookDelivery), rows)
        db.session.execute(delete(e).where(e.id.in_([item.id for item in events])), execution_options=_NO_SYNC)
    db.session.commit()
    return len(events)


def _targets(events):
    """(event, webhook id) of every delivery to make, in the order of the events, then of the webhooks."""
    following = _followers({item.list_id for item in events if item.webhook_ids is None})
    named = _named({webhook_id for item in events for webhook_id in item.webhook_ids or ()})
    for item in events:
        if item.webhook_ids is None:
            candidates = [(w, types) for w, types, created in following[item.list_id] if created <= item.created_at]
        else:
            candidates = [(w, named[w]) for w in item.webhook_ids if w in named]
        for webhook_id, types in candidates:
            if item.event in types:
                yield item, webhook_id


def _followers(list_ids):
    """{list id: [(webhook id, events, created_at)]} of the active webhooks of its members that follow it."""
    found = defaultdict(list)
    if not list_ids:
        return found
    rows = db.session.execute(
        _locked(
            select(Membership.list_id, Webhook.id, Webhook.events, Webhook.created_at)
            .join(Webhook, Webhook.user_id == Membership.user_id)
            .join(User, User.id == Webhook.user_id)
            .where(
                Membership.list_id.in_(list_ids),
                Webhook.active.is_(True),
                User.is_active.is_(True),  # a deactivated user receives nothing, whenever the event was recorded
                or_(Webhook.list_id == Membership.list_id, Webhook.all_lists.is_(True)),
            )
            .order_by(Webhook.id)
        )
    ).all()
    for list_id, webhook_id, events, created_at in rows:
        found[list_id].append((webhook_id, events, created_at))
    return found


def _named(webhook_ids):
    """{webhook id: events} of those of the given webhooks that still exist, are active and have an active owner."""
    if not webhook_ids:
        return {}
    rows = db.session.execute(
        _locked(
            select(Webhook.id, Webhook.events)
            .join(User, User.id == Webhook.user_id)
            .where(Webhook.id.in_(webhook_ids), Webhook.active.is_(True), User.is_active.is_(True))
        )
    ).all()
    return dict(rows)


def _locked(query):
    # FOR SHARE (PostgreSQL): a webhook deleted or disabled meanwhile waits for this
    # commit, then takes the new deliveries with it (CASCADE) or gives them up.
    return query.with_for_update(read=True, of=Webhook)
