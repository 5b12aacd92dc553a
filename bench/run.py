"""The benchmark: real endpoints against same-stack ceilings, in one run, as medians of rounds.

    python -m bench.run            # full run (PostgreSQL, 10k/100k/1M todos, 5 rounds of 8 s per endpoint)
    python -m bench.run --quick    # smoke run: small data sets, 2 s per measurement

Results go to bench/results/ (summary.md, throughput.png, results.json). See README "Benchmarks".
"""

import argparse
import os
import secrets
import tempfile
import time
from pathlib import Path

from bench import probe, seed
from bench import report as reporting
from bench.ceilings import explain
from bench.datasets import dataset_urls, prepare, reset, reset_run
from bench.load import Scenario
from bench.load import run as wrk
from bench.scenarios import BARE, HEALTHZ, ceiling_name, main_scenarios, read_scenario
from bench.server import Server

MODES = {
    "full": {
        "seconds": 8,
        "rounds": 5,
        "sweep_seconds": 5,
        "sweep_rounds": 3,
        "other_rounds": 3,
        "pg_sizes": "10k,100k,1m",
        "sqlite_sizes": "10k,100k",
        "etags": 200,
        "deep_page": 1000,
    },
    "quick": {
        "seconds": 2,
        "rounds": 3,
        "sweep_seconds": 1,
        "sweep_rounds": 1,
        "other_rounds": 1,
        "pg_sizes": "10k,50k",
        "sqlite_sizes": "10k,30k",
        "etags": 50,
        "deep_page": 200,
    },
}
CONNECTIONS = 32
SWEEP = (1, 8, 32, 128)
SECTIONS = "endpoints,peers,sweep,login,workers,scaling"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/todos_bench"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Benchmark the Todos API against same-stack ceilings.")
    p.add_argument("--quick", action="store_true", help="smoke run: small data, 2 s per measurement")
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
        help="base URL; each size gets its own database (<name>_10k, ...)",
    )
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"))
    p.add_argument("--sizes", help="todo counts of the data sets, e.g. 10k,100k,1m (the largest is the main one)")
    p.add_argument("--seconds", type=float, help="seconds per measurement")
    p.add_argument("--rounds", type=int, help="rounds of the endpoint table")
    p.add_argument(
        "--port", type=int, default=int(os.environ.get("BENCH_PORT", 8160)), help="first of 10 consecutive ports"
    )
    p.add_argument("--reseed", action="store_true", help="seed again even when the data set is already there")
    p.add_argument("--only", default=SECTIONS, help=f"comma-separated sections to run (default: {SECTIONS})")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    return p.parse_args(argv)


def settings(args):
    mode = dict(MODES["quick" if args.quick else "full"])
    sqlite = args.database_url.startswith("sqlite")
    mode["sizes"] = sorted(
        seed.parse_size(s) for s in (args.sizes or mode["sqlite_sizes" if sqlite else "pg_sizes"]).split(",")
    )
    mode["seconds"] = args.seconds or mode["seconds"]
    mode["rounds"] = args.rounds or mode["rounds"]
    mode["cores"] = os.cpu_count() or 2
    mode["name"] = "quick" if args.quick else "full"
    return mode


def service_env(database_url, redis_url, secrets_, workers):
    """Production settings with strong secrets; limits high enough never to throttle, but enforced."""
    return {
        "APP_ENV": "production",
        "MAIL_URL": "log",
        "PUBLIC_BASE_URL": "http://127.0.0.1",  # production needs it; absolute URLs of answers name it
        "SECRET_KEY": secrets_[0],
        "JWT_SECRET_KEY": secrets_[1],
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "WEB_CONCURRENCY": workers,
        "RATE_LIMIT_DEFAULT": "10000000 per minute",
        "RATE_LIMIT_LOGIN": "10000000 per minute",
        "RATE_LIMIT_SHARED": "10000000 per minute",
        "ACCESS_TOKEN_MINUTES": 120,
        "LOG_LEVEL": "INFO",
        "WEBHOOK_ALLOWED_HOSTS": f"127.0.0.1:{probe.WEBHOOK_PORT}",
    }


def forget_wakeups(redis_url):
    """Drop the webhook wake-up tasks the run queued: no delivery worker runs during a benchmark."""
    import redis

    from app.webhooks.broker import QUEUE

    redis.Redis.from_url(redis_url).delete(QUEUE)


