"""Idempotency-Key on POST: a retried request replays the first response instead of running twice."""

import hashlib
import logging
import re
from contextlib import contextmanager
from datetime import timedelta
from functools import wraps

import click
import orjson
from flask import Response, current_app, g, request
from flask.cli import AppGroup
from flask_jwt_extended import get_current_user
from flask_restful import unpack
from marshmallow import ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from app.errors import PROBLEM_MIMETYPE, abort
from app.extensions import db
from app.http import JSON_CONTENT_TYPE, output_json
from app.models import IdempotencyKey, ShareLink
from app.models.base import utcnow

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEEP = timedelta(hours=24)
# A first request still running after this long is presumed dead (Gunicorn kills a worker
# after 30 s); a retry may then run again.
IN_FLIGHT = timedelta(seconds=60)
_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")
# Stands for the caller's share-link token in a stored response. It cannot come from a stored
# body's own text: orjson writes a control character as an escape, never raw.
TOKEN_SLOT = "\x01token\x01"
_SECRETS = "idempotency_secrets"  # g: secrets the response shows once, never stored

idempotency_cli = AppGroup("idempotency", help="Maintain stored Idempotency-Key responses.")


def idempotent(fn):
    """Honour Idempotency-Key on a Resource's POST; apply under jwt_required (method_decorators)."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return fn(*args, **kwargs)
        if not _KEY.match(key):
            abort(400, f"{HEADER} must be 1 to 255 printable ASCII characters.", errors={HEADER: ["Invalid value."]})
        scope = request_scope()
        if scope is None:
            return fn(*args, **kwargs)
        digest = request_hash()
        earlier = _claim(scope, key, digest)
        if earlier is not None:
            return _answer(earlier, digest)
        try:
            response = _render(fn(*args, **kwargs))
        except (HTTPException, ValidationError) as e:
            response = current_app.make_response(current_app.handle_user_exception(e))
        except Exception:
            _release(scope, key)
            raise
        if response.status_code >= 500 or response.status_code == 429:
            _release(scope, key)
        else:
            _store(scope, key, response)
        return response

    wrapper.__idempotent__ = True
    if hasattr(fn, "__apidoc__"):  # @idempotent above @doc: record it there too
        wrapper.__apidoc__ = {**fn.__apidoc__, "idempotent": True}
    return wrapper


def request_scope():
    """Whose key this is: `link:<id>` for share-link requests, `user:<id>` with a token, else None."""
    link = g.get("share_link")
    if link is not None:
        return f"link:{link.id}"
    token = (request.view_args or {}).get("token")
    if token is not None:
        from app.sharing import hash_token

        link_id = db.session.execute(select(ShareLink.id).where(ShareLink.token_hash == hash_token(token))).scalar()
        return f"link:{link_id}" if link_id is not None else None
    try:
        user = get_current_user()
    except RuntimeError:  # no verified token: anonymous requests are not deduplicated
        return None
    return f"user:{user.id}" if user is not None else None


def request_hash():
    """SHA-256 of method, path and the body (canonical JSON when it parses, else the raw bytes)."""
    raw = request.get_data(cache=True)
    try:
        body = orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS) if raw else b""
    except orjson.JSONDecodeError:
        body = raw
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + body).hexdigest()


@contextmanager
def _keeping_loaded_objects():
    """Commit without expiring what the request already loaded (the current user, for one)."""
    session = db.session()
    previous, session.expire_on_commit = session.expire_on_commit, False
    try:
        yield session
    finally:
        session.expire_on_commit = previous


def _claim(scope, key, digest):
    """Insert the in-flight row in its own transaction; return the earlier row if the key is taken."""
    with _keeping_loaded_objects() as session:
        for _ in range(2):
            row = session.get(IdempotencyKey, (scope, key), populate_existing=True)
            if row is not None and not _expired(row):
                session.commit()
                return row
            if row is not None:  # lazy clean-up: an expired or abandoned key starts afresh
                session.delete(row)
                session.flush()
            session.add(IdempotencyKey(scope=scope, key=key, request_hash=digest, created_at=utcnow()))
            try:
                session.commit()
                return None
            except IntegrityError:  # a concurrent request with the same key inserted first
                session.rollback()
        abort(409, "A request with this Idempotency-Key is in progress; retry later.")


def _expired(row):
    age = utcnow() - row.created_at
    return age > KEEP or (row.status is None and age > IN_FLIGHT)


def _answer(row, digest):
    """Replay the stored response, or explain why the key cannot be used now."""
    if row.request_hash != digest:
        abort(
            422,
            f"This {HEADER} was already used with a different request.",
            errors={HEADER: ["Already used with a different method, path or body."]},
        )
    if row.status is None:
        abort(409, "A request with this Idempotency-Key is in progress; retry later.")
    mimetype = JSON_CONTENT_TYPE if row.status < 400 else PROBLEM_MIMETYPE
    response = Response(_restored(row.body) or b"", status=row.status, content_type=mimetype)
    if row.location:
        response.headers["Location"] = _restored(row.location)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _render(rv):
    """Turn a Resource's return value into the response flask-restful would send."""
    if isinstance(rv, Response):
        return rv
    data, code, headers = unpack(rv)
    return output_json(data, code, headers)


