"""Reminders: the schedule follows the todo, each fires once per todo, occurrence and offset, late ones are skipped."""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import LiveReminder, ReminderFired, ReminderSchedule, Todo, Webhook, WebhookDelivery, WebhookEvent
from app.recurrence.schedule import reschedule
from app.recurrence.scheduler import tick
from app.webhooks.fanout import fan_out
from tests.factories import make_list
from tests.live import ROOT, _environment

DUE = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)  # a Monday, far enough ahead to be scheduled


@pytest.fixture
def people(app, auth):
    owner, editor, viewer = auth.user(), auth.user(), auth.user()
    list_id = make_list(app, {owner.id: "owner", editor.id: "editor", viewer.id: "viewer"}, name="Home")
    return owner, editor, viewer, list_id


def create(client, people, **body):
    owner, _, _, list_id = people
    body = {"title": "Call mum", "due_at": "2030-01-07T09:00:00Z", "reminders": [0, 30], **body}
    r = client.post(f"/api/v1/lists/{list_id}/todos", json=body, headers=owner.headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json


def patch(client, people, todo_id, **body):
    r = client.patch(f"/api/v1/todos/{todo_id}", json=body, headers=people[0].headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json


def schedule(app):
    with app.app_context():
        rows = db.session.execute(select(ReminderSchedule).order_by(ReminderSchedule.fire_at)).scalars().all()
        return [(r.todo_id, r.occurrence, r.offset_minutes, r.fire_at) for r in rows]


def run_tick(app, when):
    with app.app_context():
        return tick(clock=lambda: when)


def reminder_events(app):
    with app.app_context():
        events = db.session.execute(select(WebhookEvent).order_by(WebhookEvent.id)).scalars().all()
        return [e.payload["data"] for e in events if e.event == "todo.reminder"]


def test_creating_schedules_one_row_per_reminder(app, client, people):
    todo = create(client, people)
    assert todo["reminders"] == [0, 30]
    assert schedule(app) == [
        (todo["id"], DUE, 30, DUE - timedelta(minutes=30)),
        (todo["id"], DUE, 0, DUE),
    ]


def test_changes_reschedule_and_completing_or_deleting_cancels(app, client, people):
    todo = create(client, people)
    patch(client, people, todo["id"], due_at="2030-01-08T09:00:00Z", reminders=[15])
    later = DUE + timedelta(days=1)
    assert schedule(app) == [(todo["id"], later, 15, later - timedelta(minutes=15))]
    patch(client, people, todo["id"], reminders=[])
    assert schedule(app) == []
    patch(client, people, todo["id"], reminders=[5])
    patch(client, people, todo["id"], completed=True)
    assert schedule(app) == []
    patch(client, people, todo["id"], completed=False)
    assert len(schedule(app)) == 1
    patch(client, people, todo["id"], due_at=None)
    assert schedule(app) == []
    other = create(client, people)
    assert len(schedule(app)) == 2
    assert client.delete(f"/api/v1/todos/{other['id']}", headers=people[0].headers).status_code == 204
    assert schedule(app) == []


def test_completing_a_recurring_todo_schedules_the_next_occurrence(app, client, people):
    todo = create(client, people, recurrence="FREQ=WEEKLY", reminders=[60])
    patch(client, people, todo["id"], completed=True)
    week = DUE + timedelta(days=7)
    assert schedule(app) == [(todo["id"], week, 60, week - timedelta(minutes=60))]


def test_reminder_fires_once_to_the_members(app, client, people):
    owner, editor, viewer, list_id = people
    todo = create(client, people)
    assert run_tick(app, DUE - timedelta(minutes=31)) == 0
    assert run_tick(app, DUE - timedelta(minutes=30)) == 1
    assert run_tick(app, DUE - timedelta(minutes=29)) == 0
    (event,) = reminder_events(app)
    assert event["todo"]["id"] == todo["id"] and event["todo"]["title"] == "Call mum"
    assert event["todo"]["url"].endswith(f"/api/v1/todos/{todo['id']}")
    assert (event["occurrence"], event["offset_minutes"], event["remind_at"]) == (
        "2030-01-07T09:00:00Z",
        30,
        "2030-01-07T08:30:00Z",
    )
    assert event["user_ids"] == sorted([owner.id, editor.id, viewer.id])
    assert run_tick(app, DUE + timedelta(seconds=3)) == 1
    assert [e["offset_minutes"] for e in reminder_events(app)] == [30, 0]
    assert schedule(app) == []


def test_reminder_reaches_the_live_streams_of_its_users_once_claimed(app, client, people):
    import json

    from tests.test_changes import read_event

    owner, editor, _, _ = people
    todo = create(client, people, assignee_id=editor.id, reminders=[0])
    streams = {}
    for who in (owner, editor):
        r = client.get("/api/v1/events", headers=who.headers, buffered=False)
        streams[who.id] = (r, iter(r.response))
        read_event(streams[who.id][1])  # the stream is open
    assert run_tick(app, DUE) == 1
    event = read_event(streams[editor.id][1])
    assert event.startswith("event: reminder\n")
    data = json.loads(event.split("data: ", 1)[1])
    assert (data["todo"]["id"], data["occurrence"], data["user_ids"]) == (
        todo["id"],
        "2030-01-07T09:00:00Z",
        [editor.id],
    )
    for r, _ in streams.values():
        r.close()


def _read_reminder(lines):
    """The data of the next `event: reminder` of an SSE line iterator (a read timeout raises)."""
    import json

    for line in lines:
        if line == "event: reminder":
            return json.loads(next(lines).removeprefix("data: "))
    raise AssertionError("the stream ended without a reminder")


@pytest.mark.slow
def test_a_reminder_fired_by_another_process_reaches_open_streams_without_redis(app, live_server, client, people):
    import requests

    owner, editor, _, _ = people
    todo = create(client, people, assignee_id=editor.id, reminders=[0])
    # A heartbeat a second: the server notices the stream closed at the end and stops at once.
    env = {"REDIS_URL": None, "GUNICORN_WORKER_CLASS": "gevent", "EVENTS_HEARTBEAT_SECONDS": "1"}
    server = live_server(workers=1, env=env)
    login = requests.post(
        server.url + "/api/v1/auth/login", json={"email": editor.email, "password": editor.password}, timeout=10
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    with requests.get(server.url + "/api/v1/events", headers=headers, stream=True, timeout=10) as stream:
        lines = stream.iter_lines(decode_unicode=True)
        assert next(lines) == ": connected"
        assert run_tick(app, DUE) == 1  # this process is the worker; the stream is served by the server's
        data = _read_reminder(lines)  # heartbeats between are skipped; none within 10 s is a read timeout
    assert (data["todo"]["id"], data["occurrence"], data["user_ids"]) == (
        todo["id"],
        "2030-01-07T09:00:00Z",
        [editor.id],
    )
    with app.app_context():
        assert db.session.execute(select(LiveReminder.payload)).scalars().all() == [data]


def test_a_claim_rolled_back_leaves_no_live_reminder_and_its_retry_one(app, client, people):
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    create(client, people, reminders=[0])
    failed = []

    def fail_first_commit(session):  # runs after the live reminder was written, as a lost connection would
        if not failed:
            failed.append(True)
            raise RuntimeError("the database went away")

    event.listen(Session, "before_commit", fail_first_commit)
    try:
        with app.app_context(), pytest.raises(RuntimeError):
            tick(clock=lambda: DUE)
    finally:
        event.remove(Session, "before_commit", fail_first_commit)
    with app.app_context():
        assert db.session.execute(select(LiveReminder.id)).all() == []
        assert len(db.session.execute(select(ReminderSchedule.id)).all()) == 1
    assert run_tick(app, DUE) == 1
    with app.app_context():
        assert len(db.session.execute(select(LiveReminder.id)).all()) == 1


@pytest.mark.redis
def test_with_redis_a_reminder_is_published_once_its_claim_commits(app, client, people):
    import json

    import redis

    from app.sync.live import CHANNEL
    from tests.conftest import REDIS_URL

    owner, editor, _, _ = people
    app.config["REDIS_URL"] = REDIS_URL
    create(client, people, assignee_id=editor.id, reminders=[0])
    pubsub = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    pubsub.get_message(timeout=1)
    assert run_tick(app, DUE) == 1
    message = pubsub.get_message(timeout=5)
    pubsub.close()
    published = json.loads(message["data"])
    assert published["users"] == [editor.id] and published["reminder"]["offset_minutes"] == 0
    with app.app_context():
        assert db.session.execute(select(LiveReminder.id)).all() == []


def test_reminder_goes_to_the_assignee_only(app, client, people):
    todo = create(client, people, assignee_id=people[1].id, reminders=[0])
    run_tick(app, DUE)
    assert [e["user_ids"] for e in reminder_events(app)] == [[people[1].id]]
    assert todo["assignee_id"] == people[1].id


def test_a_fired_reminder_is_not_fired_again_when_reminders_change(app, client, people):
    todo = create(client, people)
    run_tick(app, DUE - timedelta(minutes=30))
    with app.app_context():
        # Reschedule as a change would, at a time when the 30-minute reminder would still be ahead.
        row = db.session.get(Todo, todo["id"])
        row.reminders = [0, 10, 30]
        reschedule(row, now=DUE - timedelta(hours=2))
        db.session.commit()
    assert sorted(r[2] for r in schedule(app)) == [0, 10]
    run_tick(app, DUE)
    assert sorted(e["offset_minutes"] for e in reminder_events(app)) == [0, 10, 30]


def test_late_reminders_are_sent_under_an_hour_and_skipped_and_counted_after(app, client, people):
    create(client, people, reminders=[0, 90])
    # No worker ran from before 07:30 until 09:59: the 07:30 one is 2.5 hours late, 09:00 is 59 minutes.
    assert run_tick(app, DUE + timedelta(minutes=59)) == 1
    assert [e["offset_minutes"] for e in reminder_events(app)] == [0]
    with app.app_context():
        outcomes = dict(db.session.execute(select(ReminderFired.offset_minutes, ReminderFired.outcome)).all())
    assert outcomes == {0: "sent", 90: "skipped"}
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert "reminders_skipped_late_total 1.0" in metrics
    assert "reminders_sent_total 1.0" in metrics


def test_a_reminder_of_a_todo_changed_meanwhile_is_not_sent(app, client, people):
    todo = create(client, people, reminders=[0])
    with app.app_context():  # the row changes without the service (as a stale schedule would be)
        db.session.get(Todo, todo["id"]).reminders = []
        db.session.commit()
    assert run_tick(app, DUE) == 0
    assert reminder_events(app) == []


def test_reminders_in_the_past_when_set_are_not_scheduled(client, app, people):
    create(client, people, due_at="2020-01-01T09:00:00Z")
    assert schedule(app) == []


def test_reminder_reaches_subscribed_webhooks(app, client, people):
    owner, _, _, list_id = people
    with app.app_context():
        db.session.add(_webhook(owner.id, list_id))
        db.session.commit()
    create(client, people, reminders=[0])
    run_tick(app, DUE)
    with app.app_context():
        fan_out()
        deliveries = db.session.execute(select(WebhookDelivery.event)).scalars().all()
    assert deliveries.count("todo.reminder") == 1


def test_webhooks_accept_the_reminder_event(client, people):
    r = client.post(
        "/api/v1/webhooks",
        json={"target_url": "https://example.com/hook", "events": ["todo.reminder"]},
        headers=people[0].headers,
    )
    assert r.status_code in (201, 422), r.json  # 422 only if the host does not resolve here
    if r.status_code == 422:
        assert "events" not in r.json["errors"]


def _webhook(user_id, list_id):
    return Webhook(
        user_id=user_id,
        list_id=list_id,
        target_url="https://127.0.0.1:9/hook",
        events=["todo.reminder"],
        secret="whsec_" + "A" * 43,
        active=True,
    )


# --- exactly once, while workers are killed at random points


def _seed(app, people, count, spread):
    owner, _, _, list_id = people
    now = datetime.now(UTC)
    with app.app_context():
        db.session.add(_webhook(owner.id, list_id))
        for i in range(count):
            due = now + timedelta(seconds=2 + spread * i / count)
            todo = Todo(list_id=list_id, title=f"t{i}", order=i, due_at=due, reminders=[0], created_by=owner.id)
            db.session.add(todo)
            db.session.flush()
            reschedule(todo)
        db.session.commit()


def _worker(database_url):
    env = _environment(database_url, 1, 0, {"FLASK_APP": "wsgi:app", "LOG_LEVEL": "WARNING"})
    command = [sys.executable, "-m", "flask", "webhooks", "run", "--poll", "--interval", "0.1"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_at_random(database_url, seconds, workers=2):
    running = [_worker(database_url) for _ in range(workers)]
    try:
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            time.sleep(random.uniform(0.3, 1.5))
            victim = random.randrange(len(running))
            running[victim].send_signal(signal.SIGKILL)
            running[victim].wait()
            running[victim] = _worker(database_url)
    finally:
        for process in running:
            process.send_signal(signal.SIGKILL)
            process.wait()


def _drain_to_the_end(app, database_url, timeout=30):
    final = _worker(database_url)
    try:
        ends = time.monotonic() + timeout
        while time.monotonic() < ends:
            with app.app_context():
                left = db.session.execute(select(ReminderSchedule.id)).first()
                events = db.session.execute(select(WebhookEvent.id)).first()
            if left is None and events is None:
                return
            time.sleep(0.3)
        raise AssertionError("the worker did not fire every reminder in time")
    finally:
        final.send_signal(signal.SIGKILL)  # its work is checked in the database; a clean stop is not the point
        final.wait()


def _assert_each_fired_once(app, count):
    with app.app_context():
        fired = db.session.execute(select(ReminderFired.todo_id, ReminderFired.outcome)).all()
        payloads = db.session.execute(
            select(WebhookDelivery.payload).where(WebhookDelivery.event == "todo.reminder")
        ).scalars()
        per_todo = Counter(p["data"]["todo"]["id"] for p in payloads)
    assert len(fired) == count and {outcome for _, outcome in fired} == {"sent"}
    assert len(per_todo) == count and set(per_todo.values()) == {1}, per_todo.most_common(3)


def _exactly_once(app, people, database_url, count, seconds):
    _seed(app, people, count, spread=seconds - 2)
    _kill_at_random(database_url, seconds)
    _drain_to_the_end(app, database_url)
    _assert_each_fired_once(app, count)


@pytest.mark.slow
def test_each_reminder_fires_exactly_once_while_workers_are_killed(app, people, database_url):
    _exactly_once(app, people, database_url, count=40, seconds=6)


@pytest.mark.skipif(os.environ.get("RUN_SLOW") != "1", reason="slow proof: set RUN_SLOW=1")
def test_each_reminder_fires_exactly_once_while_workers_are_killed_long(app, people, database_url):
    _exactly_once(app, people, database_url, count=400, seconds=30)
