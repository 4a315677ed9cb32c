"""Events, participants and sessions: who may see them, and every change made to them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from forum.accounts.models import Organiser
from forum.accounts.services import find_organiser
from forum.core import times
from forum.core.errors import Conflict
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.core.recurrence import occurrences
from forum.db import now_utc
from forum.directory.models import Person
from forum.directory.services import get_institution
from forum.directory.services import get_person
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import VideoMeeting
from forum.events.models import event_co_organisers
from forum.extensions import db

MAX_DURATION = dt.timedelta(hours=24)


# --- access ------------------------------------------------------------------------------


def visible_events(organiser: Organiser) -> sa.Select:
    """Events the organiser owns or co-organises, newest first."""
    co_organised = sa.select(event_co_organisers.c.event_id).where(
        event_co_organisers.c.organiser_id == organiser.id
    )
    return (
        sa.select(Event)
        .where(sa.or_(Event.owner_id == organiser.id, Event.id.in_(co_organised)))
        .order_by(Event.id.desc())
    )


def get_event_for(organiser: Organiser, event_id: int) -> Event:
    """The event if the organiser may see it; 404 otherwise (existence is not revealed)."""
    event = db.session.scalar(visible_events(organiser).where(Event.id == event_id))
    if event is None:
        raise NotFound(f"no event with id {event_id}")
    return event


def get_session_for(organiser: Organiser, session_id: int) -> EventSession:
    session = db.session.get(EventSession, session_id)
    if session is None or not can_manage(organiser, session.event):
        raise NotFound(f"no session with id {session_id}")
    return session


def can_manage(organiser: Organiser, event: Event) -> bool:
    return event.owner_id == organiser.id or any(
        co.id == organiser.id for co in event.co_organisers
    )


# --- events ------------------------------------------------------------------------------


def _co_organisers(emails: Iterable[str], owner: Organiser) -> list[Organiser]:
    found: list[Organiser] = []
    for index, email in enumerate(emails):
        organiser = find_organiser(email)
        if organiser is None:
            raise ValidationFailed({f"organisers.{index}": f"no organiser account for {email}"})
        if organiser.id != owner.id and organiser not in found:
            found.append(organiser)
    return found


def create_event(
    *,
    actor: Organiser,
    title: str,
    kind: str,
    description: str = "",
    timezone: str | None = None,
    default_provider: str = "jitsi",
    organisers: Iterable[str] = (),
) -> Event:
    event = Event(
        title=title,
        kind=kind,
        description=description,
        owner=actor,
        timezone=timezone or actor.timezone,
        default_provider=default_provider,
        co_organisers=_co_organisers(organisers, actor),
    )
    db.session.add(event)
    db.session.flush()
    return event


def update_event(event: Event, changes: dict[str, Any]) -> Event:
    for field in ("title", "kind", "description", "timezone", "default_provider", "status"):
        if changes.get(field) is not None:
            setattr(event, field, changes[field])
    if changes.get("organisers") is not None:
        event.co_organisers = _co_organisers(changes["organisers"], event.owner)
    db.session.flush()
    return event


def delete_event(event: Event) -> None:
    """Delete an event whose sessions are all cancelled (or that has none)."""
    live = [s.id for s in event.sessions if s.status != "cancelled"]
    if live:
        raise Conflict(
            "this event still has sessions that are not cancelled; cancel them first",
            code="event_has_sessions",
            details={"session_ids": live},
        )
    db.session.delete(event)
    db.session.flush()


def add_participants(
    event: Event,
    *,
    person_id: int | None = None,
    institution_id: int | None = None,
    role: str = "participant",
    required: bool = True,
) -> list[EventParticipant]:
    """Invite a person, or every person of an institution; already invited people are updated."""
    if person_id is not None:
        people = [get_person(person_id, field="person_id")]
    else:
        institution = get_institution(institution_id, field="institution_id")  # type: ignore[arg-type]
        people = list(institution.people)
        if not people:
            raise ValidationFailed({"institution_id": f"{institution.name} has no people yet"})
    existing = {p.person_id: p for p in event.participants}
    changed = []
    for person in people:
        participant = existing.get(person.id)
        if participant is None:
            participant = EventParticipant(person=person, role=role, required=required)
            event.participants.append(participant)
        else:
            participant.role, participant.required = role, required
        changed.append(participant)
    db.session.flush()
    return changed


def remove_participant(event: Event, person_id: int) -> None:
    for participant in event.participants:
        if participant.person_id == person_id:
            event.participants.remove(participant)
            db.session.flush()
            return
    raise NotFound(f"person {person_id} is not a participant of this event")


# --- sessions ----------------------------------------------------------------------------


def _end_from(
    start: dt.datetime, *, duration_minutes: int | None, end: dt.datetime | None
) -> dt.datetime:
    if end is None and duration_minutes is None:
        raise ValidationFailed({"duration_minutes": "required (or end)"})
    if end is None:
        end = start + dt.timedelta(minutes=duration_minutes)  # type: ignore[arg-type]
    if end <= start:
        raise ValidationFailed({"end": "must be after the start"})
    if end - start > MAX_DURATION:
        raise ValidationFailed({"end": "a session lasts at most 24 hours"})
    return end


def _resolve_times(fields: dict[str, Any], *, default_timezone: str) -> tuple[dt.datetime, str]:
    return times.resolve_start(
        start=fields.get("start"),
        local_start=fields.get("local_start"),
        timezone=fields.get("timezone"),
        fold=fields.get("fold"),
        default_timezone=default_timezone,
    )


def create_session(
    event: Event,
    *,
    title: str,
    start: dt.datetime | None = None,
    local_start: dt.datetime | None = None,
    timezone: str | None = None,
    fold: int | None = None,
    duration_minutes: int | None = None,
    end: dt.datetime | None = None,
    rrule: str | None = None,
    provider: str | None = None,
    invitees: Iterable[dict[str, Any]] | None = None,
    allow_conflicts: bool = False,
) -> EventSession:
    """Book a session of ``event``; invitees default to the event's participants."""
    start, anchor = _resolve_times(
        {"start": start, "local_start": local_start, "timezone": timezone, "fold": fold},
        default_timezone=event.timezone,
    )
    end = _end_from(start, duration_minutes=duration_minutes, end=end)
    session = EventSession(
        event=event, title=title, start=start, end=end, timezone=anchor, rrule=rrule, exdates=[]
    )
    db.session.add(session)
    if invitees is None:
        session.invitations = [
            Invitation(person=p.person, role=p.role, required=p.required)
            for p in event.participants
        ]
    else:
        session.invitations = _invitations(invitees)
    session.meeting = VideoMeeting(provider=provider or event.default_provider)
    db.session.flush()
    return session


