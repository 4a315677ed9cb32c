"""Institutions, their blackout periods, people and their busy intervals; who added them and
what was changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from forum.accounts.models import Organiser
from forum.db import JSONType
from forum.db import now_utc
from forum.extensions import db
from forum.scheduling.model import busy_minutes

DEFAULT_WORKING_HOURS: dict[str, list[list[str]]] = {
    "mon": [["09:00", "18:00"]],
    "tue": [["09:00", "18:00"]],
    "wed": [["09:00", "18:00"]],
    "thu": [["09:00", "18:00"]],
    "fri": [["09:00", "18:00"]],
    "sat": [],
    "sun": [],
}
DEFAULT_ACCEPTABLE_HOURS: dict[str, list[list[str]]] = {
    day: [["07:00", "22:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


class Institution(db.Model):
    """A university, school or hospital taking part in events."""

    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    short_name: Mapped[str] = mapped_column(sa.String(50), default="")
    country: Mapped[str] = mapped_column(sa.String(2))
    timezone: Mapped[str] = mapped_column(sa.String(64))
    subdivision: Mapped[str | None] = mapped_column(sa.String(10))
    # The organiser who added it: they, the co-organisers of their events and administrators
    # may change it (forum.directory.services.check_can_change). None: added before owners
    # were recorded, or by the command line on no one's behalf; administrators maintain it.
    # An account that added entries cannot be deleted, as one that owns events cannot.
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisers.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    created_by: Mapped[Organiser | None] = relationship()
    blackouts: Mapped[list[Blackout]] = relationship(
        back_populates="institution",
        cascade="all, delete-orphan",
        order_by="Blackout.start_date",
    )
    people: Mapped[list[Person]] = relationship(back_populates="institution")

    def __repr__(self) -> str:
        return f"<Institution {self.id} {self.short_name or self.name}>"


class Blackout(db.Model):
    """Dates an institution cannot meet (term break, exams), inclusive of both ends."""

    __tablename__ = "institution_blackouts"
    __table_args__ = (sa.CheckConstraint("end_date >= start_date", name="dates_in_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        sa.ForeignKey("institutions.id", ondelete="CASCADE"), index=True
    )
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date]
    reason: Mapped[str] = mapped_column(sa.String(200), default="")

    institution: Mapped[Institution] = relationship(back_populates="blackouts")


class Person(db.Model):
    """Someone who takes part in sessions; their hours are in their own zone."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(254))
    institution_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("institutions.id", ondelete="RESTRICT"), index=True
    )
    timezone: Mapped[str] = mapped_column(sa.String(64))
    role_title: Mapped[str] = mapped_column(sa.String(200), default="")
    # {"mon": [["09:00", "18:00"]], ..., "sun": []}: local ranges per weekday.
    working_hours: Mapped[dict[str, Any]] = mapped_column(
        default=lambda: {k: [list(r) for r in v] for k, v in DEFAULT_WORKING_HOURS.items()}
    )
    acceptable_hours: Mapped[dict[str, Any]] = mapped_column(
        default=lambda: {k: [list(r) for r in v] for k, v in DEFAULT_ACCEPTABLE_HOURS.items()}
    )
    ics_url: Mapped[str | None] = mapped_column(sa.String(2000))
    # Off: no reminder emails before sessions (invitations and changes still go).
    reminders: Mapped[bool] = mapped_column(default=True)
    # The language of their pages, emails and calendar text: a BCP 47 tag (forum.i18n).
    locale: Mapped[str] = mapped_column(sa.String(16), default="en", server_default="en")
    # Part of the participant's secret links (agenda page, feed): raising it revokes them.
    link_version: Mapped[int] = mapped_column(default=0)
    # Raised on every change of the row, so calendar feeds know when to rebuild.
    revision: Mapped[int] = mapped_column(default=0)
    # As Institution.created_by_id.
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisers.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    created_by: Mapped[Organiser | None] = relationship()
    institution: Mapped[Institution | None] = relationship(back_populates="people")
    busy: Mapped[list[BusyInterval]] = relationship(
        back_populates="person",
        cascade="all, delete-orphan",
        order_by="BusyInterval.start",
    )

    def __repr__(self) -> str:
        return f"<Person {self.id} {self.email}>"


# Emails are unique whatever their case.
sa.Index("uq_people_email_lower", sa.func.lower(Person.email), unique=True)


def _whole_minutes(column: str, *, ceil: bool) -> Callable[[Any], int]:
    """A default that keeps a busy time's edge as whole UTC minutes since 1970 beside it."""

    def default(context: Any) -> int:
        value = context.get_current_parameters()[column]
        if value.tzinfo is None:  # SQLite's parameters are naive UTC by then
            value = value.replace(tzinfo=dt.UTC)
        return busy_minutes([(value, value)])[0][1 if ceil else 0]

    return default


class BusyInterval(db.Model):
    """A time a person cannot meet, entered by hand or imported from their calendar."""

    __tablename__ = "busy_intervals"
    __table_args__ = (
        sa.CheckConstraint('"end" > start', name="end_after_start"),
        sa.Index("ix_busy_intervals_person_start", "person_id", "start"),
        sa.Index("ix_busy_intervals_person_start_minute", "person_id", "start_minute"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id", ondelete="CASCADE"))
    start: Mapped[dt.datetime]
    end: Mapped[dt.datetime]
    source: Mapped[str] = mapped_column(sa.String(20), default="manual")
    # The same edges as the engine reads them (model.busy_minutes: the start floored, the
    # end ceiled to the minute), so that a search fetches integers, not datetimes. Set on
    # insert from start and end; busy times are replaced, never edited in place.
    start_minute: Mapped[int] = mapped_column(
        sa.BigInteger, default=_whole_minutes("start", ceil=False), server_default=sa.text("0")
    )
    end_minute: Mapped[int] = mapped_column(
        sa.BigInteger, default=_whole_minutes("end", ceil=True), server_default=sa.text("0")
    )

    person: Mapped[Person] = relationship(back_populates="busy")


class DirectoryChange(db.Model):
    """One field of a person or an institution changed: who, when, the value before and after.

    Kept for the fields that decide where invitations go and when people can meet (a
    person's email, zone, hours, busy times and ICS URL; an institution's country, zone,
    subdivision and blackouts), so that a wrong invitation can be traced to its cause.
    """

    __tablename__ = "directory_changes"
    __table_args__ = (
        sa.CheckConstraint(
            "(person_id IS NULL) <> (institution_id IS NULL)", name="person_or_institution"
        ),
        sa.Index("ix_directory_changes_person_id_changed_at", "person_id", "changed_at"),
        sa.Index("ix_directory_changes_institution_id_changed_at", "institution_id", "changed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id", ondelete="CASCADE"))
    institution_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("institutions.id", ondelete="CASCADE")
    )
    # None: the command line on no one's behalf, or an organiser account since deleted.
    changed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="SET NULL"), index=True
    )
    changed_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    field: Mapped[str] = mapped_column(sa.String(40))
    # The values as the API shows them (hours as {"mon": [["09:00", "18:00"]]}, busy times
    # and blackouts as lists); null for a value that was not set.
    old_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSONType, nullable=True)

    changed_by: Mapped[Organiser | None] = relationship()
