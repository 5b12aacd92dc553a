"""Medians, ratios and goals of a run, written as bench/results/{summary.md, throughput.png, results.json}."""

import json
import platform
import statistics
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

CORE, CORE_FILTERED, BARE = "ceiling: Core view", "ceiling: Core view, completed=false", "ceiling: bare WSGI"
TODOS = "GET /todos?limit=50"


def backend(url):
    return "PostgreSQL" if make_url(url).get_backend_name() == "postgresql" else "SQLite"


def med(rounds, key):
    return statistics.median(r[key] for r in rounds)


def div(a, b):
    """a / b, or infinity when nothing was measured (no request finished)."""
    return a / b if b else float("inf")


def in_round(rounds_a, rounds_b, key):
    """Median over rounds of a[key] / b[key], each pair measured in the same round."""
    return statistics.median(div(a[key], b[key]) for a, b in zip(rounds_a, rounds_b, strict=False))


def ceiling_of(name):
    return CORE_FILTERED if "completed=false" in name else CORE


def ratio(endpoints, name, ceiling):
    """Median over rounds of the in-round throughput ratio to `ceiling`."""
    pairs = zip(endpoints[name], endpoints[ceiling], strict=False)
    return statistics.median(div(a["rps"], b["rps"]) for a, b in pairs)


def _machine():
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
        ).stdout.strip()
    except OSError:
        commit = "?"
    return cpu, commit


