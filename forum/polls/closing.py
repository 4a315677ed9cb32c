"""Polls whose closing time has passed: everyone asked is told once, and the organisers
get the state of the answers with a link to book a time (the periodic job
``forum.close_due_polls``)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from forum.core.times import format_instant
from forum.db import now_utc
from forum.events import calendars
from forum.extensions import db
from forum.notifications.organisers import tell_event_organisers
from forum.polls.models import Poll
from forum.polls.results import matrix
from forum.polls.services import queue_poll_emails


def notice_closed_polls(now: dt.datetime | None = None) -> list[Poll]:
    """Polls whose closing time has passed, each noticed once: everyone asked is told the
    answers are closed, the organisers that the answers are in and a time can be booked.
    Commits each poll; a second run (another worker) takes none of them again."""
    now = now or now_utc()
    due = db.session.scalars(
        sa.select(Poll.id).where(
            Poll.status == "open", Poll.closes_at <= now, Poll.deadline_noticed_at.is_(None)
        )
    ).all()
    noticed = []
    for poll_id in due:
        claimed = db.session.execute(
            sa.update(Poll)
            .where(Poll.id == poll_id, Poll.status == "open", Poll.deadline_noticed_at.is_(None))
            .values(deadline_noticed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            db.session.rollback()
            continue
        poll = db.session.get(Poll, poll_id)
        queue_poll_emails(poll, "poll-closed", data={"reason": "deadline"})
        db.session.commit()
        found = matrix(poll)
        best = found.best
        lines = [
            f"The poll {poll.title!r} ({poll.event.title}) stopped taking answers at "
            f"{format_instant(poll.closes_at)}.",
            found.summary(),
        ]
        if best is not None:
            lines.append(
                f"Most answers suit {format_instant(best.option.start)}: "
                f"{best.counts['yes']} yes, {best.counts['if_need_be']} if need be, "
                f"{best.counts['no']} no."
            )
        lines.append(f"Book a time: {calendars.page_url(f'/polls/{poll.id}')}")
        tell_event_organisers(poll.event, f"Answers are in: {poll.title}", "\n\n".join(lines))
        noticed.append(poll)
    return noticed
