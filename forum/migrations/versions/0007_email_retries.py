"""Emails that failed for a while are retried at a set time; "failed" is for good.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:00:00

"""

import sqlalchemy as sa
from alembic import op

import forum.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NEW_STATUSES = "status IN ('pending', 'sending', 'sent', 'retrying', 'failed', 'superseded')"
OLD_STATUSES = "status IN ('pending', 'sending', 'sent', 'failed', 'superseded')"


def upgrade():
    # Batch mode, as in 0003: SQLite changes a CHECK constraint only by copying the table
    # (no other table refers to this one, and it has no expression indexes to lose).
    with op.batch_alter_table(
        "email_messages", schema=None, reflect_kwargs={"resolve_fks": False}
    ) as batch_op:
        batch_op.add_column(
            sa.Column("next_attempt_at", forum.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_constraint(op.f("ck_email_messages_status"), type_="check")
        batch_op.create_check_constraint("status", NEW_STATUSES)
        batch_op.create_index(
            "ix_email_messages_status_next_attempt", ["status", "next_attempt_at"], unique=False
        )
    # Until now "failed" meant "not sent yet": `forum send-pending` tried every such message
    # again. They are owed still, so they are retried once more under the new rules, which
    # stop at a permanent refusal. A message with no time set is due now.
    op.execute("UPDATE email_messages SET status = 'retrying' WHERE status = 'failed'")


def downgrade():
    op.execute("UPDATE email_messages SET status = 'failed' WHERE status = 'retrying'")
    with op.batch_alter_table(
        "email_messages", schema=None, reflect_kwargs={"resolve_fks": False}
    ) as batch_op:
        batch_op.drop_index("ix_email_messages_status_next_attempt")
        batch_op.drop_constraint(op.f("ck_email_messages_status"), type_="check")
        batch_op.create_check_constraint("status", OLD_STATUSES)
        batch_op.drop_column("next_attempt_at")
