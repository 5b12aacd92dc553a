"""Medians, ratios and goals of a run, written as bench/results/{summary.md, throughput.png, results.json}."""

import json
import platform
import statistics
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

BARE, HEALTHZ = "ceiling: bare WSGI", "GET /healthz"
TODOS = "GET /todos?limit=50"
NOT_MODIFIED = "GET /todos/<id> (If-None-Match: 304)"
# Goals of the performance contract (README "Benchmarks").
CEILING_SHARE, LATENCY_VS_HEALTHZ, NOT_MODIFIED_VS_BARE, TAIL = 0.7, 4.0, 0.35, 2.0


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
    """The name of an endpoint's ceiling (bench/ceilings.py), measured in the same rounds."""
    return f"ceiling: {name}"


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
        "| endpoint | req/s | p50 ms | p99 ms | p99/p50 | × its ceiling | SQL statements |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, rounds in eps.items():
        sql = counts.get(name, {}).get("statements", "")
        x = f"{ratio(eps, name, ceiling_of(name)):.2f}" if ceiling_of(name) in eps else ""
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


def _plan_rows(plans):
    rows = []
    for endpoint, found in plans.items():
        rows += [f"**{endpoint}**", "", "```sql", found["sql"], "```", "", "```", *found["plan"], "```", ""]
    return rows


def _simple_rows(groups, first_label):
    rows = [f"| {first_label} | req/s | p50 ms | p99 ms |", "| --- | ---: | ---: | ---: |"]
    for name, rounds in groups.items():
        rows.append(f"| {name} | {med(rounds, 'rps'):,.0f} | {med(rounds, 'p50'):.2f} | {med(rounds, 'p99'):.2f} |")
    return rows


def goals(res):
    """[(goal, met, figures)] for every goal of the benchmark."""
    eps, found = res.get("endpoints", {}), []
    shares = {n: ratio(eps, n, ceiling_of(n)) for n in eps if not n.startswith("ceiling") and ceiling_of(n) in eps}
    below = ", ".join(f"{n}: {v:.2f}×" for n, v in shares.items() if v < CEILING_SHARE)
    found.append(
        (
            f"every hot endpoint ≥ {CEILING_SHARE}× its ceiling (c=32)",
            bool(shares) and not below,
            below or ", ".join(f"{n}: {v:.2f}×" for n, v in shares.items()) or "not measured",
        )
    )
    one = res.get("sweep", {}).get(1, res.get("sweep", {}).get("1", {}))
    if HEALTHZ in one and TODOS in one:
        slower = in_round(one[TODOS], one[HEALTHZ], "p50")
        found.append(
            (
                f"c=1 latency of {TODOS} ≤ {LATENCY_VS_HEALTHZ:g}× {HEALTHZ}",
                slower <= LATENCY_VS_HEALTHZ,
                f"{med(one[TODOS], 'p50'):.2f} vs {med(one[HEALTHZ], 'p50'):.2f} ms p50 ({slower:.1f}×)",
            )
        )
    else:
        found.append((f"c=1 latency of {TODOS} ≤ {LATENCY_VS_HEALTHZ:g}× {HEALTHZ}", False, "not measured"))
    if NOT_MODIFIED in eps and BARE in eps:
        share = ratio(eps, NOT_MODIFIED, BARE)
        found.append(
            (f"304 ≥ {NOT_MODIFIED_VS_BARE}× the bare WSGI floor", share >= NOT_MODIFIED_VS_BARE, f"{share:.2f}×")
        )
    else:
        found.append((f"304 ≥ {NOT_MODIFIED_VS_BARE}× the bare WSGI floor", False, "not measured"))
    served = [n for n in eps if not n.startswith("ceiling")]
    tails = {n: div(med(eps[n], "p99"), med(eps[n], "p50")) for n in served}
    over = ", ".join(f"{n}: {v:.1f}×" for n, v in tails.items() if v > TAIL)
    worst = max(tails, key=tails.get) if tails else None
    figures = over or (f"worst {worst}: {tails[worst]:.1f}×" if worst else "not measured")
    found.append((f"p99 ≤ {TAIL:g}× p50 at c=32, every endpoint", bool(tails) and not over, figures))
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
    jwt, pat = "GET /todos/<id>", "GET /todos/<id> (personal token)"
    goal = "a personal token costs no more than a JWT (GET /todos/<id>, ≤ 1.05× for noise)"
    if jwt in eps and pat in eps:
        cost = in_round(eps[jwt], eps[pat], "rps")  # JWT throughput over the token's: its relative cost
        found.append((goal, cost <= 1.05, f"{cost:.2f}× the cost of a JWT"))
    else:
        found.append((goal, False, res["skipped"].get(pat, "not measured")))
    none, hooks = "POST /lists/<id>/todos", "POST /lists/<id>/todos (10 webhooks)"
    if none in eps and hooks in eps:
        slower = in_round(eps[none], eps[hooks], "rps")
        found.append(("create with 10 webhooks within 1.1× of none", slower <= 1.1, f"{slower:.2f}×"))
    else:
        found.append(("create with 10 webhooks within 1.1× of none", False, res["skipped"].get(hooks, "not measured")))
    found += peer_goals(res.get("peers", {}))
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


def peer_goals(peers):
    """Per hot endpoint: at least 2× the textbook peer and at least 1× the FastAPI peer (in-round ratios)."""
    found = []
    for peer, floor in (("textbook", 2.0), ("FastAPI", 1.0)):
        ratios = {n: in_round(g["service"], g[peer], "rps") for n, g in peers.items() if peer in g}
        below = ", ".join(f"{n}: {v:.2f}×" for n, v in ratios.items() if v < floor)
        figures = below or ", ".join(f"{n}: {v:.2f}×" for n, v in ratios.items()) or "not measured"
        found.append((f"every hot endpoint ≥ {floor:g}× the {peer} peer (c=32)", bool(ratios) and not below, figures))
    return found


def _peer_rows(peers):
    labels = ["service", *sorted({label for g in peers.values() for label in g} - {"service"})]
    rows = [
        "| endpoint | "
        + " | ".join(f"{label} req/s" for label in labels)
        + " | "
        + " | ".join(f"× {label}" for label in labels[1:])
        + " |",
        "| --- |" + " ---: |" * (2 * len(labels) - 1),
    ]
    for name, group in peers.items():
        rps = [f"{med(group[label], 'rps'):,.0f}" if label in group else "" for label in labels]
        x = [f"{in_round(group['service'], group[label], 'rps'):.2f}" if label in group else "" for label in labels[1:]]
        rows.append(f"| {name} | " + " | ".join(rps) + " | " + " | ".join(x) + " |")
    return rows


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
        ("Ceilings: their SQL and plan on this data (EXPLAIN ANALYZE)", "plans", lambda r: _plan_rows(r["plans"])),
        (
            "Login (apart: its cost is the password hash)",
            "login",
            lambda r: _simple_rows(r["login"], f"endpoint (c={mode['cores']})"),
        ),
        ("Peers: the same endpoints on other stacks (c=32, bench/peers/)", "peers", lambda r: _peer_rows(r["peers"])),
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
