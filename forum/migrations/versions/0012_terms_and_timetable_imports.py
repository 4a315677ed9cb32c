"""Teaching terms, the timetable imports that fill them, and courses as events of a term.

terms holds a term's first day, length, home zone and holiday country; timetable_imports
the progress of each import's batched invitations; events.term_id and events.course_code
make an event a course of a term (the code unique in the term).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 13:22:21.818794

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import forum.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("subdivision", sa.String(length=10), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("weeks", sa.Integer(), nullable=False),
        sa.Column("skip_holidays", sa.Boolean(), nullable=False),
        sa.Column(
            "excluded_dates",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("weeks > 0 AND weeks <= 60", name=op.f("ck_terms_weeks")),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_terms_institution_id_institutions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["organisers.id"],
            name=op.f("fk_terms_owner_id_organisers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terms")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_terms_owner_id_name")),
    )
    with op.batch_alter_table("terms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_terms_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_terms_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "timetable_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("courses", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("invitations_total", sa.Integer(), nullable=False),
        sa.Column("invitations_sent", sa.Integer(), nullable=False),
        sa.Column("first_invitation_id", sa.Integer(), nullable=False),
        sa.Column("last_invitation_id", sa.Integer(), nullable=False),
        sa.Column("sent_through_id", sa.Integer(), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", forum.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('sending', 'done', 'failed')", name=op.f("ck_timetable_imports_status")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["organisers.id"],
            name=op.f("fk_timetable_imports_created_by_id_organisers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["term_id"],
            ["terms.id"],
            name=op.f("fk_timetable_imports_term_id_terms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timetable_imports")),
    )
    with op.batch_alter_table("timetable_imports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_timetable_imports_created_by_id"), ["created_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_timetable_imports_term_id"), ["term_id"], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot add a constraint to a table, but a new column may carry its own (a
        # table rebuild would, with foreign keys on, delete the sessions that cascade from
        # events). A term's courses are deleted with it by the service, not by a cascade:
        # SQLite keeps no ON DELETE of a constraint added this way where it can be read back.
        op.execute(
            "ALTER TABLE events ADD COLUMN term_id INTEGER CONSTRAINT fk_events_term_id_terms "
            "REFERENCES terms (id)"
        )
    else:
        op.add_column("events", sa.Column("term_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_events_term_id_terms", "events", "terms", ["term_id"], ["id"])
    op.add_column("events", sa.Column("course_code", sa.String(length=50), nullable=True))
    op.create_index("ix_events_term_id", "events", ["term_id"], unique=False)
    op.create_index(
        "uq_events_term_id_course_code", "events", ["term_id", "course_code"], unique=True
    )


def downgrade():
    op.drop_index("uq_events_term_id_course_code", table_name="events")
    op.drop_index("ix_events_term_id", table_name="events")
    if op.get_bind().dialect.name == "sqlite":
        # In place (SQLite 3.35+), for the reason given in upgrade.
        op.execute("ALTER TABLE events DROP COLUMN course_code")
        op.execute("ALTER TABLE events DROP COLUMN term_id")
    else:
        op.drop_constraint("fk_events_term_id_terms", "events", type_="foreignkey")
        op.drop_column("events", "course_code")
        op.drop_column("events", "term_id")

    with op.batch_alter_table("timetable_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timetable_imports_term_id"))
        batch_op.drop_index(batch_op.f("ix_timetable_imports_created_by_id"))

    op.drop_table("timetable_imports")
    with op.batch_alter_table("terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_terms_owner_id"))
        batch_op.drop_index(batch_op.f("ix_terms_institution_id"))

    op.drop_table("terms")
