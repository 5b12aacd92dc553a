"""The revalidation cache: a repeated If-None-Match on GET /todos/<id> is answered from Redis,
and nothing a commit changes is ever answered from it afterwards."""

from urllib.parse import urlsplit

import pytest
import redis

from app.extensions import db
from app.revalidation import PREFIX, RevalidationCache, todo_key
from ops.proxy import TcpProxy
from tests.conftest import REDIS_URL, make_config
from tests.factories import make_cast
from tests.sql import count_statements

pytestmark = pytest.mark.redis


@pytest.fixture
def store():
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(PREFIX + "*"):
        client.delete(key)
    yield client
    client.close()


@pytest.fixture
def app_config(database_url, store):
    return make_config(database_url, REDIS_URL=REDIS_URL)


@pytest.fixture
def cast(app, auth):
    return make_cast(app, auth)


def todo_path(cast):
    return f"/api/v1/todos/{cast.todo_id}"


def revalidate(client, cast, who, etag):
    return client.get(todo_path(cast), headers={**who.headers, "If-None-Match": etag})


def primed(app, client, cast, who):
    """The current ETag, after one revalidation through the database filled the cache."""
    etag = client.get(todo_path(cast), headers=who.headers).headers["ETag"]
    assert revalidate(client, cast, who, etag).status_code == 304
    with count_statements(app) as statements:
        r = revalidate(client, cast, who, etag)
    assert r.status_code == 304 and statements == [], statements
    return etag


def test_second_revalidation_runs_no_sql_and_answers_like_the_first(app, client, cast):
    etag = client.get(todo_path(cast), headers=cast.owner.headers).headers["ETag"]
    with count_statements(app) as statements:
        first = revalidate(client, cast, cast.owner, etag)
    assert first.status_code == 304 and len(statements) == 2  # session + version, as without the cache
    with count_statements(app) as statements:
        second = revalidate(client, cast, cast.owner, etag)
    assert second.status_code == 304 and statements == []
    same = {"ETag", "Cache-Control", "Vary", "X-Content-Type-Options", "RateLimit-Limit"}
    assert {k: v for k, v in first.headers if k in same} == {k: v for k, v in second.headers if k in same}
    assert second.data == b"" and second.headers["ETag"] == etag


def test_a_different_etag_is_still_a_full_answer(app, client, cast):
    primed(app, client, cast, cast.owner)
    r = revalidate(client, cast, cast.owner, '"something-else"')
    assert r.status_code == 200 and r.json["id"] == cast.todo_id


def test_each_fact_is_proved_per_session(app, client, cast):
    primed(app, client, cast, cast.owner)
    etag = client.get(todo_path(cast), headers=cast.viewer.headers).headers["ETag"]
    with count_statements(app) as statements:
        assert revalidate(client, cast, cast.viewer, etag).status_code == 304
    assert statements  # the viewer's session and membership were never proved: the database answers


@pytest.mark.parametrize(
    "change",
    [
        lambda c, cast: c.patch(todo_path(cast), headers=cast.editor.headers, json={"title": "New"}),
        lambda c, cast: c.patch(todo_path(cast), headers=cast.editor.headers, json={"tags": ["x"]}),
        lambda c, cast: c.patch(todo_path(cast), headers=cast.editor.headers, json={"completed": True}),
    ],
    ids=["title", "tags", "completed"],
)
def test_a_change_answers_200_with_the_new_version(app, client, cast, change):
    etag = primed(app, client, cast, cast.owner)
    assert change(client, cast).status_code == 200
    r = revalidate(client, cast, cast.owner, etag)
    assert r.status_code == 200 and r.headers["ETag"] != etag
    assert revalidate(client, cast, cast.owner, r.headers["ETag"]).status_code == 304


