"""The deploy kit, run as written: Debian's nginx (deploy/nginx/todos.conf) over https in front
of two instances (one started as deploy/systemd/todos-web.service does, one as the Procfile's
`web`) on PostgreSQL and Redis, the worker and the scheduler from their units, and a backup
restored with pg_dump / pg_restore as docs/operations.md says.

    DEPLOY_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/todos_deploy \\
    DEPLOY_REDIS_URL=redis://127.0.0.1:6379/8 DEPLOY_PORT=8180 .venv/bin/pytest deploy/

DEPLOY_PORT is the first of 8 ports used on 127.0.0.1. The database is emptied (schema
dropped, then migrated); a second one, `<name>_restored`, is made and dropped by the backup
test. nginx is installed with apt-get when missing. Every process started here is stopped
by its pid.
"""

import contextlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
DATABASE_URL = os.environ.get("DEPLOY_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("DEPLOY_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
PORT = int(os.environ.get("DEPLOY_PORT", "8180"))
HTTPS, HTTP, ONE, TWO, STUB, RESTORED, EVENTS = PORT, PORT + 1, PORT + 2, PORT + 3, PORT + 4, PORT + 5, PORT + 6
LIMIT = 20  # RATE_LIMIT_DEFAULT per minute, per client address when anonymous
PASSWORD = "correct horse battery staple"

if not DATABASE_URL and os.environ.get("FAIL_ON_SKIP") == "1":
    raise RuntimeError("the deploy check needs DEPLOY_DATABASE_URL (PostgreSQL)")
pytestmark = pytest.mark.skipif(not DATABASE_URL, reason="needs DEPLOY_DATABASE_URL (PostgreSQL)")


# Commands as the deploy files write them, run from this checkout's virtualenv.


def unit_command(unit, key="ExecStart"):
    text = (DEPLOY / "systemd" / unit).read_text()
    line = re.search(rf"^{key}=(.+)$", text, re.M).group(1)
    return [arg.replace("/srv/todos/.venv/bin/", f"{BIN}/") for arg in shlex.split(line)]


def procfile_command(name):
    """A Procfile line, its programs (behind `env` or `nice`) run from this checkout's virtualenv."""
    line = re.search(rf"^{name}: (.+)$", (ROOT / "Procfile").read_text(), re.M).group(1)
    return [str(BIN / arg) if "/" not in arg and (BIN / arg).exists() else arg for arg in shlex.split(line)]


class Process:
    """A child in its own process group, its output in a file."""

    def __init__(self, argv, env, log):
        self.log_path = log
        with open(log, "wb") as out:
            self.popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def wait_for(self, needle, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log:
                return
            assert self.popen.poll() is None, f"exited with {self.popen.returncode}:\n{self.log[-3000:]}"
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} not seen in {timeout}s:\n{self.log[-3000:]}")

    def stop(self, timeout=15):
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()


def service_env(database_url, port, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TEST_", "DEPLOY_"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        SECRET_KEY="deploy-check-secret-key-" + "s" * 32,
        JWT_SECRET_KEY="deploy-check-jwt-secret-" + "j" * 32,
        TRUSTED_PROXIES="1",
        RATE_LIMIT_DEFAULT=f"{LIMIT} per minute",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        PYTHONUNBUFFERED="1",
        FLASK_APP="wsgi:app",
    )
    env.update(extra)
    return env


def wait_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


# HTTP through nginx (https, the test certificate) or straight to an instance.


class Client:
    def __init__(self, cafile):
        self.tls = ssl.create_default_context(cafile=str(cafile))

    def request(self, method, path, body=None, headers=None, port=HTTPS, source="127.0.0.1", tls=None):
        tls = port == HTTPS if tls is None else tls
        headers = dict(headers or {})
        if isinstance(body, dict):
            body, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        if tls:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", port, timeout=30, context=self.tls, source_address=(source, 0)
            )
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        parsed = json.loads(data) if data and "json" in response.getheader("Content-Type", "") else None
        return SimpleNamespace(status=response.status, headers=response.headers, body=data, json=parsed)

    def user(self, port=HTTPS):
        email = f"deploy-{uuid.uuid4().hex[:12]}@example.com"
        assert (
            self.request("POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD}, port=port).status
            == 201
        )
        r = self.request("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD}, port=port)
        assert r.status == 200, r.body
        return {"Authorization": "Bearer " + r.json["access_token"]}


class EventStub(BaseHTTPRequestHandler):
    """Stands in for GET /api/v1/events while the service has none: one event, a pause, another."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(b"id: 1\nevent: change\ndata: {}\n\n")
        self.wfile.flush()
        time.sleep(3)
        self.wfile.write(b"id: 2\nevent: change\ndata: {}\n\n")

    def log_message(self, *args):
        pass


def nginx_binary():
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
        subprocess.run(
            [*sudo, "apt-get", "install", "-y", "-qq", "nginx"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            stdout=subprocess.DEVNULL,
        )
    return shutil.which("nginx") or "/usr/sbin/nginx"


def site_config(tmp, events_upstream):
    """deploy/nginx/todos.conf on this host's ports and test certificate; nothing else changed."""
    site = (DEPLOY / "nginx" / "todos.conf").read_text()
    site = site.replace("127.0.0.1:8000", f"127.0.0.1:{ONE}").replace("127.0.0.1:8001", f"127.0.0.1:{TWO}")
    site = site.replace("127.0.0.1:8100", f"127.0.0.1:{EVENTS}")
    if events_upstream:
        site = re.sub(r"upstream events \{[^}]*\}", f"upstream events {{\n    server {events_upstream};\n}}", site)
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{HTTPS} ssl http2;")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{HTTP};")
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)
    site = site.replace("/etc/ssl/certs/todos.example.com.pem", str(tmp / "cert.pem"))
    site = site.replace("/etc/ssl/private/todos.example.com.key", str(tmp / "key.pem"))
    temp = "\n".join(
        f"    {kind}_temp_path {tmp}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log warn;\n"
        f"events {{ worker_connections 512; }}\n"
        f"http {{\n    access_log {tmp}/nginx-access.log;\n{temp}\n{site}\n}}\n"
    )


