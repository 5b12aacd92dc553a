"""Forget stored Idempotency-Key responses that may hold a share-link token in plaintext

Revision ID: c7e13a5b9d21
Revises: 90fb577b677d
Create Date: 2026-12-07 04:50:00

Replays are now stored without the token; the rows stored before could hold one (a share
link's creation, a Todo-Backend POST through a link). They are only a 24-hour retry cache:
a retry of one of those requests runs again instead of replaying.
"""

import sqlalchemy as sa
from alembic import op

revision = "c7e13a5b9d21"
down_revision = "90fb577b677d"
branch_labels = None
depends_on = None


def upgrade():
    keys = sa.table("idempotency_keys", sa.column("scope", sa.String), sa.column("location", sa.String))
    op.execute(keys.delete().where(sa.or_(keys.c.scope.like("link:%"), keys.c.location.like("%/share-links/%"))))


def downgrade():
    pass  # the deleted replays cannot come back; nothing in the schema changed
