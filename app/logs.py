"""Structured logs: one JSON object per line, and one line per request."""

import logging
import logging.config
import re
import time

import orjson
from flask import g, has_request_context, request

request_log = logging.getLogger("app.request")

# The per-request fields of docs/operations.md ("Logs"), in the order they are written.
REQUEST_FIELDS = ("request_id", "method", "route", "path", "status", "duration_ms", "user_id", "remote_addr")
REDACTED = "[redacted]"
# The segment after /shared/ is a share link's token (a credential), whatever route matched, if any.
_SHARE_TOKEN = re.compile(r"^(/api/v\d+/shared/)[^/]+")


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line: time, level, logger, message and its context."""

    def format(self, record):
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if "request_id" not in line and getattr(record, "request_context_id", None):
            line["request_id"] = record.request_context_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def logging_config(level="INFO"):
    """The dictConfig for the service and for Gunicorn's own error log: JSON lines on stdout."""
    level = str(level).upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            # One line per request comes from app.request; Gunicorn's access log stays off.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            # Alembic names each of its plugins at import (start-up noise of every process).
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


_make_record = logging.getLogRecordFactory()


def _record_with_request_id(*args, **kwargs):
    """Stamp every record made while serving a request with that request's id."""
    record = _make_record(*args, **kwargs)
    # A private name: a caller's own extra={"request_id": ...} must not collide with it.
    record.request_context_id = g.get("request_id") if has_request_context() else None
    return record


def configure_logging(level):
    """Install the JSON config unless a host (Gunicorn, pytest) has configured logging already."""
    logging.setLogRecordFactory(_record_with_request_id)
    if not logging.getLogger().handlers:
        logging.config.dictConfig(logging_config(level))
    logging.getLogger("app").setLevel(str(level).upper())


def _start_timer():
    g.request_started = time.perf_counter()


def safe_path(path=None):
    """The request path (or `path`) with any credential in it (share-link tokens) blanked out.

    Redacted by the path's shape, not by the route: a path that matched no route
    (`PUT /shared/<token>/todos`, `/shared/<token>/todos/abc`) carries the token too.
    """
    path = request.path if path is None else path
    return _SHARE_TOKEN.sub(lambda m: m.group(1) + REDACTED, path)


def _user_id():
    jwt_data = g.get("_jwt_extended_jwt")  # set by flask-jwt-extended only once a token verified
    return jwt_data.get("sub") if jwt_data else None


def _log_request(response):
    started = g.get("request_started")
    duration = (time.perf_counter() - started) * 1000 if started else None
    rule = request.url_rule
    request_log.info(
        "%s %s %s",
        request.method,
        rule.rule if rule else "-",
        response.status_code,
        extra={
            "request_id": g.get("request_id"),
            "method": request.method,
            "route": rule.rule if rule else None,
            "path": safe_path(),
            "status": response.status_code,
            "duration_ms": round(duration, 2) if duration is not None else None,
            "user_id": _user_id(),
            "remote_addr": request.remote_addr,
        },
    )
    return response


def init_logging(app):
    """Configure logging and log one line per request."""
    configure_logging(app.config["LOG_LEVEL"])
    app.before_request(_start_timer)
    app.after_request(_log_request)
