"""The outbox worker against a real receiver: transactions, retries, 410, concurrency, leases, SSRF."""

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.events import record_event
from app.extensions import db
from app.models import Membership, TodoList, User, Webhook, WebhookDelivery
from app.models.base import utcnow
from app.webhooks import delivery as http
from app.webhooks import signing, ssrf, worker
from app.webhooks.fanout import fan_out
from tests import webhook_receiver
from tests.conftest import REDIS_URL, make_config

DAY = timedelta(days=2)  # longer than the longest backoff with its jitter


@pytest.fixture
def receiver():
    receiver = webhook_receiver.start()
    yield receiver
    webhook_receiver.stop(receiver)


@pytest.fixture
def extra_config():
    """Settings a test adds, with `@pytest.mark.parametrize("extra_config", [{...}])`."""
    return {}


@pytest.fixture
def app_config(database_url, receiver, extra_config):
    return make_config(database_url, WEBHOOK_ALLOWED_HOSTS=[receiver.netloc], **extra_config)


@pytest.fixture
def setup(app, receiver):
    """A user, a list they own and a webhook of theirs on every list; returns their ids."""
    with app.app_context():
        user = User(email="owner@example.com", password_hash="x", role="user", is_active=True)
        todo_list = TodoList(name="Chores")
        db.session.add_all([user, todo_list])
        db.session.flush()
        db.session.add(Membership(list_id=todo_list.id, user_id=user.id, role="owner"))
        webhook = Webhook(
            user_id=user.id,
            all_lists=True,
            target_url=receiver.url,
            events=["todo.created"],
            secret=signing.new_secret(),
            active=True,
        )
        db.session.add(webhook)
        db.session.commit()
        return {"user": user.id, "list": todo_list.id, "webhook": webhook.id, "secret": webhook.secret}


def emit(app, list_id, count=1, commit=True):
    with app.app_context():
        for n in range(count):
            record_event("todo.created", list_id, {"id": n + 1, "title": f"Todo {n + 1}"})
        db.session.commit() if commit else db.session.rollback()


def deliveries(app):
    with app.app_context():
        return db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars().all()


def drain_at(app, when):
    with app.app_context():
        return worker.drain(clock=lambda: when)


def test_committed_event_is_delivered_signed(app, setup, receiver):
    emit(app, setup["list"])
    with app.app_context():
        assert worker.drain() == 1
    [request] = receiver.requests
    h = request.headers
    assert signing.verify(
        setup["secret"], h["webhook-id"], h["webhook-timestamp"], request.body, h["webhook-signature"]
    )
    assert json.loads(request.body)["data"] == {"id": 1, "title": "Todo 1"}
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.last_status_code, row.message_id) == ("delivered", 1, 200, h["webhook-id"])


def test_rolled_back_event_is_never_sent(app, setup, receiver):
    emit(app, setup["list"], commit=False)
    with app.app_context():
        assert worker.drain() == 0
    assert deliveries(app) == []
    assert receiver.requests == []


def test_standard_webhooks_signature_vector():
    # The example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert signing.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_retries_with_backoff_keep_the_id(app, setup, receiver):
    receiver.script = [500, 503]
    emit(app, setup["list"])
    start = utcnow()
    assert drain_at(app, start) == 1
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 500)
    assert row.last_error == "HTTP 500: ok"
    assert timedelta(seconds=7.9) <= row.next_attempt_at - start <= timedelta(seconds=12.1)
    assert drain_at(app, start + timedelta(seconds=5)) == 0  # not due yet
    second = row.next_attempt_at + timedelta(seconds=1)
    assert drain_at(app, second) == 1
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 2, 503)
    assert timedelta(seconds=47) <= row.next_attempt_at - second <= timedelta(seconds=73)
    assert drain_at(app, row.next_attempt_at + timedelta(seconds=1)) == 1
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.last_status_code, row.next_attempt_at) == ("delivered", 3, 200, None)
    assert len(set(receiver.ids())) == 1 and len(receiver.ids()) == 3


def test_permanent_failure_after_the_last_retry(app, setup, receiver):
    receiver.default = 500
    emit(app, setup["list"])
    when = utcnow()
    for _ in range(len(worker.BACKOFF) + 1):
        assert drain_at(app, when) == 1
        when += DAY
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 9, None)
    assert drain_at(app, when + DAY) == 0
    assert len(receiver.requests) == 9


@pytest.mark.parametrize("status", [301, 302, 307])
def test_redirect_is_a_failure_not_followed(app, setup, receiver, status):
    receiver.script = [status]
    emit(app, setup["list"])
    assert drain_at(app, utcnow()) == 1
    [row] = deliveries(app)
    assert (row.status, row.last_status_code) == ("pending", status)
    assert row.last_error == f"HTTP {status}: redirects are not followed."
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_gone_disables_the_webhook(app, setup, receiver):
    receiver.script = [410]
    emit(app, setup["list"], count=2)
    with app.app_context():
        worker.drain(batch=1)
        assert db.session.get(Webhook, setup["webhook"]).active is False
    rows = deliveries(app)
    assert [(r.status, r.last_status_code) for r in rows] == [("failed", 410), ("failed", None)]
    assert rows[1].last_error == "The webhook was disabled: its URL answered 410 Gone."
    emit(app, setup["list"])
    with app.app_context():
        assert fan_out() == 1
    assert len(deliveries(app)) == 2  # a disabled webhook gets nothing more
    assert len(receiver.requests) == 1