def shown_once(secret):
    """Keep `secret` out of the stored replay: a string of the response that holds it is replayed as null."""
    g.setdefault(_SECRETS, []).append(secret)
    return secret


def _scrub(value, token, secrets):
    if isinstance(value, dict):
        return {name: _scrub(item, token, secrets) for name, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, token, secrets) for item in value]
    if isinstance(value, str):
        if any(secret in value for secret in secrets):
            return None
        return value.replace(token, TOKEN_SLOT) if token else value
    return value


def storable(response):
    """(body, location) of a response as stored for replays, with no credential in them.

    A share-link token in the path (the caller's credential) is stored as TOKEN_SLOT and
    put back from the replaying request's own path; a secret shown once (`shown_once`) is
    replayed as null: only its hash is kept anywhere.
    """
    body, location = response.get_data(), response.headers.get("Location")
    token, secrets = (request.view_args or {}).get("token"), g.get(_SECRETS, [])
    if not token and not secrets:
        return body, location
    if body:
        body = orjson.dumps(_scrub(orjson.loads(body), token, secrets))
    if location:
        location = _scrub(location, token, secrets)
    return body, location


def _restored(text):
    token = (request.view_args or {}).get("token")
    if text is None or not token:
        return text
    if isinstance(text, bytes):
        return text.replace(orjson.dumps(TOKEN_SLOT)[1:-1], token.encode())
    return text.replace(TOKEN_SLOT, token)


def _store(scope, key, response):
    """Keep the response for replays; the handler has committed (or abandoned) its own work."""
    try:
        body, location = storable(response)
        db.session.rollback()
        db.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key, IdempotencyKey.status.is_(None))
            .values(status=response.status_code, body=body, location=location)
        )
        db.session.commit()
    except Exception:  # the client still gets its answer; the key stays in flight until it expires
        log.exception("idempotency: could not store the response for %s", scope)
        db.session.rollback()


def _release(scope, key):
    """Forget an in-flight key whose request failed, so that a retry runs again."""
    try:
        db.session.rollback()
        db.session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.scope == scope, IdempotencyKey.key == key, IdempotencyKey.status.is_(None)
            )
        )
        db.session.commit()
    except Exception:  # the row is then taken over once IN_FLIGHT has passed
        log.exception("idempotency: could not release the key for %s", scope)
        db.session.rollback()


def purge_expired(now=None):
    """Delete stored responses older than 24 hours; return how many."""
    cutoff = (now or utcnow()) - KEEP
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    db.session.commit()
    return result.rowcount


@idempotency_cli.command("purge")
def purge_command():
    """Delete Idempotency-Key responses older than 24 hours."""
    click.echo(f"Deleted {purge_expired()} expired idempotency key(s).")
