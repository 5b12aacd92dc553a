"""The measured requests: built through the real API, checked once, counted in-process."""

import random

import orjson
import requests

from bench import probe, seed
from bench.load import Request, Scenario

API = probe.API
TODOS = f"{API}/todos?limit=50"
TODOS_FILTERED = f"{API}/todos?limit=50&completed=false"


BARE = "ceiling: bare WSGI"
HEALTHZ = "GET /healthz"
# The hot endpoints that bench.ceilings:fastest serves the fastest honest way.
CEILINGS = (
    "GET /todos?limit=50",
    "GET /todos?limit=50&completed=false",
    "GET /lists/<id>/todos?limit=50",
    "GET /todos/<id>",
    "GET /todos/<id> (If-None-Match: 304)",
    "POST /lists/<id>/todos",
    "PATCH /todos/<id>",
)


def ceiling_name(name):
    return f"ceiling: {name}"


def read_scenario(name, path, headers, kind="read"):
    return Scenario(name, [Request(path)], headers=headers, kind=kind)


def _bodies(rng, count=100):
    tags = seed.TAGS
    return [
        orjson.dumps({"title": f"Benchmark todo {i}", "priority": i % 4, "tags": rng.sample(tags, 2)})
        for i in range(count)
    ]


def _reads(ctx, token, rng):
    h = probe.auth(token)
    read_ids = probe.todo_ids(ctx["url"], seed.READER_OWNED[:5] + seed.READER_EDITS + seed.READER_VIEWS, 500, rng)
    tags = probe.etags(ctx["app_url"], token, read_ids[: ctx["mode"]["etags"]])
    lists = [Request(f"{API}/lists/{lid}/todos?limit=50") for lid in seed.READER_READS]
    return [
        read_scenario("GET /todos?limit=50", TODOS, h),
        read_scenario("GET /todos?limit=50&completed=false", TODOS_FILTERED, h),
        Scenario("GET /lists/<id>/todos?limit=50", lists, headers=h),
        Scenario("GET /todos/<id>", [Request(f"{API}/todos/{i}") for i in read_ids], headers=h),
        Scenario(
            "GET /todos/<id> (If-None-Match: 304)",
            [Request(f"{API}/todos/{i}", headers={"If-None-Match": t}) for i, t in tags.items()],
            headers=h,
        ),
    ]


def patch_scenario(url, token, rng):
    """PATCH /todos/<id> of 500 of the reader's todos on lists 6-10: priority and completed, alternately set."""
    patch_ids = probe.todo_ids(url, seed.READER_OWNED[5:], 500, rng)
    patches = [
        Request(f"{API}/todos/{i}", "PATCH", orjson.dumps({"priority": n % 4, "completed": n % 2 == 0}))
        for n, i in enumerate(patch_ids)
    ]
    return Scenario("PATCH /todos/<id>", patches, headers=probe.auth(token), kind="write")


def _writes(ctx, token, rng):
    h = probe.auth(token)
    patches = patch_scenario(ctx["url"], token, rng)  # before the bodies: the seeded draws stay as they were
    bodies = _bodies(rng)
    return [
        Scenario(
            "POST /lists/<id>/todos",
            [Request(f"{API}/lists/{seed.WRITE_LIST}/todos", "POST", b) for b in bodies],
            headers=h,
            kind="write",
        ),
        Scenario(
            "POST /lists/<id>/todos (10 webhooks)",
            [Request(f"{API}/lists/{seed.WEBHOOK_LIST}/todos", "POST", b) for b in bodies],
            headers=h,
            kind="write",
        ),
        patches,
    ]


def _expect(name):
    if "304" in name:
        return 304
    return 201 if name.startswith("POST") else 200


def _check(base, scenario):
    """The status of the scenario's first request, sent once."""
    req = scenario.requests[0]
    headers = {**scenario.headers, **req.headers}
    if req.body is not None:
        headers["Content-Type"] = "application/json"
    r = requests.request(req.method, base + req.path, headers=headers, data=req.body, timeout=30)
    return r.status_code


