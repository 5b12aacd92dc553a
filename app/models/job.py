"""Background jobs: exports and imports, acknowledged by the API and done by the worker."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import NEVER_REUSE_IDS, IdMixin, TimestampMixin, UTCDateTime

JOB_KINDS = ("export", "import")
JOB_STATUSES = ("queued", "running", "done", "failed")


class Job(IdMixin, TimestampMixin, db.Model):
    """One export or import of a user.

    A worker leases a job by setting `status` to running, bumping `attempts` and setting
    `locked_until`; it renews the lease while it works. A job whose lease ran out (its
    worker died) is taken again, or failed once `attempts` reaches the limit, so no job
    stays `running` forever. (id, attempts) identifies one run: a run whose lease was
    taken over can no longer write the job's outcome.
    """

    __tablename__ = "jobs"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="queued", nullable=False)
    progress: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    params: Mapped[dict] = mapped_column(JSON, nullable=False)
    file_path: Mapped[str | None] = mapped_column(String(1024))
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))

    __table_args__ = (
        Index("ix_jobs_user_kind_id", "user_id", "kind", "id"),
        Index("ix_jobs_status_locked_until", "status", "locked_until"),
        Index("ix_jobs_expires_at", "expires_at"),
        NEVER_REUSE_IDS,
    )
