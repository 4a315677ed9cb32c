"""Initial schema: directory, organisers, events, sessions, invitations, video meetings.

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 07:36:42.169545

"""
from alembic import op
import sqlalchemy as sa

import forum.db
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('institutions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('short_name', sa.String(length=50), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('subdivision', sa.String(length=10), nullable=True),
    sa.Column('created_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_institutions')),
    sa.UniqueConstraint('name', name=op.f('uq_institutions_name'))
    )
    op.create_table('organisers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisers'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', forum.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', forum.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organiser_id'], ['organisers.id'], name=op.f('fk_api_tokens_organiser_id_organisers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_organiser_id'), ['organiser_id'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('default_provider', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("default_provider IN ('jitsi', 'zoom', 'teams', 'webex', 'google_meet', 'manual')", name=op.f('ck_events_default_provider')),
    sa.CheckConstraint("kind IN ('forum', 'bilateral', 'exchange', 'series')", name=op.f('ck_events_kind')),
    sa.CheckConstraint("status IN ('active', 'archived')", name=op.f('ck_events_status')),
    sa.ForeignKeyConstraint(['owner_id'], ['organisers.id'], name=op.f('fk_events_owner_id_organisers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_owner_id'), ['owner_id'], unique=False)

    op.create_table('institution_blackouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_institution_blackouts_dates_in_order')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_institution_blackouts_institution_id_institutions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_institution_blackouts'))
    )
    with op.batch_alter_table('institution_blackouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_institution_blackouts_institution_id'), ['institution_id'], unique=False)

    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('role_title', sa.String(length=200), nullable=False),
    sa.Column('working_hours', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('acceptable_hours', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('ics_url', sa.String(length=2000), nullable=True),
    sa.Column('created_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_people_institution_id_institutions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people'))
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_people_institution_id'), ['institution_id'], unique=False)

    op.create_table('busy_intervals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('start', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.CheckConstraint('"end" > start', name=op.f('ck_busy_intervals_end_after_start')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_busy_intervals_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_busy_intervals'))
    )
    with op.batch_alter_table('busy_intervals', schema=None) as batch_op:
        batch_op.create_index('ix_busy_intervals_person_start', ['person_id', 'start'], unique=False)

    op.create_table('event_co_organisers',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_co_organisers_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organiser_id'], ['organisers.id'], name=op.f('fk_event_co_organisers_organiser_id_organisers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'organiser_id', name=op.f('pk_event_co_organisers'))
    )
    op.create_table('event_participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.CheckConstraint("role IN ('chair', 'speaker', 'participant', 'observer', 'interpreter')", name=op.f('ck_event_participants_role')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_participants_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_event_participants_person_id_people'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_participants')),
    sa.UniqueConstraint('event_id', 'person_id', name=op.f('uq_event_participants_event_id_person_id'))
    )
    with op.batch_alter_table('event_participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_participants_person_id'), ['person_id'], unique=False)

    op.create_table('sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('start', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('rrule', sa.String(length=500), nullable=True),
    sa.Column('exdates', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('ical_uid', sa.String(length=255), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('created_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', forum.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('scheduled', 'live', 'ended', 'cancelled')", name=op.f('ck_sessions_status')),
    sa.CheckConstraint('"end" > start', name=op.f('ck_sessions_end_after_start')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_sessions_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions')),
    sa.UniqueConstraint('ical_uid', name=op.f('uq_sessions_ical_uid'))
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index('ix_sessions_event_start', ['event_id', 'start'], unique=False)
        batch_op.create_index('ix_sessions_start_end', ['start', 'end'], unique=False)

    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('rsvp', sa.String(length=20), nullable=False),
    sa.Column('rsvp_at', forum.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('chair', 'speaker', 'participant', 'observer', 'interpreter')", name=op.f('ck_invitations_role')),
    sa.CheckConstraint("rsvp IN ('needs-action', 'accepted', 'declined', 'tentative')", name=op.f('ck_invitations_rsvp')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_invitations_person_id_people'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_invitations_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('session_id', 'person_id', name=op.f('uq_invitations_session_id_person_id'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_person_id'), ['person_id'], unique=False)

    op.create_table('session_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('recurrence_id', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('start', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=True),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.CheckConstraint('"end" > start', name=op.f('ck_session_overrides_end_after_start')),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_session_overrides_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_overrides')),
    sa.UniqueConstraint('session_id', 'recurrence_id', name=op.f('uq_session_overrides_session_id_recurrence_id'))
    )
    op.create_table('video_meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('join_url', sa.String(length=2000), nullable=True),
    sa.Column('passcode', sa.String(length=100), nullable=True),
    sa.Column('host_url', sa.String(length=2000), nullable=True),
    sa.Column('host_account', sa.String(length=254), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('created_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', forum.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("provider IN ('jitsi', 'zoom', 'teams', 'webex', 'google_meet', 'manual')", name=op.f('ck_video_meetings_provider')),
    sa.CheckConstraint("status IN ('pending', 'created', 'error', 'deleted')", name=op.f('ck_video_meetings_status')),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_video_meetings_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_video_meetings')),
    sa.UniqueConstraint('session_id', name=op.f('uq_video_meetings_session_id'))
    )
    # Emails are unique whatever their case (Ada@X.org and ada@x.org are one person).
    op.create_index(
        "uq_organisers_email_lower", "organisers", [sa.text("lower(email)")], unique=True
    )
    op.create_index("uq_people_email_lower", "people", [sa.text("lower(email)")], unique=True)


def downgrade():
    op.drop_index("uq_people_email_lower", table_name="people")
    op.drop_index("uq_organisers_email_lower", table_name="organisers")
    op.drop_table('video_meetings')
    op.drop_table('session_overrides')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_person_id'))

    op.drop_table('invitations')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sessions_start_end')
        batch_op.drop_index('ix_sessions_event_start')

    op.drop_table('sessions')
    with op.batch_alter_table('event_participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_participants_person_id'))

    op.drop_table('event_participants')
    op.drop_table('event_co_organisers')
    with op.batch_alter_table('busy_intervals', schema=None) as batch_op:
        batch_op.drop_index('ix_busy_intervals_person_start')

    op.drop_table('busy_intervals')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_institution_id'))

    op.drop_table('people')
    with op.batch_alter_table('institution_blackouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_institution_blackouts_institution_id'))

    op.drop_table('institution_blackouts')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_owner_id'))

    op.drop_table('events')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_organiser_id'))

    op.drop_table('api_tokens')
    op.drop_table('organisers')
    op.drop_table('institutions')
