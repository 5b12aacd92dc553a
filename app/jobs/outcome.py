"""What a job run may end in, below the runner and the work it runs (exports, imports).

A run that cannot be done raises JobFailed; one whose lease another runner took over
raises LeaseLost. `finish` writes the outcome only while the run still holds the job.
"""

from sqlalchemy import update

from app.extensions import db
from app.models import Job
from app.models.base import utcnow

_NO_SYNC = {"synchronize_session": False}


class LeaseLost(Exception):
    """Another runner holds the job now (this run's lease ran out): stop without writing."""


class JobFailed(Exception):
    """The job cannot be done; the message is the job's `error`, shown to its owner."""


def finish(job_id, attempt, **values):
    """Write a run's outcome in the current transaction, if the run still holds the job; raise LeaseLost if not."""
    j = Job
    now = utcnow()
    values = {"locked_until": None, "finished_at": now, "updated_at": now, **values}
    held = db.session.execute(
        update(j).where(j.id == job_id, j.attempts == attempt, j.status == "running").values(**values),
        execution_options=_NO_SYNC,
    ).rowcount
    if not held:
        raise LeaseLost()
