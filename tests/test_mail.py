"""The mail outbox against a real SMTP server: sent once, after commit only, retried while SMTP refuses."""

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from flask import request

from app.config import ConfigError
from app.extensions import db
from app.mail.outbox import queue_mail
from tests.conftest import REDIS_URL, _empty_tables, make_config
from tests.mailbox import outbox, send_mail
from tests.smtp_server import html_part, text_part, token_in


@pytest.fixture
def app_config(mail_config):
    return mail_config


def register(client, email="ann@example.com", **extra):
    r = client.post("/api/v1/auth/register", json={"email": email, "password": "correct-horse-battery", **extra})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json


def test_registration_mails_a_verification_link_with_text_and_html(app, client, smtp_server):
    register(client, display_name="Ann")
    assert smtp_server.inbox.messages == []  # nothing leaves before the worker runs
    assert send_mail(app) == 1
    [message] = smtp_server.inbox.messages
    assert message["To"] == "Ann <ann@example.com>"
    assert message["From"] == "Todos <todos@example.com>"
    assert message["Subject"] == "Confirm your email address"
    assert message["Message-ID"].endswith("@example.com>")
    token = token_in(message)
    assert len(token) >= 43  # 32 random bytes
    assert f"http://localhost/verify-email?token={token}" in text_part(message)
    assert f'href="http://localhost/verify-email?token={token}"' in html_part(message)


def test_each_mail_is_sent_once(app, client, smtp_server):
    register(client)
    assert send_mail(app) == 1
    assert send_mail(app, later=timedelta(days=1)) == 0
    assert len(smtp_server.inbox.messages) == 1
    [row] = outbox(app)
    assert (row.status, row.attempts, row.text_body, row.html_body) == ("sent", 1, "", "")  # no link kept


def test_links_use_public_base_url(database_url, smtp_server):
    from app import create_app

    app = create_app(make_config(database_url, MAIL_URL=smtp_server.url, PUBLIC_BASE_URL="https://todos.example/"))
    with app.test_request_context("/", base_url="http://evil.example"):
        queue_mail("verify_email", "x@example.com", user_id=1, email="x@example.com")
        assert db.session.new.pop().context["base_url"] == "https://todos.example"
        assert request.host_url == "http://evil.example/"
        db.session.rollback()


def test_rolled_back_change_sends_no_mail(app, client, smtp_server):
    """A registration that fails after its mail was queued (the email is taken) leaves no mail behind."""
    register(client)
    send_mail(app)
    r = client.post("/api/v1/auth/register", json={"email": "ANN@example.com", "password": "correct-horse-battery"})
    assert r.status_code == 409
    with app.test_request_context("/"):
        queue_mail("verify_email", "bob@example.com", user_id=1, email="bob@example.com")
        db.session.rollback()
    assert send_mail(app, later=timedelta(days=1)) == 0
    assert len(outbox(app)) == 1
    assert len(smtp_server.inbox.messages) == 1


def test_smtp_down_then_back_is_retried_with_backoff(app, client, smtp_server):
    smtp_server.stop()
    register(client)
    assert send_mail(app) == 1  # one attempt, refused
    [row] = outbox(app)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in row.last_error
    assert send_mail(app) == 0  # not due yet: backoff
    smtp_server.start()
    assert send_mail(app, later=timedelta(seconds=15)) == 1
    [message] = smtp_server.inbox.messages
    [row] = outbox(app)
    assert (row.status, row.attempts) == ("sent", 2)
    assert message["Message-ID"] == row.message_id


def test_server_refusing_with_451_is_retried_and_the_same_link_sent(app, client, smtp_server):
    register(client)
    smtp_server.inbox.refuse = True
    assert send_mail(app) == 1
    [row] = outbox(app)
    assert row.status == "pending" and "451" in row.last_error
    first_text = row.text_body
    smtp_server.inbox.refuse = False
    assert send_mail(app, later=timedelta(seconds=15)) == 1
    [message] = smtp_server.inbox.messages
    assert token_in(message) in first_text  # written once: the retry carries the same link


def test_display_name_cannot_inject_headers(app, client, smtp_server):
    register(client, display_name="Eve\r\nBcc: victim@example.net\r\nSubject: pwned")
    send_mail(app)
    [envelope] = smtp_server.inbox.envelopes
    [message] = smtp_server.inbox.messages
    assert envelope.rcpt_tos == ["ann@example.com"]
    assert message["Bcc"] is None
    assert message.get_all("Subject") == ["Confirm your email address"]
    assert message["To"].addresses[0].addr_spec == "ann@example.com"
    assert "\n" not in message["To"].addresses[0].display_name


