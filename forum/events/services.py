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
from forum.core.recurrence import check_series
from forum.db import now_utc
from forum.directory.models import Person
from forum.directory.services import get_institution
from forum.directory.services import get_person
from forum.events import signals
from forum.events.conflicts import find_clashes
from forum.events.conflicts import lock_people
from forum.events.conflicts import raise_for_clashes
from forum.events.conflicts import session_intervals
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import SessionOverride
from forum.events.models import VideoMeeting
from forum.events.models import event_co_organisers
from forum.events.occurrences import Occurrence
from forum.events.occurrences import find_occurrence
from forum.events.occurrences import session_occurrences
from forum.events.signals import announce
from forum.extensions import db
from forum.i18n import _

MAX_DURATION = dt.timedelta(hours=24)
RSVP_ANSWERS = ("accepted", "tentative", "declined")


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
        raise NotFound(_("no event with id %(id)s", id=event_id))
    return event


def get_session_for(organiser: Organiser, session_id: int) -> EventSession:
    session = db.session.get(EventSession, session_id)
    if session is None or not can_manage(organiser, session.event):
        raise NotFound(_("no session with id %(id)s", id=session_id))
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
            raise ValidationFailed(
                {f"organisers.{index}": _("no organiser account for %(email)s", email=email)}
            )
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
    reminder_minutes: list[int] | None = None,
    organisers: Iterable[str] = (),
) -> Event:
    """A new event; ``reminder_minutes`` None: the default leads (a day and an hour)."""
    event = Event(
        title=title,
        kind=kind,
        description=description,
        owner=actor,
        timezone=timezone or actor.timezone,
        default_provider=default_provider,
        co_organisers=_co_organisers(organisers, actor),
    )
    if reminder_minutes is not None:
        event.reminder_minutes = sorted(set(reminder_minutes), reverse=True)
    db.session.add(event)
    db.session.flush()
    return event


def update_event(event: Event, changes: dict[str, Any]) -> Event:
    for field in ("title", "kind", "description", "timezone", "default_provider", "status"):
        if changes.get(field) is not None:
            setattr(event, field, changes[field])
    if changes.get("reminder_minutes") is not None:
        event.reminder_minutes = sorted(set(changes["reminder_minutes"]), reverse=True)
    if changes.get("organisers") is not None:
        event.co_organisers = _co_organisers(changes["organisers"], event.owner)
    db.session.flush()
    return event


