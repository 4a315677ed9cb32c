"""Open polls' candidate times as TENTATIVE holds in a person's feed (FORUM_FEED_POLL_HOLDS).

A hold is shown while its poll is open (answers taken, or waiting for the organiser to
choose); once the poll is closed or finalised the holds leave the feed, and the chosen time
comes as the session itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from forum.calendar import ical
from forum.directory.models import Person
from forum.events import calendars
from forum.events.models import Event
from forum.extensions import db
from forum.polls.models import Poll
from forum.polls.models import PollInvitee
from forum.polls.services import ANSWER_WORDS
from forum.polls.services import votes_of


def _open_polls(person: Person) -> sa.Select:
    return (
        sa.select(Poll)
        .join(PollInvitee, PollInvitee.poll_id == Poll.id)
        .where(PollInvitee.person_id == person.id, Poll.status == "open")
    )


def hold_stamp(person: Person) -> tuple:
    """What the holds depend on, in one query: the person's open polls and their revisions."""
    polls = _open_polls(person).subquery()
    row = db.session.execute(
        sa.select(
            sa.func.count(polls.c.id),
            sa.func.coalesce(sa.func.sum(polls.c.id), 0),
            sa.func.coalesce(sa.func.sum(polls.c.revision), 0),
        )
    ).one()
    return ("holds", *row)


def hold_entries(person: Person, *, viewer_zone: str) -> list[ical.SessionEntry]:
    """One TENTATIVE entry per candidate time of each open poll the person is asked."""
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
            said = f"Your answer: {ANSWER_WORDS[answer]}." if answer else "Not answered yet."
            lines = calendars.time_lines(option.start, option.end, viewer_zone, event.timezone)
            description = "\n".join(
                [
                    f"A candidate time ({number} of {count}) for {poll.title!r} "
                    f"({event.title}); nothing is booked yet.",
                    said,
                    *lines,
                    f"Answer or change your answers: {url}",
                ]
            )
            entries.append(
                ical.SessionEntry(
                    uid=f"poll-{poll.id}-option-{option.id}@forum",
                    sequence=poll.revision,
                    summary=f"Hold (poll): {poll.title}",
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