def measure(server, scenario, connections, seconds, log):
    result = wrk(server.url, scenario, connections, seconds)
    server.drain()
    flag = f"  ERRORS {result['errors']}" if result["errors"] else ""
    log(
        f"  {scenario.name:<40} c={connections:<3} n={result['requests']:<6} {result['rps']:7.0f} req/s  "
        f"p50 {result['p50']:7.2f} ms  p99 {result['p99']:7.2f} ms{flag}"
    )
    return result


def run_rounds(pairs, rounds, connections, seconds, log, after_round=None):
    """Measure every (server, scenario) in turn, `rounds` times: {name: [result per round]}.

    Every other round runs in reverse order, so scenarios compared with their neighbour
    (a 304 and a full GET, a create with and without webhooks) each go first as often as
    second, and a machine that slows down or speeds up during a round favours neither.
    """
    results = {}
    for r in range(rounds):
        log(f"round {r + 1}/{rounds} (c={connections}, {seconds:g} s each)")
        if after_round:
            after_round("before", r)
        for server, scenario in pairs if r % 2 == 0 else reversed(pairs):
            results.setdefault(scenario.name, []).append(measure(server, scenario, connections, seconds, log))
        if after_round:
            after_round("after", r)
    return results


def main(argv=None):
    args = parse_args(argv)
    mode = settings(args)
    started = time.monotonic()
    log = print
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    urls = dataset_urls(args.database_url, mode["sizes"])
    params = {size: prepare(url, size, args.reseed, log) for size, url in urls.items()}
    main_size = mode["sizes"][-1]
    main_url, main_params = urls[main_size], params[main_size]
    for size, url in urls.items():
        reset_run(url)
        reset(url, params[size])
    keys = (secrets.token_urlsafe(48), secrets.token_urlsafe(48))
    cores, port = mode["cores"], args.port
    env = service_env(main_url, args.redis_url, keys, cores)
    servers = []
    results = {
        "mode": mode,
        "main_size": main_size,
        "database": reporting.backend(main_url),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load": [os.getloadavg()[0]],
    }
    try:
        app_server = Server("app", "wsgi:app", port, env, logs)
        bare = Server("bare", "bench.ceilings:bare", port + 1, env, logs, probe="/")
        fastest = Server("ceiling", "bench.ceilings:fastest", port + 2, env, logs, probe="/api/v1/todos?limit=1")
        servers += [app_server, bare, fastest]
        ctx = {"app_url": app_server.url, "url": main_url, "params": main_params, "mode": mode, "env": env}
        scenarios, skipped, counts = main_scenarios(ctx, log)
        results["skipped"], results["statements"] = skipped, counts
        if reporting.backend(main_url) == "PostgreSQL":
            results["plans"] = explain(main_url)
        pairs = []
        for sc in scenarios:
            target = bare if sc.name == BARE else fastest if sc.kind == "ceiling" else app_server
            pairs.append((target, sc))
        for target, sc in pairs:  # warm every worker's connections and caches
            wrk(target.url, sc, 2, 1)
            target.drain()
        rss = []

        def after_round(when, r):
            if when == "before":
                reset(main_url, main_params)
            else:
                rss.append(app_server.worker_rss())
                log(f"  worker RSS MB: {', '.join(f'{pid}: {mb:.1f}' for pid, mb in rss[-1].items())}")

        only = set(args.only.split(","))
        if "endpoints" in only:
            results["endpoints"] = run_rounds(pairs, mode["rounds"], CONNECTIONS, mode["seconds"], log, after_round)
            results["rss_rounds"] = rss
        if "peers" in only:
            results["peers"] = compare_peers(pairs, env, port, logs, mode, log, servers)
        if "sweep" in only:
            names = (BARE, ceiling_name(reporting.TODOS), reporting.TODOS)
            chosen = [(app_server, read_scenario(HEALTHZ, "/healthz", {}))]
            chosen += [p for p in pairs if p[1].name in names]
            results["sweep"] = {
                c: run_rounds(chosen, mode["sweep_rounds"], c, mode["sweep_seconds"], log) for c in SWEEP
            }
        if "login" in only:
            login = [(app_server, ctx["login"])]
            results["login"] = run_rounds(login, mode["other_rounds"], cores, mode["seconds"], log)
        if "workers" in only:
            results["workers"] = compare_workers(ctx, app_server, env, port, logs, mode, log, servers)
        if "scaling" in only:
            results["scaling"] = scaling(ctx, app_server, urls, params, args, keys, port, logs, mode, log, servers)
        results["rss_end"] = app_server.worker_rss()
    finally:
        for server in servers:
            server.stop()
        forget_wakeups(args.redis_url)
    results["elapsed"] = time.monotonic() - started
    results["load"].append(os.getloadavg()[0])
    reporting.write(results, out, log)
    log(f"bench: done in {results['elapsed'] / 60:.1f} min; server logs in {logs}")


