"""bench/feature_costs.py: the arithmetic of the costs and the table, on rounds made up here."""

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from bench.feature_costs import ALL_ON, CONNECTIONS, beside, costs, cpu_seconds, rows
from bench.load import Scenario

NAME = "GET /todos?limit=50"


def measurement(rps, p50=10.0, seconds=4):
    return {"rps": rps, "requests": int(rps * seconds), "p50": p50}


def test_every_variant_is_measured_right_beside_the_all_on_server():
    servers = [(ALL_ON, "on"), ("control", "again"), ("metrics", "no-metrics")]
    pairs = beside(servers, Scenario(NAME, []))
    assert [(server, sc.name) for server, sc in pairs] == [
        ("on", f"{NAME} @ all on beside control"),
        ("again", f"{NAME} @ control"),
        ("on", f"{NAME} @ all on beside metrics"),
        ("no-metrics", f"{NAME} @ metrics"),
    ]


@pytest.fixture
def result():
    """Two rounds: metrics off serves 125 req/s where all on serves 100, and answers 0.3 ms sooner."""
    on = [measurement(100, p50=10.0), measurement(100, p50=10.2)]
    off = [measurement(125, p50=9.7), measurement(125, p50=9.9)]
    # 3 ms of CPU per request served with metrics, 2.5 ms without; served: counted, and those in flight.
    used = {
        f"{ALL_ON} beside metrics": [(400 + CONNECTIONS) * 0.003] * 2,
        "metrics": [(500 + CONNECTIONS) * 0.0025] * 2,
    }
    raw = {
        "saturated": {NAME: {f"{ALL_ON} beside metrics": on, "metrics": off}},
        "cpu": {NAME: used},
        "latency": {NAME: {f"{ALL_ON} beside metrics": on, "metrics": off}},
    }
    return {"raw": raw, "features": {"metrics": "counts requests"}, "costs": {NAME: costs(raw, NAME, cores=2)}}


def test_costs_are_differences_within_rounds(result):
    found = result["costs"][NAME]
    assert found[ALL_ON]["rps"] == 100 and found[ALL_ON]["cpu_us"] == pytest.approx(20_000)
    assert found[ALL_ON]["worker_cpu_us"] == pytest.approx(3000)
    metrics = found["metrics"]
    assert metrics["rps"] == 125
    assert metrics["throughput"] == pytest.approx(0.25)
    assert metrics["cpu_us"] == pytest.approx(2e6 * (1 / 100 - 1 / 125))  # 4,000 µs of the 2 cores
    assert metrics["worker_cpu_us"] == pytest.approx(500)
    assert metrics["p50_us"] == pytest.approx(300)
    assert metrics["p50_us_iqr"] == pytest.approx((300, 300))


def test_rows_are_a_markdown_table(result):
    result["features"] = {"metrics": "counts requests"}
    result["costs"][NAME]["control"] = dict(result["costs"][NAME]["metrics"], throughput=-0.01)
    lines = rows(result, NAME)
    assert lines[0].startswith("| feature | what it does | req/s off | Δ throughput | CPU µs/request |")
    assert lines[2] == "| all on | every feature below | 100 (on) | | 20,000 in all | 3,000 in all | p50 10.10 ms |"
    assert lines[3].startswith("| control | nothing: a second all-on server")
    assert lines[4] == (
        "| metrics | counts requests | 125 | +25.0% | +4,000 | +500 (+500 to +500) | +300 (+300 to +300) µs |"
    )


def test_cpu_seconds_include_the_processes_a_server_has_reaped():
    """A Gunicorn master's recycled workers still count: their CPU time moved to the master's."""
    me = SimpleNamespace(process=SimpleNamespace(pid=os.getpid()), worker_pids=list)
    before = cpu_seconds(me)
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", busy], check=True)
    # /proc counts CPU time in sampled clock ticks (10 ms): 0.3 s of the child's reads as 0.29-0.31.
    # Without the reaped children's time it would be this process's few milliseconds.
    assert cpu_seconds(me) - before >= 0.25
