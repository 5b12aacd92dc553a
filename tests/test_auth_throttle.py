"""Throttling of failed logins per email and per client address."""

import pytest

from app import create_app
from tests.conftest import PASSWORD, REDIS_URL, make_config
from tests.test_auth import API, assert_problem


@pytest.fixture
def app_config(database_url):
    return make_config(database_url, RATELIMIT_ENABLED=True, RATE_LIMIT_LOGIN="3 per minute")


def attempt(client, email, password="wrong-password", addr="10.0.0.1"):
    return client.post(
        f"{API}/auth/login", json={"email": email, "password": password}, environ_base={"REMOTE_ADDR": addr}
    )


def assert_throttled(response):
    body = assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) >= 1
    return body


def test_failures_for_one_email_are_throttled_from_any_address(client, auth):
    user = auth.user()
    for n in range(3):
        assert attempt(client, user.email, addr=f"10.0.1.{n}").status_code == 401
    # The limit is reached: even the right password, from a new address, waits.
    assert_throttled(attempt(client, user.email, PASSWORD, addr="10.0.1.99"))
    assert_throttled(attempt(client, user.email.upper(), addr="10.0.1.98"))
    # Another account is not affected.
    other = auth.user()
    assert attempt(client, other.email, PASSWORD, addr="10.0.1.97").status_code == 200


def test_failures_from_one_address_are_throttled_across_emails(client, auth):
    user = auth.user()
    for n in range(3):
        assert attempt(client, f"guess{n}@example.com", addr="10.0.2.1").status_code == 401
    assert_throttled(attempt(client, user.email, PASSWORD, addr="10.0.2.1"))
    assert attempt(client, user.email, PASSWORD, addr="10.0.2.2").status_code == 200


def test_successful_logins_do_not_count(client, auth):
    user = auth.user()
    for _ in range(6):
        assert attempt(client, user.email, PASSWORD).status_code == 200


def test_validation_errors_do_not_count(client, auth):
    for _ in range(5):
        assert_problem(client.post(f"{API}/auth/login", json={"email": "a@example.com"}), 422)
    assert attempt(client, "a@example.com").status_code == 401


def test_unknown_and_known_emails_throttle_alike(client, auth):
    user = auth.user()
    for n in range(3):
        attempt(client, user.email, addr=f"10.0.3.{n}")
        attempt(client, "ghost@example.com", addr=f"10.0.4.{n}")
    known = assert_throttled(attempt(client, user.email, addr="10.0.3.50"))
    unknown = assert_throttled(attempt(client, "ghost@example.com", addr="10.0.4.50"))
    known.pop("request_id"), unknown.pop("request_id")
    assert known == unknown


@pytest.mark.redis
def test_throttle_is_shared_by_instances_through_redis(auth, database_url):
    import redis

    config = make_config(
        database_url,
        RATELIMIT_ENABLED=True,
        RATE_LIMIT_LOGIN="3 per minute",
        REDIS_URL=REDIS_URL,
    )
    connection = redis.Redis.from_url(REDIS_URL)

    def forget():
        for pattern in ("*shared-throttle@example.com*", "*10.0.5.*"):
            for key in connection.scan_iter(pattern):
                connection.delete(key)

    forget()
    email = "shared-throttle@example.com"
    first = create_app(config).test_client()
    for n in range(3):
        assert attempt(first, email, addr=f"10.0.5.{n}").status_code == 401
    # A second instance starts with its own limiter storage object, and still sees the count.
    second = create_app(config).test_client()
    assert_throttled(attempt(second, email, addr="10.0.5.9"))
    forget()
