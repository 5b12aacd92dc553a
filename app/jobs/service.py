"""Jobs as the API sees them: create an export or an import, find one of the caller's, hand out a download."""

from flask import current_app
from sqlalchemy import func, select

from app.errors import abort
from app.extensions import db
from app.jobs import files
from app.models import Job, User
from app.models.base import utcnow
from app.permissions import membership_for

IMPORT_MAX_BYTES = 10 * 1024 * 1024
PENDING_PER_USER = 5  # queued or running jobs of one user; more waits for one of them to end
NOUNS = {"export": "export", "import": "import"}


def check_pending(user_id):
    """Answer 409 when the user already has PENDING_PER_USER jobs queued or running."""
    # Lock the user's row so that concurrent requests cannot pass the cap together.
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())
    pending = db.session.execute(
        select(func.count()).where(Job.user_id == user_id, Job.status.in_(("queued", "running")))
    ).scalar_one()
    if pending >= PENDING_PER_USER:
        abort(409, f"You have {pending} exports and imports waiting or running; start more once one is done.")


def create_export(user_id, data):
    """Queue an export of the caller's lists, or of one list they can see (404 otherwise)."""
    if data.get("list_id") is not None:
        membership_for(data["list_id"])
    check_pending(user_id)
    params = {"format": data["format"], "list_id": data.get("list_id")}
    job = Job(user_id=user_id, kind="export", status="queued", progress=0, attempts=0, params=params)
    db.session.add(job)
    db.session.flush()
    return job


def create_import(user_id, upload):
    """Store the uploaded file under JOB_FILES_DIR and queue its import; 413 over IMPORT_MAX_BYTES."""
    check_pending(user_id)
    path = files.new_upload_path()
    upload.save(path)
    if path.stat().st_size > IMPORT_MAX_BYTES:
        files.remove(path)
        abort(413, f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MiB.")
    params = {"filename": (upload.filename or "")[:255]}
    job = Job(user_id=user_id, kind="import", status="queued", progress=0, attempts=0, params=params)
    job.file_path = str(path)
    db.session.add(job)
    db.session.flush()
    return job


def find(user_id, kind, job_id):
    """Return the caller's export or import, or answer 404 (someone else's is as missing as none)."""
    job = db.session.execute(
        select(Job).where(Job.id == job_id, Job.user_id == user_id, Job.kind == kind)
    ).scalar_one_or_none()
    if job is None:
        abort(404, f"No such {NOUNS[kind]}.")
    return job


def download_path(job):
    """The path of a finished export's file; 409 while it is not done, 410 once its retention has passed."""
    if job.status != "done":
        detail = f"The export failed: {job.error}" if job.status == "failed" else f"The export is {job.status}."
        abort(409, detail + " Poll the export until its status is done.")
    if job.expires_at is None or job.expires_at <= utcnow() or not job.file_path:
        days = current_app.config["EXPORT_RETENTION_DAYS"]
        abort(410, f"The export's file was removed after {days} days; start a new export.")
    return job.file_path
