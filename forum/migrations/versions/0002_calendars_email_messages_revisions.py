"""Email messages owed to invitees; revisions that tell feeds when to rebuild; link versions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 10:21:29.065321

"""
from alembic import op
import sqlalchemy as sa

import forum.db


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD/DROP COLUMN, not batch mode: SQLite supports both, and batch mode would
    # rebuild the tables and drop the lower(email) expression indexes it cannot reflect.
    op.create_table('email_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('recurrence_id', forum.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=True),
    sa.Column('created_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', forum.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', forum.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('invite', 'update', 'cancel', 'occurrence-update', 'occurrence-cancel')", name=op.f('ck_email_messages_kind')),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'superseded')", name=op.f('ck_email_messages_status')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_email_messages_person_id_people'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_email_messages_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_messages'))
    )
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.create_index('ix_email_messages_session_person', ['session_id', 'person_id'], unique=False)
        batch_op.create_index('ix_email_messages_status_created', ['status', 'created_at'], unique=False)

    op.add_column('events', sa.Column('revision', sa.Integer(), nullable=False, server_default='0'))

    op.add_column('people', sa.Column('link_version', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('people', sa.Column('revision', sa.Integer(), nullable=False, server_default='0'))

    op.add_column('sessions', sa.Column('revision', sa.Integer(), nullable=False, server_default='0'))

    op.add_column('video_meetings', sa.Column('revision', sa.Integer(), nullable=False, server_default='0'))



def downgrade():
    op.drop_column('video_meetings', 'revision')

    op.drop_column('sessions', 'revision')

    op.drop_column('people', 'revision')
    op.drop_column('people', 'link_version')

    op.drop_column('events', 'revision')

    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_email_messages_status_created')
        batch_op.drop_index('ix_email_messages_session_person')

    op.drop_table('email_messages')
