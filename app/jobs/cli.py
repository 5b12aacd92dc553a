"""`flask jobs ...`: run exports and imports without Celery, or once."""

import contextlib
import logging
import os
import signal
import time

import click
from flask import current_app
from flask.cli import AppGroup

jobs_cli = AppGroup("jobs", help="Run export and import jobs.")
log = logging.getLogger("app.jobs")


def run_safely(budget_seconds):
    """Run the due jobs; a database outage is logged, not raised, so a polling loop keeps going."""
    from app.extensions import db
    from app.jobs.runner import run_due

    try:
        return run_due(budget_seconds=budget_seconds)
    except Exception:
        log.exception("jobs: run failed; retrying")
        db.session.rollback()
        return 0
    finally:
        db.session.remove()


def lower_priority(nice):
    """Lower this process's CPU priority: its nice value by `nice`, and its session's autogroup.

    With the kernel's autogroups (/proc/sys/kernel/sched_autogroup_enabled, on by default in
    many distributions), CPU time is shared between sessions first and by nice value only
    within one: a runner in a session of its own (a service, a process started with setsid)
    at nice 10 still gets as much CPU as all the web workers of another session together.
    The autogroup's nice value lowers the whole session, so it is set only when this process
    leads its session; run from a shell, the runner shares the shell's session and its nice
    value already ranks it below the web workers started there.

    Never the SCHED_IDLE policy: a process in it gets next to no CPU (0.4% of a core,
    measured) while every core is busy, so on a saturated host a job would all but stall,
    its lease heartbeat with it, and it would not act on SIGTERM for many seconds. A nice
    value still gives it a small, steady share.
    """
    if nice <= 0:
        return
    os.nice(nice)
    if os.getsid(0) == os.getpid():
        # No autogroups here, or not allowed: the nice value alone.
        with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as autogroup:
            autogroup.write(str(nice))


@jobs_cli.command("run")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls for queued jobs.")
@click.option("--nice", default=10, show_default=True, help="Lower this process's CPU priority by this much.")
def run(interval, nice):
    """Run jobs until stopped, polling the database (SIGTERM stops after the current job)."""
    # An export is CPU-bound: on a host shared with the web workers, they come first.
    lower_priority(nice)
    logging.basicConfig(level=current_app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *args: stopping.append(True))
    log.info("jobs: polling every %.1f s", interval)
    try:
        while not stopping:
            if not run_safely(budget_seconds=0):
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    log.info("jobs: stopped")


@jobs_cli.command("run-once")
def run_once():
    """Run every due job, then exit."""
    from app.jobs.runner import run_due

    click.echo(f"{run_due()} jobs run.")
