"""Fixtures: a fresh app per test (TESTING off), its client, and an auth helper."""

import functools
import os
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, make_url, text
from werkzeug.exceptions import HTTPException

from app import create_app
from app.auth import passwords
from app.extensions import db
from tests.engines import install_shared_engines, own_engines

PASSWORD = "correct-horse-battery"


# Under pytest-xdist each worker ("gw0", "gw1", ...) has a database and a Redis database of
# its own, so that no worker empties or counts what another one uses.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
WORKER_NUMBER = int(WORKER[2:]) if WORKER.startswith("gw") else 0


def _worker_redis_url(url):
    """Worker n uses the Redis database n below TEST_REDIS_URL's (15, 14, ... by default)."""
    parts = urlsplit(url)
    base = int(parts.path.lstrip("/") or 0)
    number = base - WORKER_NUMBER
    if number < 0:
        raise pytest.UsageError(f"{WORKER}: no Redis database {base} - {WORKER_NUMBER}; use fewer workers")
    return urlunsplit(parts._replace(path=f"/{number}"))


def _redis_url():
    url = _worker_redis_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        return url
    except Exception:
        return None


def _admin_engine(url):
    """An engine on the server's `postgres` database, in autocommit (CREATE/DROP DATABASE)."""
    server = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)).set(database="postgres")
    return create_engine(server, isolation_level="AUTOCOMMIT")


def _worker_pg_url(url):
    """Worker n runs on `<TEST_DATABASE_URL's database>_gw<n>`, made empty now, dropped at the end."""
    if not url or not WORKER:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{WORKER}"
    engine = _admin_engine(url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def _compile_each_url_builder_once():
    """Every test builds an app, and Werkzeug compiles two URL builders per route for each
    with Python's compiler: about 35 ms of the 45 ms a `create_app` costs here. A builder's
    code depends only on its rule's text, parsed trace, defaults and converters (it reads
    the converters through `self` when called), so the suite compiles each one once and
    binds it to every app's rule as Werkzeug does. Test-only: a server builds its app once.
    Left alone if Werkzeug's internals differ from what this expects."""
    from werkzeug.routing.rules import Rule

    original = getattr(Rule, "_compile_builder", None)
    if original is None or "_trace" not in Rule.compile.__code__.co_names:
        return
    compiled = {}

    def compile_builder(self, append_unknown=True):
        converters = tuple((name, type(c), vars(c).get("regex")) for name, c in sorted(self._converters.items()))
        defaults = repr(sorted((self.defaults or {}).items()))
        key = (self.rule, tuple(self._trace), defaults, converters, append_unknown)
        if key not in compiled:
            compiled[key] = original(self, append_unknown)
        return compiled[key]

    Rule._compile_builder = compile_builder


_compile_each_url_builder_once()


def _parse_each_rule_once():
    """Werkzeug parses each rule's text again for every app, matching it piece by piece (about
    half of what a `create_app` costs once the builders above are shared). What a parse makes
    depends only on the text and the map's converter classes: the rule's parts (read, never
    changed), its trace, its arguments and its converters, made through `get_converter`. The
    suite parses each text once and, for every later rule, replays that: the same parts and
    trace, and converters of the rule's own map. Left alone if Werkzeug's internals differ."""
    from werkzeug.routing.rules import Rule

    original = getattr(Rule, "_parse_rule", None)
    names = set(getattr(getattr(original, "__code__", None), "co_names", ()))
    if getattr(original, "parsed_once", False) or not {"_trace", "get_converter"} <= names:
        return  # done already (this file is loaded twice: as a plugin and as tests.conftest), or not as expected
    parsed = {}

    def parse_rule(self, rule):
        key = (rule, tuple(sorted(self.map.converters.items(), key=lambda item: item[0])))
        if key not in parsed:
            calls, trace_from = [], len(self._trace)
            make_converter = self.get_converter

            def get_converter(variable_name, converter_name, args, kwargs):
                calls.append((variable_name, converter_name, args, kwargs))
                return make_converter(variable_name, converter_name, args, kwargs)

            self.get_converter = get_converter
            try:
                parts = list(original(self, rule))
            finally:
                del self.get_converter
            parsed[key] = (parts, self._trace[trace_from:], calls)
            return parts
        parts, trace, calls = parsed[key]
        for variable_name, converter_name, args, kwargs in calls:
            self._converters[variable_name] = self.get_converter(variable_name, converter_name, args, kwargs)
            self.arguments.add(variable_name)
        self._trace.extend(trace)
        return list(parts)

    parse_rule.parsed_once = True
    Rule._parse_rule = parse_rule


_parse_each_rule_once()


install_shared_engines()


@pytest.fixture(autouse=True)
def _own_engine(request):
    """A test marked `own_engine` (one that changes its engine for good, such as removing its
    listeners) gives each of its apps an engine of its own, as a server would have."""
    if not request.node.get_closest_marker("own_engine"):
        yield
        return
    with own_engines():
        yield


REDIS_URL = _redis_url()
PG_URL = _worker_pg_url(os.environ.get("TEST_DATABASE_URL"))


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL")
    skip_redis = pytest.mark.skip(reason="needs Redis: none answered at TEST_REDIS_URL or 127.0.0.1:6379")
    for item in items:
        if "postgres" in item.keywords and not PG_URL:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not REDIS_URL:
            item.add_marker(skip_redis)
    # The tests that start servers or run for seconds first: spread over pytest-xdist's workers
    # from the start, none of them is left to run alone at the end. Stable: the rest keep their order.
    items.sort(key=lambda item: "slow" not in item.keywords)


def pytest_unconfigure(config):
    """A worker drops the PostgreSQL database it made for itself."""
    if PG_URL and WORKER:
        engine = _admin_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(PG_URL).database}" WITH (FORCE)'))
        engine.dispose()


