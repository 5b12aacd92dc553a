"""Operations endpoints: the root pointer, liveness and readiness."""

import logging

from flask import current_app
from flask_restful import Resource
from sqlalchemy import text

from app.apidoc import doc
from app.extensions import db
from app.personal_tokens.scopes import PUBLIC

log = logging.getLogger(__name__)


class Health(Resource):
    scope = PUBLIC

    @doc(
        "Liveness: 200 while the process is up",
        responses={200: None},
        auth=False,
        operation_id="getHealth",
        tags=["Operations"],
    )
    def get(self):
        """Answer while the process is up; touch nothing."""
        return {"status": "ok"}


class Ready(Resource):
    scope = PUBLIC

    @doc(
        "Readiness: 200 when the database (and Redis, where configured) answer, else 503",
        responses={200: None},
        errors=(503,),
        auth=False,
        operation_id="getReady",
        tags=["Operations"],
    )
    def get(self):
        """Answer 200 when the database (and Redis, where configured) answer, else 503."""
        checks = {"database": _check_database(), "redis": _check_redis()}
        ready = all(state in ("ok", "not configured") for state in checks.values())
        return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


def _check_database():
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as e:  # any failure means not ready; the reason goes to the log
        log.warning("readiness: database check failed: %s", type(e).__name__)
        db.session.rollback()
        return "unavailable"


def _check_redis():
    url = current_app.config.get("REDIS_URL")
    if not url:
        return "not configured"
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping()
        return "ok"
    except redis.RedisError as e:
        log.warning("readiness: redis check failed: %s", type(e).__name__)
        return "unavailable"
