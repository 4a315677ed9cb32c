"""Busy intervals keep their edges as whole UTC minutes, as the slot search reads them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:00:00

"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _utc(value):
    if isinstance(value, str):  # SQLite hands back text here
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def upgrade():
    # Added with a default so that no table copy is needed (SQLite); every row is then
    # given its real value, and the application always writes both.
    for name in ("start_minute", "end_minute"):
        op.add_column(
            "busy_intervals",
            sa.Column(name, sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        )
    bind = op.get_bind()
    table = sa.table(
        "busy_intervals",
        sa.column("id", sa.Integer),
        sa.column("start", sa.DateTime),
        sa.column("end", sa.DateTime),
        sa.column("start_minute", sa.BigInteger),
        sa.column("end_minute", sa.BigInteger),
    )
    rows = bind.execute(sa.select(table.c.id, table.c.start, table.c.end)).all()
    updates = []
    for row_id, start, end in rows:
        seconds = (_utc(end) - EPOCH).total_seconds()
        updates.append(
            {
                "row_id": row_id,
                "first": int((_utc(start) - EPOCH).total_seconds() // 60),
                "last": -int(-seconds // 60),
            }
        )
    if updates:
        bind.execute(
            table.update()
            .where(table.c.id == sa.bindparam("row_id"))
            .values(start_minute=sa.bindparam("first"), end_minute=sa.bindparam("last")),
            updates,
        )
    op.create_index(
        "ix_busy_intervals_person_start_minute",
        "busy_intervals",
        ["person_id", "start_minute"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_busy_intervals_person_start_minute", table_name="busy_intervals")
    op.drop_column("busy_intervals", "end_minute")
    op.drop_column("busy_intervals", "start_minute")
