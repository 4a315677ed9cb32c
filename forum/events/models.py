"""Events, participants, sessions (with recurrence), invitations and video meetings."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from forum.accounts.models import Organiser
from forum.db import JSONType
from forum.db import now_utc
from forum.directory.models import Person
from forum.extensions import db
from forum.i18n import _l

EVENT_KINDS = ("forum", "bilateral", "exchange", "series")
EVENT_STATUSES = ("active", "archived")
ROLES = ("chair", "speaker", "participant", "observer", "interpreter")
SESSION_STATUSES = ("scheduled", "live", "ended", "cancelled")
RSVP_STATES = ("needs-action", "accepted", "declined", "tentative")
PROVIDERS = ("jitsi", "zoom", "teams", "webex", "google_meet", "manual")
# pending: being opened; created: it exists; failed: the provider refused or failed (error says
# why; retry fixes it); deferred: a daily quota is used up, tried again later; deleted.
MEETING_STATUSES = ("pending", "created", "failed", "deferred", "deleted")

# The values as pages name them, in the reader's language (lower case, as they read
# inside a sentence or a badge: "invitee (chair)", "cancelled").
ROLE_LABELS = {
    "chair": _l("chair"),
    "speaker": _l("speaker"),
    "participant": _l("participant"),
    "observer": _l("observer"),
    "interpreter": _l("interpreter"),
}
SESSION_STATUS_LABELS = {
    "scheduled": _l("scheduled"),
    "live": _l("live"),
    "ended": _l("ended"),
    "cancelled": _l("cancelled"),
}
MEETING_STATUS_LABELS = {
    "pending": _l("pending"),
    "created": _l("created"),
    "failed": _l("failed"),
    "deferred": _l("deferred"),
    "deleted": _l("deleted"),
}
# Reminders before each occurrence: a day and an hour ahead.
DEFAULT_REMINDER_MINUTES = (24 * 60, 60)


def _enum_check(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


event_co_organisers = sa.Table(
    "event_co_organisers",
    db.metadata,
    sa.Column("event_id", sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("organiser_id", sa.ForeignKey("organisers.id", ondelete="CASCADE"), primary_key=True),
)


class Event(db.Model):
    """A forum, a bilateral call, an expert exchange or a series: the sessions' container."""

    __tablename__ = "events"
    __table_args__ = (
        sa.CheckConstraint(_enum_check("kind", EVENT_KINDS), name="kind"),
        sa.CheckConstraint(_enum_check("status", EVENT_STATUSES), name="status"),
        sa.CheckConstraint(_enum_check("default_provider", PROVIDERS), name="default_provider"),
        sa.Index("uq_events_term_id_course_code", "term_id", "course_code", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    kind: Mapped[str] = mapped_column(sa.String(20))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    owner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="RESTRICT"), index=True
    )
    timezone: Mapped[str] = mapped_column(sa.String(64))
    default_provider: Mapped[str] = mapped_column(sa.String(20), default="jitsi")
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    # How long before each occurrence its invitees are reminded, in minutes, longest first
    # (forum.reminders); an empty list sends none.
    reminder_minutes: Mapped[list[int]] = mapped_column(
        JSONType, default=lambda: list(DEFAULT_REMINDER_MINUTES)
    )
    # A course of a teaching term (forum.timetables): the term, and the course's code in it.
    term_id: Mapped[int | None] = mapped_column(sa.ForeignKey("terms.id"), index=True)
    course_code: Mapped[str | None] = mapped_column(sa.String(50))
    revision: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    owner: Mapped[Organiser] = relationship()
    co_organisers: Mapped[list[Organiser]] = relationship(
        secondary=event_co_organisers, order_by=Organiser.id
    )
    participants: Mapped[list[EventParticipant]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventParticipant.id"
    )
    sessions: Mapped[list[EventSession]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventSession.start"
    )

    def __repr__(self) -> str:
        return f"<Event {self.id} {self.kind} {self.title!r}>"


class EventParticipant(db.Model):
    """A person invited to every session of an event unless a session says otherwise."""

    __tablename__ = "event_participants"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "person_id"),
        sa.CheckConstraint(_enum_check("role", ROLES), name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="RESTRICT"), index=True
    )
    role: Mapped[str] = mapped_column(sa.String(20), default="participant")
    required: Mapped[bool] = mapped_column(default=True)

    event: Mapped[Event] = relationship(back_populates="participants")
    person: Mapped[Person] = relationship()


