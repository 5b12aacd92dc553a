"""The revalidation cache: `GET /todos/<id>` with a current ETag answered 304 from Redis alone.

A revalidation that goes to the database pays for the token's session, the caller's
membership and the todo's version, which is most of what a full GET costs. Once a
conditional GET has been answered from the database, what it proved is kept in Redis,
one entry per fact, so the next revalidation by the same session is one round trip:

    s:<session>        the session is live and belongs to its user
    u:<user>           the user is active
    m:<user>:<list>    the user is a member of the list (any role may read)
    t:<todo>           the todo is in that list and has that ETag

Every key (and the counter and floor) lives under a prefix of its own database
(`database_identity`), so two databases sharing a Redis (a restored backup, a second
deployment) never answer for each other's ids.

Correctness rests on the database, never on the cache: every commit that changes one
of those facts (an ORM change, a bulk UPDATE/DELETE, a cascade) overwrites the entry
with a tombstone after it commits, and an entry is only ever written by a request that
read the database after the last tombstone of that entry. Both come from one counter:
a tombstone takes the next value, a request reads the counter before its database
reads (in the same round trip as the cache check), and may replace a tombstone only
when it read the counter at or after it. Changes whose entries cannot be named (a list
deleted with its todos and members, a user deleted) raise a floor instead: entries
written before it are ignored. Every entry expires after REVALIDATION_CACHE_SECONDS,
which also bounds what a commit whose tombstone could not be written (Redis out of
reach at that moment, or the process killed in between) can leave behind; a process
that failed to write a tombstone raises the floor as soon as Redis answers again.

Only `If-None-Match` reads use it: writes check `If-Match` against the database, and
a request the cache cannot answer takes the database path exactly as before. Without
Redis (REDIS_URL unset) nothing is cached.
"""

import hashlib
import logging
import os
import random
import time

import redis
from flask import current_app, g, request
from sqlalchemy import event as sa_event
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.auth.claims import token_claims
from app.models.base import utcnow
from app.ratelimit import bearer_token
from app.revalidation_marks import HANDLED, PENDING_KEYS, RAISE_FLOOR, member_key, session_key, todo_key, user_key

log = logging.getLogger(__name__)

PREFIX = "todos:reval:"
COUNTER, FLOOR = "counter", "floor"  # under the database's prefix, like every entry
ENDPOINT = "api.todo"  # the routing table's name of GET /todos/<id>

COOL_OFF_SECONDS = 5  # after a Redis error, neither reads nor writes wait on Redis this long

# Every script starts with this: the counter and the floor, both set to the current time in
# microseconds when Redis has no counter (new, or restarted empty), so the counter never
# goes back and whatever was read before such a restart falls below the floor.
CLOCK = """
local function clock()
  local c = redis.call('GET', KEYS[1])
  if c then return tonumber(c), tonumber(redis.call('GET', KEYS[2]) or '0') end
  local t = redis.call('TIME')
  local now = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
  redis.call('SET', KEYS[1], now)
  redis.call('SET', KEYS[2], now)
  return tonumber(now), tonumber(now)
end
local function tick()
  local seq = string.format('%.0f', clock() + 1)
  redis.call('SET', KEYS[1], seq)
  return seq
end
"""

# KEYS: counter, floor, s:<sid>, u:<uid>, t:<tid>; ARGV: uid, prefix of m:<uid>:
# Answers {counter} on a miss, {counter, etag} on a hit.
CHECK = (
    CLOCK
    + """
local counter, floor = clock()
local function fact(key)
  local v = redis.call('GET', key)
  if not v then return nil end
  local kind, seq, rest = string.match(v, '^(%a) (%d+) ?(.*)$')
  if kind ~= 'p' or tonumber(seq) < floor then return nil end
  return rest
end
if fact(KEYS[3]) ~= ARGV[1] or not fact(KEYS[4]) then return {counter} end
local todo = fact(KEYS[5])
if not todo then return {counter} end
local list_id, etag = string.match(todo, '^(%d+) (.+)$')
if not list_id or not fact(ARGV[2] .. list_id) then return {counter} end
return {counter, etag}
"""
)

# KEYS: counter, floor, then the entries; ARGV: the counter read before the database reads,
# then per entry: its value, its TTL.
FILL = (
    CLOCK
    + """
local _, floor = clock()
local seen = tonumber(ARGV[1])
if seen < floor then return 0 end
for i = 3, #KEYS do
  local key = KEYS[i]
  local v = redis.call('GET', key)
  local ok = true
  if v then
    local kind, seq = string.match(v, '^(%a) (%d+)')
    seq = tonumber(seq)
    if kind == 'x' then ok = seen >= seq else ok = seen > seq end
  end
  if ok then redis.call('SET', key, 'p ' .. ARGV[1] .. ' ' .. ARGV[2 * i - 4], 'EX', ARGV[2 * i - 3]) end
end
return 1
"""
)

