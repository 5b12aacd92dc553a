"""Prometheus metrics: request counts and latencies by route, and the database pool, summed over workers.

Under Gunicorn, gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before the app is
imported, so every worker writes its samples there and a scrape of any worker sums
them all. Without it (one process, tests) the default registry is used.
"""

import hmac
import os
import time

from flask import Response, current_app, g, request
from flask_restful import Resource
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event

from app.apidoc import doc
from app.errors import problem
from app.personal_tokens.scopes import PUBLIC

REQUESTS = Counter("http_requests_total", "HTTP requests answered.", ["route", "method", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the start of request handling to the response, by route.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
POOL_CHECKED_OUT = Gauge("db_pool_checked_out", "Database connections in use.", multiprocess_mode="livesum")
POOL_SIZE = Gauge("db_pool_size", "Database connections the pools keep open at most.", multiprocess_mode="livesum")

UNMATCHED = "<unmatched>"  # requests that matched no route share one label, so label values stay bounded
# Any token is a valid HTTP method name: others share one label, so a client cannot add series without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"


def method_label(method):
    """The method as a metrics label: one of the standard methods, else OTHER."""
    return method if method in METHODS else OTHER_METHOD


def _observe(response):
    rule = request.url_rule
    route = rule.rule if rule else UNMATCHED
    method = method_label(request.method)
    REQUESTS.labels(route, method, str(response.status_code)).inc()
    started = g.get("request_started")  # set by app.logs before the request
    if started is not None:
        LATENCY.labels(route, method).observe(time.perf_counter() - started)
    return response


def watch_pool(engine):
    """Track an engine's pool: connections checked out, and its size in each process that uses it."""
    size = getattr(engine.pool, "size", None)
    sized_in = set()

    def checkout(*args):
        if callable(size) and os.getpid() not in sized_in:  # once per worker: each has its own pool
            sized_in.add(os.getpid())
            POOL_SIZE.inc(size())
        POOL_CHECKED_OUT.inc()

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", lambda *args: POOL_CHECKED_OUT.dec())


def _registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _database_metrics():
    """Metrics kept in the database (shared by every process): read at each scrape."""
    from app.recurrence.metrics import ReminderCollector

    registry = CollectorRegistry()
    registry.register(ReminderCollector())
    return generate_latest(registry)


def _authorized():
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        return True
    given = request.headers.get("Authorization", "")
    expected = "Bearer " + token
    return hmac.compare_digest(given.encode(), expected.encode())


class Metrics(Resource):
    scope = PUBLIC

    @doc(
        "Prometheus metrics of every worker",
        responses={200: "text/plain"},
        errors=(401,),
        auth="metrics",
        operation_id="getMetrics",
        tags=["Operations"],
    )
    def get(self):
        """Answer the metrics in Prometheus text format."""
        if not _authorized():
            return problem(401, "The metrics need the bearer token of METRICS_TOKEN.")
        return Response(
            generate_latest(_registry()) + _database_metrics(),
            mimetype=CONTENT_TYPE_LATEST.split(";")[0],
            headers={"Cache-Control": "no-store"},
        )


def init_metrics(app):
    """Count every request and watch the database pool of this app."""
    from app.extensions import db

    app.after_request(_observe)
    with app.app_context():
        watch_pool(db.engine)
