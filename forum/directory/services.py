"""Creating and changing institutions and people, with the rules that keep them consistent:
who may change them, and the record of what was changed.

The directory is shared: every organiser may read it and invite its people. Changing an
entry (its fields, a person's availability) or deleting it is for the organiser who added
it, the co-organisers of the events that organiser owns (by adding a co-organiser, an owner
trusts them with their events, and so with the people they invite to them), and
administrators. An entry with no recorded creator (added before creators were recorded, or
by the command line on no one's behalf) is maintained by administrators.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from typing import TypeVar

import pytz
import sqlalchemy as sa

from forum.accounts.models import Organiser
from forum.core.errors import Conflict
from forum.core.errors import Forbidden
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.core.times import WEEKDAYS
from forum.core.times import format_instant
from forum.directory.models import Blackout
from forum.directory.models import BusyInterval
from forum.directory.models import DirectoryChange
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.extensions import db
from forum.i18n import _
from forum.i18n import locale_for_country
from forum.i18n import ngettext
from forum.scheduling.calendars import weekend

T = TypeVar("T")


def default_timezone_for_country(country: str) -> str:
    """The country's zone when it has a single one; else 422 listing the choices."""
    zones = pytz.country_timezones.get(country, [])
    if len(zones) == 1:
        return zones[0]
    raise ValidationFailed(
        {
            "timezone": _(
                "required: %(country)s has several time zones (%(zones)s)",
                country=country,
                zones=", ".join(zones),
            )
        },
        details={"choices": zones},
    )


def _get(model: type[T], what: str, row_id: int, field: str | None) -> T:
    """The row, or 404 (or 422 naming ``field`` when the id came in a request body)."""
    row = db.session.get(model, row_id)
    if row is None:
        if what == "person":
            message = _("no person with id %(id)s", id=row_id)
        else:
            message = _("no institution with id %(id)s", id=row_id)
        if field:
            raise ValidationFailed({field: message})
        raise NotFound(message)
    return row


def get_institution(institution_id: int, *, field: str | None = None) -> Institution:
    return _get(Institution, "institution", institution_id, field)


def get_person(person_id: int, *, field: str | None = None) -> Person:
    return _get(Person, "person", person_id, field)


# --- who may change an entry --------------------------------------------------------------

# The fields whose changes are recorded (DirectoryChange), in the order they are listed.
PERSON_TRACKED = ("email", "timezone", "working_hours", "acceptable_hours", "busy", "ics_url")
INSTITUTION_TRACKED = ("country", "timezone", "subdivision", "blackouts")


def creators_trusting(actor: Organiser) -> set[int]:
    """The organisers whose directory entries ``actor`` may change: themselves, and the
    owners of the events ``actor`` co-organises."""
    from forum.events.models import Event
    from forum.events.models import event_co_organisers

    owners = db.session.scalars(
        sa.select(Event.owner_id)
        .join(event_co_organisers, event_co_organisers.c.event_id == Event.id)
        .where(event_co_organisers.c.organiser_id == actor.id)
        .distinct()
    )
    return {actor.id, *owners}


def can_change(actor: Organiser, entry: Person | Institution) -> bool:
    """Whether ``actor`` may change or delete this person or institution."""
    if actor.is_admin:
        return True
    if entry.created_by_id is None:
        return False
    return entry.created_by_id in creators_trusting(actor)


def who_may_change(named: str, creator_email: str | None, *, person: bool) -> str:
    """Who may change an entry called ``named``, in words, for a refusal."""
    if creator_email is None:
        if person:
            return _(
                "%(named)s has no recorded creator: only administrators may change this person",
                named=named,
            )
        return _(
            "%(named)s has no recorded creator: only administrators may change this institution",
            named=named,
        )
    if person:
        return _(
            "%(named)s was added to the directory by %(creator)s: only they, the "
            "co-organisers of their events and administrators may change this person",
            named=named,
            creator=creator_email,
        )
    return _(
        "%(named)s was added to the directory by %(creator)s: only they, the "
        "co-organisers of their events and administrators may change this institution",
        named=named,
        creator=creator_email,
    )


