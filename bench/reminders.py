"""The reminder scheduler at scale, while the API is under HTTP load: per-tick cost, lag, API throughput and p99.

    python -m bench.reminders            # 1,000,000 todos, 100,000 with a reminder (seeded once, then reused)
    python -m bench.reminders --quick    # 100,000 todos, 10,000 with a reminder: a minute or two

PostgreSQL only. The data set is the main bench's (bench.seed) in a database of its own,
`<database of BENCH_DATABASE_URL>_reminders_<size>`, created and seeded on first use;
each run then gives `--reminders` open todos, spread over the ids, a reminder at a due
time days ahead, with their schedule. The service runs as `make bench` runs it (Gunicorn,
production settings, bench.run.service_env); the scheduler ticks in this process once a
second, as the worker does, with the worker's settings.

1. quiet: idle ticks (nothing due) with no load, the price every worker pays every second
   whatever the number of todos (an index range read);
2. nothing due: `--seconds` of HTTP load from wrk (GET /todos?limit=50 and PATCH
   /todos/<id>, which completes and reopens todos, so it cancels and reschedules
   reminders) while the scheduler ticks;
3. firing: the same load while `--due` reminders (of todos the load does not touch) come
   due over `--window` seconds, until every one has fired.

It prints the per-tick cost, the lag (fired_at - fire_at) and the API's throughput and p99
in phases 2 and 3, each against its goal, and writes the report to bench/results/
(reminders.md, or reminders-quick.md with --quick).
"""

import argparse
import os
import random
import secrets
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench import probe, seed
from bench.datasets import dataset_urls, prepare, reset, reset_run
from bench.load import run as wrk
from bench.run import DEFAULT_DB, forget_wakeups, service_env
from bench.scenarios import TODOS, patch_scenario, read_scenario
from bench.server import Server

MODES = {
    "full": {"todos": "1m", "reminders": "100k", "due": 2000, "window": 30.0, "seconds": 15.0, "rounds": 5},
    "quick": {"todos": "100k", "reminders": "10k", "due": 500, "window": 15.0, "seconds": 10.0, "rounds": 2},
}
READ_CONNECTIONS, WRITE_CONNECTIONS = 24, 8
LEAD = 2.0  # seconds between arming the due reminders and the first one's time
GOALS = {
    "idle_ms": 10.0,  # p50 of a quiet idle tick: a few round trips, whatever the number of todos
    "tick_s": 1.0,  # p99 of a tick while reminders fire: it fits in its one-second period
    "lag_s": 5.0,  # p99 of fired_at - fire_at (the goal)
    "throughput": 0.8,  # API req/s while reminders fire, at least this times the same load with nothing due
    "p99": 1.5,  # API p99 while reminders fire, at most this times the same load's with nothing due
}
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="100k todos, 10k with a reminder, shorter phases")
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
        help="base PostgreSQL URL; the data set goes to <database>_reminders_<size>",
    )
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"))
    p.add_argument("--port", type=int, default=int(os.environ.get("BENCH_REMINDERS_PORT", 8170)))
    p.add_argument("--todos", help="todos in the data set (default 1m, 100k with --quick)")
    p.add_argument("--reminders", help="todos with a reminder (default 100k, 10k with --quick)")
    p.add_argument("--due", type=int, help="reminders that come due while the API is under load")
    p.add_argument("--window", type=float, help="seconds over which they come due")
    p.add_argument("--seconds", type=float, help="seconds of load with nothing due (the API's baseline)")
    p.add_argument("--rounds", type=int, help="rounds of the two phases under load, in alternating order")
    p.add_argument("--reseed", action="store_true", help="seed again even when the data set is already there")
    args = p.parse_args(argv)
    mode = MODES["quick" if args.quick else "full"]
    for name, default in mode.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    args.todos, args.reminders = seed.parse_size(args.todos), seed.parse_size(args.reminders)
    return args


def dataset_url(base_url, todos):
    """The data set's database: the main bench's layout, apart from its databases (its todos get reminders)."""
    url = make_url(base_url)
    base = url.set(database=f"{url.database}_reminders").render_as_string(hide_password=False)
    return dataset_urls(base, [todos])[todos]


