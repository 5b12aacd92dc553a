"""Load generation with wrk: a generated Lua script walks requests; results come back as JSON."""

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

LUA = r"""
local items = %(items)s
local nthreads = %(threads)d
local started = 0
local counter = 0

function setup(thread)
  thread:set("tid", started)
  started = started + 1
end

function init(args)
  counter = tid or 0
end

function request()
  local item = items[counter %% #items + 1]
  counter = counter + nthreads
  return wrk.format(item[1], item[2], item[3], item[4])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %%d, "duration_us": %%d, "status_errors": %%d, "socket_errors": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "mean_us": %%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


@dataclass
class Request:
    """One request wrk may send; `headers` add to the scenario's headers."""

    path: str
    method: str = "GET"
    body: bytes | None = None
    headers: dict = field(default_factory=dict)


@dataclass
class Scenario:
    """A named request mix against one server."""

    name: str
    requests: list
    headers: dict = field(default_factory=dict)
    kind: str = "read"  # read, write, ceiling, login


def _lua(value):
    if value is None:
        return "nil"
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string literal is a valid Lua string literal here
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    return repr(value)


def script(scenario, threads):
    """The Lua source that cycles through the scenario's requests, each thread on its own stride."""
    items = []
    for req in scenario.requests:
        headers = {**scenario.headers, **req.headers}
        if req.body is not None:
            headers.setdefault("Content-Type", "application/json")
        items.append([req.method, req.path, headers, req.body])
    return LUA % {"items": _lua(items), "threads": threads}


def wrk_path():
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk is not installed (make bench installs it with apt-get)")
    return found


def run(base_url, scenario, connections, seconds):
    """Run wrk for `seconds` at `connections`; return req/s, latency percentiles (ms) and errors."""
    threads = 1 if connections < 4 else 2
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-") as lua:
        lua.write(script(scenario, threads))
        lua.flush()
        cmd = [
            wrk_path(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            lua.name,
            base_url,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    raw = json.loads(line.split(" ", 1)[1])
    seconds_run = raw["duration_us"] / 1e6
    return {
        "rps": raw["requests"] / seconds_run,
        "p50": raw["p50_us"] / 1000,
        "p90": raw["p90_us"] / 1000,
        "p99": raw["p99_us"] / 1000,
        "mean": raw["mean_us"] / 1000,
        "requests": raw["requests"],
        "errors": raw["status_errors"] + raw["socket_errors"],
    }
