"""The Celery entry point: its beat schedule and the idempotency purge task."""

import importlib
import sys
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import IdempotencyKey
from app.models.base import utcnow
from tests.conftest import REDIS_URL


@pytest.mark.redis
def test_beat_purges_expired_idempotency_keys(app, database_url, monkeypatch):
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("DATABASE_URL", database_url)
    sys.modules.pop("app.celery_app", None)
    celery_app = importlib.import_module("app.celery_app")
    schedule = celery_app.celery.conf.beat_schedule
    assert {"drain-webhooks", "drain-mail", "purge-idempotency-keys", "purge-changes", "fire-reminders"} <= set(
        schedule
    )
    assert schedule["fire-reminders"]["schedule"] <= 1.0  # reminders go out within seconds

    with app.app_context():
        old, fresh = utcnow() - timedelta(hours=25), utcnow() - timedelta(hours=1)
        db.session.add_all(
            [
                IdempotencyKey(scope="user:1", key="old", request_hash="h", status=201, created_at=old),
                IdempotencyKey(scope="user:1", key="fresh", request_hash="h", status=201, created_at=fresh),
            ]
        )
        db.session.commit()
    assert celery_app.purge_idempotency_keys() == 1
    with app.app_context():
        assert [row.key for row in db.session.execute(db.select(IdempotencyKey)).scalars()] == ["fresh"]
    sys.modules.pop("app.celery_app", None)
