"""live reminders: sent reminders on their way to event streams without Redis

Revision ID: d4a9e3c71f25
Revises: c7e13a5b9d21
Create Date: 2026-12-07 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4a9e3c71f25'
down_revision = 'c7e13a5b9d21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('live_reminders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_ids', sa.JSON(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    op.create_index('ix_live_reminders_created_at', 'live_reminders', ['created_at'], unique=False)


def downgrade():
    op.drop_index('ix_live_reminders_created_at', table_name='live_reminders')
    op.drop_table('live_reminders')