def delete_event(event: Event) -> None:
    """Delete an event whose sessions are all cancelled (or that has none)."""
    live = [s.id for s in event.sessions if s.status != "cancelled"]
    if live:
        raise Conflict(
            _("this event still has sessions that are not cancelled; cancel them first"),
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
            raise ValidationFailed(
                {"institution_id": _("%(name)s has no people yet", name=institution.name)}
            )
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
    raise NotFound(_("person %(id)s is not a participant of this event", id=person_id))


# --- sessions ----------------------------------------------------------------------------


def _end_from(
    start: dt.datetime, *, duration_minutes: int | None, end: dt.datetime | None
) -> dt.datetime:
    if end is None and duration_minutes is None:
        raise ValidationFailed({"duration_minutes": _("required (or end)")})
    if end is None:
        end = start + dt.timedelta(minutes=duration_minutes)  # type: ignore[arg-type]
    if end <= start:
        raise ValidationFailed({"end": _("must be after the start")})
    if end - start > MAX_DURATION:
        raise ValidationFailed({"end": _("a session lasts at most 24 hours")})
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
    actor: Organiser | None = None,
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
    join_url: str | None = None,
    notify: bool = True,
    skip_invalid_local_times: bool = False,
) -> EventSession:
    """Book a session of ``event``; invitees default to the event's participants.

    Refused with 409 ``conflict`` when a chair or speaker would be in two overlapping
    sessions, unless ``allow_conflicts``. Invitations are emailed after the commit. A
    series' rule is checked by ``check_series`` (bounds, dates in a DST gap or fold).
    """
    start, anchor = _resolve_times(
        {"start": start, "local_start": local_start, "timezone": timezone, "fold": fold},
        default_timezone=event.timezone,
    )
    end = _end_from(start, duration_minutes=duration_minutes, end=end)
    exdates: list[str] = []
    if rrule:
        exdates = check_series(
            start=start,
            timezone=anchor,
            rrule=rrule,
            exdates=[],
            skip_invalid_local_times=skip_invalid_local_times,
        )
    if invitees is None:
        invitations = [
            Invitation(person=p.person, role=p.role, required=p.required)
            for p in event.participants
        ]
    else:
        invitations = _invitations(invitees)
    with db.session.no_autoflush:
        session = EventSession(
            title=title, start=start, end=end, timezone=anchor, rrule=rrule, exdates=exdates
        )
        if not allow_conflicts:
            _check_conflicts(
                session_intervals(session), invitations, actor=actor, exclude_session_id=None
            )
    session.event = event
    session.invitations = invitations
    kind = provider or event.default_provider
    if kind == "manual" and not join_url:
        raise ValidationFailed({"join_url": _("required when the provider is manual")})
    session.meeting = VideoMeeting(
        provider=kind, data={"manual_url": join_url} if kind == "manual" else {}
    )
    db.session.add(session)
    announce(signals.host_needed, session, meeting=session.meeting)
    db.session.flush()
    announce(signals.booked, session, notify=notify)
    return session


def _check_conflicts(
    intervals: list[tuple[dt.datetime, dt.datetime]],
    invitations: Iterable[Invitation],
    *,
    actor: Organiser | None,
    exclude_session_id: int | None,
) -> None:
    roles = {i.person.id: i.role for i in invitations}
    lock_people(roles)
    clashes = find_clashes(intervals, roles, exclude_session_id=exclude_session_id)
    raise_for_clashes(clashes, can_see=lambda event: actor is not None and can_manage(actor, event))


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
                {
                    f"invitees.{index}.person_id": _(
                        "no person with id %(id)s", id=invitee["person_id"]
                    )
                }
            )
        if person.id in seen:
            raise ValidationFailed({f"invitees.{index}.person_id": _("listed twice")})
        seen.add(person.id)
        invitations.append(
            Invitation(
                person=person,
                role=invitee.get("role", "participant"),
                required=invitee.get("required", True),
            )
        )
    return invitations


def reschedule_session(
    session: EventSession, changes: dict[str, Any], *, actor: Organiser | None = None
) -> EventSession:
    """Change a session's title, times or recurrence; a real change bumps SEQUENCE.

    RFC 5546 section 2.1.4: attendees' clients only take an update with a higher
    SEQUENCE. A change of time also resets every answer to needs-action, since people
    accepted the old time, not the new one, and drops moved or cancelled occurrences,
    whose RECURRENCE-IDs name dates of the old rule. Everyone gets the updated invite.
    """
    if session.status == "cancelled":
        raise Conflict(_("this session is cancelled"), code="session_cancelled")
    new_start, anchor = session.start, session.timezone
    if changes.get("start") is not None or changes.get("local_start") is not None:
        new_start, anchor = _resolve_times(changes, default_timezone=session.timezone)
    elif changes.get("timezone") is not None:
        anchor = changes["timezone"]
    elif changes.get("fold") is not None:
        raise ValidationFailed({"fold": _("only meaningful with local_start")})

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

    new_rrule = changes["rrule"] if rrule_changed else session.rrule
    # EXDATEs name dates of the old times, as overrides do: a new time or rule starts afresh.
    new_exdates = list(session.exdates or []) if not (time_changed or rrule_changed) else []
    if new_rrule and (time_changed or rrule_changed):
        new_exdates = check_series(
            start=new_start,
            timezone=anchor,
            rrule=new_rrule,
            exdates=new_exdates,
            skip_invalid_local_times=bool(changes.get("skip_invalid_local_times")),
        )
    if (time_changed or rrule_changed) and not changes.get("allow_conflicts"):
        planned = EventSession(
            start=new_start,
            end=new_end,
            timezone=anchor,
            rrule=new_rrule,
            exdates=new_exdates,
        )
        _check_conflicts(
            session_intervals(planned),
            session.invitations,
            actor=actor,
            exclude_session_id=session.id,
        )

    session.start, session.end, session.timezone = new_start, new_end, anchor
    if rrule_changed:
        session.rrule = changes["rrule"]
    if time_changed or rrule_changed:
        session.exdates = new_exdates
        session.overrides.clear()
    if title_changed:
        session.title = changes["title"]
    session.sequence += 1
    if time_changed or rrule_changed:
        for invitation in session.invitations:
            invitation.rsvp, invitation.rsvp_at = "needs-action", None
        if session.meeting is not None:
            # Its host may be busy at the new time: then the meeting moves to another host.
            announce(signals.host_needed, session, meeting=session.meeting, reason="rescheduled")
    db.session.flush()
    announce(signals.rescheduled, session)
    return session