def check_can_change(actor: Organiser, entry: Person | Institution) -> None:
    """403 ``forbidden`` unless ``actor`` may change the entry; reading and inviting stay open."""
    if can_change(actor, entry):
        return
    person = isinstance(entry, Person)
    creator_email = entry.created_by.email if entry.created_by is not None else None
    who = who_may_change(entry.name, creator_email, person=person)
    if person:
        message = _("%(who)s; you may still invite them", who=who)
    else:
        message = _("%(who)s; you may still invite its people", who=who)
    raise Forbidden(
        message,
        code="forbidden",
        details={
            "created_by": creator_email,
            "person_id" if person else "institution_id": entry.id,
        },
    )


# --- the record of changes ------------------------------------------------------------------


def busy_value(intervals: Iterable[BusyInterval]) -> list[dict[str, str]]:
    """Busy times as the record keeps them: instants in UTC and where each came from."""
    return sorted(
        (
            {"start": format_instant(b.start), "end": format_instant(b.end), "source": b.source}
            for b in intervals
        ),
        key=lambda b: (b["start"], b["end"], b["source"]),
    )


def blackouts_value(blackouts: Iterable[Blackout]) -> list[dict[str, str]]:
    return [
        {
            "start_date": b.start_date.isoformat(),
            "end_date": b.end_date.isoformat(),
            "reason": b.reason or "",
        }
        for b in sorted(blackouts, key=lambda b: (b.start_date, b.end_date, b.reason or ""))
    ]


def person_snapshot(person: Person) -> dict[str, Any]:
    """The person's recorded fields as plain JSON values."""
    return {
        "email": person.email,
        "timezone": person.timezone,
        "working_hours": _plain(person.working_hours),
        "acceptable_hours": _plain(person.acceptable_hours),
        "busy": busy_value(person.busy),
        "ics_url": person.ics_url,
    }


def institution_snapshot(institution: Institution) -> dict[str, Any]:
    return {
        "country": institution.country,
        "timezone": institution.timezone,
        "subdivision": institution.subdivision,
        "blackouts": blackouts_value(institution.blackouts),
    }


def _plain(hours: Any) -> Any:
    """Weekly hours with lists, not tuples, so that two equal weeks compare equal."""
    if isinstance(hours, dict):
        return {day: [list(r) for r in ranges] for day, ranges in hours.items()}
    return hours


def record_changes(
    entry: Person | Institution,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    actor: Organiser | None,
) -> list[DirectoryChange]:
    """A DirectoryChange for each field whose value differs between the two snapshots."""
    key = "person_id" if isinstance(entry, Person) else "institution_id"
    changes = [
        DirectoryChange(
            **{key: entry.id},
            changed_by_id=actor.id if actor is not None else None,
            field=name,
            old_value=before[name],
            new_value=after[name],
        )
        for name in before
        if before[name] != after[name]
    ]
    db.session.add_all(changes)
    db.session.flush()
    return changes


def changes_of(entry: Person | Institution) -> sa.Select:
    """The recorded changes of a person or an institution, newest first."""
    column = (
        DirectoryChange.person_id if isinstance(entry, Person) else DirectoryChange.institution_id
    )
    return (
        sa.select(DirectoryChange)
        .where(column == entry.id)
        .order_by(DirectoryChange.changed_at.desc(), DirectoryChange.id.desc())
    )


