"""Prometheus metrics: counters by route, method and status, latencies, token, and sums over workers."""

import json
import os
import re
import signal
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client import REGISTRY

from app import create_app
from tests.conftest import make_config
from tests.live import start_server

HEALTHZ = {"route": "/healthz", "method": "GET", "status": "200"}


def count(labels):
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0


def test_requests_are_counted_by_route_method_and_status(client):
    before = count(HEALTHZ)
    client.get("/healthz")
    client.get("/healthz")
    assert count(HEALTHZ) == before + 2


def test_route_label_is_the_url_rule_not_the_path(client):
    labels = {"route": "/api/v1/users/<int(min=1, max=2147483647):user_id>", "method": "GET", "status": "401"}
    before = count(labels)
    client.get("/api/v1/users/1")
    client.get("/api/v1/users/2")
    assert count(labels) == before + 2


def test_unmatched_paths_share_one_label(client):
    labels = {"route": "<unmatched>", "method": "GET", "status": "404"}
    before = count(labels)
    client.get("/nope/1")
    client.get("/nope/2")
    assert count(labels) == before + 2


def test_latency_histogram_observes_requests(client):
    labels = {"route": "/healthz", "method": "GET"}
    before = REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) or 0
    client.get("/healthz")
    assert REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) == before + 1


def test_metrics_endpoint_speaks_prometheus_text(client):
    client.get("/healthz")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.mimetype == "text/plain"
    text = r.get_data(as_text=True)
    assert "# TYPE http_requests_total counter" in text
    assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "http_request_duration_seconds_bucket{" in text
    assert "db_pool_checked_out" in text
    assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer wrong-token", 401), ("metrics-secret", 401), ("Bearer metrics-secret", 200)],
)
def test_metrics_token(database_url, header, status):
    client = create_app(make_config(database_url, METRICS_TOKEN="metrics-secret")).test_client()
    r = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert r.status_code == status
    if status == 401:
        assert r.mimetype == "application/problem+json"
        assert r.json["detail"] == "The metrics need the bearer token of METRICS_TOKEN."
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert "http_requests_total" not in r.get_data(as_text=True)


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _healthz_total(text):
    match = re.search(r'^http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.mark.slow
def test_counts_are_summed_over_gunicorn_workers(database_url):
    with start_server(database_url, workers=2) as server:
        server.wait_for_workers(2)
        baseline = _healthz_total(_get(server.url + "/metrics")[1])  # start-up probes of /healthz
        # At least 20, and until both workers have answered some: a worker still loading the app
        # accepts none, and the kernel may hand many in a row to the same worker.
        sent, pids, deadline = 0, set(), time.monotonic() + 30
        while (sent < 20 or len(pids) < 2) and time.monotonic() < deadline:
            assert _get(server.url + "/healthz")[0] == 200
            sent += 1
            if sent >= 20:  # the log is read again only once enough have been sent
                lines = [json.loads(line) for line in server.log.splitlines() if line.startswith("{")]
                pids = {line["pid"] for line in lines if line.get("route") == "/healthz"}
        scrapes = [_healthz_total(_get(server.url + "/metrics")[1]) for _ in range(6)]

        # A worker that exits takes its process but not its counts.
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while (victim in server.worker_pids() or len(server.worker_pids()) < 2) and time.monotonic() < deadline:
            time.sleep(0.1)
        after_restart = _healthz_total(_get(server.url + "/metrics")[1])
    assert len(pids) == 2, "both workers should have answered /healthz"
    assert scrapes == [baseline + sent] * 6  # whichever worker answers the scrape, it reports the sum
    assert after_restart == baseline + sent


def test_pool_gauges_follow_the_database_pool(app):
    from app.extensions import db

    def checked_out():
        return REGISTRY.get_sample_value("db_pool_checked_out")

    with app.app_context():
        before = checked_out()
        connection = db.engine.connect()
        assert checked_out() == before + 1
        connection.close()
        assert checked_out() == before
    assert REGISTRY.get_sample_value("db_pool_size") >= 1


@pytest.mark.parametrize("method", ["QWERTYA", "PROPFIND"])
def test_unknown_methods_share_the_other_label(client, method):
    other = {"route": "<unmatched>", "method": "OTHER", "status": "405"}
    before = count(other)
    r = client.open("/healthz", method=method)
    assert r.status_code == 405
    assert count(other) == before + 1
    assert REGISTRY.get_sample_value("http_requests_total", {**other, "method": method}) is None