# KEYS: counter, floor, then the entries to tombstone; ARGV: TTL.
FORGET = (
    CLOCK
    + """
local seq = tick()
for i = 3, #KEYS do redis.call('SET', KEYS[i], 'x ' .. seq, 'EX', ARGV[1]) end
return 1
"""
)

# KEYS: counter, floor. Every entry written before this is ignored from now on.
RAISE = (
    CLOCK
    + """
redis.call('SET', KEYS[2], tick())
return 1
"""
)


def database_identity(engine):
    """A digest that tells this database apart from any other that may share the Redis.

    The URL without its password, and what a copy at the same URL does not keep:
    PostgreSQL's database oid and cluster identifier, or the SQLite file's inode.
    """
    parts = [engine.url.set(password=None).render_as_string(hide_password=False)]
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            parts.append(
                conn.exec_driver_sql("SELECT oid FROM pg_database WHERE datname = current_database()").scalar()
            )
            try:
                parts.append(conn.exec_driver_sql("SELECT system_identifier FROM pg_control_system()").scalar())
            except Exception:  # not granted to every role; the oid and URL still tell databases apart
                conn.rollback()
    elif engine.url.database and os.path.exists(engine.url.database):
        parts.append(os.stat(engine.url.database).st_ino)
    return hashlib.sha256("\n".join(map(str, parts)).encode()).hexdigest()[:16]


class RevalidationCache:
    """The Redis side: check, fill, forget, raise the floor. Redis errors never fail a request.

    `prefix` defaults to PREFIX and the identity of the app's database, read when first needed.
    """

    def __init__(self, client, seconds, prefix=None):
        self.seconds = seconds
        self._prefix = prefix
        self._check = client.register_script(CHECK)
        self._fill = client.register_script(FILL)
        self._forget = client.register_script(FORGET)
        self._raise = client.register_script(RAISE)
        self._owe_floor = False  # a tombstone of this process was lost: raise the floor first
        self._down_until = 0.0

    @property
    def prefix(self):
        if self._prefix is None:
            from app.extensions import db

            self._prefix = f"{PREFIX}{database_identity(db.engine)}:"
        return self._prefix

    def key(self, name):
        """The Redis key of the entry `name` (or of COUNTER, FLOOR) for this database."""
        return self.prefix + name

    def _keys(self, names):
        return [self.key(COUNTER), self.key(FLOOR), *(self.key(name) for name in names)]

    def check(self, session_id, user_id, todo_id):
        """(counter, ETag or None); None when Redis (or the database's identity) is out of reach."""
        if time.monotonic() < self._down_until:
            return None
        try:
            self._settle()
            keys = self._keys([session_key(session_id), user_key(user_id), todo_key(todo_id)])
            found = self._check(keys, [str(user_id), self.key(f"m:{user_id}:")])
        except (redis.RedisError, SQLAlchemyError) as e:
            self._failed(e)
            return None
        counter = int(found[0])
        etag = found[1].decode() if len(found) > 1 else None
        return counter, etag

    def fill(self, seen, facts):
        """Write `facts` ([(key, value, ttl)]) as read from the database after the counter was `seen`."""
        if not facts:
            return
        args = [seen]
        for _, value, ttl in facts:
            args += [value, max(1, int(ttl))]
        try:
            self._fill(self._keys(key for key, _, _ in facts), args)
        except (redis.RedisError, SQLAlchemyError) as e:
            self._failed(e)

    def forget(self, keys, raise_floor=False):
        """Tombstone `keys` (and raise the floor) after a commit changed what they cache."""
        if time.monotonic() < self._down_until:
            self._owe_floor = True  # Redis failed moments ago: do not wait on it, settle later
            return
        try:
            self._settle()
            if raise_floor:
                self._raise(self._keys([]))
            if keys:
                self._forget(self._keys(sorted(keys)), [self.seconds])
        except (redis.RedisError, SQLAlchemyError) as e:
            self._owe_floor = True
            self._failed(e)
            log.warning("revalidation: could not invalidate after a commit (%s); the floor rises when Redis is back", e)

    def _failed(self, error):
        self._down_until = time.monotonic() + COOL_OFF_SECONDS
        log.debug("revalidation: Redis unavailable (%s); not used for %ss", error, COOL_OFF_SECONDS)

    def _settle(self):
        if self._owe_floor:
            self._raise(self._keys([]))
            self._owe_floor = False


def cache():
    """The app's RevalidationCache, or None without Redis."""
    return current_app.extensions.get("revalidation")