@pytest.fixture(scope="module")
def stack():
    tmp = Path(tempfile.mkdtemp(prefix="todos-deploy-"))
    tmp.chmod(0o755)  # nginx's workers (nobody) write their temp files here
    started = []
    stub = None
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
                tmp / "key.pem",
                "-out",
                tmp / "cert.pem",
            ],
            check=True,
            capture_output=True,
        )
        # An empty database, then the migrations exactly as the unit runs them before start.
        subprocess.run(
            [
                BIN / "python",
                "-c",
                (
                    "import sys; from sqlalchemy import create_engine, text\n"
                    "e = create_engine(sys.argv[1].replace('postgresql://', 'postgresql+psycopg://', 1))\n"
                    "with e.begin() as c: c.execute(text('DROP SCHEMA public CASCADE; CREATE SCHEMA public'))"
                ),
                DATABASE_URL,
            ],
            check=True,
        )
        subprocess.run(
            unit_command("todos-web.service", "ExecStartPre"),
            cwd=ROOT,
            env=service_env(DATABASE_URL, ONE),
            check=True,
            capture_output=True,
        )
        one = Process(unit_command("todos-web.service"), service_env(DATABASE_URL, ONE), tmp / "one.log")
        started.append(one)
        two = Process(procfile_command("web"), service_env(DATABASE_URL, TWO), tmp / "two.log")
        started.append(two)
        wait_port(ONE), wait_port(TWO)
        client = Client(tmp / "cert.pem")
        import redis

        limits = redis.Redis.from_url(REDIS_URL)
        for key in limits.scan_iter("LIMITS*"):  # counts of an earlier run in the same minute
            limits.delete(key)
        probe = http.client.HTTPConnection("127.0.0.1", ONE, timeout=10)
        probe.request("GET", "/api/v1/events", headers=client.user(port=ONE))
        events_status = probe.getresponse().status  # the head only: a stream never ends
        probe.close()
        events_upstream = None
        if events_status != 404:  # the stream's own gevent instance, as its unit starts it
            argv = [arg.replace("PORT=8100", f"PORT={EVENTS}") for arg in unit_command("todos-events.service")]
            events = Process(argv, service_env(DATABASE_URL, EVENTS), tmp / "events.log")
            started.append(events)
            wait_port(EVENTS)
        if events_status == 404:
            stub = ThreadingHTTPServer(("127.0.0.1", STUB), EventStub)
            threading.Thread(target=stub.serve_forever, daemon=True).start()
            events_upstream = f"127.0.0.1:{STUB}"
        (tmp / "nginx.conf").write_text(site_config(tmp, events_upstream))
        nginx = nginx_binary()
        checked = subprocess.run(
            [nginx, "-t", "-p", str(tmp), "-c", str(tmp / "nginx.conf")], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stderr
        proxy = Process([nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf")], dict(os.environ), tmp / "nginx.out")
        started.append(proxy)
        wait_port(HTTPS)
        yield SimpleNamespace(tmp=tmp, one=one, two=two, client=client, real_events=stub is None)
    finally:
        for process in reversed(started):
            process.stop()
        if stub:
            stub.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def served_by(stack, request_id):
    """Which instance logged the request with this id."""
    return {name for name in ("one", "two") if request_id in getattr(stack, name).log}


def test_https_only_with_the_certificate(stack):
    assert stack.client.request("GET", "/healthz").status == 200
    r = stack.client.request("GET", "/healthz", port=HTTP, tls=False)
    assert r.status == 308 and r.headers["Location"].startswith("https://"), (r.status, r.headers)


def test_client_addresses_reach_the_rate_limit(stack):
    """X-Forwarded-For from nginx names the client: one address is limited, another is not,
    and a client's own X-Forwarded-For changes nothing."""
    statuses = []
    for n in range(LIMIT + 1):
        spoof = {"X-Forwarded-For": f"10.9.8.{n}", "X-Request-ID": f"ratelimit-{n}-{uuid.uuid4().hex[:8]}"}
        statuses.append(stack.client.request("GET", "/api/v1/openapi.json", headers=spoof, source="127.0.0.5").status)
    assert statuses == [200] * LIMIT + [429], statuses
    assert stack.client.request("GET", "/api/v1/openapi.json", source="127.0.0.6").status == 200
    logged = [
        json.loads(line)
        for log in (stack.one.log, stack.two.log)
        for line in log.splitlines()
        if '"ratelimit-0-' in line
    ]
    assert logged and logged[0]["remote_addr"] == "127.0.0.5", logged


def test_urls_are_https_from_x_forwarded_proto(stack):
    headers = stack.client.user()
    r = stack.client.request("POST", "/api/v1/lists", {"name": "Deploy"}, headers=headers)
    assert r.status == 201, r.body
    base = f"https://127.0.0.1:{HTTPS}/api/v1/lists/"
    assert r.headers["Location"].startswith(base) and r.json["url"].startswith(base), (r.headers["Location"], r.json)


def test_a_logout_on_one_instance_holds_on_the_other(stack):
    headers = stack.client.user()

    def me_until_both(status):
        seen = set()
        for n in range(40):
            request_id = f"logout-{status}-{n}-{uuid.uuid4().hex[:8]}"
            r = stack.client.request("GET", "/api/v1/users/me", headers={**headers, "X-Request-ID": request_id})
            assert r.status == status, (r.status, r.body)
            time.sleep(0.05)  # the line is written after the response
            seen |= served_by(stack, request_id)
            if seen == {"one", "two"}:
                return
        raise AssertionError(f"round-robin reached only {seen}")

    me_until_both(200)
    request_id = f"logout-{uuid.uuid4().hex}"
    assert (
        stack.client.request("POST", "/api/v1/auth/logout", headers={**headers, "X-Request-ID": request_id}).status
        == 204
    )
    me_until_both(401)


def test_the_event_stream_passes_through_unbuffered(stack):
    """The first event arrives while the stream is still open, seconds before it ends."""
    headers = {"Accept": "text/event-stream"}
    if stack.real_events:
        headers.update(stack.client.user())
    conn = http.client.HTTPSConnection("127.0.0.1", HTTPS, timeout=10, context=stack.client.tls)
    try:
        conn.request("GET", "/api/v1/events", headers=headers)
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
        started = time.monotonic()
        if stack.real_events:
            assert stack.client.request("POST", "/api/v1/lists", {"name": "Live"}, headers=headers).status == 201
        lines = []
        while "event: change" not in lines:
            raw = response.fp.readline()
            assert raw, f"the stream ended without an event: {lines}"
            lines.append(raw.decode().strip())
        assert time.monotonic() - started < 2.5, "the event waited in a buffer"
    finally:
        conn.close()


def test_body_limits(stack):
    big = b"x" * (2 * 1024 * 1024)
    r = stack.client.request("POST", "/api/v1/lists", big, headers={"Content-Type": "application/json"})
    assert r.status == 413, r.status
    # Up to 11 MiB goes through to the service on /api/v1/imports (which answers for itself).
    r = stack.client.request("POST", "/api/v1/imports", big, headers={"Content-Type": "application/octet-stream"})
    assert r.status != 413 and r.headers["Content-Type"].startswith("application/problem+json") or r.status < 300


def test_metrics_are_refused_from_outside(stack):
    assert stack.client.request("GET", "/metrics").status == 403
    r = stack.client.request("GET", "/metrics", port=ONE, tls=False)
    assert r.status == 200 and b"http_requests_total" in r.body


def test_worker_jobs_worker_and_scheduler_run_from_their_units(stack):
    """The scheduler, the worker (webhooks queue) and the jobs worker (jobs queue, Nice=10) as
    their units start them: an export asked for through nginx is run by the jobs worker."""
    env = service_env(DATABASE_URL, 0)
    beat_schedule = stack.tmp / "celerybeat-schedule"
    beat_argv = [
        str(beat_schedule) if a.endswith("celerybeat-schedule") else a for a in unit_command("todos-scheduler.service")
    ]
    worker = Process(unit_command("todos-worker.service") + ["--pool=solo"], env, stack.tmp / "worker.log")
    jobs = Process(unit_command("todos-jobs.service") + ["--pool=solo"], env, stack.tmp / "jobs.log")
    beat = Process(beat_argv, env, stack.tmp / "beat.log")
    try:
        worker.wait_for("ready.", timeout=60)
        jobs.wait_for("ready.", timeout=60)
        beat.wait_for("beat: Starting", timeout=60)
        headers = stack.client.user()
        made = stack.client.request("POST", "/api/v1/lists", {"name": "Exported"}, headers=headers)
        assert made.status == 201
        job = stack.client.request("POST", "/api/v1/exports", {"format": "json"}, headers=headers)
        assert job.status == 202, job.body
        location = urllib.parse.urlsplit(job.headers["Location"]).path
        deadline = time.monotonic() + 60
        while (state := stack.client.request("GET", location, headers=headers).json)["status"] != "done":
            assert state["status"] in ("queued", "running") and time.monotonic() < deadline, (state, jobs.log[-3000:])
            time.sleep(0.5)
        download = stack.client.request("GET", location + "/download", headers=headers)
        assert download.status == 200 and json.loads(download.body)["lists"][0]["name"] == "Exported"
        assert "Task jobs.run[" in jobs.log and "jobs.run[" not in worker.log
    finally:
        worker.stop(), jobs.stop(), beat.stop()
    unit = (DEPLOY / "systemd" / "todos-jobs.service").read_text()
    assert all(f"\n{setting}\n" in unit for setting in ("Nice=10", "CPUWeight=20"))
    assert "CPUSchedulingPolicy" not in unit  # idle would stall jobs on a busy host
    for name, unit in (("worker", "todos-worker.service"), ("jobs", "todos-jobs.service")):
        queues = {arg for arg in unit_command(unit) if arg.startswith("--queues=")}
        assert queues and queues == {arg for arg in procfile_command(name) if arg.startswith("--queues=")}


def test_backup_and_restore(stack):
    """pg_dump, pg_restore into a new database, an instance on it: the same answers."""
    headers = stack.client.user()
    made = stack.client.request("POST", "/api/v1/lists", {"name": "Kept"}, headers=headers).json
    for title in ("one", "two"):
        assert (
            stack.client.request("POST", f"/api/v1/lists/{made['id']}/todos", {"title": title}, headers=headers).status
            == 201
        )
    paths = ["/api/v1/users/me", "/api/v1/lists", f"/api/v1/lists/{made['id']}/todos", "/api/v1/auth/sessions"]
    # Straight to an instance with the headers nginx sends, so that the URLs agree.
    proxy = {
        "X-Forwarded-For": "127.0.0.1",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "127.0.0.1",
        "X-Forwarded-Port": str(HTTPS),
    }
    before = {p: stack.client.request("GET", p, headers={**headers, **proxy}, port=ONE, tls=False).json for p in paths}

    dump = stack.tmp / "todos.dump"
    restored = DATABASE_URL.rsplit("/", 1)[0] + "/" + DATABASE_URL.rsplit("/", 1)[1].split("?")[0] + "_restored"
    admin = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    name = restored.rsplit("/", 1)[1]
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", DATABASE_URL], check=True)
    subprocess.run(["psql", "-q", admin, "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True)
    subprocess.run(["psql", "-q", admin, "-c", f'CREATE DATABASE "{name}"'], check=True)
    server = None
    try:
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored}", dump], check=True)
        server = Process(unit_command("todos-web.service"), service_env(restored, RESTORED), stack.tmp / "restored.log")
        wait_port(RESTORED)
        after = {
            p: stack.client.request("GET", p, headers={**headers, **proxy}, port=RESTORED, tls=False).json
            for p in paths
        }
        for body in (before, after):  # the one thing a request changes: when the session was last used
            for item in body["/api/v1/auth/sessions"]["items"]:
                item.pop("last_used_at", None)
        assert after == before
    finally:
        if server:
            server.stop()
        subprocess.run(["psql", "-q", admin, "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)
