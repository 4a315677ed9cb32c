"""A poll, its candidate times, the people asked and their answers."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from forum.accounts.models import Organiser
from forum.db import now_utc
from forum.directory.models import Person
from forum.events.models import ROLES
from forum.events.models import Event
from forum.events.models import EventSession
from forum.extensions import db
from forum.i18n import _l

# open: people answer; closed: no more answers, nothing booked (closed by an organiser or by
# its closing time); finalized: one option was booked as a session.
POLL_STATUSES = ("open", "closed", "finalized")
# Where the candidate times came from, for the organiser's page.
POLL_SOURCES = ("engine", "planner", "typed")
# yes; if need be (would rather not, but can); no.
ANSWERS = ("yes", "if_need_be", "no")

# How people read these values. The status as a badge on the organiser's poll page.
STATUS_LABELS = {"open": _l("open"), "closed": _l("closed"), "finalized": _l("time chosen")}
# Where the times came from, as the end of "Times from …".
SOURCE_LABELS = {
    "engine": _l("the engine’s best slots"),
    "planner": _l("the planner"),
    "typed": _l("typed times"),
}
# An answer as a choice (buttons, column of answers) and within a sentence ("Your answer: yes").
ANSWER_LABELS = {"yes": _l("Yes"), "if_need_be": _l("If need be"), "no": _l("No")}
ANSWER_WORDS = {"yes": _l("yes"), "if_need_be": _l("if need be"), "no": _l("no")}
MAX_OPTIONS = 50


def _enum_check(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Poll(db.Model):
    """Candidate times for one session of an event, put to its people before booking."""

    __tablename__ = "polls"
    __table_args__ = (
        sa.CheckConstraint(_enum_check("status", POLL_STATUSES), name="status"),
        sa.CheckConstraint(_enum_check("source", POLL_SOURCES), name="source"),
        sa.CheckConstraint("duration_minutes > 0 AND duration_minutes <= 1440", name="duration"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(300))
    duration_minutes: Mapped[int]
    source: Mapped[str] = mapped_column(sa.String(20), default="typed")
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    # Answers are taken until then; a periodic job closes the poll at that time.
    closes_at: Mapped[dt.datetime]
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    closed_at: Mapped[dt.datetime | None]
    # When the organiser last reminded those who had not answered (at most once a day).
    reminded_at: Mapped[dt.datetime | None]
    # When everyone was told that the closing time had passed (forum.close_due_polls).
    deadline_noticed_at: Mapped[dt.datetime | None]
    # The option booked, and the session it became.
    chosen_option_id: Mapped[int | None]
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sessions.id", ondelete="SET NULL")
    )
    # Raised on every change of the poll or of an answer (feeds and pages compare it).
    revision: Mapped[int] = mapped_column(default=0)

    event: Mapped[Event] = relationship()
    created_by: Mapped[Organiser | None] = relationship()
    session: Mapped[EventSession | None] = relationship()
    options: Mapped[list[PollOption]] = relationship(
        back_populates="poll", cascade="all, delete-orphan", order_by="PollOption.start"
    )
    invitees: Mapped[list[PollInvitee]] = relationship(
        back_populates="poll", cascade="all, delete-orphan", order_by="PollInvitee.id"
    )

    @property
    def duration(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.duration_minutes)

    def __repr__(self) -> str:
        return f"<Poll {self.id} {self.status} {self.title!r}>"


class PollOption(db.Model):
    """One candidate time: an instant, the same for everyone wherever they are."""

    __tablename__ = "poll_options"
    __table_args__ = (
        sa.UniqueConstraint("poll_id", "start"),
        sa.CheckConstraint('"end" > start', name="end_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(sa.ForeignKey("polls.id", ondelete="CASCADE"))
    start: Mapped[dt.datetime]
    end: Mapped[dt.datetime]

    poll: Mapped[Poll] = relationship(back_populates="options")
    votes: Mapped[list[PollVote]] = relationship(
        back_populates="option", cascade="all, delete-orphan", order_by="PollVote.person_id"
    )


class PollInvitee(db.Model):
    """A person asked, with the role and need they will have in the session, and their
    comment; ``answered_at`` is set once they have answered every option."""

    __tablename__ = "poll_invitees"
    __table_args__ = (
        sa.UniqueConstraint("poll_id", "person_id"),
        sa.CheckConstraint(_enum_check("role", ROLES), name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(sa.ForeignKey("polls.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(sa.String(20), default="participant")
    required: Mapped[bool] = mapped_column(default=True)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    answered_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]

    poll: Mapped[Poll] = relationship(back_populates="invitees")
    person: Mapped[Person] = relationship()


class PollVote(db.Model):
    """One person's answer to one option."""

    __tablename__ = "poll_votes"
    __table_args__ = (
        sa.UniqueConstraint("option_id", "person_id"),
        sa.CheckConstraint(_enum_check("answer", ANSWERS), name="answer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    option_id: Mapped[int] = mapped_column(sa.ForeignKey("poll_options.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    answer: Mapped[str] = mapped_column(sa.String(20))
    answered_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    option: Mapped[PollOption] = relationship(back_populates="votes")
