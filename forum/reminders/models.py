"""What was sent or checked before an occurrence, once: the unique keys make it so."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from forum.db import JSONType
from forum.db import now_utc
from forum.extensions import db


class SessionReminder(db.Model):
    """A reminder owed to one invitee before one occurrence, ``lead_minutes`` ahead.

    The row is written with its email in one transaction; a second writer (another worker,
    a run after a restart) meets the unique key and writes nothing, so a person gets each
    reminder once.
    """

    __tablename__ = "session_reminders"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "person_id", "occurrence_start", "lead_minutes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    # The occurrence's original start (its RECURRENCE-ID for a series), in UTC.
    occurrence_start: Mapped[dt.datetime]
    lead_minutes: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)


class PreflightCheck(db.Model):
    """One check of an occurrence's meeting at its provider, ``lead_minutes`` ahead."""

    __tablename__ = "preflight_checks"
    __table_args__ = (sa.UniqueConstraint("session_id", "occurrence_start", "lead_minutes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"))
    occurrence_start: Mapped[dt.datetime]
    lead_minutes: Mapped[int]
    checked_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    ok: Mapped[bool] = mapped_column(default=True)
    # What was wrong, each for a person to read ("the meeting no longer exists on Zoom").
    problems: Mapped[list[str]] = mapped_column(JSONType, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
