"""Open polls' candidate times as TENTATIVE holds in a person's feed (FORUM_FEED_POLL_HOLDS).

A hold is shown while its poll is open (answers taken, or waiting for the organiser to
choose); once the poll is closed or finalised the holds leave the feed, and the chosen time
comes as the session itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from forum.calendar import ical
from forum.directory.models import Person
from forum.events import calendars
from forum.events import feedcache
from forum.events.models import Event
from forum.extensions import db
from forum.i18n import _
from forum.i18n import in_locale
from forum.polls.models import ANSWER_WORDS
from forum.polls.models import Poll
from forum.polls.models import PollInvitee
from forum.polls.models import PollOption
from forum.polls.models import PollVote
from forum.polls.services import votes_of


def _open_polls(person: Person) -> sa.Select:
    return (
        sa.select(Poll)
        .join(PollInvitee, PollInvitee.poll_id == Poll.id)
        .where(PollInvitee.person_id == person.id, Poll.status == "open")
    )


def _asked(session: Session, *, polls: set[int] = frozenset(), events=frozenset()) -> set[str]:
    found: set[int] = set()
    if polls:
        found.update(
            session.scalars(sa.select(PollInvitee.person_id).where(PollInvitee.poll_id.in_(polls)))
        )
    if events:
        found.update(
            session.scalars(
                sa.select(PollInvitee.person_id)
                .join(Poll, PollInvitee.poll_id == Poll.id)
                .where(Poll.event_id.in_(events))
            )
        )
    return {feedcache.person(p) for p in found}


def connect_holds() -> None:
    """Tell the feed cache which changes move the holds: a poll, its options or its event
    (everyone asked), an invitee or an answer (that person)."""

    def polls(session: Session, objects: list[Poll]) -> set[str]:
        return _asked(session, polls={p.id for p in objects if p.id is not None})

    def options(session: Session, objects: list[PollOption]) -> set[str]:
        ids = {feedcache.ref(o, "poll_id", "poll") for o in objects} - {None}
        return _asked(session, polls=ids)

    def people(session: Session, objects: list[PollInvitee | PollVote]) -> set[str]:
        ids = {feedcache.ref(o, "person_id", "person") for o in objects} - {None}
        return {feedcache.person(p) for p in ids}

    def events(session: Session, objects: list[Event]) -> set[str]:
        return _asked(session, events={e.id for e in objects if e.id is not None})

    feedcache.watch(Poll, polls)
    feedcache.watch(PollOption, options)
    feedcache.watch(PollInvitee, people)
    feedcache.watch(PollVote, people)
    feedcache.watch(Event, events)


def hold_entries(person: Person, *, viewer_zone: str) -> list[ical.SessionEntry]:
    """One TENTATIVE entry per candidate time of each open poll the person is asked, in
    the person's language."""
    with in_locale(person.locale):
        return _hold_entries(person, viewer_zone=viewer_zone)


def _hold_entries(person: Person, *, viewer_zone: str) -> list[ical.SessionEntry]:
    polls = db.session.scalars(
        _open_polls(person)
        .options(
            selectinload(Poll.options),
            selectinload(Poll.event).selectinload(Event.owner),
        )
        .order_by(Poll.id)
    )
    token = calendars.agenda_token(person)
    entries = []
    for poll in polls:
        event = poll.event
        url = calendars.page_url(f"/p/{token}/polls/{poll.id}")
        votes = votes_of(poll)
        count = len(poll.options)
        for number, option in enumerate(poll.options, start=1):
            answer = votes.get((option.id, person.id))
            said = (
                _("Your answer: %(answer)s.", answer=ANSWER_WORDS[answer])
                if answer
                else _("Not answered yet.")
            )
            lines = calendars.time_lines(option.start, option.end, viewer_zone, event.timezone)
            description = "\n".join(
                [
                    _(
                        "A candidate time (%(number)d of %(count)d) for %(title)s "
                        "(%(event)s); nothing is booked yet.",
                        number=number,
                        count=count,
                        title=repr(poll.title),
                        event=event.title,
                    ),
                    said,
                    *lines,
                    _("Answer or change your answers: %(url)s", url=url),
                ]
            )
            entries.append(
                ical.SessionEntry(
                    uid=f"poll-{poll.id}-option-{option.id}@forum",
                    sequence=poll.revision,
                    summary=_("Hold (poll): %(title)s", title=poll.title),
                    description=description,
                    start=option.start,
                    end=option.end,
                    timezone=event.timezone,
                    page_url=url,
                    created=poll.created_at,
                    tentative=True,
                )
            )
    return entries
