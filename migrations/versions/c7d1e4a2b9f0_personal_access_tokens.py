"""personal access tokens

Revision ID: c7d1e4a2b9f0
Revises: 4b24216705c6
Create Date: 2026-12-07 04:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7d1e4a2b9f0'
down_revision = '4b24216705c6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('personal_tokens',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('personal_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_personal_tokens_user_id_id', ['user_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('personal_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_personal_tokens_user_id_id')
    op.drop_table('personal_tokens')
