"""change feed

Revision ID: c15a0e7f5d21
Revises: 0139eec2547c
Create Date: 2026-12-07 04:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c15a0e7f5d21'
down_revision = '0139eec2547c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('op', sa.String(length=8), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=True),
    sa.Column('data', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    op.create_index('ix_changes_user_id_id', 'changes', ['user_id', 'id'], unique=False)
    op.create_index('ix_changes_created_at', 'changes', ['created_at'], unique=False)


def downgrade():
    op.drop_index('ix_changes_created_at', table_name='changes')
    op.drop_index('ix_changes_user_id_id', table_name='changes')
    op.drop_table('changes')
