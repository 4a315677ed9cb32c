"""Emails owed to invitees: written with the change that causes them, sent by a job."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from forum.db import now_utc
from forum.directory.models import Person
from forum.events.models import EventSession
from forum.extensions import db
from forum.i18n import _l

# invite: the first REQUEST; update: a REQUEST with a higher SEQUENCE (the whole series);
# cancel: CANCEL of the whole session; occurrence-update / occurrence-cancel: one date of a
# series, written with its RECURRENCE-ID.
# reminder: before one occurrence (recurrence_id: its original start; data: lead_minutes).
# poll-*: about a poll, not a session: the invitation to answer, a reminder to answer, the
# notice that it closed unbooked, and the chosen time.
SESSION_KINDS = ("invite", "update", "cancel", "occurrence-update", "occurrence-cancel")
POLL_KINDS = ("poll-invite", "poll-reminder", "poll-closed", "poll-finalized")
EMAIL_KINDS = (*SESSION_KINDS, "reminder", *POLL_KINDS)
# pending: waiting to be sent (at next_attempt_at); sending: a job has it; retrying: a
# transient failure (the mail server said "try later", or could not be reached), tried again
# at next_attempt_at; failed: for good, error says why; superseded: a later message replaced it.
EMAIL_STATUSES = ("pending", "sending", "sent", "retrying", "failed", "superseded")
# What organisers read for each status ("this email is failed: ...").
EMAIL_STATUS_LABELS = {
    "pending": _l("pending"),
    "sending": _l("sending"),
    "sent": _l("sent"),
    "retrying": _l("retrying"),
    "failed": _l("failed"),
    "superseded": _l("superseded"),
}
# What organisers read for each kind of email.
EMAIL_KIND_LABELS = {
    "invite": _l("Invitation"),
    "update": _l("Updated invitation"),
    "cancel": _l("Cancellation"),
    "occurrence-update": _l("One date moved"),
    "occurrence-cancel": _l("One date cancelled"),
    "reminder": _l("Reminder"),
    "poll-invite": _l("Poll invitation"),
    "poll-reminder": _l("Poll reminder"),
    "poll-closed": _l("Poll closed"),
    "poll-finalized": _l("Time chosen"),
}


class EmailMessage(db.Model):
    """One email to one invitee about one change of a session.

    The row is written in the same transaction as the change, so a committed change always
    has its emails recorded even if the job queue is down; a periodic job (and
    `forum send-pending`) sends what is due. The message itself is rendered when it is sent,
    from the session as it is then.
    """

    __tablename__ = "email_messages"
    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ({})".format(", ".join(repr(k) for k in EMAIL_KINDS)), name="kind"
        ),
        sa.CheckConstraint(
            "status IN ({})".format(", ".join(repr(s) for s in EMAIL_STATUSES)), name="status"
        ),
        sa.Index("ix_email_messages_status_created", "status", "created_at"),
        sa.Index("ix_email_messages_session_person", "session_id", "person_id"),
        sa.Index("ix_email_messages_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The session the message is about; for a poll's messages, the poll instead.
    session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"))
    poll_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("polls.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    # The session's SEQUENCE when the change was made.
    sequence: Mapped[int]
    # For occurrence messages: the original start of that occurrence, in UTC.
    recurrence_id: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    # Why the last attempt failed, for a person to read ("could not build the message: ...").
    error: Mapped[str | None] = mapped_column(sa.Text)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    # When a job last took the message to send it (status sending).
    claimed_at: Mapped[dt.datetime | None]
    # When the message is due: set when it is queued (later while it waits for the meeting's
    # link) and after each transient failure; a job sends pending and retrying messages
    # whose time has come.
    next_attempt_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    # What the kind needs beyond the row: a reminder's lead_minutes.
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    session: Mapped[EventSession | None] = relationship()
    person: Mapped[Person] = relationship()

    def __repr__(self) -> str:
        return f"<EmailMessage {self.id} {self.kind} seq={self.sequence} {self.status}>"
