"""Helpers for mail tests: run the outbox worker, read the outbox."""

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.mail.worker import drain
from app.models import OutboxMail
from app.models.base import utcnow


def send_mail(app, later=timedelta(0)):
    """Run the mail worker once, as if `later` had passed; return how many sends it attempted."""
    with app.app_context():
        return drain(clock=lambda: utcnow() + later)


def outbox(app):
    """Every outbox row, oldest first, detached from the session."""
    with app.app_context():
        rows = db.session.execute(select(OutboxMail).order_by(OutboxMail.id)).scalars().all()
        db.session.expunge_all()
        return rows
