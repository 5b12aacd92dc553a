"""The mail outbox: one row per mail, written in the transaction of the change it tells about."""

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import NEVER_REUSE_IDS, IdMixin, UTCDateTime, utcnow

MAIL_STATUSES = ("pending", "sent", "dropped", "failed")


class OutboxMail(IdMixin, db.Model):
    """A mail to send: its kind and context until the worker renders it, then its parts until sent.

    Tokens are made by the worker when it renders the mail (app.mail.kinds), so a request
    never holds one; the rendered parts, which carry the link, are emptied once sent.
    """

    __tablename__ = "mail_outbox"

    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    to_addr: Mapped[str] = mapped_column(String(254), nullable=False)
    context: Mapped[dict] = mapped_column(JSON, nullable=False)
    message_id: Mapped[str] = mapped_column(String(255), nullable=False)
    subject: Mapped[str | None] = mapped_column(String(255))
    to_name: Mapped[str | None] = mapped_column(String(100))
    text_body: Mapped[str | None] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_mail_outbox_status_next_attempt_at", "status", "next_attempt_at"), NEVER_REUSE_IDS)
