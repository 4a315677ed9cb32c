"""API v1: polls. Organisers open, read, remind, close and finalise them; participants
answer through their own secret link (``/api/v1/p/{token}/polls/{id}``, no API token)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import request

from forum.api import bp
from forum.api import poll_schemas as ps
from forum.api.events import session_out
from forum.api.util import current_organiser
from forum.api.util import load_body
from forum.api.util import paginate
from forum.core import times
from forum.core.errors import ValidationFailed
from forum.core.times import format_instant
from forum.core.times import format_local
from forum.core.times import to_local
from forum.directory.models import Person
from forum.events import calendars
from forum.events import services as event_services
from forum.extensions import db
from forum.i18n import _
from forum.polls import results
from forum.polls import services
from forum.polls.models import Poll
from forum.security import refuse_link


def _instant(value: dt.datetime | None) -> str | None:
    return format_instant(value) if value is not None else None


def _site_out(site: Any) -> dict[str, Any]:
    return ps.SitePlaceOut(
        institution_id=site.site.institution_id,
        name=site.name,
        country=site.country,
        timezone=site.timezone,
        local_start=format_local(site.local_start),
        local_end=format_local(site.local_end),
        weekday=site.local_start.strftime("%a"),
        category=site.category,
        categories=list(site.categories),
        cost=site.cost,
        people=site.people,
    ).model_dump(mode="json")


def poll_out(poll: Poll) -> dict[str, Any]:
    found = results.matrix(poll)
    options = []
    for row in found.options:
        option = row.option
        options.append(
            ps.PollOptionOut(
                id=option.id,
                start=format_instant(option.start),
                end=format_instant(option.end),
                yes=row.counts["yes"],
                if_need_be=row.counts["if_need_be"],
                no=row.counts["no"],
                not_answered=row.not_answered,
                suits_every_required=row.suits_every_required,
                votes=[
                    {"person_id": person.person.id, "answer": person.answers[option.id]}
                    for person in found.people
                    if person.answers[option.id] is not None
                ],
                sites=[_site_out(site) for site in row.sites],
            )
        )
    people = []
    for person_row in found.people:
        invitee, person = person_row.invitee, person_row.person
        institution = person.institution
        people.append(
            ps.PollPersonOut(
                person_id=person.id,
                name=person.name,
                email=person.email,
                institution_id=institution.id if institution else None,
                institution=institution.name if institution else None,
                country=institution.country if institution else None,
                timezone=person.timezone,
                role=invitee.role,
                required=invitee.required,
                answered_at=_instant(invitee.answered_at),
                comment=invitee.comment,
                answers={str(k): v for k, v in person_row.answers.items()},
                categories={str(k): p.category for k, p in person_row.placements.items()},
            )
        )
    return ps.PollOut(
        id=poll.id,
        event_id=poll.event_id,
        title=poll.title,
        status=poll.status,
        source=poll.source,
        duration_minutes=poll.duration_minutes,
        closes_at=format_instant(poll.closes_at),
        accepts_answers=services.accepts_answers(poll),
        created_at=format_instant(poll.created_at),
        reminded_at=_instant(poll.reminded_at),
        session_id=poll.session_id,
        chosen_option_id=poll.chosen_option_id,
        options=options,
        people=people,
        not_answered=[i.person_id for i in found.not_answered],
        everyone_required_answered=found.everyone_required_answered,
        suiting_option_ids=[row.option.id for row in found.suiting],
        summary=found.summary(),
        organiser_url=calendars.page_url(f"/polls/{poll.id}"),
    ).model_dump(mode="json")


@bp.post("/events/<int:event_id>/polls")
def create_poll(event_id: int):
    organiser = current_organiser()
    event = event_services.get_event_for(organiser, event_id)
    body = load_body(ps.PollCreate)
    search = None
    if body.from_search is not None:
        search = body.from_search.model_dump(exclude_unset=True, exclude={"duration_minutes"})
        search.setdefault("limit", body.from_search.limit)
    poll = services.create_poll(
        event,
        actor=organiser,
        title=body.title,
        duration_minutes=body.from_search.duration_minutes
        if body.from_search is not None and body.from_search.duration_minutes
        else body.duration_minutes,
        options=services.resolve_options(body.options, default_timezone=event.timezone)
        if body.options is not None
        else None,
        from_search=search,
        closes_at=body.closes_at,
        invitees=[i.model_dump() for i in body.invitees] if body.invitees is not None else None,
        source=body.source,
    )
    db.session.commit()
    return poll_out(poll), 201


@bp.get("/events/<int:event_id>/polls")
def list_polls(event_id: int):
    event = event_services.get_event_for(current_organiser(), event_id)
    query = sa.select(Poll).where(Poll.event_id == event.id).order_by(Poll.id)
    return paginate(query, lambda rows: [poll_out(p) for p in rows])


@bp.get("/polls/<int:poll_id>")
def get_poll(poll_id: int):
    return poll_out(services.get_poll_for(current_organiser(), poll_id))


@bp.delete("/polls/<int:poll_id>")
def close_poll(poll_id: int):
    poll = services.get_poll_for(current_organiser(), poll_id)
    services.close_poll(poll)
    db.session.commit()
    return poll_out(poll)


@bp.post("/polls/<int:poll_id>/remind")
def remind(poll_id: int):
    poll = services.get_poll_for(current_organiser(), poll_id)
    reminded = services.remind(poll)
    db.session.commit()
    return {"reminded": [i.person_id for i in reminded], "poll": poll_out(poll)}


@bp.post("/polls/<int:poll_id>/finalize")
def finalize(poll_id: int):
    organiser = current_organiser()
    poll = services.get_poll_for(organiser, poll_id)
    body = load_body(ps.PollFinalize)
    session = services.finalize(
        poll,
        body.option_id,
        actor=organiser,
        title=body.title,
        provider=body.provider,
        allow_conflicts=body.allow_conflicts,
    )
    db.session.commit()
    if session.meeting is not None:
        # Inline jobs have run by now; with a worker the meeting is still pending.
        db.session.refresh(session.meeting)
    return {"poll": poll_out(poll), "session": session_out(session)}, 201


# --- participants, by their secret link ---------------------------------------------------


def _ballot(token: str, poll_id: int) -> tuple[Person, Poll]:
    person = calendars.person_for_agenda(token)
    if person is None:
        refuse_link()
    poll = db.session.get(Poll, poll_id)
    if poll is None or services.invitee_of(poll, person) is None:
        refuse_link()
    return person, poll


def ballot_out(poll: Poll, person: Person, zone: str) -> dict[str, Any]:
    invitee = services.invitee_of(poll, person)
    votes = services.votes_of(poll)
    options = []
    for option in poll.options:
        local_start = to_local(option.start, zone)
        options.append(
            ps.BallotOptionOut(
                id=option.id,
                start=format_instant(option.start),
                end=format_instant(option.end),
                local_start=format_local(local_start),
                local_end=format_local(to_local(option.end, zone)),
                weekday=local_start.strftime("%a"),
                times=calendars.time_lines(option.start, option.end, zone, poll.event.timezone),
                answer=votes.get((option.id, person.id)),
            )
        )
    return ps.BallotOut(
        poll_id=poll.id,
        title=poll.title,
        event=poll.event.title,
        status=poll.status,
        accepts_answers=services.accepts_answers(poll),
        closes_at=format_instant(poll.closes_at),
        timezone=zone,
        comment=invitee.comment if invitee else "",
        options=options,
    ).model_dump(mode="json")


def _zone(person: Person) -> str:
    asked = request.args.get("tz", "").strip()
    if not asked:
        return person.timezone
    try:
        times.get_zone(asked)
    except times.InvalidTime as error:
        raise ValidationFailed({"tz": str(error)}) from None
    return asked


@bp.get("/p/<token>/polls/<int:poll_id>")
def get_ballot(token: str, poll_id: int):
    person, poll = _ballot(token, poll_id)
    return ballot_out(poll, person, _zone(person))


@bp.put("/p/<token>/polls/<int:poll_id>")
def answer_ballot(token: str, poll_id: int):
    person, poll = _ballot(token, poll_id)
    zone = _zone(person)
    body = load_body(ps.BallotIn)
    answers: dict[int, str] = {}
    for index, vote in enumerate(body.votes):
        if vote.option_id in answers:
            raise ValidationFailed({f"votes.{index}.option_id": _("answered twice")})
        answers[vote.option_id] = vote.answer
    services.answer_poll(poll, person, answers, comment=body.comment)
    db.session.commit()
    return ballot_out(poll, person, zone)
