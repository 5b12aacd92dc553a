"""The job runner: lease a due job, renew the lease while working, record the outcome.

Any number of runners (Celery tasks, `flask webhooks run` / `flask jobs run` loops) may
run at once. A job is leased to one of them by a single atomic claim (PostgreSQL:
SELECT ... FOR UPDATE SKIP LOCKED; SQLite: UPDATE ... RETURNING under its write lock).
While it works, a heartbeat thread renews the lease and writes the progress through a
connection of its own. A runner that dies leaves the lease to run out: the job is then
taken again, or failed after JOB_MAX_ATTEMPTS runs, never left `running`. A run whose
lease was taken over can no longer write the outcome (every write is conditional on
the job's `attempts`), and an import writes its rows and its `done` in one transaction.
"""

import logging
import threading
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from app.extensions import db
from app.jobs import exporter, files, importer
from app.jobs.outcome import JobFailed, LeaseLost, finish
from app.models import Job
from app.models.base import utcnow

log = logging.getLogger(__name__)
_NO_SYNC = {"synchronize_session": False}
PURGE_EVERY_SECONDS = 60
_next_purge = 0.0  # when this process next removes expired export files
GAVE_UP = "The worker stopped {n} times while running this job; it was not retried again."


def _lease_seconds():
    return timedelta(seconds=current_app.config["JOB_LEASE_SECONDS"])


def _is_postgres():
    return db.session.get_bind().dialect.name == "postgresql"


def give_up_stale(now):
    """Fail the jobs whose lease ran out on their last allowed attempt; return how many."""
    j = Job
    stale = and_(j.status == "running", j.locked_until < now, j.attempts >= current_app.config["JOB_MAX_ATTEMPTS"])
    rows = db.session.execute(
        select(j.id, j.attempts, j.kind, j.file_path).where(stale).with_for_update(skip_locked=True)
    ).all()
    for job_id, attempts, _, _ in rows:
        values = {"status": "failed", "error": GAVE_UP.format(n=attempts), "locked_until": None}
        db.session.execute(
            update(j).where(j.id == job_id, stale).values(finished_at=now, updated_at=now, **values),
            execution_options=_NO_SYNC,
        )
    db.session.commit()
    for _, _, kind, file_path in rows:
        if kind == "import":
            files.remove(file_path)
    return len(rows)


def claim(now):
    """Lease the oldest due job (queued, or running with a lapsed lease); return (id, attempt) or None."""
    j = Job
    due = or_(j.status == "queued", and_(j.status == "running", j.locked_until < now))
    values = {"status": "running", "attempts": j.attempts + 1, "locked_until": now + _lease_seconds()}
    values.update(started_at=now, updated_at=now, progress=0)
    if _is_postgres():
        job_id = db.session.execute(select(j.id).where(due).order_by(j.id).limit(1).with_for_update(skip_locked=True))
        job_id = job_id.scalar()
        row = None
        if job_id is not None:
            row = db.session.execute(
                update(j).where(j.id == job_id).values(**values).returning(j.id, j.attempts), execution_options=_NO_SYNC
            ).first()
    else:
        first = select(j.id).where(due).order_by(j.id).limit(1).scalar_subquery()
        statement = update(j).where(j.id == first, due).values(**values).returning(j.id, j.attempts)
        row = db.session.execute(statement, execution_options=_NO_SYNC).first()
    db.session.commit()
    return tuple(row) if row else None


class Heartbeat:
    """Renews a run's lease and writes its progress every third of the lease, on a connection of its own."""

    def __init__(self, app, job_id, attempt):
        self.app, self.job_id, self.attempt = app, job_id, attempt
        self.progress = 0
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-heartbeat", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        with self.app.app_context():
            # Often enough for the progress to move every second, and for the lease to survive misses.
            interval = min(1.0, self.app.config["JOB_LEASE_SECONDS"] / 3)
            while not self._stop.wait(interval):
                try:
                    self.beat()
                except Exception as e:  # a busy or absent database: the lease has slack for a few misses
                    log.warning("job %s: could not renew the lease (%s)", self.job_id, type(e).__name__)

    def beat(self):
        """Extend the lease and store the progress; note when the lease was taken over."""
        now = utcnow()
        j = Job
        with db.engine.begin() as connection:
            held = connection.execute(
                update(j)
                .where(j.id == self.job_id, j.attempts == self.attempt, j.status == "running")
                .values(locked_until=now + _lease_seconds(), progress=min(self.progress, 99))
            ).rowcount
        if not held:
            self.lost = True

    def check(self):
        """Raise LeaseLost when another runner took the job over."""
        if self.lost:
            raise LeaseLost()


def run_one(job_id, attempt):
    """Do one leased job: export or import; record done or failed."""
    job = db.session.get(Job, job_id)
    if job is None:  # deleted with its user meanwhile
        db.session.commit()
        return
    kind, user_id, params, file_path = job.kind, job.user_id, dict(job.params), job.file_path
    db.session.commit()
    work = exporter.run if kind == "export" else importer.run
    app = current_app._get_current_object()
    try:
        with Heartbeat(app, job_id, attempt) as heartbeat:
            work(job_id, attempt, user_id, params, file_path, heartbeat)
    except LeaseLost:
        db.session.rollback()
        log.warning("job %s: the lease of attempt %s was taken over; its work is dropped", job_id, attempt)
        return
    except JobFailed as e:
        db.session.rollback()
        _fail(job_id, attempt, str(e), kind, file_path)
    except Exception:
        db.session.rollback()
        log.exception("job %s: unexpected error", job_id)
        _fail(job_id, attempt, "An unexpected error occurred while running the job.", kind, file_path)
    log.info("job %s (%s) finished attempt %s", job_id, kind, attempt)


def _fail(job_id, attempt, error, kind, file_path):
    try:
        finish(job_id, attempt, status="failed", error=error)
        db.session.commit()
    except LeaseLost:
        db.session.rollback()
        return
    if kind == "import":
        files.remove(file_path)


def run_due(budget_seconds=None, clock=utcnow):
    """Run due jobs one at a time until none is left; return how many ran.

    At least one job runs if one is due; no further one is claimed after `budget_seconds`.
    """
    global _next_purge
    started = time.monotonic()
    if started >= _next_purge:
        _next_purge = started + PURGE_EVERY_SECONDS
        purge_expired(clock())
    ran = 0
    while True:
        give_up_stale(clock())
        leased = claim(clock())
        if leased is None:
            return ran
        run_one(*leased)
        ran += 1
        if budget_seconds is not None and time.monotonic() - started >= budget_seconds:
            return ran


def purge_expired(now):
    """Remove the files of exports past EXPORT_RETENTION_DAYS (their download answers 410); return how many."""
    j = Job
    rows = db.session.execute(
        select(j.id, j.file_path).where(j.expires_at < now, j.file_path.is_not(None)).limit(500)
    ).all()
    for _, path in rows:
        files.remove(path)
    if rows:
        db.session.execute(
            update(j).where(j.id.in_([job_id for job_id, _ in rows])).values(file_path=None), execution_options=_NO_SYNC
        )
    db.session.commit()
    return len(rows)