def init_revalidation(app):
    """Bind the cache when Redis is configured; answer cached revalidations before any view runs."""
    url, seconds = app.config["REDIS_URL"], app.config["REVALIDATION_CACHE_SECONDS"]
    if not url or seconds <= 0:
        return
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    app.extensions["revalidation"] = RevalidationCache(client, seconds)
    app.before_request(answer_from_cache)


def answer_from_cache():
    """A 304 for `GET /todos/<id>` whose If-None-Match holds the cached ETag, else nothing.

    Runs after the rate limiter (a 304 counts like any request) and the request id; the
    token is verified here exactly as flask-jwt-extended would (signature, expiry, an
    access token); the session, user and membership are the cache's entries. A personal
    access token is no JWT: it never takes this path, so its revocation and its scopes are
    always checked against the database (app.personal_tokens).
    """
    if request.method != "GET" or not request.if_none_match or request.endpoint != ENDPOINT:
        return None
    token = bearer_token()
    claims = token_claims(token) if token else None
    if claims is None or claims.get("type") != "access" or "sid" not in claims:
        return None
    found = cache().check(claims["sid"], claims["sub"], request.view_args["todo_id"])
    if found is None:
        return None
    g.revalidation_seen, etag = found
    if etag is None or not request.if_none_match.contains_weak(etag.strip('"')):
        return None
    response = current_app.response_class(status=304)
    response.headers["ETag"] = etag
    return response


def remember(user, session, list_id, todo_id, etag):
    """After the database answered a revalidation: cache what it proved, for the next one."""
    seen = g.get("revalidation_seen")
    found = cache()
    if seen is None or found is None or session is None:  # a personal token: never cached, never answered here
        return
    session_left = (session.expires_at - utcnow()).total_seconds()
    found.fill(
        seen,
        [
            (session_key(session.id), str(user.id), min(_lifetime(found.seconds), session_left)),
            (user_key(user.id), "", _lifetime(found.seconds)),
            (member_key(user.id, list_id), "", _lifetime(found.seconds)),
            (todo_key(todo_id), f"{list_id} {etag}", _lifetime(found.seconds)),
        ],
    )


def _lifetime(seconds):
    """75-100% of `seconds`, at random: entries cached together (a page of todos) expire apart,
    so their database revalidations are spread out instead of arriving in one burst."""
    return seconds * random.uniform(0.75, 1.0)


# --- invalidation: what each commit changed -------------------------------------------------


def _watched():
    from app.models import AuthSession, Membership, Todo, TodoList, User

    return AuthSession, Membership, Todo, TodoList, User


def _changed(obj, *names):
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _after_flush(session, flush_context):
    AuthSession, Membership, Todo, TodoList, User = _watched()
    keys = session.info.setdefault(PENDING_KEYS, set())
    for obj in session.deleted:
        if isinstance(obj, Todo):
            keys.add(todo_key(obj.id))
        elif isinstance(obj, Membership):
            keys.add(member_key(obj.user_id, obj.list_id))
        elif isinstance(obj, AuthSession):
            keys.add(session_key(obj.id))
        elif isinstance(obj, (User, TodoList)):  # cascades reach rows this session never loaded
            session.info[RAISE_FLOOR] = True
    for obj in session.dirty:
        if isinstance(obj, Todo) and session.is_modified(obj):
            keys.add(todo_key(obj.id))
        elif isinstance(obj, Membership) and session.is_modified(obj):
            keys.add(member_key(obj.user_id, obj.list_id))
            if _changed(obj, "user_id", "list_id"):
                session.info[RAISE_FLOOR] = True
        elif isinstance(obj, AuthSession) and _changed(obj, "revoked_at", "expires_at", "user_id"):
            keys.add(session_key(obj.id))
        elif isinstance(obj, User) and _changed(obj, "is_active", "role"):
            keys.add(user_key(obj.id))


def _do_orm_execute(state):
    """A bulk UPDATE or DELETE of a watched table raises the floor, unless its caller names the entries."""
    if not (state.is_update or state.is_delete) or state.execution_options.get(HANDLED):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and table.name in _WATCHED_TABLES:
        state.session.info[RAISE_FLOOR] = True


_WATCHED_TABLES = {"todos", "memberships", "auth_sessions", "users", "todo_lists"}


def _after_commit(session):
    # Nothing is dropped on rollback: a later commit of the same session only tombstones a
    # few entries more than it needs to, which costs one database revalidation each.
    keys, raise_floor = session.info.pop(PENDING_KEYS, None), session.info.pop(RAISE_FLOOR, False)
    if not keys and not raise_floor:
        return
    from flask import has_app_context

    found = cache() if has_app_context() else None
    if found is not None:
        found.forget(keys or (), raise_floor)


sa_event.listen(Session, "after_flush", _after_flush)
sa_event.listen(Session, "do_orm_execute", _do_orm_execute)
sa_event.listen(Session, "after_commit", _after_commit)