def test_unreachable_receiver_is_retried(app, setup, receiver):
    app.config["WEBHOOK_ALLOWED_HOSTS"] = [receiver.netloc, "127.0.0.1:8149"]  # nothing listens there
    with app.app_context():
        db.session.get(Webhook, setup["webhook"]).target_url = "http://127.0.0.1:8149/hook"
        db.session.commit()
    emit(app, setup["list"])
    with app.app_context():
        worker.drain()
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, None)
    assert row.last_error.startswith("Connection failed")


def _run_workers(app, count):
    barrier = threading.Barrier(count)
    errors = []

    def work():
        try:
            with app.app_context():
                barrier.wait()
                worker.drain(batch=2)
        except Exception as e:  # surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_concurrent_workers_send_each_event_once(app, setup, receiver):
    receiver.delay = 0.01
    emit(app, setup["list"], count=24)
    assert _run_workers(app, 3) == []
    ids = receiver.ids()
    assert len(ids) == 24
    assert len(set(ids)) == 24
    assert {r.status for r in deliveries(app)} == {"delivered"}


def test_worker_killed_between_send_and_mark_redelivers_same_id(app, setup, receiver):
    emit(app, setup["list"])
    now = utcnow()
    with app.app_context():
        fan_out()
        ids, until = worker.claim(1, now)
        item = worker.load(ids[0])
        outcome = http.send(item.target_url, item.secret, item.payload, [receiver.netloc])
        assert outcome.ok  # sent, and the worker dies before recording it
    assert drain_at(app, now + timedelta(seconds=5)) == 0  # still leased
    assert drain_at(app, until + timedelta(seconds=1)) == 1
    assert len(receiver.ids()) == 2
    assert receiver.ids()[0] == receiver.ids()[1] == item.message_id
    [row] = deliveries(app)
    assert (row.status, row.attempts) == ("delivered", 1)


def test_stale_worker_cannot_overwrite_a_new_lease(app, setup, receiver):
    emit(app, setup["list"])
    now = utcnow()
    with app.app_context():
        fan_out()
        ids, old_lease = worker.claim(1, now)
        item = worker.load(ids[0])
        later = old_lease + timedelta(seconds=1)
        ids_again, new_lease = worker.claim(1, later)
        assert ids_again == ids
        assert worker.record(item, old_lease, http.Outcome(False, 500, "HTTP 500"), later) is False
        assert worker.record(item, new_lease, http.Outcome(True, 200), later) is True


# Every form of a non-public address, and the numeric tricks that spell one.
UNSAFE_URLS = [
    "https://127.0.0.1/hook",
    "https://localhost/hook",
    "https://0x7f000001/hook",
    "https://2130706433/hook",
    "https://127.1/hook",
    "https://0177.0.0.1/hook",
    "https://017700000001/hook",
    "https://0.0.0.0/hook",
    "https://10.0.0.1/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/hook",
    "https://224.0.0.1/hook",
    "https://240.0.0.1/hook",
    "https://255.255.255.255/hook",
    "https://198.18.0.1/hook",
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://[ff02::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:7f00:1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://[::127.0.0.1]/hook",
    "https://[2002:7f00:1::]/hook",
    "https://[2002:a00:1::]/hook",
    "https://[64:ff9b::7f00:1]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",
    "https://[2001::1]/hook",
    "http://8.8.8.8/hook",
    "ftp://8.8.8.8/hook",
    "https://user:pass@8.8.8.8/hook",
    "https://no-such-host.invalid/hook",
]


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_unsafe_url_refused_at_creation(client, auth, url):
    user = auth.user()
    r = client.post("/api/v1/webhooks", json={"target_url": url, "events": ["todo.created"]}, headers=user.headers)
    assert r.status_code == 422, r.json
    assert list(r.json["errors"]) == ["target_url"]


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_unsafe_url_refused_at_delivery(app, setup, receiver, url):
    with app.app_context():
        db.session.get(Webhook, setup["webhook"]).target_url = url
        db.session.commit()
    emit(app, setup["list"])
    with app.app_context():
        assert worker.drain() == 1
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, None)
    assert row.last_error.startswith("The ")
    assert receiver.requests == []


@pytest.mark.parametrize(
    "url", ["https://8.8.8.8/hook", "https://[2001:4860:4860::8888]:8443/x?y=1", "https://[::ffff:8.8.8.8]/hook"]
)
def test_public_addresses_pass_the_guard(url):
    target, addresses = ssrf.check(url)
    assert all(ssrf.is_public(a) for a in addresses)
    assert target.scheme == "https"