def _invitations(invitees: Iterable[dict[str, Any]]) -> list[Invitation]:
    invitees = list(invitees)
    ids = [i["person_id"] for i in invitees]
    people = {p.id: p for p in db.session.scalars(sa.select(Person).where(Person.id.in_(ids)))}
    invitations: list[Invitation] = []
    seen: set[int] = set()
    for index, invitee in enumerate(invitees):
        person = people.get(invitee["person_id"])
        if person is None:
            raise ValidationFailed(
                {f"invitees.{index}.person_id": f"no person with id {invitee['person_id']}"}
            )
        if person.id in seen:
            raise ValidationFailed({f"invitees.{index}.person_id": "listed twice"})
        seen.add(person.id)
        invitations.append(
            Invitation(
                person=person,
                role=invitee.get("role", "participant"),
                required=invitee.get("required", True),
            )
        )
    return invitations


def reschedule_session(session: EventSession, changes: dict[str, Any]) -> EventSession:
    """Change a session's title, times or recurrence; a real change bumps SEQUENCE.

    RFC 5546 section 2.1.4: attendees' clients only take an update with a higher
    SEQUENCE. A change of time also resets every answer to needs-action, since people
    accepted the old time, not the new one.
    """
    if session.status == "cancelled":
        raise Conflict("this session is cancelled", code="session_cancelled")
    new_start, anchor = session.start, session.timezone
    if changes.get("start") is not None or changes.get("local_start") is not None:
        new_start, anchor = _resolve_times(changes, default_timezone=session.timezone)
    elif changes.get("timezone") is not None:
        anchor = changes["timezone"]
    elif changes.get("fold") is not None:
        raise ValidationFailed({"fold": "only meaningful with local_start"})

    if changes.get("end") is not None or changes.get("duration_minutes") is not None:
        new_end = _end_from(
            new_start, duration_minutes=changes.get("duration_minutes"), end=changes.get("end")
        )
    else:
        new_end = _end_from(new_start, duration_minutes=None, end=new_start + session.duration)

    time_changed = (new_start, new_end) != (session.start, session.end) or (
        anchor != session.timezone
    )
    rrule_changed = "rrule" in changes and changes["rrule"] != session.rrule
    title_changed = changes.get("title") is not None and changes["title"] != session.title
    if not (time_changed or rrule_changed or title_changed):
        return session

    session.start, session.end, session.timezone = new_start, new_end, anchor
    if rrule_changed:
        session.rrule = changes["rrule"]
        session.exdates = []
    if title_changed:
        session.title = changes["title"]
    session.sequence += 1
    if time_changed or rrule_changed:
        for invitation in session.invitations:
            invitation.rsvp, invitation.rsvp_at = "needs-action", None
    db.session.flush()
    return session


