"""Institutions and people record the organiser who added them; changes of the fields that
decide where invitations go and when people can meet are recorded.

Entries that exist already get no creator (administrators maintain them), except on an
instance with a single organiser account, where that organiser can only have added them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:00:00

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import forum.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OWNED_TABLES = ("institutions", "people")


def _add_created_by(table: str) -> None:
    foreign_key = f"fk_{table}_created_by_id_organisers"
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot add a constraint to a table, but a new column may carry its own
        # (a table rebuild would lose the lower(email) index and, with foreign keys on,
        # delete the busy times that cascade from people).
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN created_by_id INTEGER CONSTRAINT {foreign_key} "
            "REFERENCES organisers (id)"
        )
    else:
        op.add_column(table, sa.Column("created_by_id", sa.Integer(), nullable=True))
        op.create_foreign_key(foreign_key, table, "organisers", ["created_by_id"], ["id"])
    op.create_index(f"ix_{table}_created_by_id", table, ["created_by_id"], unique=False)


def upgrade():
    for table in OWNED_TABLES:
        _add_created_by(table)

    op.create_table(
        "directory_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("institution_id", sa.Integer(), nullable=True),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", forum.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column(
            "old_value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "new_value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "(person_id IS NULL) <> (institution_id IS NULL)",
            name=op.f("ck_directory_changes_person_or_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["changed_by_id"],
            ["organisers.id"],
            name=op.f("fk_directory_changes_changed_by_id_organisers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_directory_changes_institution_id_institutions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_directory_changes_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_changes")),
    )
    op.create_index(
        "ix_directory_changes_person_id_changed_at",
        "directory_changes",
        ["person_id", "changed_at"],
        unique=False,
    )
    op.create_index(
        "ix_directory_changes_institution_id_changed_at",
        "directory_changes",
        ["institution_id", "changed_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_directory_changes_changed_by_id"),
        "directory_changes",
        ["changed_by_id"],
        unique=False,
    )

    # With one organiser account, everything in the directory was added by it.
    bind = op.get_bind()
    organisers = bind.execute(sa.text("SELECT id FROM organisers LIMIT 2")).scalars().all()
    if len(organisers) == 1:
        for table in OWNED_TABLES:
            owned = sa.table(table, sa.column("created_by_id", sa.Integer))
            bind.execute(owned.update().values(created_by_id=organisers[0]))


def downgrade():
    op.drop_index(op.f("ix_directory_changes_changed_by_id"), table_name="directory_changes")
    op.drop_index("ix_directory_changes_institution_id_changed_at", table_name="directory_changes")
    op.drop_index("ix_directory_changes_person_id_changed_at", table_name="directory_changes")
    op.drop_table("directory_changes")
    for table in reversed(OWNED_TABLES):
        op.drop_index(f"ix_{table}_created_by_id", table_name=table)
        if op.get_bind().dialect.name == "sqlite":
            # In place (SQLite 3.35+), for the reason given in _add_created_by.
            op.execute(f"ALTER TABLE {table} DROP COLUMN created_by_id")
        else:
            op.drop_constraint(f"fk_{table}_created_by_id_organisers", table, type_="foreignkey")
            op.drop_column(table, "created_by_id")
