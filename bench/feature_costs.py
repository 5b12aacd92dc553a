"""What each production feature costs per request: the service with every feature on, and with each one off.

    python -m bench.feature_costs --database-url postgresql://postgres@127.0.0.1:5432/wfc_bench_10k --quick
    python -m bench.feature_costs --report bench/results/feature_costs.json     # the tables of a saved run

The data set is one `make bench` seeded (prepare() seeds one only when the database holds
none); its logins and tokens are deleted first, as bench.run does: point it at a copy.

One Gunicorn server per variant (bench.features:app, BENCH_FEATURE_OFF=<name>; two with
everything on, the second a control that shows what a zero looks like on this machine),
same data set, same token. GET /todos?limit=50 and GET /todos/<id> are measured on every
variant right beside the all-on server, each round in the other order (bench.run.run_rounds),
at 32 connections and then at one. Every cost is the median over rounds of a difference
between such neighbours:

- CPU µs/request: cores / req/s with the feature on, minus the same with it off, at 32
  connections. The load saturates the machine, so cores / req/s is the machine's time
  per request: the workers' CPU and what the feature makes PostgreSQL and Redis do.
  wrk's share is the same on both sides and cancels. Others' work on a shared machine
  does not, which the control row shows.
- worker CPU µs/request: the CPU time the server's processes used (from /proc, workers
  that Gunicorn recycled included) per request served, on minus off: the app's own
  share, which others' work on the machine moves less.
- Δ p50 at c=1: what one client waits longer for an answer with the feature on.

The table gives the quartiles of the rounds' differences beside each median.
"""

import argparse
import os
import random
import secrets
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench import probe, seed
from bench.datasets import prepare, reset, reset_run
from bench.features import ENV_VAR, FEATURES
from bench.load import Request, Scenario
from bench.load import run as wrk
from bench.run import CONNECTIONS, run_rounds, service_env
from bench.scenarios import TODOS, read_scenario
from bench.server import Server

LIST, ITEM = "GET /todos?limit=50", "GET /todos/<id>"
ALL_ON, CONTROL = "all on", "control"
MODES = {
    "full": {"seconds": 3, "rounds": 10, "latency_seconds": 2},
    "quick": {"seconds": 2, "rounds": 2, "latency_seconds": 1},
}


def hot_reads(app_url, database_url):
    """The two measured reads, as the seeded reader: a page of 50 todos, and single todos by id."""
    headers = probe.auth(probe.login(app_url))
    lists = seed.READER_OWNED[:5] + seed.READER_EDITS + seed.READER_VIEWS
    ids = probe.todo_ids(database_url, lists, 500, random.Random(8))
    return [
        read_scenario(LIST, TODOS, headers),
        Scenario(ITEM, [Request(f"{probe.API}/todos/{i}") for i in ids], headers=headers),
    ]


def variants(features):
    """(label, BENCH_FEATURE_OFF) of every server: all on, the control, then each feature off."""
    return [(ALL_ON, ""), (CONTROL, ""), *((name, name) for name in features)]


def cpu_seconds(server):
    """CPU time of a Gunicorn master and its workers, the ones it has reaped included."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = _times(server.process.pid, reaped=True)
    for pid in server.worker_pids():
        total += _times(pid)
    return total / ticks


def _times(pid, reaped=False):
    """utime + stime (+ cutime + cstime) of `pid`, in clock ticks; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(value) for value in fields[11 : 15 if reaped else 13])


def measure_feature_costs(env, port, logs, mode, log, scenarios=None, features=tuple(FEATURES)):
    """Measure every variant beside the all-on server; return the raw rounds and {scenario: {label: costs}}.

    `mode` as bench.run's: "rounds", "seconds" (at 32 connections), "cores", and optionally
    "latency_seconds" (at 1 connection; default "seconds"). `scenarios(app_url)` gives the
    Scenarios to measure (default: hot_reads); the ports `port` .. `port + len(features) + 1`
    must be free.
    """
    servers = []
    try:
        for i, (label, off) in enumerate(variants(features)):
            server = Server(f"feature-{label}", "bench.features:app", port + i, {**env, ENV_VAR: off}, logs)
            servers.append((label, server))
        measured = (scenarios or (lambda url: hot_reads(url, env["DATABASE_URL"])))(servers[0][1].url)
        for (_, server), sc in ((s, sc) for s in servers for sc in measured):  # warm every worker
            wrk(server.url, sc, 2, 1)
            server.drain()
        raw = {"saturated": {}, "cpu": {}, "latency": {}}
        for sc in measured:
            ledger = CpuLedger([server for _, server in servers])
            pairs = [(ledger.metered(server, each.name), each) for server, each in beside(servers, sc)]
            found = run_rounds(pairs, mode["rounds"], CONNECTIONS, mode["seconds"], log)
            raw["saturated"][sc.name], raw["cpu"][sc.name] = _grouped(found)[sc.name], _grouped(ledger.used)[sc.name]
        pairs = [pair for sc in measured for pair in beside(servers, sc)]
        seconds = mode.get("latency_seconds", mode["seconds"])
        raw["latency"] = _grouped(run_rounds(pairs, mode["rounds"], 1, seconds, log))
    finally:
        for _, server in servers:
            server.stop()
    return {
        "mode": mode,
        "features": {name: FEATURES[name][1] for name in features},
        "raw": raw,
        "costs": {sc.name: costs(raw, sc.name, mode["cores"]) for sc in measured},
    }


