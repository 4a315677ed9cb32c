"""API v1: events, their participants and sessions; an organiser reaches only their own."""

from __future__ import annotations

import datetime as dt

from flask import request
from sqlalchemy.orm import selectinload

from forum.api import bp
from forum.api import schemas
from forum.api.util import current_organiser
from forum.api.util import load_body
from forum.api.util import page_args
from forum.api.util import paginate
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.core.times import format_instant
from forum.core.times import format_local
from forum.core.times import parse_instant
from forum.core.times import to_local
from forum.directory.models import Person
from forum.events import calendars
from forum.events import services
from forum.events.models import SESSION_STATUSES
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.occurrences import MAX_OCCURRENCES
from forum.events.occurrences import Occurrence
from forum.extensions import db
from forum.i18n import _
from forum.notifications import dispatch
from forum.notifications.models import EmailMessage


def event_out(event: Event) -> dict:
    organisers = [
        schemas.OrganiserOut(id=o.id, name=o.name, email=o.email, role=role)
        for o, role in [(event.owner, "owner")] + [(c, "co-organiser") for c in event.co_organisers]
    ]
    return schemas.EventOut(
        id=event.id,
        title=event.title,
        kind=event.kind,
        description=event.description,
        timezone=event.timezone,
        default_provider=event.default_provider,
        status=event.status,
        reminder_minutes=list(event.reminder_minutes or []),
        organisers=organisers,
        calendar_url=calendars.event_calendar_url(event),
    ).model_dump(mode="json")


def participant_out(participant: EventParticipant) -> dict:
    person = participant.person
    return schemas.ParticipantOut(
        person_id=person.id,
        name=person.name,
        email=person.email,
        institution_id=person.institution_id,
        country=person.institution.country if person.institution else None,
        timezone=person.timezone,
        role=participant.role,
        required=participant.required,
    ).model_dump(mode="json")