def cancel_session(session: EventSession) -> EventSession:
    """Cancel a session; the row stays, with a higher SEQUENCE, and everyone gets a CANCEL.

    Cancelling twice is a no-op (and sends nothing the second time).
    """
    if session.status == "cancelled":
        return session
    session.status = "cancelled"
    session.cancelled_at = now_utc()
    session.sequence += 1
    db.session.flush()
    announce(signals.cancelled, session)
    return session


def retry_meeting(session: EventSession) -> EventSession:
    """Try again to open a session's meeting that failed or waited.

    Its host is checked again first, as at booking: kept if still free, else exchanged for
    a free one, else 409 naming the session that holds it. 409 too if there is nothing to
    retry, or if the meeting is being opened at this moment.
    """
    if session.status == "cancelled":
        raise Conflict(_("this session is cancelled"), code="session_cancelled")
    meeting = session.meeting
    if meeting is None or meeting.status == "created":
        raise Conflict(_("the meeting exists: there is nothing to retry"), code="meeting_exists")
    announce(signals.host_needed, session, meeting=meeting, reason="retried")
    # Claimed by a statement, after the account's lock: of two retries at once, or a retry
    # and the periodic job, one opens the meeting.
    claimed = db.session.execute(
        sa.update(VideoMeeting)
        .where(
            VideoMeeting.id == meeting.id,
            VideoMeeting.status.in_(("pending", "failed", "deferred")),
            sa.or_(VideoMeeting.opening_until.is_(None), VideoMeeting.opening_until < now_utc()),
        )
        .values(status="pending", error=None)
    ).rowcount
    if not claimed:
        db.session.refresh(meeting)
        if meeting.status == "created":
            raise Conflict(
                _("the meeting exists: there is nothing to retry"), code="meeting_exists"
            )
        raise Conflict(
            _("the meeting is being opened at this moment: look again in a minute"),
            code="meeting_opening",
        )
    db.session.flush()
    announce(signals.meeting_retried, session)
    return session


def resend_invitations(session: EventSession, *, person_id: int | None = None) -> int:
    """Email the current invitation again, to every invitee or to one; returns how many.

    Nothing changed, so SEQUENCE stays (RFC 5546 section 2.1.4 raises it for the
    organiser's changes only): the REQUEST goes out again with the same UID and SEQUENCE
    and a later DTSTAMP, which calendars take as the newest copy of what they may already
    hold (section 2.1.5). It is written as a first invitation, with the session as it is
    now. While the meeting is being opened the emails wait for its link, as at booking.
    """
    if session.status == "cancelled":
        raise Conflict(_("this session is cancelled"), code="session_cancelled")
    invitations = list(session.invitations)
    if person_id is not None:
        invitations = [i for i in invitations if i.person_id == person_id]
        if not invitations:
            raise NotFound(_("person %(id)s is not invited to this session", id=person_id))
    meeting = session.meeting
    announce(
        signals.invitations_resent,
        session,
        invitations=invitations,
        hold=meeting is not None and meeting.status == "pending",
    )
    return len(invitations)