def beside(servers, sc):
    """One round's (server, scenario) pairs: the all-on server right before (or after) every other variant.

    Each difference is then taken between two neighbouring measurements, which a busy
    machine's drift over a round barely separates.
    """
    (_, on), *others = servers
    pairs = []
    for label, server in others:
        pairs += [(on, _labelled(sc, _beside(label))), (server, _labelled(sc, label))]
    return pairs


def _beside(label):
    return f"{ALL_ON} beside {label}"


class CpuLedger:
    """The CPU seconds each measurement cost its server: {scenario name: [seconds per round]}.

    run_rounds drains a server after each measurement. A metered server then has the
    ledger read every server's CPU time, and is charged with what it used since the
    previous reading, which was taken as the measurement before it ended: its own load,
    and nothing from the rest of the round.
    """

    def __init__(self, servers):
        self.servers, self.used = servers, {}
        self._last = self._read()

    def _read(self):
        return {server.name: cpu_seconds(server) for server in self.servers}

    def metered(self, server, name):
        return Metered(server.url, server, self, name)

    def charge(self, server, name):
        now = self._read()
        self.used.setdefault(name, []).append(now[server.name] - self._last[server.name])
        self._last = now


@dataclass
class Metered:
    """A Server as run_rounds uses it (its url, drain()), charged on the ledger at each drain."""

    url: str
    server: Server
    ledger: CpuLedger
    name: str

    def drain(self):
        self.server.drain()
        self.ledger.charge(self.server, self.name)


def _labelled(sc, label):
    return Scenario(f"{sc.name} @ {label}", sc.requests, headers=sc.headers, kind=sc.kind)


def _grouped(found):
    """{"<scenario> @ <label>": rounds} as {scenario: {label: rounds}}."""
    grouped = {}
    for key, rounds in found.items():
        name, label = key.rsplit(" @ ", 1)
        grouped.setdefault(name, {})[label] = rounds
    return grouped


def costs(raw, name, cores):
    """{label: figures} of one scenario; each difference is taken between neighbours, then the median of rounds."""
    saturated, cpu, latency = raw["saturated"][name], raw["cpu"][name], raw["latency"][name]
    labels = [label for label in saturated if not label.startswith(ALL_ON)]
    beside_all = [m for label in labels for m in saturated[_beside(label)]]
    found = {
        ALL_ON: {
            "rps": _median(m["rps"] for m in beside_all),
            "cpu_us": _median(cores / m["rps"] * 1e6 for m in beside_all),
            "worker_cpu_us": _median(x for label in labels for x in _per_request(cpu, _beside(label), saturated)),
            "p50_ms": _median(m["p50"] for label in labels for m in latency[_beside(label)]),
        }
    }
    for label in labels:
        pairs = list(zip(saturated[_beside(label)], saturated[label], strict=True))
        on_cpu = _per_request(cpu, _beside(label), saturated)
        off_cpu = _per_request(cpu, label, saturated)
        waits = zip(latency[_beside(label)], latency[label], strict=True)
        found[label] = {
            "rps": _median(off["rps"] for _, off in pairs),
            "throughput": _median(off["rps"] / on["rps"] - 1 for on, off in pairs),
            "cpu_us": _median(cores * 1e6 * (1 / on["rps"] - 1 / off["rps"]) for on, off in pairs),
            **_spread("worker_cpu_us", [on - off for on, off in zip(on_cpu, off_cpu, strict=True)]),
            **_spread("p50_us", [(on["p50"] - off["p50"]) * 1000 for on, off in waits]),
        }
    return found


def _spread(name, values):
    """{name: the median, name_iqr: (first, third quartile)} of the rounds' differences."""
    quartiles = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return {name: statistics.median(values), f"{name}_iqr": (quartiles[0], quartiles[2])}