def test_allowed_host_is_exempt_only_on_its_port(receiver):
    assert ssrf.check(receiver.url, [receiver.netloc])[0].allowed is True
    with pytest.raises(ssrf.UnsafeURL):
        ssrf.check("http://127.0.0.1:8149/hook", [receiver.netloc])
    assert ssrf.check("http://localhost:8149/hook", ["localhost"])[0].allowed is True


def _celery(args, env, log_path):
    import subprocess
    import sys

    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process by the caller's terminate
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "app.celery_app", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=str(__import__("pathlib").Path(__file__).parents[1]),
    )


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.parametrize("extra_config", [{"REDIS_URL": REDIS_URL}])
def test_celery_worker_and_beat_deliver_through_redis(app, client, auth, app_config, database_url, receiver, tmp_path):
    """A real Celery worker on Redis: a commit enqueues a drain; beat drains what no commit announced."""
    import os
    import time

    import redis

    redis.Redis.from_url(REDIS_URL).delete("webhooks")  # the queue, in the test Redis database only
    config = app_config
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "APP_ENV": "development",
        "WEBHOOK_ALLOWED_HOSTS": receiver.netloc,
        "SECRET_KEY": config["SECRET_KEY"],
        "JWT_SECRET_KEY": config["JWT_SECRET_KEY"],
        "LOG_LEVEL": "INFO",
    }
    user = auth.user()
    hook = client.post(
        "/api/v1/webhooks", json={"target_url": receiver.url, "events": ["todo.created"]}, headers=user.headers
    ).json
    processes = [_celery(["worker", "--pool=solo", "--without-gossip", "--without-mingle"], env, tmp_path / "w.log")]
    try:
        ping = client.post(f"{hook['url']}/ping", headers=user.headers).json
        assert [r.headers["webhook-id"] for r in receiver.wait_for(1, 30)] == [ping["message_id"]]
        time.sleep(1)  # let that drain task finish, so that the next row is not picked up by it
        with app.app_context():  # an outbox row that no commit announced: only the periodic drain finds it
            silent = WebhookDelivery(
                webhook_id=hook["id"],
                message_id="msg_silent",
                event="ping",
                status="pending",
                payload={"id": "msg_silent", "type": "ping", "created_at": "x", "data": {}},
                attempts=0,
                next_attempt_at=utcnow(),
            )
            db.session.add(silent)
            db.session.commit()
        assert len(receiver.wait_for(2, 3)) == 1
        processes.append(_celery(["beat", "--schedule", str(tmp_path / "beat")], env, tmp_path / "b.log"))
        receiver.wait_for(2, 30)
    finally:
        for process in processes:
            process.terminate()
            process.wait(15)
    assert receiver.ids() == [ping["message_id"], "msg_silent"], (tmp_path / "w.log").read_text()[-3000:]


def test_a_delivery_queued_before_its_owner_was_deactivated_is_not_sent(app, setup, receiver):
    emit(app, setup["list"])
    with app.app_context():
        fan_out()
        db.session.get(User, setup["user"]).is_active = False
        db.session.commit()
        assert worker.drain() == 1
    assert receiver.requests == []
    [row] = deliveries(app)
    assert (row.status, row.next_attempt_at, row.last_error) == ("failed", None, worker.OWNER_INACTIVE)


@pytest.mark.slow
def test_one_users_slow_webhooks_do_not_delay_another_users_delivery(app, setup, receiver):
    """20 webhooks of one user to a target that answers after 4 s; another user's delivery still goes at once."""
    import time

    slow = webhook_receiver.start()
    slow.delay = 4.0
    try:
        app.config["WEBHOOK_ALLOWED_HOSTS"] = [receiver.netloc, slow.netloc]
        with app.app_context():
            tenant = User(email="tenant@example.com", password_hash="x", role="user", is_active=True)
            their_list = TodoList(name="Theirs")
            db.session.add_all([tenant, their_list])
            db.session.flush()
            db.session.add(Membership(list_id=their_list.id, user_id=tenant.id, role="owner"))
            for _ in range(20):
                db.session.add(
                    Webhook(
                        user_id=tenant.id,
                        all_lists=True,
                        target_url=slow.url,
                        events=["todo.created"],
                        secret=signing.new_secret(),
                        active=True,
                    )
                )
            db.session.commit()
            their_list_id = their_list.id
        emit(app, their_list_id)  # 20 slow deliveries, due first
        finished = []

        def run():
            with app.app_context():
                finished.append(worker.drain(budget_seconds=3))

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.5)  # the slow deliveries are out
        sent = time.monotonic()
        emit(app, setup["list"])  # the other user's event
        assert receiver.wait_for(1, timeout=10), "the other user's delivery never arrived"
        waited = time.monotonic() - sent
        assert waited < 2.0, f"another user's delivery waited {waited:.1f} s behind the slow webhooks"
        thread.join(30)
        # The slow target was never sent more than PER_TARGET deliveries at once.
        assert 1 <= len(slow.requests) <= worker.PER_TARGET * 2
    finally:
        webhook_receiver.stop(slow)