def _endpoint_rows(res):
    eps, counts = res["endpoints"], res["statements"]
    rows = [
        "| endpoint | req/s | p50 ms | p99 ms | p99/p50 | × Core ceiling | SQL statements |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, rounds in eps.items():
        sql = counts.get(name, {}).get("statements", "")
        x = "1.00" if name == CORE else (f"{ratio(eps, name, ceiling_of(name) if name != BARE else CORE):.2f}")
        errors = sum(r["errors"] for r in rounds)
        flag = (
            f" ({errors} errors)"
            if errors
            else " (too few requests)"
            if min(r["requests"] for r in rounds) < 20
            else ""
        )
        rows.append(
            f"| {name}{flag} | {med(rounds, 'rps'):,.0f} | {med(rounds, 'p50'):.2f} | {med(rounds, 'p99'):.2f} "
            f"| {div(med(rounds, 'p99'), med(rounds, 'p50')):.1f} | {x} | {sql} |"
        )
    for name, why in res["skipped"].items():
        rows.append(f"| {name} | {why} | | | | | |")
    return rows


def _simple_rows(groups, first_label):
    rows = [f"| {first_label} | req/s | p50 ms | p99 ms |", "| --- | ---: | ---: | ---: |"]
    for name, rounds in groups.items():
        rows.append(f"| {name} | {med(rounds, 'rps'):,.0f} | {med(rounds, 'p50'):.2f} | {med(rounds, 'p99'):.2f} |")
    return rows


def goals(res):
    """[(goal, met, figures)] for every goal of the benchmark."""
    eps, found = res.get("endpoints", {}), []
    x = ratio(eps, TODOS, CORE) if TODOS in eps else None
    found.append(
        (
            "GET /todos?limit=50 ≥ 0.6× the Core ceiling",
            x is not None and x >= 0.6,
            f"{x:.2f}×" if x else "not measured",
        )
    )
    reads = [n for n in eps if not n.startswith(("ceiling", "POST", "PATCH"))]
    tails = {n: div(med(eps[n], "p99"), med(eps[n], "p50")) for n in reads}
    over = ", ".join(f"{n}: {v:.1f}×" for n, v in tails.items() if v > 3)
    worst = max(tails, key=tails.get) if tails else None
    figures = over or (f"worst {worst}: {tails[worst]:.1f}×" if worst else "not measured")
    found.append(("p99 ≤ 3× p50 at c=32, every read endpoint", bool(tails) and not over, figures))
    sc = res.get("scaling", {})
    sizes = [n for n in sc if n.endswith("todos")]
    if len(sizes) >= 2:
        small, big = med(sc[sizes[0]], "p50"), med(sc[sizes[-1]], "p50")
        slower = in_round(sc[sizes[-1]], sc[sizes[0]], "p50")
        found.append(
            (
                f"latency at {sizes[-1]} within 1.15× of {sizes[0]}",
                slower <= 1.15,
                f"{small:.2f} → {big:.2f} ms ({slower:.2f}×)",
            )
        )
    pages = [n for n in sc if n.startswith("cursor walk")]
    if len(pages) == 2:
        p1, deep = med(sc[pages[0]], "p50"), med(sc[pages[1]], "p50")
        slower = in_round(sc[pages[1]], sc[pages[0]], "p50")
        found.append(
            (
                f"{pages[1].split(': ')[1]} within 1.15× of page 1",
                slower <= 1.15,
                f"{p1:.2f} → {deep:.2f} ms ({slower:.2f}×)",
            )
        )
    counts = res["statements"]
    read_counts = {n: c["statements"] for n, c in counts.items() if not n.startswith(("POST", "PATCH"))}
    fixed = all(
        len({c for n, c in read_counts.items() if n.split(" [")[0] == base}) == 1
        for base in {n.split(" [")[0] for n in read_counts}
    )
    found.append(
        (
            "≤ 3 statements per read incl. auth, fixed whatever the page size",
            bool(read_counts) and max(read_counts.values()) <= 3 and fixed,
            ", ".join(f"{n}: {c}" for n, c in read_counts.items() if c > 3)
            or f"max {max(read_counts.values(), default=0)}; fixed: {fixed}",
        )
    )
    full, cached = "GET /todos/<id>", "GET /todos/<id> (If-None-Match: 304)"
    if full in eps and cached in eps:
        cost = in_round(eps[full], eps[cached], "rps")
        found.append(("304 costs < half of a full GET /todos/<id>", cost < 0.5, f"{cost:.2f}× the cost"))
    else:
        found.append(("304 costs < half of a full GET /todos/<id>", False, "not measured"))
    none, hooks = "POST /lists/<id>/todos", "POST /lists/<id>/todos (10 webhooks)"
    if none in eps and hooks in eps:
        slower = in_round(eps[none], eps[hooks], "rps")
        found.append(("create with 10 webhooks within 1.1× of none", slower <= 1.1, f"{slower:.2f}×"))
    else:
        found.append(("create with 10 webhooks within 1.1× of none", False, res["skipped"].get(hooks, "not measured")))
    rss = [max(r.values()) for r in res.get("rss_rounds", []) if r]
    if rss:
        grew = rss[-1] - rss[0]
        found.append(
            (
                "worker RSS < 150 MB, no growth between rounds",
                max(rss) < 150 and grew <= max(2, rss[0] * 0.02),
                f"max per round {', '.join(f'{v:.0f}' for v in rss)} MB",
            )
        )
    return found


def _chart(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = sorted(res["sweep"], key=int)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for name in res["sweep"][levels[0]]:
        ax.plot([int(c) for c in levels], [med(res["sweep"][c][name], "rps") for c in levels], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks([int(c) for c in levels], [str(c) for c in levels])
    ax.set_xlabel("concurrent connections (wrk)")
    ax.set_ylabel("requests per second (median)")
    ax.set_title(f"Throughput vs concurrency — {res['database']}, {res['main_size']:,} todos")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _sweep_rows(sweep):
    rows = ["| target | " + " | ".join(f"c={c}" for c in sweep) + " |", "| --- |" + " ---: |" * len(sweep)]
    for name in next(iter(sweep.values())):
        rows.append(f"| {name} | " + " | ".join(f"{med(sweep[c][name], 'rps'):,.0f}" for c in sweep) + " |")
    return ["![throughput](throughput.png)", "", *rows]


def _rss_rows(res):
    rows = [
        f"- round {i}: " + ", ".join(f"pid {pid}: {mb:.1f}" for pid, mb in r.items())
        for i, r in enumerate(res.get("rss_rounds", []), 1)
    ]
    return rows + ["- end: " + ", ".join(f"pid {pid}: {mb:.1f}" for pid, mb in res.get("rss_end", {}).items())]


def _sql_rows(counts):
    return ["| request | status | statements |", "| --- | ---: | ---: |"] + [
        f"| {n} | {c['status']} | {c['statements']} |" for n, c in counts.items()
    ]


def write(res, out, log):
    cpu, commit = _machine()
    mode = res["mode"]
    lines = [
        f"# Benchmark results ({mode['name']} run)",
        "",
        f"{res['started']}, commit `{commit}`, {mode['cores']} × {cpu}, {res['database']}, "
        f"main data set {res['main_size']:,} todos. {mode['rounds']} rounds of {mode['seconds']:g} s per "
        "endpoint at 32 connections; figures are medians; ratios are taken within each round. "
        f"Run time {res['elapsed'] / 60:.1f} min; load average {res['load'][0]:.1f} at the start, "
        f"{res['load'][1]:.1f} at the end (other work on the machine shows here).",
    ]
    sections = [
        ("Endpoints (c=32)", "endpoints", _endpoint_rows),
        (
            "Login (apart: its cost is the password hash)",
            "login",
            lambda r: _simple_rows(r["login"], f"endpoint (c={mode['cores']})"),
        ),
        ("Throughput vs concurrency", "sweep", lambda r: _sweep_rows(r["sweep"])),
        ("Gunicorn workers (GET /todos?limit=50, c=32)", "workers", lambda r: _simple_rows(r["workers"], "workers")),
        ("Scaling and deep pages (c=1)", "scaling", lambda r: _simple_rows(r["scaling"], "GET /todos?limit=50 at")),
        ("Worker RSS (MB, after each round)", "rss_rounds", _rss_rows),
        ("SQL statements per request (in-process, counted)", "statements", lambda r: _sql_rows(r["statements"])),
    ]
    for title, key, render in sections:
        if res.get(key):
            lines += ["", f"## {title}", "", *render(res)]
    lines += ["", "## Goals", ""]
    for goal, met, figures in goals(res):
        lines.append(f"- **{'met' if met else 'NOT MET'}**: {goal} — {figures}")
        log(f"goal {'met    ' if met else 'NOT MET'}: {goal} — {figures}")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps(res, indent=1, default=str))
    if res.get("sweep"):
        _chart(res, out / "throughput.png")
    log(f"bench: wrote {out / 'summary.md'}")