def _optional(ctx, app, token, log):
    """Scenarios that depend on endpoints other engineers may not have shipped yet: (scenarios, skipped)."""
    found, skipped = [], {}
    if probe.exists(app, f"{API}/lists/1/share-links", "POST"):
        path = probe.share_link(ctx["app_url"], token, 1)
        found.append(read_scenario("GET /shared/<token>/todos", path, {}))
    else:
        skipped["GET /shared/<token>/todos"] = "not measured: no share-link endpoint"
    if probe.exists(app, f"{API}/webhooks", "POST"):
        log(f"webhooks: {probe.webhooks(ctx['app_url'], token, seed.WEBHOOK_LIST, 10)} subscribed")
    else:
        skipped["POST /lists/<id>/todos (10 webhooks)"] = "not measured: no /webhooks endpoint"
    return found, skipped


JWT_READ, PAT_READ = "GET /todos/<id>", "GET /todos/<id> (personal token)"


def _personal_twin(ctx, app, token, reads, skipped):
    """GET /todos/<id> again, the same requests with a personal access token: both in every round."""
    if not probe.exists(app, f"{API}/auth/tokens", "POST"):
        skipped[PAT_READ] = "not measured: no /auth/tokens endpoint"
        return []
    twin = next(sc for sc in reads if sc.name == JWT_READ)
    personal = probe.personal_token(ctx["app_url"], token, ["todos:read"])
    return [Scenario(PAT_READ, twin.requests, headers=probe.auth(personal))]


def main_scenarios(ctx, log):
    """Build every scenario; return (scenarios, {name: why skipped}, statement counts)."""
    from app import create_app
    from app.config import from_environment

    rng = random.Random(8)
    app = create_app(from_environment({k: str(v) for k, v in ctx["env"].items()}))
    token = probe.login(ctx["app_url"])
    shared, skipped = _optional(ctx, app, token, log)
    reads = _reads(ctx, token, rng)
    reads += _personal_twin(ctx, app, token, reads, skipped)
    candidates = reads + shared + _writes(ctx, token, rng)
    scenarios = []
    for sc in candidates:
        route = sc.requests[0].path.split("?")[0] if sc.requests else ""
        if sc.name in skipped:
            continue
        if not sc.requests or not probe.exists(app, route, sc.requests[0].method):
            skipped[sc.name] = "not measured: endpoint missing"
            continue
        status = _check(ctx["app_url"], sc)
        if status != _expect(sc.name):
            skipped[sc.name] = f"not measured: answered {status}, expected {_expect(sc.name)}"
            continue
        scenarios.append(sc)
    for name, why in skipped.items():
        log(f"{name}: {why}")
    ctx["todos_scenario"] = candidates[0]
    login_body = orjson.dumps({"email": "bench5@example.com", "password": seed.PASSWORD})
    ctx["login"] = Scenario("POST /auth/login", [Request(f"{API}/auth/login", "POST", login_body)], kind="login")
    ctx["walk"] = _walk(ctx)
    counts = probe.statement_counts(app, _counted(scenarios, token))
    return ceilings(scenarios) + scenarios, skipped, counts


def ceilings(scenarios):
    """The bare WSGI floor, and for each hot endpoint its ceiling: the same requests to bench.ceilings:fastest."""
    found = [read_scenario(BARE, "/", {}, "ceiling")]
    for sc in scenarios:
        if sc.name in CEILINGS:
            found.append(Scenario(ceiling_name(sc.name), sc.requests, headers={}, kind="ceiling"))
    return found


def _walk(ctx):
    """Page 1 and a deep page of the big list's cursor walk, as the heavy user."""
    token = probe.login(ctx["app_url"], seed.HEAVY_EMAIL)
    path = f"{API}/lists/{seed.BIG_LIST}/todos?limit=50"
    reached, deep = probe.cursor_at(ctx["app_url"], token, path, ctx["mode"]["deep_page"])
    ctx["deep_page"] = reached
    h = probe.auth(token)
    return [read_scenario("cursor walk: page 1", path, h), read_scenario(f"cursor walk: page {reached:,}", deep, h)]


def _counted(scenarios, token):
    """(name, method, path, headers, body) to count: each scenario's first request, and page sizes 5/50/200."""
    found = []
    for sc in scenarios:
        req = sc.requests[0]
        body = orjson.loads(req.body) if req.body else None
        found.append((sc.name, req.method, req.path, {**sc.headers, **req.headers}, body))
        if "limit=50" in req.path:
            for limit in (5, 200):
                found.append(
                    (
                        f"{sc.name} [limit={limit}]",
                        req.method,
                        req.path.replace("limit=50", f"limit={limit}"),
                        {**sc.headers, **req.headers},
                        body,
                    )
                )
    return found