def test_a_change_through_a_share_link_is_seen(app, client, cast):
    etag = primed(app, client, cast, cast.owner)
    link = client.post(f"/api/v1/lists/{cast.list_id}/share-links", headers=cast.owner.headers, json={"role": "editor"})
    shared = urlsplit(link.json["url"]).path
    assert client.patch(f"{shared}/{cast.todo_id}", json={"title": "Via link"}).status_code == 200
    assert revalidate(client, cast, cast.owner, etag).status_code == 200


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda c, cast: c.delete(todo_path(cast), headers=cast.editor.headers), 404),
        (
            lambda c, cast: (
                c.patch(todo_path(cast), headers=cast.editor.headers, json={"completed": True}),
                c.delete(f"/api/v1/lists/{cast.list_id}/todos?completed=true", headers=cast.editor.headers),
            )[-1],
            404,
        ),
        (lambda c, cast: c.delete(f"/api/v1/lists/{cast.list_id}", headers=cast.owner.headers), 404),
        (
            lambda c, cast: c.delete(
                f"/api/v1/lists/{cast.list_id}/members/{cast.viewer.id}", headers=cast.owner.headers
            ),
            404,
        ),
        (lambda c, cast: c.post("/api/v1/auth/logout", headers=cast.viewer.headers), 401),
        (lambda c, cast: c.post("/api/v1/auth/logout-all", headers=cast.viewer.headers), 401),
        (
            lambda c, cast: c.patch(
                f"/api/v1/users/{cast.viewer.id}", headers=cast.admin.headers, json={"is_active": False}
            ),
            401,
        ),
    ],
    ids=["todo-deleted", "todo-cleared", "list-deleted", "member-removed", "logout", "logout-all", "deactivated"],
)
def test_a_lost_todo_or_session_answers_as_the_database_would(app, client, cast, change, status):
    etag = primed(app, client, cast, cast.viewer)
    assert change(client, cast).status_code in (200, 204)
    r = revalidate(client, cast, cast.viewer, etag)
    assert r.status_code == status and r.mimetype == "application/problem+json", r.data


def test_a_refresh_token_is_not_an_access_token(app, client, cast):
    etag = primed(app, client, cast, cast.owner)
    r = client.get(todo_path(cast), headers={"Authorization": f"Bearer {cast.owner.refresh}", "If-None-Match": etag})
    assert r.status_code == 401


def test_a_reader_that_read_before_a_change_cannot_cache_the_old_answer(app, store):
    """A tombstone is replaced only by a request that read the counter at or after it."""
    with app.app_context():
        cache = app.extensions["revalidation"]
        seen_before = cache.check(1, 1, 7)[0]
        cache.forget([todo_key(7)])  # a commit changed todo 7 meanwhile
        cache.fill(seen_before, [(todo_key(7), '1 "old"', 60)])
        assert store.get(cache.key(todo_key(7))).startswith(b"x ")
        seen_after = cache.check(1, 1, 7)[0]
        cache.fill(seen_after, [(todo_key(7), '1 "new"', 60)])
        assert store.get(cache.key(todo_key(7))).endswith(b'1 "new"')
        cache.fill(seen_before, [(todo_key(7), '1 "old"', 60)])  # an older reader never overwrites a newer one
        assert store.get(cache.key(todo_key(7))).endswith(b'1 "new"')


def test_an_invalidation_lost_to_a_redis_outage_raises_the_floor(app, client, cast, store):
    """A commit whose tombstone cannot be written leaves nothing trusted once Redis is back."""
    etag = primed(app, client, cast, cast.owner)
    port = urlsplit(REDIS_URL).port or 6379
    outage = TcpProxy(port)
    try:
        with app.app_context():
            cache = app.extensions["revalidation"]
            via_proxy = redis.Redis.from_url(REDIS_URL.replace(f":{port}", f":{outage.port}"), socket_timeout=0.5)
            app.extensions["revalidation"] = cut = RevalidationCache(via_proxy, cache.seconds)
        outage.cut()
        assert client.patch(todo_path(cast), headers=cast.owner.headers, json={"title": "Unseen"}).status_code == 200
        assert cut._owe_floor  # noqa: SLF001
        # The stale entry is still there; a process that lost a tombstone must not let it answer.
        assert store.get(cut.key(todo_key(cast.todo_id))).startswith(b"p ")
        # Meanwhile the cache is skipped rather than waited on, and the database answers.
        r = revalidate(client, cast, cast.owner, etag)
        assert r.status_code == 200 and r.json["title"] == "Unseen"
        outage.restore()
        cut._down_until = 0.0  # noqa: SLF001 - the cool-off has passed
        r = revalidate(client, cast, cast.owner, etag)
        assert r.status_code == 200 and r.json["title"] == "Unseen"
        assert not cut._owe_floor  # noqa: SLF001
    finally:
        outage.close()


