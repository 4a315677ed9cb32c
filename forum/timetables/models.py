"""Terms and the timetable imports that fill them with courses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from forum.accounts.models import Organiser
from forum.db import JSONType
from forum.db import now_utc
from forum.extensions import db

# sending: courses stored, invitations going out in batches; done: all sent;
# failed: sending stopped on an error (the import's error says which).
IMPORT_STATUSES = ("sending", "done", "failed")


class Term(db.Model):
    """A teaching term at a home institution: its first day, its length in weeks, its zone.

    Its courses are events (kind "series") that point at it, each with a course code
    unique in the term; their weekly meetings are recurring sessions anchored in the
    term's zone.
    """

    __tablename__ = "terms"
    __table_args__ = (
        sa.UniqueConstraint("owner_id", "name"),
        sa.CheckConstraint("weeks > 0 AND weeks <= 60", name="weeks"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    owner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="RESTRICT"), index=True
    )
    institution_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("institutions.id", ondelete="SET NULL"), index=True
    )
    # The home zone the weekly patterns are written in, and the country (and subdivision)
    # whose public holidays the term leaves out when asked.
    timezone: Mapped[str] = mapped_column(sa.String(64))
    country: Mapped[str] = mapped_column(sa.String(2))
    subdivision: Mapped[str | None] = mapped_column(sa.String(10))
    first_day: Mapped[dt.date]
    weeks: Mapped[int]
    skip_holidays: Mapped[bool] = mapped_column(default=True)
    # The dates left out of every course for public holidays: [{"date", "name"}].
    excluded_dates: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    owner: Mapped[Organiser] = relationship()

    def __repr__(self) -> str:
        return f"<Term {self.id} {self.name!r}>"


class TimetableImport(db.Model):
    """One import of a timetable into a term, and the progress of its invitations.

    The courses, sessions and invitations are written at once (all or nothing); the
    invitation emails then go out in batches at a set rate, from the invitation after
    ``last_invitation_id`` on, so that a restarted sender resumes where it stopped.
    """

    __tablename__ = "timetable_imports"
    __table_args__ = (sa.CheckConstraint("status IN ('sending', 'done', 'failed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    term_id: Mapped[int] = mapped_column(sa.ForeignKey("terms.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(20), default="sending")
    courses: Mapped[int] = mapped_column(default=0)
    sessions: Mapped[int] = mapped_column(default=0)
    invitations_total: Mapped[int] = mapped_column(default=0)
    invitations_sent: Mapped[int] = mapped_column(default=0)
    # The invitations of this import are those with ids in (first, last]; the sender's cursor.
    first_invitation_id: Mapped[int] = mapped_column(default=0)
    last_invitation_id: Mapped[int] = mapped_column(default=0)
    sent_through_id: Mapped[int] = mapped_column(default=0)
    # Invitations sent per minute at most.
    rate_per_minute: Mapped[int] = mapped_column(default=600)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    finished_at: Mapped[dt.datetime | None]

    term: Mapped[Term] = relationship()
    created_by: Mapped[Organiser | None] = relationship()