def cancel_session(session: EventSession) -> EventSession:
    """Cancel a session; the row stays, with a higher SEQUENCE. Cancelling twice is a no-op."""
    if session.status == "cancelled":
        return session
    session.status = "cancelled"
    session.cancelled_at = now_utc()
    session.sequence += 1
    db.session.flush()
    return session


def sessions_of(event: Event) -> sa.Select:
    return (
        sa.select(EventSession)
        .where(EventSession.event_id == event.id)
        .order_by(EventSession.start, EventSession.id)
    )


@dataclass(frozen=True)
class Occurrence:
    """One meeting of a session: the session itself, or one date of its series."""

    session: EventSession
    start: dt.datetime
    end: dt.datetime


def upcoming_occurrences(
    organiser: Organiser, *, after: dt.datetime, limit: int = 20
) -> list[Occurrence]:
    """The next meetings of the organiser's events, soonest first; a series shows its next date.

    Includes a meeting in progress at ``after``; cancelled sessions are left out.
    """
    events = visible_events(organiser).with_only_columns(Event.id).order_by(None)
    candidates = db.session.scalars(
        sa.select(EventSession)
        .where(
            EventSession.event_id.in_(events),
            EventSession.status != "cancelled",
            sa.or_(EventSession.end > after, EventSession.rrule.is_not(None)),
        )
        .options(selectinload(EventSession.event))
    )
    found = []
    for session in candidates:
        following = occurrences(
            start=session.start,
            end=session.end,
            timezone=session.timezone,
            rrule=session.rrule,
            exdates=session.exdates,
            after=after,
            limit=1,
        )
        for start, end in following:
            found.append(Occurrence(session, start, end))
    found.sort(key=lambda o: (o.start, o.session.id))
    return found[:limit]


@dataclass(frozen=True)
class EventSummary:
    event: Event
    participant_count: int
    session_count: int


def event_summaries(organiser: Organiser) -> list[EventSummary]:
    """The organiser's events with their participant and session counts, in one query.

    Cancelled sessions are left out of the count: they stay in the database for the
    record (and for the calendars that must hear of the cancellation), not as meetings.
    """
    participants = (
        sa.select(sa.func.count(EventParticipant.id))
        .where(EventParticipant.event_id == Event.id)
        .correlate(Event)
        .scalar_subquery()
    )
    sessions = (
        sa.select(sa.func.count(EventSession.id))
        .where(EventSession.event_id == Event.id, EventSession.status != "cancelled")
        .correlate(Event)
        .scalar_subquery()
    )
    rows = db.session.execute(visible_events(organiser).add_columns(participants, sessions))
    return [EventSummary(event, p_count, s_count) for event, p_count, s_count in rows]


def participants_of(event: Event) -> sa.Select:
    return (
        sa.select(EventParticipant)
        .where(EventParticipant.event_id == event.id)
        .order_by(EventParticipant.id)
    )


def invitations_of(session: EventSession) -> sa.Select:
    return sa.select(Invitation).where(Invitation.session_id == session.id).order_by(Invitation.id)