# --- one occurrence of a series ------------------------------------------------------------


def get_occurrence(session: EventSession, recurrence_id: dt.datetime) -> Occurrence:
    if not session.rrule:
        raise NotFound(_("this session does not repeat: reschedule or cancel the session itself"))
    occurrence = find_occurrence(session, recurrence_id)
    if occurrence is None:
        raise NotFound(
            _(
                "the series has no occurrence starting at %(start)s",
                start=times.format_instant(recurrence_id),
            )
        )
    return occurrence


def move_occurrence(
    session: EventSession,
    recurrence_id: dt.datetime,
    changes: dict[str, Any],
    *,
    actor: Organiser | None = None,
) -> SessionOverride | None:
    """Move one occurrence of a series (a RECURRENCE-ID override); the others stay.

    Its invitees get a REQUEST for that occurrence alone, with a SEQUENCE above the
    series' (Outlook ignores an occurrence update whose SEQUENCE is not higher).
    """
    if session.status == "cancelled":
        raise Conflict(_("this session is cancelled"), code="session_cancelled")
    occurrence = get_occurrence(session, recurrence_id)
    if occurrence.cancelled:
        raise Conflict(_("this occurrence is cancelled"), code="occurrence_cancelled")
    new_start = occurrence.start
    if changes.get("start") is not None or changes.get("local_start") is not None:
        # A local time is read in the series' anchor zone unless another is named: the
        # occurrence stays part of the series, written in the anchor zone.
        read_in = {**changes, "timezone": changes.get("timezone") or session.timezone}
        new_start, _anchor = _resolve_times(read_in, default_timezone=session.timezone)
    if changes.get("end") is not None or changes.get("duration_minutes") is not None:
        new_end = _end_from(
            new_start, duration_minutes=changes.get("duration_minutes"), end=changes.get("end")
        )
    else:
        new_end = _end_from(
            new_start, duration_minutes=None, end=new_start + (occurrence.end - occurrence.start)
        )
    title = changes.get("title")
    override = next((o for o in session.overrides if o.recurrence_id == recurrence_id), None)
    unchanged = (new_start, new_end) == (occurrence.start, occurrence.end) and (
        title is None or title == (override.title if override else session.title)
    )
    if unchanged:
        return override
    if (new_start, new_end) != (occurrence.start, occurrence.end) and not changes.get(
        "allow_conflicts"
    ):
        _check_conflicts(
            [(new_start, new_end)],
            session.invitations,
            actor=actor,
            exclude_session_id=session.id,
        )
    session.sequence += 1
    if override is None:
        override = SessionOverride(recurrence_id=recurrence_id)
        session.overrides.append(override)
    override.start, override.end = new_start, new_end
    if title is not None:
        override.title = title
    override.sequence = session.sequence
    db.session.flush()
    if session.meeting is not None:
        # The series keeps its one meeting: its host must be free at the new time too.
        announce(signals.host_needed, session, meeting=session.meeting, may_move=False)
    announce(signals.occurrence_moved, session, recurrence_id=recurrence_id)
    return override


def cancel_occurrence(session: EventSession, recurrence_id: dt.datetime) -> SessionOverride:
    """Cancel one occurrence of a series; cancelling it twice is a no-op."""
    if session.status == "cancelled":
        raise Conflict(_("this session is cancelled"), code="session_cancelled")
    occurrence = get_occurrence(session, recurrence_id)
    override = next((o for o in session.overrides if o.recurrence_id == recurrence_id), None)
    if override is not None and override.cancelled:
        return override
    session.sequence += 1
    if override is None:
        override = SessionOverride(
            recurrence_id=recurrence_id, start=occurrence.start, end=occurrence.end
        )
        session.overrides.append(override)
    override.cancelled = True
    override.sequence = session.sequence
    db.session.flush()
    announce(signals.occurrence_cancelled, session, recurrence_id=recurrence_id)
    return override


