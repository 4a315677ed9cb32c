"""Creating and changing institutions and people, with the rules that keep them consistent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from typing import TypeVar

import pytz
import sqlalchemy as sa

from forum.core.errors import Conflict
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.core.times import WEEKDAYS
from forum.directory.models import Blackout
from forum.directory.models import BusyInterval
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.extensions import db
from forum.scheduling.calendars import weekend

T = TypeVar("T")


def default_timezone_for_country(country: str) -> str:
    """The country's zone when it has a single one; else 422 listing the choices."""
    zones = pytz.country_timezones.get(country, [])
    if len(zones) == 1:
        return zones[0]
    raise ValidationFailed(
        {"timezone": f"required: {country} has several time zones ({', '.join(zones)})"},
        details={"choices": zones},
    )


def _get(model: type[T], what: str, row_id: int, field: str | None) -> T:
    """The row, or 404 (or 422 naming ``field`` when the id came in a request body)."""
    row = db.session.get(model, row_id)
    if row is None:
        if field:
            raise ValidationFailed({field: f"no {what} with id {row_id}"})
        raise NotFound(f"no {what} with id {row_id}")
    return row


def get_institution(institution_id: int, *, field: str | None = None) -> Institution:
    return _get(Institution, "institution", institution_id, field)


def get_person(person_id: int, *, field: str | None = None) -> Person:
    return _get(Person, "person", person_id, field)


def _check_unique_name(name: str, *, exclude_id: int | None = None) -> None:
    query = sa.select(Institution.id).where(sa.func.lower(Institution.name) == name.lower())
    if exclude_id is not None:
        query = query.where(Institution.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise Conflict(
            f"an institution named {name!r} exists",
            code="duplicate",
            details={"fields": {"name": "already in use"}},
        )


def _blackouts(items: Iterable[dict[str, Any]]) -> list[Blackout]:
    return [
        Blackout(start_date=b["start_date"], end_date=b["end_date"], reason=b.get("reason", ""))
        for b in items
    ]


def create_institution(
    *,
    name: str,
    country: str,
    short_name: str = "",
    timezone: str | None = None,
    subdivision: str | None = None,
    blackouts: Iterable[dict[str, Any]] = (),
) -> Institution:
    _check_unique_name(name)
    institution = Institution(
        name=name,
        short_name=short_name,
        country=country,
        timezone=timezone or default_timezone_for_country(country),
        subdivision=subdivision,
        blackouts=_blackouts(blackouts),
    )
    db.session.add(institution)
    db.session.flush()
    return institution


def update_institution(institution: Institution, changes: dict[str, Any]) -> Institution:
    """Apply the given fields; a new country without a zone re-derives the zone."""
    if "name" in changes and changes["name"] is not None:
        _check_unique_name(changes["name"], exclude_id=institution.id)
    for field in ("name", "short_name", "country", "timezone"):
        if changes.get(field) is not None:
            setattr(institution, field, changes[field])
    if "country" in changes and "timezone" not in changes:
        institution.timezone = default_timezone_for_country(institution.country)
    if "subdivision" in changes:
        institution.subdivision = changes["subdivision"]
    if changes.get("blackouts") is not None:
        institution.blackouts = _blackouts(changes["blackouts"])
    db.session.flush()
    return institution


def delete_institution(institution: Institution) -> None:
    """Delete an institution that nobody belongs to any more."""
    count = db.session.scalar(
        sa.select(sa.func.count()).where(Person.institution_id == institution.id)
    )
    if count:
        raise Conflict(
            f"{institution.name} still has {count} people; move or delete them first",
            code="in_use",
            details={"people": count},
        )
    db.session.delete(institution)
    db.session.flush()


def find_person_by_email(email: str) -> Person | None:
    return db.session.scalar(sa.select(Person).where(sa.func.lower(Person.email) == email.lower()))


def _check_unique_email(email: str, *, exclude_id: int | None = None) -> None:
    other = find_person_by_email(email)
    if other is not None and other.id != exclude_id:
        raise Conflict(
            f"a person with email {email} exists (id {other.id})",
            code="duplicate",
            details={"fields": {"email": "already in use"}, "person_id": other.id},
        )


def _busy(items: Iterable[dict[str, dt.datetime]]) -> list[BusyInterval]:
    return [BusyInterval(start=b["start"], end=b["end"], source="manual") for b in items]


def set_availability(person: Person, changes: dict[str, Any]) -> Person:
    """Replace the availability fields given in ``changes``; the others stay as they are."""
    if changes.get("working_hours") is not None:
        person.working_hours = changes["working_hours"]
    if changes.get("acceptable_hours") is not None:
        person.acceptable_hours = changes["acceptable_hours"]
    if changes.get("busy") is not None:
        # Given busy times replace the ones entered by hand; imported ones belong to
        # their calendar and change when it is imported again.
        imported = [b for b in person.busy if b.source != "manual"]
        person.busy = imported + _busy(changes["busy"])
    if "ics_url" in changes and changes["ics_url"] != person.ics_url:
        # Times read from the old address no longer describe the person.
        person.busy = [b for b in person.busy if b.source != "ics-url"]
        person.ics_url = changes["ics_url"]
    db.session.flush()
    return person


def create_person(
    *,
    name: str,
    email: str,
    institution_id: int | None = None,
    timezone: str | None = None,
    role_title: str = "",
    **availability: Any,
) -> Person:
    _check_unique_email(email)
    institution = (
        get_institution(institution_id, field="institution_id")
        if institution_id is not None
        else None
    )
    if timezone is None:
        if institution is None:
            raise ValidationFailed({"timezone": "required for a person without an institution"})
        timezone = institution.timezone
    person = Person(
        name=name,
        email=email,
        institution=institution,
        timezone=timezone,
        role_title=role_title,
        working_hours=default_working_hours(institution.country if institution else None),
    )
    db.session.add(person)
    set_availability(person, availability)
    return person


def default_working_hours(country: str | None) -> dict[str, list[list[str]]]:
    """09:00-18:00 on the country's working days: Sunday to Thursday in Qatar or Israel."""
    off = weekend(country)
    return {
        day: ([] if index in off else [["09:00", "18:00"]]) for index, day in enumerate(WEEKDAYS)
    }


def update_person(person: Person, changes: dict[str, Any]) -> Person:
    if changes.get("email") is not None:
        _check_unique_email(changes["email"], exclude_id=person.id)
        person.email = changes["email"]
    if "institution_id" in changes:
        institution_id = changes["institution_id"]
        person.institution = (
            get_institution(institution_id, field="institution_id")
            if institution_id is not None
            else None
        )
    for field in ("name", "timezone", "role_title"):
        if changes.get(field) is not None:
            setattr(person, field, changes[field])
    return set_availability(person, changes)


def delete_person(person: Person) -> None:
    """Delete a person who is not invited anywhere; their history stays otherwise."""
    from forum.events.models import EventParticipant
    from forum.events.models import Invitation

    sessions = db.session.scalars(
        sa.select(Invitation.session_id).where(Invitation.person_id == person.id).limit(20)
    ).all()
    events = db.session.scalars(
        sa.select(EventParticipant.event_id)
        .where(EventParticipant.person_id == person.id)
        .limit(20)
    ).all()
    if sessions or events:
        raise Conflict(
            f"{person.name} is invited to events or sessions; remove them there first",
            code="in_use",
            details={"event_ids": list(events), "session_ids": list(sessions)},
        )
    db.session.delete(person)
    db.session.flush()
