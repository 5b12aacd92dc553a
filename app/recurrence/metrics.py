"""Reminder metrics for /metrics, read from the database at scrape time so every worker and instance agrees."""

import logging

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from app.extensions import db
from app.models import ReminderSchedule
from app.models.base import utcnow
from app.recurrence.scheduler import counters

log = logging.getLogger(__name__)


class ReminderCollector:
    """`reminders_sent_total`, `reminders_skipped_late_total` and `reminders_overdue` (due, not yet fired)."""

    def collect(self):
        try:
            values = counters()
            overdue = db.session.execute(
                select(func.count()).select_from(ReminderSchedule).where(ReminderSchedule.fire_at <= utcnow())
            ).scalar()
        except Exception:  # a scrape must answer even when the database does not
            log.warning("metrics: reminder counters unavailable", exc_info=True)
            db.session.rollback()
            return
        yield CounterMetricFamily(
            "reminders_sent", "Reminders fired (todo.reminder events).", value=values.get("sent", 0)
        )
        yield CounterMetricFamily(
            "reminders_skipped_late",
            "Reminders skipped because no worker ran within an hour of their time.",
            value=values.get("skipped_late", 0),
        )
        yield GaugeMetricFamily("reminders_overdue", "Reminders whose time has come but not fired yet.", value=overdue)
