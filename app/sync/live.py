"""Waking the open event streams of this process when the feed grows anywhere, and ending revoked ones.

Cross-process and cross-instance wake-ups go through Redis pub/sub (channel
CHANNEL): REDIS_URL is already the one piece of shared state every instance has
(rate limits, revocation cache, task broker), on SQLite as on PostgreSQL, and a
PUBLISH after the commit costs the writer one round trip. PostgreSQL LISTEN/NOTIFY
would tie the stream to PostgreSQL and hold a dedicated connection per process. A
message only wakes streams: what a stream sends always comes from the feed query
(app.sync.reader), so a lost or repeated message can delay an event, never lose,
repeat or reorder one. A watcher in each process also reads, in one query, which users
got changes since its last look (every POLL_SECONDS without Redis, every
SAFETY_POLL_SECONDS with it) and wakes their streams only; and it checks every
REVOKE_CHECK_SECONDS, in one query for all the process's streams, that their logins
are still live.

Reminders are sent by the worker, another process. With Redis they cross on the same
channel once their claim commits; without it they are written to `live_reminders` in
the claim's transaction, ids in commit order as the feed's (a lock held until the
commit), and each watcher reads the new rows with its feed poll.
"""

import json
import logging
import os
import queue
import threading
import time
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import delete, func, insert, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AuthSession, Change, LiveReminder, PersonalToken, User
from app.models.base import utcnow

log = logging.getLogger("app.sync")

CHANNEL = "todos:sync"
POLL_SECONDS = 0.5
SAFETY_POLL_SECONDS = 5.0
REVOKE_CHECK_SECONDS = 2.0
REDIS_COOL_OFF_SECONDS = 5.0
# The key of the PostgreSQL advisory lock that orders the writers of live reminders ("rmnd").
REMINDERS_LOCK = 0x726D6E64
LIVE_REMINDER_RETENTION = timedelta(minutes=10)
_REMINDERS = "sync_live_reminders"


class Stream:
    """One open event stream: whose it is, which lists it follows, and its wake-up queue."""

    def __init__(self, user_id, session_id, list_ids, token_id=None):
        self.user_id = user_id
        self.session_id = session_id
        self.token_id = token_id  # a personal access token's id, when the stream was opened with one
        self.list_ids = set(list_ids)
        self.inbox = queue.Queue()

    def concerns(self, message):
        return self.user_id in message.get("users", ()) or not self.list_ids.isdisjoint(message.get("lists", ()))


class Hub:
    """The streams of this process, and the threads that wake them."""

    def __init__(self, app):
        self.lock = threading.Lock()
        self.streams = set()
        self.app = app
        self.redis = None
        self.started = False
        self.redis_cool_off_until = 0.0
        # The newest feed id the watcher has looked at. Taken when the first stream opens,
        # before that stream reads the feed: a change committed after that read has a
        # higher id, so the watcher wakes the stream for it even if no wake-up message
        # reached this process (a subscription not yet made, a lost one).
        self.newest = None
        self.newest_reminder = None  # the same, for live_reminders (read without Redis only)

    def _ensure_started(self):
        # Lazily, in the worker process that serves a stream (never in Gunicorn's master).
        if self.started:
            return
        self.started = True
        self.redis = _redis(self.app)
        threading.Thread(target=self._watch, name="sync-watch", daemon=True).start()
        if self.redis is not None:
            threading.Thread(target=self._listen, name="sync-listen", daemon=True).start()

    def open(self, user_id, session_id, list_ids, token_id=None):
        """Register a stream; call it before the stream's first read of the feed."""
        with self.lock:
            if self.newest is None:
                self.newest = db.session.execute(select(func.max(Change.id))).scalar() or 0
                self.newest_reminder = db.session.execute(select(func.max(LiveReminder.id))).scalar() or 0
            self._ensure_started()
            stream = Stream(user_id, session_id, list_ids, token_id)
            self.streams.add(stream)
        return stream

    def close(self, stream):
        with self.lock:
            self.streams.discard(stream)

    def deliver(self, message):
        with self.lock:
            streams = list(self.streams)
        for stream in streams:
            if message.get("all") or stream.concerns(message):
                stream.inbox.put(message)

    def publish(self, message):
        """Send `message` to the streams of every process: through Redis, else to this process's own."""
        client = _publisher(self.app)
        if client is not None and time.monotonic() >= self.redis_cool_off_until:
            try:
                client.publish(CHANNEL, json.dumps(message))
                return
            except Exception:  # the watchers' polls still wake the streams, within SAFETY_POLL_SECONDS
                # Writers must not wait on a Redis that is gone: skip it for a while.
                self.redis_cool_off_until = time.monotonic() + REDIS_COOL_OFF_SECONDS
                log.warning("sync: could not publish a wake-up to Redis", exc_info=True)
        self.deliver(message)

    def _listen(self):
        while True:
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                for raw in pubsub.listen():
                    if raw.get("type") == "message":
                        self.deliver(json.loads(raw["data"]))
            except Exception:
                log.warning("sync: Redis subscription lost; retrying", exc_info=True)
                time.sleep(1)

    def _watch(self):
        last_poll, last_check = 0.0, 0.0
        interval = SAFETY_POLL_SECONDS if self.redis is not None else POLL_SECONDS
        while True:
            time.sleep(POLL_SECONDS / 2)
            with self.lock:
                streams = list(self.streams)
            if not streams:
                continue
            now = time.monotonic()
            try:
                with self.app.app_context():
                    if now - last_poll >= interval:
                        last_poll = now
                        self.newest = self._wake_changed(self.newest, {stream.user_id for stream in streams})
                        if self.redis is None:
                            self.newest_reminder = self._send_reminders(self.newest_reminder)
                    if now - last_check >= REVOKE_CHECK_SECONDS:
                        last_check = now
                        self._end_revoked(streams)
                    db.session.remove()
            except Exception:
                log.warning("sync: the stream watcher could not read the database", exc_info=True)

    def _wake_changed(self, newest, user_ids):
        """Wake the streams of the users who got changes since id `newest` (one query); return the new newest."""
        if newest is None:
            return db.session.execute(select(func.max(Change.id))).scalar() or 0
        rows = db.session.execute(
            select(Change.user_id, func.max(Change.id)).where(Change.id > newest).group_by(Change.user_id)
        ).all()
        woken = [user_id for user_id, _ in rows if user_id in user_ids]
        if woken:
            self.deliver({"users": woken})
        return max([newest, *(top for _, top in rows)])

    def _send_reminders(self, newest):
        """Deliver the live reminders written since id `newest` (one query); return the new newest."""
        rows = db.session.execute(
            select(LiveReminder.id, LiveReminder.user_ids, LiveReminder.payload)
            .where(LiveReminder.id > newest)
            .order_by(LiveReminder.id)
        ).all()
        for _, user_ids, payload in rows:
            self.deliver({"users": user_ids, "reminder": payload})
        return rows[-1].id if rows else newest

    def _end_revoked(self, streams):
        """End the streams whose login or personal token no longer works (one query per kind of credential)."""
        for model, credential in ((AuthSession, "session_id"), (PersonalToken, "token_id")):
            ids = {getattr(stream, credential) for stream in streams} - {None}
            if not ids:
                continue
            gone = ids - set(self._working(model, ids))
            for stream in streams:
                if getattr(stream, credential) in gone:
                    stream.inbox.put({"revoked": True})

    @staticmethod
    def _working(model, ids):
        """The ids among `ids` of `model` (a login or a personal token) not revoked, not expired, user active."""
        return db.session.execute(
            select(model.id)
            .join(User, User.id == model.user_id)
            .where(model.id.in_(ids), model.revoked_at.is_(None), model.expires_at > utcnow(), User.is_active.is_(True))
        ).scalars()