def test_development_without_mail_url_writes_eml_files(database_url, tmp_path):
    from app import create_app

    _empty_tables(database_url)
    app = create_app(make_config(database_url))
    app.instance_path = str(tmp_path)
    client = app.test_client()
    register(client)
    assert send_mail(app) == 1
    [path] = (tmp_path / "mail").glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "ann@example.com"
    assert "/verify-email?token=" in text_part(message)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAIL_URL": "http://mail.example"}, "MAIL_URL must be smtp://"),
        ({"MAIL_URL": "smtp://host:notaport"}, "MAIL_URL has an invalid port"),
        ({"REGISTRATION": "sometimes"}, "REGISTRATION must be one of"),
    ],
)
def test_bad_mail_settings_are_refused(database_url, env, message):
    from app import create_app

    with pytest.raises(ConfigError, match=message):
        create_app(make_config(database_url, **env))


def test_production_needs_mail_url(database_url):
    from app import create_app

    strong = {
        "SECRET_KEY": "Yq3vT9xKp2LmZr8WfB6nHc4JdA7sE1uG",
        "JWT_SECRET_KEY": "kP7wQ2zR9mX4vN8bT3cJ6hL1fD5gS0aY",
        "PUBLIC_BASE_URL": "https://todos.example.com",
        "APP_ENV": "production",
    }
    with pytest.raises(ConfigError, match="needs MAIL_URL"):
        create_app(make_config(database_url, **strong))
    assert create_app(make_config(database_url, MAIL_URL="log", **strong)).config["MAIL_URL"] == "log"


def test_the_worker_command_sends_the_mail(app, client, smtp_server):
    """`flask webhooks drain` (the polling loop's step, run by `make run`) empties the mail outbox too."""
    register(client)
    result = app.test_cli_runner().invoke(args=["webhooks", "drain"])
    assert result.exit_code == 0 and "1 mails attempted." in result.output
    assert len(smtp_server.inbox.messages) == 1


def test_celery_task_sends_the_mail(app, client, smtp_server, monkeypatch):
    """The Celery task drains the outbox (run in-process here, as the worker would)."""
    monkeypatch.setenv("REDIS_URL", REDIS_URL or "redis://127.0.0.1:6379/15")  # the broker is never reached here
    monkeypatch.setenv("DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setenv("MAIL_URL", smtp_server.url)
    import importlib
    import sys

    sys.modules.pop("app.celery_app", None)  # built afresh under this test's settings (as test_celery_app does)
    celery_app = importlib.import_module("app.celery_app")
    register(client)
    celery_app.drain_mail()
    assert len(smtp_server.inbox.messages) == 1


@pytest.mark.slow
def test_concurrent_workers_send_each_mail_once(app, smtp_server):
    """Two workers draining at once (row leases; FOR UPDATE SKIP LOCKED on PostgreSQL) never send a mail twice."""
    import threading

    from app.models import User

    with app.test_request_context("/"):
        user = User(email="u@example.com", password_hash="x")
        db.session.add(user)
        db.session.flush()
        for n in range(12):
            queue_mail("email_change_notice", f"p{n}@example.com", user_id=user.id, new_email="x@example.com")
        db.session.commit()
    threads = [threading.Thread(target=send_mail, args=(app,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = sorted(str(m["To"]) for m in smtp_server.inbox.messages)
    assert received == sorted(f"p{n}@example.com" for n in range(12))
    assert {row.status for row in outbox(app)} == {"sent"}


def test_a_mail_that_cannot_be_written_costs_an_attempt(app, smtp_server):
    with app.test_request_context("/"):
        queue_mail("verify_email", "x@example.com", email="x@example.com")  # no user_id: the writer fails
        db.session.commit()
    assert send_mail(app) == 1
    [row] = outbox(app)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "Internal error while writing the mail.")
    assert smtp_server.inbox.messages == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example", ("mail.example", 25, False, False, None, None)),
        ("smtps://u%40x:p%3Ass@mail.example", ("mail.example", 465, True, False, "u@x", "p:ss")),
        ("smtp://u:p@mail.example:587?starttls=1", ("mail.example", 587, False, True, "u", "p")),
    ],
)
def test_mail_url_forms(url, expected):
    from app.mail.transport import parse_mail_url

    t = parse_mail_url(url)
    assert (t.host, t.port, t.tls, t.starttls, t.username, t.password) == expected
    assert parse_mail_url("log") == "log" and parse_mail_url(None) is None
