"""Webhook inbox, attendance, and sessions' actual start and end.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 11:27:42.989635

"""
from alembic import op
import sqlalchemy as sa

import forum.db
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('webhook_inbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('identity', sa.String(length=255), nullable=False),
    sa.Column('event', sa.String(length=100), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('received_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', forum.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('received', 'processed', 'failed', 'ignored')", name=op.f('ck_webhook_inbox_status')),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_webhook_inbox_session_id_sessions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_inbox')),
    sa.UniqueConstraint('provider', 'identity', name=op.f('uq_webhook_inbox_provider_identity'))
    )
    with op.batch_alter_table('webhook_inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_inbox_external_id'), ['external_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_inbox_session_id'), ['session_id'], unique=False)
        batch_op.create_index('ix_webhook_inbox_status_received', ['status', 'received_at'], unique=False)

    op.create_table('attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('participant_key', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('stays', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('early_leaves', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('updated_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], name=op.f('fk_attendance_invitation_id_invitations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_attendance_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance')),
    sa.UniqueConstraint('session_id', 'participant_key', name=op.f('uq_attendance_session_id_participant_key'))
    )
    op.add_column('sessions', sa.Column('actual_start', forum.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('sessions', sa.Column('actual_end', forum.db.UTCDateTime(timezone=True), nullable=True))



def downgrade():
    op.drop_column('sessions', 'actual_end')
    op.drop_column('sessions', 'actual_start')

    op.drop_table('attendance')
    with op.batch_alter_table('webhook_inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_inbox_status_received')
        batch_op.drop_index(batch_op.f('ix_webhook_inbox_session_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_inbox_external_id'))

    op.drop_table('webhook_inbox')