def test_without_redis_nothing_is_cached(database_url):
    from app import create_app

    app = create_app(make_config(database_url))
    assert "revalidation" not in app.extensions
    with app.app_context():
        db.session.remove()


def test_what_was_read_before_redis_restarted_empty_is_never_trusted(app, store):
    """The counter restarts at the current time in microseconds, and the floor with it."""
    with app.app_context():
        cache = app.extensions["revalidation"]
        seen_before = cache.check(1, 1, 7)[0]
        for key in store.scan_iter(PREFIX + "*"):  # Redis restarted with nothing kept
            store.delete(key)
        cache.fill(seen_before, [(todo_key(7), '1 "old"', 60)])
        assert store.get(cache.key(todo_key(7))) is None
        seen_after = cache.check(1, 1, 7)[0]
        assert seen_after > seen_before
        cache.forget([todo_key(7)])
        assert int(store.get(cache.key(todo_key(7))).split()[1]) == seen_after + 1


def test_commits_during_the_cool_off_do_not_prolong_it(app, store):
    with app.app_context():
        cache = app.extensions["revalidation"]
        cache._failed(redis.ConnectionError("gone"))  # noqa: SLF001
        ends = cache._down_until  # noqa: SLF001
        cache.forget([todo_key(7)])
        assert cache._owe_floor and cache._down_until == ends  # noqa: SLF001
        assert cache.check(1, 1, 7) is None  # still cooling off: Redis is not asked
        cache._down_until = 0.0  # noqa: SLF001 - the cool-off has passed
        floor_before = int(store.get(cache.key("floor")) or 0)
        assert cache.check(1, 1, 7) is not None
        assert int(store.get(cache.key("floor"))) > floor_before and not cache._owe_floor  # noqa: SLF001


def test_entries_cached_together_expire_apart(app, client, cast, store):
    primed(app, client, cast, cast.owner)
    seconds = app.config["REVALIDATION_CACHE_SECONDS"]
    ttls = [store.ttl(key) for key in store.scan_iter(PREFIX + "*:[sumt]:*") if store.get(key).startswith(b"p ")]
    assert len(ttls) == 4 and all(0.75 * seconds - 1 <= t <= seconds for t in ttls), ttls
    assert len(set(ttls)) > 1, ttls  # four draws from 75 seconds: equal only by a one-in-400,000 chance


def test_two_databases_sharing_a_redis_never_answer_for_each_other(store, tmp_path):
    """A restored backup (a copy of the database) must not be answered 304 from the original's entries."""
    import sqlite3

    from app import create_app
    from tests.conftest import AuthActions

    original = tmp_path / "original.sqlite3"
    first = create_app(make_config(f"sqlite:///{original}", REDIS_URL=REDIS_URL))
    with first.app_context():
        db.create_all()
    cast = make_cast(first, AuthActions(first))
    client = first.test_client()
    backup = tmp_path / "backup.sqlite3"
    with sqlite3.connect(original) as source, sqlite3.connect(backup) as target:
        source.backup(target)  # the backup keeps the todo as it is now
    r = client.patch(todo_path(cast), headers=cast.owner.headers, json={"title": "Changed after the backup"})
    etag = primed(first, client, cast, cast.owner)
    assert r.status_code == 200 and etag == r.headers["ETag"]
    restored = create_app(make_config(f"sqlite:///{backup}", REDIS_URL=REDIS_URL))
    r = revalidate(restored.test_client(), cast, cast.owner, etag)
    assert r.status_code == 200 and r.json["title"] != "Changed after the backup"
    for app in (first, restored):
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
