"""Availability polls; reminders and pre-flight checks owed before each occurrence.

Polls and their answers get their own tables; emails may be about a poll rather than a
session (email_messages.poll_id, session_id nullable, new kinds); events say how long ahead
their invitees are reminded and people may turn reminders off.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 19:04:38

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import forum.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
OLD_KINDS = "kind IN ('invite', 'update', 'cancel', 'occurrence-update', 'occurrence-cancel')"
NEW_KINDS = (
    "kind IN ('invite', 'update', 'cancel', 'occurrence-update', 'occurrence-cancel', "
    "'reminder', 'poll-invite', 'poll-reminder', 'poll-closed', 'poll-finalized')"
)


def upgrade():
    op.create_table(
        "polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("closes_at", forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", forum.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", forum.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deadline_noticed_at", forum.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("chosen_option_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "source IN ('engine', 'planner', 'typed')", name=op.f("ck_polls_source")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'closed', 'finalized')", name=op.f("ck_polls_status")
        ),
        sa.CheckConstraint(
            "duration_minutes > 0 AND duration_minutes <= 1440", name=op.f("ck_polls_duration")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["organisers.id"],
            name=op.f("fk_polls_created_by_id_organisers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_polls_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_polls_session_id_sessions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polls")),
    )
    with op.batch_alter_table("polls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_polls_event_id"), ["event_id"], unique=False)

    op.create_table(
        "preflight_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_start", forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lead_minutes", sa.Integer(), nullable=False),
        sa.Column("checked_at", forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("problems", JSON, nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_preflight_checks_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preflight_checks")),
        sa.UniqueConstraint(
            "session_id",
            "occurrence_start",
            "lead_minutes",
            name=op.f("uq_preflight_checks_session_id_occurrence_start_lead_minutes"),
        ),
    )
    op.create_table(
        "session_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_start", forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lead_minutes", sa.Integer(), nullable=False),
        sa.Column("created_at", forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_session_reminders_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_session_reminders_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_reminders")),
        sa.UniqueConstraint(
            "session_id",
            "person_id",
            "occurrence_start",
            "lead_minutes",
            name=op.f("uq_session_reminders_session_id_person_id_occurrence_start_lead_minutes"),
        ),
    )
    with op.batch_alter_table("session_reminders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_reminders_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "poll_invitees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("answered_at", forum.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", forum.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('chair', 'speaker', 'participant', 'observer', 'interpreter')",
            name=op.f("ck_poll_invitees_role"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_poll_invitees_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["polls.id"],
            name=op.f("fk_poll_invitees_poll_id_polls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_invitees")),
        sa.UniqueConstraint(
            "poll_id", "person_id", name=op.f("uq_poll_invitees_poll_id_person_id")
        ),
    )
    with op.batch_alter_table("poll_invitees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_poll_invitees_person_id"), ["person_id"], unique=False)

    op.create_table(
        "poll_options",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("start", forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('"end" > start', name=op.f("ck_poll_options_end_after_start")),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["polls.id"],
            name=op.f("fk_poll_options_poll_id_polls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_options")),
        sa.UniqueConstraint("poll_id", "start", name=op.f("uq_poll_options_poll_id_start")),
    )
    op.create_table(
        "poll_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=20), nullable=False),
        sa.Column("answered_at", forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "answer IN ('yes', 'if_need_be', 'no')", name=op.f("ck_poll_votes_answer")
        ),
        sa.ForeignKeyConstraint(
            ["option_id"],
            ["poll_options.id"],
            name=op.f("fk_poll_votes_option_id_poll_options"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_poll_votes_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_votes")),
        sa.UniqueConstraint(
            "option_id", "person_id", name=op.f("uq_poll_votes_option_id_person_id")
        ),
    )
    with op.batch_alter_table("poll_votes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_poll_votes_person_id"), ["person_id"], unique=False)

    # Batch mode, as in 0007: SQLite changes a CHECK constraint only by copying the table.
    with op.batch_alter_table(
        "email_messages", schema=None, reflect_kwargs={"resolve_fks": False}
    ) as batch_op:
        batch_op.add_column(sa.Column("poll_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("data", JSON, nullable=False, server_default="{}"))
        batch_op.drop_constraint(op.f("ck_email_messages_kind"), type_="check")
        batch_op.create_check_constraint("kind", NEW_KINDS)
        batch_op.alter_column("session_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f("ix_email_messages_poll_id"), ["poll_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_email_messages_poll_id_polls"),
            "polls",
            ["poll_id"],
            ["id"],
            ondelete="CASCADE",
        )

    # In place, not by copying the tables (as in 0008): a copy of people would lose its
    # lower(email) index.
    op.add_column(
        "events",
        sa.Column("reminder_minutes", JSON, nullable=False, server_default="[1440, 60]"),
    )
    op.add_column(
        "people", sa.Column("reminders", sa.Boolean(), nullable=False, server_default=sa.true())
    )


def downgrade():
    for table, column in (("people", "reminders"), ("events", "reminder_minutes")):
        if op.get_bind().dialect.name == "sqlite":
            # In place (SQLite 3.35+), for the reason given in upgrade.
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            op.drop_column(table, column)

    # Messages about polls (no session) and reminders go with them.
    op.execute(
        "DELETE FROM email_messages WHERE session_id IS NULL OR kind NOT IN "
        "('invite', 'update', 'cancel', 'occurrence-update', 'occurrence-cancel')"
    )
    with op.batch_alter_table(
        "email_messages", schema=None, reflect_kwargs={"resolve_fks": False}
    ) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_email_messages_poll_id_polls"), type_="foreignkey")
        batch_op.drop_constraint(op.f("ck_email_messages_kind"), type_="check")
        batch_op.create_check_constraint("kind", OLD_KINDS)
        batch_op.drop_index(batch_op.f("ix_email_messages_poll_id"))
        batch_op.alter_column("session_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("data")
        batch_op.drop_column("poll_id")

    with op.batch_alter_table("poll_votes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_poll_votes_person_id"))

    op.drop_table("poll_votes")
    op.drop_table("poll_options")
    with op.batch_alter_table("poll_invitees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_poll_invitees_person_id"))

    op.drop_table("poll_invitees")
    with op.batch_alter_table("session_reminders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_reminders_person_id"))

    op.drop_table("session_reminders")
    op.drop_table("preflight_checks")
    with op.batch_alter_table("polls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_polls_event_id"))

    op.drop_table("polls")
