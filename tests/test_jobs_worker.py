"""The job runner as a real process: killed mid-job (SIGKILL), and under Celery on Redis."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from app.extensions import db
from app.jobs import broker
from app.models import Job, Todo, TodoList
from tests.conftest import REDIS_URL, make_config

ROOT = Path(__file__).resolve().parents[1]
# Seconds of work, the runner caught in the middle of it. On PostgreSQL after its first stored
# progress, 2/3 s in; on SQLite as soon as it has taken the job (see the test).
TODOS = {"postgresql": 30000, "sqlite": 10000}


@pytest.fixture
def app_config(database_url, tmp_path):
    return make_config(database_url, JOB_FILES_DIR=str(tmp_path / "jobs"))


def _env(app_config, database_url, **extra):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APP_ENV": "development",
        "SECRET_KEY": app_config["SECRET_KEY"],
        "JWT_SECRET_KEY": app_config["JWT_SECRET_KEY"],
        "JOB_FILES_DIR": app_config["JOB_FILES_DIR"],
        "FLASK_APP": "wsgi:app",
        "LOG_LEVEL": "INFO",
    }
    env.pop("REDIS_URL", None)  # without it the runner polls the database
    env.update(extra)
    return env


def _runner(env, log_path):
    log = open(log_path, "ab")  # noqa: SIM115 - the process holds it until it ends
    # At the normal priority: this is about leases and retries, not about yielding the CPU
    # (test_a_lowered_runner_still_gets_cpu_while_every_core_is_busy), and at nice 10 on a
    # loaded machine the import's seconds of work could take minutes.
    command = [sys.executable, "-m", "flask", "jobs", "run", "--interval", "0.1", "--nice", "0"]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def _read_only():
    """This test's reads: outside a request, a SQLite transaction begins IMMEDIATE (app.db_engine) and
    would wait on the write lock a running import holds; a read needs none."""
    db.session.connection(execution_options={"read_only": True})


def _job(app, job_id):
    with app.app_context():
        _read_only()
        job = db.session.get(Job, job_id)
        state = (job.status, job.progress, job.attempts, job.error)
        db.session.remove()
        return state


def _stop(process, timeout):
    """SIGTERM, then SIGKILL if it has not ended within `timeout`: no runner outlives its test."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def _wait(app, job_id, predicate, timeout, log_path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _job(app, job_id)
        if predicate(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {state}\n{Path(log_path).read_text()[-3000:]}")


def _counts(app):
    with app.app_context():
        _read_only()
        found = (db.session.query(TodoList).count(), db.session.query(Todo).count())
        db.session.remove()
        return found


def _start_import(client, auth, todos):
    user = auth.user()
    items = json.dumps([{"title": f"todo {i}", "completed": i % 2 == 0} for i in range(todos)]).encode()
    r = client.post(
        "/api/v1/imports",
        data={"file": (__import__("io").BytesIO(items), "big.json")},
        headers=user.headers,
        content_type="multipart/form-data",
    )
    assert r.status_code == 202, r.json
    return r.json["id"]


@pytest.mark.slow
@pytest.mark.serial  # seconds of work against a deadline: alone, not beside the parallel run
@pytest.mark.parametrize(("attempts", "outcome"), [(3, "done"), (1, "failed")])
def test_a_worker_killed_mid_import_leaves_the_job_retried_or_failed_and_never_half_done(
    app, client, auth, app_config, database_url, tmp_path, attempts, outcome
):
    backend = database_url.split(":", 1)[0]  # "sqlite" or "postgresql"
    sqlite, todos = backend == "sqlite", TODOS[backend]
    job_id = _start_import(client, auth, todos)
    log = tmp_path / "runner.log"
    env = _env(app_config, database_url, JOB_LEASE_SECONDS="2", JOB_MAX_ATTEMPTS=str(attempts))
    first = _runner(env, log)
    # On PostgreSQL the runner is caught after its first progress (2/3 s in, rows written in its
    # open transaction). On SQLite the first of the import's two passes (app.jobs.importer) only
    # reads, and may end before a heartbeat stores any progress; the second holds the write lock
    # that the heartbeat needs: there the runner is caught as soon as it has taken the job.
    try:
        _wait(app, job_id, lambda s: s[0] == "running" and (s[1] > 0 or sqlite), 60, log)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert _job(app, job_id)[0] == "running"
    assert _counts(app) == (0, 0)  # nothing of the interrupted run is visible
    second = _runner(env, log)
    try:
        status, progress, runs, error = _wait(app, job_id, lambda s: s[0] in ("done", "failed"), 90, log)
    finally:
        _stop(second, 15)
    assert status == outcome, error
    if outcome == "done":
        assert (progress, runs, error) == (100, 2, None)
        assert _counts(app) == (1, todos)  # once, whole
    else:
        assert runs == 1 and "stopped 1 times" in error
        assert _counts(app) == (0, 0)
        assert list((tmp_path / "jobs").glob("upload-*")) == []


@pytest.mark.redis
def test_a_new_job_enqueues_a_run_on_the_jobs_queue(app_config, database_url, auth, client):
    queue = redis.Redis.from_url(REDIS_URL)
    queue.delete(broker.QUEUE)  # in the test Redis database only
    client.application.config["REDIS_URL"] = REDIS_URL
    user = auth.user()
    r = client.post("/api/v1/exports", json={"format": "csv"}, headers=user.headers)
    assert r.status_code == 202
    [message] = [json.loads(raw) for raw in queue.lrange(broker.QUEUE, 0, -1)]
    assert message["headers"]["task"] == broker.RUN_TASK
    queue.delete(broker.QUEUE)


@pytest.mark.redis
@pytest.mark.slow
def test_celery_worker_runs_an_export(app, client, auth, app_config, database_url, tmp_path):
    """`flask webhooks run` with REDIS_URL: a Celery worker with beat takes the jobs queue too."""
    queue = redis.Redis.from_url(REDIS_URL)
    queue.delete(broker.QUEUE, "webhooks")
    app.config["REDIS_URL"] = REDIS_URL
    user = auth.user()
    client.post("/api/v1/lists", json={"name": "A"}, headers=user.headers)
    job = client.post("/api/v1/exports", json={"format": "json"}, headers=user.headers).json
    env = _env(app_config, database_url, REDIS_URL=REDIS_URL)
    log = tmp_path / "celery.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "webhooks", "run"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            state = _wait(app, job["id"], lambda s: s[0] == "done", 60, log)
        finally:
            _stop(worker, 20)
    assert state[:3] == ("done", 100, 1)
    r = client.get(job["url"] + "/download", headers=user.headers)
    assert json.loads(r.data)["lists"][0]["name"] == "A"
    queue.delete(broker.QUEUE, "webhooks")


LOWER = (
    "import os, sys; from app.jobs.cli import lower_priority; lower_priority(5); "
    "print(os.nice(0), os.sched_getscheduler(0) == os.SCHED_OTHER)"
)


def _autogroup(pid="self"):
    """The nice value of the process's autogroup (`/autogroup-7 nice 5`), or None without autogroups.

    Some kernels and sandboxes have no such file, others one that reads empty."""
    try:
        fields = Path(f"/proc/{pid}/autogroup").read_text().split()
    except OSError:
        return None
    return fields[-1] if fields else None


@pytest.mark.parametrize("own_session", [True, False])
def test_the_runner_lowers_its_autogroup_only_in_a_session_of_its_own(own_session):
    """The runner takes nice 5 and keeps the normal scheduling policy; leading its session (a service), it
    lowers its autogroup's priority too; sharing a shell's session, it leaves the session alone:
    that would slow everything started there."""
    before = _autogroup()
    child = subprocess.Popen(
        [sys.executable, "-c", LOWER + "; sys.stdout.flush(); sys.stdin.read()"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=own_session,
    )
    try:
        assert child.stdout.readline().split() == ["5", "True"]
        if before is not None:  # a kernel with autogroups
            assert _autogroup(child.pid) == ("5" if own_session else before)
            assert _autogroup() == before
    finally:
        child.communicate("")


HOG = "while True: pass"
SHARE = (
    "import os, time; from app.jobs.cli import lower_priority; lower_priority(5); "
    "start, cpu = time.monotonic(), time.process_time()\n"
    "while time.monotonic() - start < 2: pass\n"
    "print((time.process_time() - cpu) / (time.monotonic() - start))"
)


@pytest.mark.serial
def test_a_lowered_runner_still_gets_cpu_while_every_core_is_busy():
    """With every core busy, the runner's lowered priority leaves it a share of the CPU.

    Under the idle scheduling policy it got next to none (0.3% here): a job stalled, its
    lease heartbeat too, and it did not act on SIGTERM while the machine was loaded.
    """
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in os.sched_getaffinity(0)]
    try:
        time.sleep(0.2)
        out = subprocess.run([sys.executable, "-c", SHARE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) > 0.05, out.stdout  # nice 5 against nice 0: about a fifth of a core
