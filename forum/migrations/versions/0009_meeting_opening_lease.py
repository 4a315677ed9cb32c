"""A meeting being opened on its provider is leased to the one job that opens it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 16:00:00

"""

import sqlalchemy as sa
from alembic import op

import forum.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "video_meetings",
        sa.Column("opening_until", forum.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade():
    # Batch mode: SQLite drops a column by copying the table.
    with op.batch_alter_table(
        "video_meetings", schema=None, reflect_kwargs={"resolve_fks": False}
    ) as batch_op:
        batch_op.drop_column("opening_until")