class EventSession(db.Model):
    """One meeting of an event, possibly recurring, anchored in a zone.

    ``start`` and ``end`` are the first occurrence's instants in UTC; a recurring session
    repeats the wall-clock time of ``start`` in ``timezone`` (its anchor), so every other
    site's local time is derived per occurrence.
    """

    __tablename__ = "sessions"
    __table_args__ = (
        sa.CheckConstraint('"end" > start', name="end_after_start"),
        sa.CheckConstraint(_enum_check("status", SESSION_STATUSES), name="status"),
        sa.Index("ix_sessions_event_start", "event_id", "start"),
        sa.Index("ix_sessions_start_end", "start", "end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(300))
    start: Mapped[dt.datetime]
    end: Mapped[dt.datetime]
    timezone: Mapped[str] = mapped_column(sa.String(64))
    rrule: Mapped[str | None] = mapped_column(sa.String(500))
    # Occurrence starts removed from the series, as UTC instants ("...Z" strings).
    exdates: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(sa.String(20), default="scheduled")
    ical_uid: Mapped[str] = mapped_column(
        sa.String(255), unique=True, default=lambda: f"{uuid.uuid4()}@forum"
    )
    sequence: Mapped[int] = mapped_column(default=0)
    # Raised on every change of the session or of its overrides (see forum.events.revisions):
    # what calendar feeds compare to know whether to rebuild. SEQUENCE is for clients and
    # only moves on significant changes; this moves on all of them.
    revision: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc, onupdate=now_utc)
    cancelled_at: Mapped[dt.datetime | None]
    # When the meeting really started and ended, as its provider reported.
    actual_start: Mapped[dt.datetime | None]
    actual_end: Mapped[dt.datetime | None]

    event: Mapped[Event] = relationship(back_populates="sessions")
    invitations: Mapped[list[Invitation]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="Invitation.id"
    )
    overrides: Mapped[list[SessionOverride]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        order_by="SessionOverride.recurrence_id",
    )
    meeting: Mapped[VideoMeeting | None] = relationship(
        back_populates="session", cascade="all, delete-orphan"
    )

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start

    def __repr__(self) -> str:
        return f"<EventSession {self.id} {self.title!r} {self.start:%Y-%m-%dT%H:%MZ}>"


class SessionOverride(db.Model):
    """One occurrence of a recurring session moved or cancelled (RECURRENCE-ID)."""

    __tablename__ = "session_overrides"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "recurrence_id"),
        sa.CheckConstraint('"end" > start', name="end_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"))
    # The original start of the occurrence this replaces, in UTC.
    recurrence_id: Mapped[dt.datetime]
    start: Mapped[dt.datetime]
    end: Mapped[dt.datetime]
    title: Mapped[str | None] = mapped_column(sa.String(300))
    cancelled: Mapped[bool] = mapped_column(default=False)
    sequence: Mapped[int] = mapped_column(default=0)

    session: Mapped[EventSession] = relationship(back_populates="overrides")


class Invitation(db.Model):
    """A person in a session, with their role and their answer."""

    __tablename__ = "invitations"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "person_id"),
        sa.CheckConstraint(_enum_check("role", ROLES), name="role"),
        sa.CheckConstraint(_enum_check("rsvp", RSVP_STATES), name="rsvp"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="RESTRICT"), index=True
    )
    role: Mapped[str] = mapped_column(sa.String(20), default="participant")
    required: Mapped[bool] = mapped_column(default=True)
    rsvp: Mapped[str] = mapped_column(sa.String(20), default="needs-action")
    rsvp_at: Mapped[dt.datetime | None]

    session: Mapped[EventSession] = relationship(back_populates="invitations")
    person: Mapped[Person] = relationship()


class VideoMeeting(db.Model):
    """The meeting on a video provider, stored provider-neutrally: name, ids, and a JSON bag."""

    __tablename__ = "video_meetings"
    __table_args__ = (
        sa.CheckConstraint(_enum_check("provider", PROVIDERS), name="provider"),
        sa.CheckConstraint(_enum_check("status", MEETING_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sessions.id", ondelete="CASCADE"), unique=True
    )
    provider: Mapped[str] = mapped_column(sa.String(20))
    # The account it was opened with (None: Jitsi's public server or a manual link).
    account_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("provider_accounts.id", ondelete="SET NULL"), index=True
    )
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    join_url: Mapped[str | None] = mapped_column(sa.String(2000))
    passcode: Mapped[str | None] = mapped_column(sa.String(100))
    # Secret: lets whoever holds it start the meeting as host. Organisers only.
    host_url: Mapped[str | None] = mapped_column(sa.String(2000))
    host_account: Mapped[str | None] = mapped_column(sa.String(254))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    # Set while one job calls the provider to open the meeting: no other job or retry may
    # open it too (two would make two meetings on one host). A job that died leaves a lease
    # that runs out.
    opening_until: Mapped[dt.datetime | None]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    revision: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    session: Mapped[EventSession] = relationship(back_populates="meeting")
