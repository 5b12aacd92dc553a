"""Where uploads and export files live: JOB_FILES_DIR (default instance/jobs), shared by API and worker."""

import contextlib
import os
import uuid
from pathlib import Path

from flask import current_app


def root():
    """The directory of job files, made on first use."""
    path = Path(current_app.config["JOB_FILES_DIR"] or Path(current_app.instance_path) / "jobs")
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_upload_path():
    """A fresh, unguessable path for an uploaded file."""
    return root() / f"upload-{uuid.uuid4().hex}"


def export_path(job_id, extension):
    """The path of an export's file."""
    return root() / f"export-{job_id}.{extension}"


def remove(path):
    """Delete a file if it is there."""
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