def occurrences_of(
    session: EventSession, *, after: dt.datetime | None, limit: int
) -> list[Occurrence]:
    """The series' occurrences (cancelled ones included, marked) from ``after`` on."""
    return list(session_occurrences(session, after=after, include_cancelled=True, limit=limit))


def sessions_of(event: Event) -> sa.Select:
    return (
        sa.select(EventSession)
        .where(EventSession.event_id == event.id)
        .order_by(EventSession.start, EventSession.id)
    )


def upcoming_occurrences(
    organiser: Organiser, *, after: dt.datetime, limit: int = 20
) -> list[Occurrence]:
    """The next meetings of the organiser's events, soonest first; a series shows its next date.

    Includes a meeting in progress at ``after``; cancelled sessions and occurrences are left
    out.
    """
    events = visible_events(organiser).with_only_columns(Event.id).order_by(None)
    candidates = db.session.scalars(
        sa.select(EventSession)
        .where(
            EventSession.event_id.in_(events),
            EventSession.status != "cancelled",
            sa.or_(EventSession.end > after, EventSession.rrule.is_not(None)),
        )
        .options(
            selectinload(EventSession.event),
            selectinload(EventSession.overrides),
            selectinload(EventSession.meeting),
        )
    )
    found = []
    for session in candidates:
        following = sorted(session_occurrences(session, after=after, limit=3), key=_by_start)
        found.extend(following[:1])
    found.sort(key=lambda o: (o.start, o.session.id))
    return found[:limit]


def _by_start(occurrence: Occurrence) -> dt.datetime:
    return occurrence.start


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


# --- answers -----------------------------------------------------------------------------


def answer_invitation(invitation: Invitation, answer: str) -> Invitation:
    """Record a participant's answer (RSVP); answering the same again changes nothing."""
    if answer not in RSVP_ANSWERS:
        raise ValidationFailed(
            {"answer": _("must be one of %(values)s", values=", ".join(RSVP_ANSWERS))}
        )
    if invitation.session.status == "cancelled":
        raise Conflict(_("this session is cancelled"), code="session_cancelled")
    if invitation.rsvp != answer:
        invitation.rsvp, invitation.rsvp_at = answer, now_utc()
        db.session.flush()
        announce(signals.answered, invitation)
    return invitation


@dataclass(frozen=True)
class AgendaItem:
    invitation: Invitation
    occurrence: Occurrence


def agenda_for(
    person: Person, *, after: dt.datetime, days: int = 120, per_series: int = 12
) -> list[AgendaItem]:
    """The person's coming meetings, soonest first; cancelled ones kept (and marked)."""
    before = after + dt.timedelta(days=days)
    invitations = db.session.scalars(
        sa.select(Invitation)
        .join(EventSession, Invitation.session_id == EventSession.id)
        .where(
            Invitation.person_id == person.id,
            EventSession.start < before,
            sa.or_(EventSession.rrule.is_not(None), EventSession.end > after),
        )
        .options(
            selectinload(Invitation.session).selectinload(EventSession.overrides),
            selectinload(Invitation.session).selectinload(EventSession.meeting),
            selectinload(Invitation.session).selectinload(EventSession.event),
        )
    )
    items = [
        AgendaItem(invitation, occurrence)
        for invitation in invitations
        for occurrence in session_occurrences(
            invitation.session,
            after=after,
            before=before,
            include_cancelled=True,
            limit=per_series,
        )
    ]
    items.sort(key=lambda item: (item.occurrence.start, item.invitation.session_id))
    return items