def give_reminders(url, count):
    """Empty the reminder tables; give `count` open todos, spread over the ids, a reminder at a due time days ahead."""
    start = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=2)
    engine = probe.engine_for(url)
    with engine.begin() as conn:
        for table in ("reminder_schedule", "reminders_fired", "reminder_counters", "live_reminders"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("UPDATE todos SET reminders = '[]' WHERE reminders::text <> '[]'"))
        conn.execute(
            text(
                "WITH open AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM todos WHERE NOT completed), "
                "step AS (SELECT greatest(1, count(*) / :count) AS k FROM open) "
                "UPDATE todos SET reminders = '[0]', due_at = CAST(:start AS timestamp) + make_interval(secs => n) "
                "FROM open, step WHERE todos.id = open.id AND n % k = 0 AND n / k <= :count"
            ),
            {"count": count, "start": start},
        )
        given = conn.execute(
            text(
                "INSERT INTO reminder_schedule (todo_id, occurrence, offset_minutes, fire_at) "
                "SELECT id, due_at, 0, due_at FROM todos WHERE reminders::text = '[0]'"
            )
        ).rowcount
        conn.execute(text("ANALYZE todos"))
        conn.execute(text("ANALYZE reminder_schedule"))
    engine.dispose()
    return given


def arm(url, due, window):
    """Make `due` reminders of todos the load never touches come due over `window` seconds from LEAD on."""
    start = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=LEAD)
    engine = probe.engine_for(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TEMP TABLE armed ON COMMIT DROP AS "
                "SELECT todo_id AS id, CAST(:start AS timestamp) "
                "+ make_interval(secs => row_number() OVER (ORDER BY todo_id) * :step) AS fire "
                "FROM reminder_schedule JOIN todos ON todos.id = todo_id "
                "WHERE todos.list_id >= :first ORDER BY todo_id LIMIT :due"
            ),
            {"due": due, "start": start, "step": window / max(due, 1), "first": seed.FIRST_OTHER_LIST},
        )
        conn.execute(text("DELETE FROM reminder_schedule WHERE todo_id IN (SELECT id FROM armed)"))
        conn.execute(text("UPDATE todos SET due_at = armed.fire FROM armed WHERE armed.id = todos.id"))
        conn.execute(
            text(
                "INSERT INTO reminder_schedule (todo_id, occurrence, offset_minutes, fire_at) "
                "SELECT id, fire, 0, fire FROM armed"
            )
        )
    engine.dispose()


def worker_app(env):
    """The app as the worker runs it: the service's settings, fewer logs."""
    from app import create_app
    from app.config import from_environment

    return create_app(from_environment({k: str(v) for k, v in {**env, "LOG_LEVEL": "WARNING"}.items()}))


def ticks(app, seconds, done=None):
    """Tick once a second, as the worker does, for `seconds` or until `done()`: (seconds, CPU seconds) of each tick."""
    from app.recurrence.scheduler import tick

    times, ends = [], time.monotonic() + seconds
    with app.app_context():
        while time.monotonic() < ends:
            began, cpu = time.perf_counter(), time.thread_time()
            tick()
            times.append((time.perf_counter() - began, time.thread_time() - cpu))
            if done and done():
                break
            time.sleep(max(0.0, 1.0 - (time.perf_counter() - began)))
    return times


def quiet_ticks(app, count):
    """Seconds of each of `count` back-to-back ticks with nothing due, after one that opens the connection."""
    from app.recurrence.scheduler import tick

    times = []
    with app.app_context():
        tick()
        for _ in range(count):
            began = time.perf_counter()
            tick()
            times.append(time.perf_counter() - began)
    return times


def summary(figures):
    return ", ".join(f"{name} {r['rps']:.0f} req/s p99 {r['p99']:.1f} ms" for name, r in figures.items())


def under_load(server, load, seconds, work):
    """Run `work()` while wrk sends each (scenario, connections) of `load` for `seconds`; return both results."""
    with ThreadPoolExecutor(len(load)) as pool:
        running = {sc.name: pool.submit(wrk, server.url, sc, connections, seconds) for sc, connections in load}
        result = work()
        figures = {name: future.result() for name, future in running.items()}
    server.drain()
    return result, figures


def fired():
    """Reminders fired so far (in the app context of the ticks)."""
    from app.extensions import db

    count = db.session.execute(text("SELECT count(*) FROM reminders_fired")).scalar()
    db.session.commit()
    return count