def _check_unique_name(name: str, *, exclude_id: int | None = None) -> None:
    # SQLite's lower() folds ASCII letters only: the exact name is compared as well, as the
    # unique constraint compares it, or a second "École normale" would pass here and fail at
    # the insert.
    query = sa.select(Institution.id).where(
        sa.or_(Institution.name == name, sa.func.lower(Institution.name) == name.lower())
    )
    if exclude_id is not None:
        query = query.where(Institution.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise Conflict(
            _("an institution named %(name)s exists", name=repr(name)),
            code="duplicate",
            details={"fields": {"name": _("already in use")}},
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
    created_by: Organiser | None = None,
) -> Institution:
    _check_unique_name(name)
    institution = Institution(
        created_by=created_by,
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


def update_institution(
    institution: Institution, changes: dict[str, Any], *, actor: Organiser
) -> Institution:
    """Apply the given fields; a new country without a zone re-derives the zone.

    403 unless ``actor`` may change the institution; changes of its country, zone,
    subdivision and blackouts are recorded.
    """
    check_can_change(actor, institution)
    before = institution_snapshot(institution)
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
    record_changes(institution, before, institution_snapshot(institution), actor=actor)
    return institution


def delete_institution(institution: Institution, *, actor: Organiser) -> None:
    """Delete an institution that nobody belongs to any more (403 unless ``actor`` may)."""
    check_can_change(actor, institution)
    count = db.session.scalar(
        sa.select(sa.func.count()).where(Person.institution_id == institution.id)
    )
    if count:
        raise Conflict(
            ngettext(
                "%(name)s still has %(num)d people; move or delete them first",
                "%(name)s still has %(num)d people; move or delete them first",
                count,
                name=institution.name,
            ),
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
            _("a person with email %(email)s exists (id %(id)s)", email=email, id=other.id),
            code="duplicate",
            details={"fields": {"email": _("already in use")}, "person_id": other.id},
        )


def _busy(items: Iterable[dict[str, dt.datetime]]) -> list[BusyInterval]:
    return [BusyInterval(start=b["start"], end=b["end"], source="manual") for b in items]


def set_availability(person: Person, changes: dict[str, Any], *, actor: Organiser) -> Person:
    """Replace the availability fields given in ``changes``; the others stay as they are.

    403 unless ``actor`` may change the person; every change is recorded.
    """
    check_can_change(actor, person)
    before = person_snapshot(person)
    _apply_availability(person, changes)
    record_changes(person, before, person_snapshot(person), actor=actor)
    return person


def _apply_availability(person: Person, changes: dict[str, Any]) -> None:
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


def create_person(
    *,
    name: str,
    email: str,
    institution_id: int | None = None,
    timezone: str | None = None,
    role_title: str = "",
    reminders: bool = True,
    locale: str | None = None,
    created_by: Organiser | None = None,
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
            raise ValidationFailed({"timezone": _("required for a person without an institution")})
        timezone = institution.timezone
    person = Person(
        created_by=created_by,
        name=name,
        email=email,
        institution=institution,
        timezone=timezone,
        role_title=role_title,
        reminders=reminders,
        locale=locale or locale_for_country(institution.country if institution else None),
        working_hours=default_working_hours(institution.country if institution else None),
    )
    db.session.add(person)
    _apply_availability(person, availability)
    return person


def default_working_hours(country: str | None) -> dict[str, list[list[str]]]:
    """09:00-18:00 on the country's working days: Sunday to Thursday in Qatar or Israel."""
    off = weekend(country)
    return {
        day: ([] if index in off else [["09:00", "18:00"]]) for index, day in enumerate(WEEKDAYS)
    }


def update_person(person: Person, changes: dict[str, Any], *, actor: Organiser) -> Person:
    """Apply the given fields (403 unless ``actor`` may change the person); changes of the
    email, zone and availability are recorded."""
    check_can_change(actor, person)
    before = person_snapshot(person)
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
    for field in ("name", "timezone", "role_title", "reminders", "locale"):
        if changes.get(field) is not None:
            setattr(person, field, changes[field])
    _apply_availability(person, changes)
    record_changes(person, before, person_snapshot(person), actor=actor)
    return person


def delete_person(person: Person, *, actor: Organiser) -> None:
    """Delete a person who is not invited anywhere (403 unless ``actor`` may)."""
    from forum.events.models import EventParticipant
    from forum.events.models import Invitation

    check_can_change(actor, person)
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
            _(
                "%(name)s is invited to events or sessions; remove them there first",
                name=person.name,
            ),
            code="in_use",
            details={"event_ids": list(events), "session_ids": list(sessions)},
        )
    db.session.delete(person)
    db.session.flush()