def _per_request(cpu, label, saturated):
    """CPU µs per request served, in each round's measurement of `label`."""
    return [used / _served(m) * 1e6 for used, m in zip(cpu[label], saturated[label], strict=True)]


def _served(measurement):
    """Requests a server served in a measurement at CONNECTIONS: the ones wrk counted, and the
    one each connection still had in flight when wrk stopped, which the server serves anyway."""
    return measurement["requests"] + CONNECTIONS


def _median(values):
    return statistics.median(list(values))


HEADER = (
    "| feature | what it does | req/s off | Δ throughput | CPU µs/request | worker CPU µs/request | Δ p50 at c=1 |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
)


def rows(result, scenario=LIST):
    """Markdown table lines of one scenario: all on, the control, then each feature switched off."""
    found = result["costs"][scenario]
    on = found[ALL_ON]
    lines = [
        *HEADER,
        f"| all on | every feature below | {on['rps']:,.0f} (on) | | {on['cpu_us']:,.0f} in all "
        f"| {on['worker_cpu_us']:,.0f} in all | p50 {on['p50_ms']:.2f} ms |",
    ]
    described = {CONTROL: "nothing: a second all-on server, to show the noise", **result["features"]}
    for label, what in described.items():
        f = found[label]
        lines.append(
            f"| {label} | {what} | {f['rps']:,.0f} | {f['throughput']:+.1%} | {f['cpu_us']:+,.0f} "
            f"| {_with_iqr(f, 'worker_cpu_us')} | {_with_iqr(f, 'p50_us')} µs |"
        )
    return lines


def _with_iqr(figures, name):
    low, high = figures[f"{name}_iqr"]
    return f"{figures[name]:+,.0f} ({low:+,.0f} to {high:+,.0f})"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Measure what each production feature costs per request.")
    p.add_argument("--database-url", help="a seeded data set (bench/seed.py); its logins are forgotten first")
    p.add_argument("--size", help="its todo count (default: the one it was seeded with, else 10k)")
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"))
    p.add_argument("--quick", action="store_true", help="2 rounds of 2 s per measurement instead of 10 of 3 s")
    p.add_argument("--rounds", type=int)
    p.add_argument("--seconds", type=float, help="seconds per measurement at 32 connections")
    p.add_argument("--features", default=",".join(FEATURES), help="comma-separated features to switch off")
    p.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8160)), help="first of the ports")
    p.add_argument("--json", help="also write the raw rounds and the costs to this file")
    p.add_argument("--report", help="measure nothing: print the tables of a file written by --json")
    args = p.parse_args(argv)
    if not (args.database_url or args.report):
        p.error("--database-url is needed to measure")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.report:
        result = orjson.loads(Path(args.report).read_bytes())
        result["costs"] = {name: costs(result["raw"], name, result["mode"]["cores"]) for name in result["raw"]["cpu"]}
    else:
        result = measure(args)
    mode = result["mode"]
    for name in result["costs"]:
        print(
            f"\n{name}, {result['size']:,} todos, {mode['rounds']} rounds of {mode['seconds']:g} s at "
            f"c={CONNECTIONS} and {mode['latency_seconds']:g} s at c=1, load average {result['load'][0]:.1f}:\n"
        )
        print("\n".join(rows(result, name)))


def measure(args):
    """Run the measurement the arguments describe on their data set; write --json if asked."""
    features = [name.strip() for name in args.features.split(",") if name.strip()]
    unknown = [name for name in features if name not in FEATURES]
    if unknown:
        raise SystemExit(f"bench: unknown feature(s) {', '.join(unknown)}; one of: {', '.join(FEATURES)}")
    mode = dict(MODES["quick" if args.quick else "full"], cores=os.cpu_count() or 2)
    mode["rounds"], mode["seconds"] = args.rounds or mode["rounds"], args.seconds or mode["seconds"]
    meta = seed.read_meta(args.database_url)
    size = seed.parse_size(args.size) if args.size else (meta or {}).get("todos", 10_000)
    params = prepare(args.database_url, size, False, print)
    reset_run(args.database_url)
    reset(args.database_url, params)
    keys = (secrets.token_urlsafe(48), secrets.token_urlsafe(48))
    env = service_env(args.database_url, args.redis_url, keys, mode["cores"])
    logs = Path(tempfile.mkdtemp(prefix="bench-features-"))
    result = measure_feature_costs(env, args.port, logs, mode, print, features=features)
    result.update(size=size, load=os.getloadavg())
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"server logs in {logs}")
    return result


if __name__ == "__main__":
    main()