def lags(app):
    """fired_at - fire_at, in seconds, of every reminder sent."""
    from app.extensions import db

    with app.app_context():
        rows = db.session.execute(
            text("SELECT EXTRACT(EPOCH FROM fired_at - fire_at) FROM reminders_fired WHERE outcome = 'sent'")
        ).scalars()
        return [float(lag) for lag in rows]


def plan_of_claim(url):
    engine = probe.engine_for(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "EXPLAIN SELECT id FROM reminder_schedule WHERE fire_at <= now() ORDER BY fire_at, id LIMIT 500 "
                "FOR UPDATE SKIP LOCKED"
            )
        ).scalars()
        plan = "\n".join(rows)
    engine.dispose()
    return plan


def pct(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def verdict(ok):
    return "met" if ok else "not met"


def tick_row(name, values, goal=""):
    ms = [v * 1000 for v in values]
    return (
        f"| {name} ({len(ms)}) | {pct(ms, 50):.2f} | {pct(ms, 99):.2f} | {max(ms, default=float('nan')):.2f} | {goal} |"
    )


def api_rows(name, pairs):
    """Two table rows (req/s, p99) of one scenario from its (nothing due, firing) figures of each round."""
    rows, errors = [], sum(before["errors"] + during["errors"] for before, during in pairs)
    label = f"{name} ({errors} errors)" if errors else name
    for key, unit, goal, ok in (
        ("rps", "req/s", f">= {GOALS['throughput']}x", lambda ratio: ratio >= GOALS["throughput"]),
        ("p99", "p99 ms", f"<= {GOALS['p99']}x", lambda ratio: ratio <= GOALS["p99"]),
    ):
        ratios = [during[key] / before[key] for before, during in pairs]
        ratio = statistics.median(ratios)
        each = ", ".join(f"{r:.2f}" for r in ratios)
        before, during = statistics.median(b[key] for b, _ in pairs), statistics.median(d[key] for _, d in pairs)
        rows.append(
            f"| {label}, {unit} | {before:.1f} | {during:.1f} | {ratio:.2f}x ({each}) | {goal}: {verdict(ok(ratio))} |"
        )
    return rows


def report(args, url, found, seeded, load_avg):
    quiet, idle, busy, lag = found["quiet"], found["idle"], found["busy"], found["lags"]
    sent, due = len(lag), args.due * args.rounds
    lag_p99 = pct(lag, 99)
    per_reminder = sum(busy) / sent * 1000 if sent else float("nan")
    cpu_per_reminder = found["busy_cpu"] / sent * 1000 if sent else float("nan")
    lines = [
        "# Reminder scheduler under API load" + (" (quick)" if args.quick else ""),
        "",
        f"{args.todos:,} todos, {found['given']:,} with a reminder ({url.rsplit('/', 1)[-1]}, {seeded}). "
        f"The service: Gunicorn, {os.cpu_count()} sync workers, production settings, on 127.0.0.1, under wrk: "
        f"GET /todos?limit=50 (c={READ_CONNECTIONS}) and PATCH /todos/<id> (c={WRITE_CONNECTIONS}, completing "
        "and reopening todos: cancels and reschedules). The scheduler ticks once a second in the bench process, "
        f"as the worker does. {args.rounds} rounds, each of two phases in alternating order: {args.seconds:.0f} s "
        f"with nothing due, and {args.due:,} reminders coming due over {args.window:.0f} s (until all have fired). "
        f"Machine: {os.cpu_count()} cores, shared; load average {load_avg[0]:.1f} before, {load_avg[1]:.1f} after.",
        "",
        "| tick, ms (ticks) | p50 | p99 | max | goal |",
        "| --- | --- | --- | --- | --- |",
        tick_row(
            "nothing due, no load",
            quiet,
            f"p50 < {GOALS['idle_ms']:.0f} ms: {verdict(pct(quiet, 50) * 1000 < GOALS['idle_ms'])}",
        ),
        tick_row("nothing due, API under load", idle),
        tick_row(
            "reminders firing, API under load",
            busy,
            f"p99 < {GOALS['tick_s'] * 1000:.0f} ms (fits its period): {verdict(pct(busy, 99) < GOALS['tick_s'])}",
        ),
        "",
        f"Ticks while firing took {per_reminder:.1f} ms per reminder sent ({cpu_per_reminder:.1f} ms of the "
        f"scheduler's CPU; the rest waits on PostgreSQL and on the busy cores), their total over {sent:,} reminders.",
        "",
        "| lag fired_at - fire_at, s | p50 | p99 | max | goal |",
        "| --- | --- | --- | --- | --- |",
        f"| {sent:,} of {due:,} sent | {pct(lag, 50):.2f} | {lag_p99:.2f} | {max(lag, default=float('nan')):.2f} | "
        f"p99 < {GOALS['lag_s']:.0f} s: {verdict(sent == due and lag_p99 < GOALS['lag_s'])} |",
        "",
        "| API (median of rounds) | nothing due | reminders firing | ratio (each round) | goal |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, pairs in found["api"].items():
        lines += api_rows(name, pairs)
    lines += ["", "Plan of the claim (PostgreSQL):", "", "```", found["plan"], "```"]
    return "\n".join(lines) + "\n"


def rounds(args, url, app, server, load):
    """The two phases under load, `args.rounds` times in alternating order: tick seconds and wrk figures."""
    found = {"idle": [], "busy": [], "idle_cpu": 0.0, "busy_cpu": 0.0, "api": {s.name: [] for s, _ in load}}
    expected = 0
    for r in range(args.rounds):
        figures = {}
        for phase in ("idle", "busy") if r % 2 == 0 else ("busy", "idle"):
            if phase == "idle":
                times, figures[phase] = under_load(server, load, args.seconds, lambda: ticks(app, args.seconds))
            else:
                arm(url, args.due, args.window)
                expected += args.due
                times, figures[phase] = under_load(
                    server,
                    load,
                    LEAD + args.window + 3,
                    lambda target=expected: ticks(app, LEAD + args.window + 60, lambda: fired() >= target),
                )
            found[phase] += [wall for wall, _ in times]
            found[f"{phase}_cpu"] += sum(cpu for _, cpu in times)
            print(
                f"round {r + 1}, {'nothing due' if phase == 'idle' else 'reminders firing'}: {summary(figures[phase])}"
            )
        for name, pairs in found["api"].items():
            pairs.append((figures["idle"][name], figures["busy"][name]))
    return found


def main(argv=None):
    args = parse_args(argv)
    if make_url(args.database_url).get_backend_name() != "postgresql":
        print("bench.reminders: skipped, PostgreSQL only (several workers claim with FOR UPDATE SKIP LOCKED)")
        return
    url = dataset_url(args.database_url, args.todos)
    began, reused = time.monotonic(), not args.reseed and seed.read_meta(url) == seed.plan(args.todos)
    params = prepare(url, args.todos, args.reseed, print)
    seeded = "data set reused" if reused else f"seeded in {time.monotonic() - began:.0f} s"
    reset_run(url)
    reset(url, params)
    found = {"given": give_reminders(url, args.reminders)}
    print(f"reminders: {found['given']:,} todos with a reminder")
    env = service_env(url, args.redis_url, (secrets.token_urlsafe(48), secrets.token_urlsafe(48)), os.cpu_count())
    app = worker_app(env)
    load_avg = [os.getloadavg()[0]]
    server = Server("reminders-app", "wsgi:app", args.port, env, tempfile.mkdtemp(prefix="bench-reminders-"))
    try:
        token = probe.login(server.url)
        load = [
            (read_scenario("GET /todos?limit=50", TODOS, probe.auth(token)), READ_CONNECTIONS),
            (patch_scenario(url, token, random.Random(8)), WRITE_CONNECTIONS),
        ]
        for scenario, _ in load:  # warm every worker's connections and caches
            wrk(server.url, scenario, 2, 1)
        found["quiet"] = quiet_ticks(app, 50)
        print(f"quiet: idle tick p50 {pct(found['quiet'], 50) * 1000:.2f} ms")
        found.update(rounds(args, url, app, server, load))
    finally:
        server.stop()
        forget_wakeups(args.redis_url)
    load_avg.append(os.getloadavg()[0])
    found["lags"], found["plan"] = lags(app), plan_of_claim(url)
    text_ = report(args, url, found, seeded, load_avg)
    print(text_)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / ("reminders-quick.md" if args.quick else "reminders.md")).write_text(text_)


if __name__ == "__main__":
    main()