def pytest_sessionfinish(session, exitstatus):
    """With FAIL_ON_SKIP=1 (CI on PostgreSQL), any skipped test fails the run."""
    if os.environ.get("FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        reporter.write_line(f"FAIL_ON_SKIP: {skipped} test(s) skipped", red=True)
        session.exitstatus = 1


# Argon2id at its lowest cost for the hundreds of users the tests make in-process (most of
# the suite's CPU time at OWASP's parameters). Live servers, and tests marked
# `real_password_hashing`, hash as production does.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
CHEAP_DUMMY_HASH = CHEAP_HASHER.hash("not-a-real-password-for-timing")


@pytest.fixture(autouse=True)
def _cheap_password_hashing(request, monkeypatch):
    if request.node.get_closest_marker("real_password_hashing"):
        return
    monkeypatch.setattr(passwords, "_hasher", CHEAP_HASHER)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", CHEAP_DUMMY_HASH)


@pytest.fixture(autouse=True)
def _fresh_wake_up_state(monkeypatch):
    """Each test wakes the workers as a fresh process would. A process keeps a drain's wake-up
    window and a broker's cool-off in memory, and one left by an earlier test of this pytest
    process (a window whose follow-up went to a queue this test empties, or the cool-off after
    an unreachable broker) would hold back this test's wake-ups."""
    from app.mail import outbox
    from app.webhooks import broker

    monkeypatch.setattr(broker, "_window_ends", 0.0)
    monkeypatch.setattr(broker, "_follow_up_sent", False)
    monkeypatch.setattr(broker, "_unreachable_until", 0.0)
    monkeypatch.setattr(outbox, "_unreachable_until", 0.0)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """The test database: TEST_DATABASE_URL, else a SQLite file; schema made once."""
    url = PG_URL or "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "t" * 32, "JWT_SECRET_KEY": "j" * 32})
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()
    return url


@functools.cache
def _emptying_engine(url):
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _empty_tables(url):
    engine = _emptying_engine(url)
    with engine.begin() as conn:
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
    engine.dispose()  # no connection of the suite's is left open on the database under test


def make_config(database_url, **overrides):
    """The settings every test app starts from: TESTING stays off, as in production."""
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "JWT_SECRET_KEY": "test-jwt-secret-" + "y" * 32,
        "RATELIMIT_ENABLED": False,
        "TESTING": False,
    }
    config.update(overrides)
    return config


@pytest.fixture
def app_config(database_url):
    """Override per test with `@pytest.mark.parametrize("app_config", ...)` or by extending it."""
    return make_config(database_url)


@pytest.fixture
def app(app_config, database_url):
    _empty_tables(database_url)
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class AuthActions:
    """Register and log in users through the API's own endpoints; hand back their headers."""

    def __init__(self, app):
        self.app = app
        # A cookie-less client, so that tests authenticate only with the headers they send.
        self.client = app.test_client(use_cookies=False)
        self.count = 0

    def _post(self, resource, path, body):
        """Run `resource`'s POST on `body` in a request to `path`, as its route would, without the WSGI round
        trip: the suite makes thousands of users, and the HTTP of sign-up and login has tests of its own."""
        with self.app.test_request_context(path, method="POST", json=body, headers={"User-Agent": "pytest"}):
            try:
                answer = resource().post()
            except HTTPException as error:
                raise AssertionError(f"{path}: {error.code} {getattr(error, 'data', error.description)}") from None
            return answer[0] if isinstance(answer, tuple) else answer.get_json()

    def user(self, email=None, password=PASSWORD, role="user", display_name=None):
        from app.resources.auth import Register

        self.count += 1
        email = email or f"user{self.count}@example.com"
        body = {"email": email, "password": password}
        if display_name:
            body["display_name"] = display_name
        user_id = self._post(Register, "/api/v1/auth/register", body)["id"]
        if role != "user":
            with self.app.app_context():
                from app.models import User

                db.session.get(User, user_id).role = role
                db.session.commit()
        tokens = self.login(email, password)
        return SimpleNamespace(
            id=user_id,
            email=email,
            password=password,
            access=tokens["access_token"],
            refresh=tokens["refresh_token"],
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )

    def login(self, email, password=PASSWORD):
        from app.resources.auth import Login

        return self._post(Login, "/api/v1/auth/login", {"email": email, "password": password})


@pytest.fixture
def auth(app, client):
    return AuthActions(app)


@pytest.fixture
def live_server(database_url):
    """Start the real service under Gunicorn: `live_server(workers=2, env=None)`; all stop at teardown.

    The tables are emptied first, as the `app` fixture does (use both to seed data through `auth`).
    """
    from tests.live import start_server

    _empty_tables(database_url)
    servers = []

    def start(workers=2, env=None):
        server = start_server(database_url, workers=workers, env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server():
    """A running SMTP server (aiosmtpd on a free port); `.inbox.messages` is what it received."""
    from tests.smtp_server import SMTPServer

    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_config(database_url, smtp_server):
    """App settings that send mail to the test SMTP server."""
    return make_config(database_url, MAIL_URL=smtp_server.url, MAIL_FROM="Todos <todos@example.com>")