PEERS = {
    "textbook": ("bench.peers.textbook:app", ()),
    "FastAPI": ("bench.peers.fastapi_peer:app", ("-k", "uvicorn.workers.UvicornWorker")),
}
PEER_SCENARIOS = (
    "GET /todos?limit=50",
    "GET /todos?limit=50&completed=false",
    "GET /lists/<id>/todos?limit=50",
    "GET /todos/<id>",
    "POST /lists/<id>/todos",
    "PATCH /todos/<id>",
)


def compare_peers(pairs, env, port, logs, mode, log, servers):
    """The hot endpoints on the service and on each peer (bench/peers/), same data, interleaved per round.

    {scenario: {"service" | peer: [result per round]}}. The 304 stays out: each stack has
    its own ETags, and its goal compares the service with the bare WSGI floor.
    """
    started = []
    for i, (name, (spec, extra)) in enumerate(PEERS.items()):
        peer_env = {**env, "LOG_LEVEL": "WARNING"}
        server = Server(f"peer-{name}", spec, port + 8 + i, peer_env, logs, args=extra)
        servers.append(server)
        started.append((name, server))
    chosen = [(server, sc) for server, sc in pairs if sc.name in PEER_SCENARIOS]
    table = []
    for app_server, sc in chosen:
        for label, target in [("service", app_server), *started]:
            labelled = Scenario(f"{sc.name} @ {label}", sc.requests, headers=sc.headers, kind=sc.kind)
            wrk(target.url, labelled, 2, 1)
            target.drain()
            table.append((target, labelled))
    found = run_rounds(table, mode["other_rounds"], CONNECTIONS, mode["seconds"], log)
    for _name, server in started:
        server.stop()
        servers.remove(server)
    grouped = {}
    for key, rounds in found.items():
        name, label = key.rsplit(" @ ", 1)
        grouped.setdefault(name, {})[label] = rounds
    return grouped


def compare_workers(ctx, app_server, env, port, logs, mode, log, servers):
    """GET /todos?limit=50 under three Gunicorn worker set-ups, interleaved per round."""
    cores = mode["cores"]
    variants = [(f"sync, workers={cores}", app_server)]
    specs = [
        (f"sync, workers={2 * cores + 1}", {**env, "WEB_CONCURRENCY": 2 * cores + 1}, ()),
        (f"gthread, workers={cores}, threads=4", env, ("-k", "gthread", "--threads", "4")),
    ]
    for i, (label, variant_env, extra) in enumerate(specs):
        server = Server(f"workers-{i}", "wsgi:app", port + 3 + i, variant_env, logs, args=extra)
        servers.append(server)
        variants.append((label, server))
    scenario = ctx["todos_scenario"]
    pairs = []
    for label, server in variants:
        sc = read_scenario(label, scenario.requests[0].path, scenario.headers)
        wrk(server.url, sc, 2, 1)
        server.drain()
        pairs.append((server, sc))
    found = run_rounds(pairs, mode["other_rounds"], CONNECTIONS, mode["seconds"], log)
    for server in servers[3:]:
        server.stop()
    del servers[3:]
    return found


def scaling(ctx, app_server, urls, params, args, keys, port, logs, mode, log, servers):
    """p50 of GET /todos?limit=50 at every data-set size (c=1), and page 1 vs a deep page of a cursor walk."""
    pairs = []
    for i, (size, url) in enumerate(urls.items()):
        server = app_server
        if url != ctx["url"]:
            server = Server(
                f"size-{size}", "wsgi:app", port + 6 + i, service_env(url, args.redis_url, keys, mode["cores"]), logs
            )
            servers.append(server)
        token = probe.login(server.url)
        sc = read_scenario(f"{size:,} todos", ctx["todos_scenario"].requests[0].path, probe.auth(token))
        wrk(server.url, sc, 1, 1)
        server.drain()
        pairs.append((server, sc))
    for sc in ctx["walk"]:
        pairs.append((app_server, sc))
    return run_rounds(pairs, mode["other_rounds"], 1, mode["seconds"], log)


if __name__ == "__main__":
    main()
