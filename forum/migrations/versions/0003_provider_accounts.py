"""Provider accounts with encrypted secrets, hosts' daily usage, meeting status failed/deferred.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 11:04:13.462161

"""
from alembic import op
import sqlalchemy as sa

import forum.db
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('provider_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('hosts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('secrets', sa.Text(), nullable=False),
    sa.Column('last_check_at', forum.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_check_problems', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('jitsi', 'zoom', 'teams', 'webex', 'google_meet', 'manual')", name=op.f('ck_provider_accounts_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_accounts')),
    sa.UniqueConstraint('name', name=op.f('uq_provider_accounts_name'))
    )
    op.create_table('provider_host_usage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=254), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['provider_accounts.id'], name=op.f('fk_provider_host_usage_account_id_provider_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_host_usage')),
    sa.UniqueConstraint('account_id', 'host', 'day', name=op.f('uq_provider_host_usage_account_id_host_day'))
    )
    op.execute("UPDATE video_meetings SET status = 'failed' WHERE status = 'error'")
    with op.batch_alter_table(
        'video_meetings', schema=None, reflect_kwargs={'resolve_fks': False}
    ) as batch_op:
        batch_op.add_column(sa.Column('account_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.drop_constraint(op.f('ck_video_meetings_status'), type_='check')
        batch_op.create_check_constraint(
            'status', "status IN ('pending', 'created', 'failed', 'deferred', 'deleted')"
        )
        batch_op.create_index(batch_op.f('ix_video_meetings_account_id'), ['account_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_video_meetings_account_id_provider_accounts'), 'provider_accounts', ['account_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table(
        'video_meetings', schema=None, reflect_kwargs={'resolve_fks': False}
    ) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_video_meetings_account_id_provider_accounts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_video_meetings_account_id'))
        batch_op.drop_column('attempts')
        batch_op.drop_column('account_id')
        batch_op.drop_constraint(op.f('ck_video_meetings_status'), type_='check')
        batch_op.create_check_constraint(
            'status', "status IN ('pending', 'created', 'error', 'deleted')"
        )
    op.execute("UPDATE video_meetings SET status = 'error' WHERE status IN ('failed', 'deferred')")

    op.drop_table('provider_host_usage')
    op.drop_table('provider_accounts')