_publishers = {}


def _redis(app):
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=1, health_check_interval=30)


def _publisher(app):
    """A Redis client for publishing, one per process and URL (None without REDIS_URL)."""
    url = app.config.get("REDIS_URL")
    key = (os.getpid(), url)
    if key not in _publishers:
        import redis

        _publishers[key] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5) if url else None
    return _publishers[key]


def hub_for(app):
    """The hub of `app` in this process."""
    hubs = app.extensions.setdefault("sync_hubs", {})
    if os.getpid() not in hubs:
        hubs[os.getpid()] = Hub(app)
    return hubs[os.getpid()]


def changed(lists, users):
    """Wake the streams of the members of `lists` and of `users` (called after a commit that wrote changes)."""
    if has_app_context():
        hub_for(current_app._get_current_object()).publish({"lists": sorted(lists), "users": sorted(users)})


def publish_reminder(user_ids, payload):
    """Send `payload` as an `event: reminder` to every open stream of `user_ids`, on every instance, now.

    Through Redis; without it, to this process's streams only. A reminder the worker
    fires goes through record_reminder, which reaches every process either way.
    """
    hub_for(current_app._get_current_object()).publish({"users": sorted(set(user_ids)), "reminder": payload})


def record_reminder(user_ids, payload):
    """Have `payload` reach the open streams of `user_ids` on every instance once this transaction commits.

    With REDIS_URL it is published after the commit; without, written to live_reminders
    before it, where every process's watcher reads it. A transaction that rolls back
    (a claim that fires again later) announces nothing. Reminders are not part of the
    feed: a stream that is not open when one is sent never gets it (webhooks are the
    durable delivery).
    """
    db.session.info.setdefault(_REMINDERS, []).append((sorted(set(user_ids)), payload))


def _write_reminders(session):
    """Without Redis: write the session's reminders, last in the transaction, under REMINDERS_LOCK."""
    if not session.info.get(_REMINDERS) or not has_app_context() or _publisher(current_app) is not None:
        return
    pending = session.info.pop(_REMINDERS)
    if session.get_bind().dialect.name == "postgresql":
        # Held until the COMMIT: ids are taken in commit order, so a watcher reading past
        # id N never sees a lower id appear later (the reasoning of app.sync.feed). Only
        # the scheduler's claims record reminders and they write no feed rows, so no
        # transaction holds this lock and the feed's together.
        session.execute(select(func.pg_advisory_xact_lock(REMINDERS_LOCK)))
    now = utcnow()
    session.execute(
        insert(LiveReminder), [{"user_ids": users, "payload": data, "created_at": now} for users, data in pending]
    )


def _publish_reminders(session):
    """With Redis: publish the reminders of the transaction that just committed."""
    pending = session.info.pop(_REMINDERS, None)
    if not pending:
        return
    for user_ids, payload in pending:
        try:
            publish_reminder(user_ids, payload)
        except Exception:  # the webhook event is the durable delivery; a stream may miss a live one
            log.warning("sync: could not publish a reminder to the live streams", exc_info=True)


def _forget_reminders(session, previous_transaction=None):
    session.info.pop(_REMINDERS, None)


sa_event.listen(Session, "before_commit", _write_reminders)
sa_event.listen(Session, "after_commit", _publish_reminders)
sa_event.listen(Session, "after_soft_rollback", _forget_reminders)


def prune_reminders():
    """Forget live reminders older than LIVE_REMINDER_RETENTION (by the clock that wrote them): read by then."""
    db.session.execute(
        delete(LiveReminder).where(LiveReminder.created_at < utcnow() - LIVE_REMINDER_RETENTION),
        execution_options={"synchronize_session": False},
    )