def session_out(session: EventSession) -> dict:
    meeting = session.meeting
    return schemas.SessionOut(
        id=session.id,
        event_id=session.event_id,
        title=session.title,
        start=format_instant(session.start),
        end=format_instant(session.end),
        timezone=session.timezone,
        local_start=format_local(to_local(session.start, session.timezone)),
        local_end=format_local(to_local(session.end, session.timezone)),
        duration_minutes=int(session.duration.total_seconds() // 60),
        status=session.status,
        sequence=session.sequence,
        ical_uid=session.ical_uid,
        rrule=session.rrule,
        exdates=session.exdates or [],
        meeting=schemas.MeetingOut(
            provider=meeting.provider,
            join_url=meeting.join_url,
            passcode=meeting.passcode,
            status=meeting.status,
            error=meeting.error,
            host_account=meeting.host_account,
            host_url=meeting.host_url,
            recurrence_note=(meeting.data or {}).get("recurrence_note"),
            host_changes=(meeting.data or {}).get("host_changes", []),
        )
        if meeting
        else None,
        calendar_url=calendars.session_file_url(session),
    ).model_dump(mode="json")


def invitation_out(invitation: Invitation, message: EmailMessage | None = None) -> dict:
    email_status = None
    if message is not None:
        email_status = schemas.InvitationEmailOut(
            status=message.status,
            error=message.error,
            attempts=message.attempts,
            sent_at=format_instant(message.sent_at) if message.sent_at else None,
            next_attempt_at=(
                format_instant(message.next_attempt_at)
                if message.next_attempt_at and message.status in ("pending", "retrying")
                else None
            ),
        )
    return schemas.InvitationOut(
        person_id=invitation.person_id,
        name=invitation.person.name,
        email=invitation.person.email,
        role=invitation.role,
        required=invitation.required,
        rsvp=invitation.rsvp,
        rsvp_at=format_instant(invitation.rsvp_at) if invitation.rsvp_at else None,
        email_status=email_status,
    ).model_dump(mode="json")


# --- events ------------------------------------------------------------------------------


@bp.get("/events")
def list_events():
    query = services.visible_events(current_organiser()).options(
        selectinload(Event.owner), selectinload(Event.co_organisers)
    )
    return paginate(query, lambda rows: [event_out(e) for e in rows])


@bp.post("/events")
def create_event():
    body = load_body(schemas.EventCreate)
    event = services.create_event(actor=current_organiser(), **body.model_dump())
    db.session.commit()
    return event_out(event), 201


@bp.get("/events/<int:event_id>")
def get_event(event_id: int):
    return event_out(services.get_event_for(current_organiser(), event_id))


@bp.patch("/events/<int:event_id>")
def update_event(event_id: int):
    event = services.get_event_for(current_organiser(), event_id)
    body = load_body(schemas.EventUpdate)
    services.update_event(event, body.model_dump(exclude_unset=True))
    db.session.commit()
    return event_out(event)


@bp.delete("/events/<int:event_id>")
def delete_event(event_id: int):
    services.delete_event(services.get_event_for(current_organiser(), event_id))
    db.session.commit()
    return "", 204


# --- participants ------------------------------------------------------------------------


@bp.get("/events/<int:event_id>/participants")
def list_participants(event_id: int):
    event = services.get_event_for(current_organiser(), event_id)
    query = services.participants_of(event).options(
        selectinload(EventParticipant.person).selectinload(Person.institution)
    )
    return paginate(query, lambda rows: [participant_out(p) for p in rows])


@bp.post("/events/<int:event_id>/participants")
def add_participants(event_id: int):
    event = services.get_event_for(current_organiser(), event_id)
    body = load_body(schemas.ParticipantAdd)
    added = services.add_participants(event, **body.model_dump())
    db.session.commit()
    return {"items": [participant_out(p) for p in added]}, 201


@bp.delete("/events/<int:event_id>/participants/<int:person_id>")
def remove_participant(event_id: int, person_id: int):
    event = services.get_event_for(current_organiser(), event_id)
    services.remove_participant(event, person_id)
    db.session.commit()
    return "", 204


# --- sessions ----------------------------------------------------------------------------


@bp.get("/events/<int:event_id>/sessions")
def list_sessions(event_id: int):
    event = services.get_event_for(current_organiser(), event_id)
    query = services.sessions_of(event).options(selectinload(EventSession.meeting))
    if status := request.args.get("status"):
        if status not in SESSION_STATUSES:
            raise ValidationFailed(
                {"status": _("must be one of %(values)s", values=", ".join(SESSION_STATUSES))}
            )
        query = query.where(EventSession.status == status)
    return paginate(query, lambda rows: [session_out(s) for s in rows])


@bp.post("/events/<int:event_id>/sessions")
def create_session(event_id: int):
    event = services.get_event_for(current_organiser(), event_id)
    body = load_body(schemas.SessionCreate)
    session = services.create_session(
        event, actor=current_organiser(), **body.model_dump(exclude_unset=True)
    )
    db.session.commit()
    return session_out(session), 201


@bp.get("/sessions/<int:session_id>")
def get_session(session_id: int):
    return session_out(services.get_session_for(current_organiser(), session_id))


@bp.patch("/sessions/<int:session_id>")
def reschedule_session(session_id: int):
    session = services.get_session_for(current_organiser(), session_id)
    body = load_body(schemas.SessionUpdate)
    services.reschedule_session(
        session, body.model_dump(exclude_unset=True), actor=current_organiser()
    )
    db.session.commit()
    return session_out(session)


@bp.delete("/sessions/<int:session_id>")
def cancel_session(session_id: int):
    session = services.cancel_session(services.get_session_for(current_organiser(), session_id))
    db.session.commit()
    return session_out(session)


@bp.get("/sessions/<int:session_id>/invitations")
def list_invitations(session_id: int):
    session = services.get_session_for(current_organiser(), session_id)
    query = services.invitations_of(session).options(selectinload(Invitation.person))

    def page(rows: list[Invitation]) -> list[dict]:
        emails = dispatch.latest_messages(session.id, person_ids=[i.person_id for i in rows])
        return [invitation_out(i, emails.get(i.person_id)) for i in rows]

    return paginate(query, page)


# --- occurrences of a series ---------------------------------------------------------------


def occurrence_out(occurrence: Occurrence) -> dict:
    override = next(
        (o for o in occurrence.session.overrides if o.recurrence_id == occurrence.recurrence_id),
        None,
    )
    status = "cancelled" if occurrence.cancelled else "moved" if occurrence.moved else "scheduled"
    return schemas.OccurrenceOut(
        recurrence_id=format_instant(occurrence.recurrence_id),
        start=format_instant(occurrence.start),
        end=format_instant(occurrence.end),
        local_start=format_local(to_local(occurrence.start, occurrence.session.timezone)),
        title=(override.title if override and override.title else occurrence.session.title),
        status=status,
    ).model_dump(mode="json")


def _recurrence_id(value: str) -> dt.datetime:
    try:
        return parse_instant(value)
    except ValueError:
        raise NotFound(
            _(
                "no occurrence %(value)s: give its start as 2027-03-02T13:00:00Z",
                value=repr(value),
            )
        ) from None


@bp.get("/sessions/<int:session_id>/occurrences")
def list_occurrences(session_id: int):
    session = services.get_session_for(current_organiser(), session_id)
    after = None
    if raw := request.args.get("after"):
        try:
            after = parse_instant(raw)
        except ValueError as error:
            raise ValidationFailed({"after": str(error)}) from None
    page, per_page = page_args()
    # An endless series is counted up to the first MAX_OCCURRENCES dates.
    found = services.occurrences_of(session, after=after, limit=MAX_OCCURRENCES)
    return {
        "items": [occurrence_out(o) for o in found[(page - 1) * per_page : page * per_page]],
        "total": len(found),
        "page": page,
        "per_page": per_page,
    }


@bp.patch("/sessions/<int:session_id>/occurrences/<recurrence_id>")
def move_occurrence(session_id: int, recurrence_id: str):
    session = services.get_session_for(current_organiser(), session_id)
    when = _recurrence_id(recurrence_id)
    body = load_body(schemas.OccurrenceUpdate)
    services.move_occurrence(
        session, when, body.model_dump(exclude_unset=True), actor=current_organiser()
    )
    db.session.commit()
    return occurrence_out(services.get_occurrence(session, when))


@bp.delete("/sessions/<int:session_id>/occurrences/<recurrence_id>")
def cancel_occurrence(session_id: int, recurrence_id: str):
    session = services.get_session_for(current_organiser(), session_id)
    when = _recurrence_id(recurrence_id)
    services.cancel_occurrence(session, when)
    db.session.commit()
    return occurrence_out(services.get_occurrence(session, when))


@bp.post("/sessions/<int:session_id>/meeting/retry")
def retry_meeting(session_id: int):
    session = services.get_session_for(current_organiser(), session_id)
    services.retry_meeting(session)
    db.session.commit()
    # Inline jobs have run by now; with a worker the meeting is still pending.
    db.session.refresh(session.meeting)
    return session_out(session)
