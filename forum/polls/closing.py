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
from forum.i18n import _
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
        # Each organiser reads it in their own language.
        tell_event_organisers(
            poll.event,
            lambda poll=poll: _organisers_notice(poll)[0],
            lambda poll=poll: _organisers_notice(poll)[1],
        )
        noticed.append(poll)
    return noticed


def _organisers_notice(poll: Poll) -> tuple[str, str]:
    """The subject and text telling the organisers that the answers are in."""
    found = matrix(poll)
    best = found.best
    lines = [
        _(
            "The poll %(title)s (%(event)s) stopped taking answers at %(time)s.",
            title=repr(poll.title),
            event=poll.event.title,
            time=format_instant(poll.closes_at),
        ),
        found.summary(),
    ]
    if best is not None:
        lines.append(
            _(
                "Most answers suit %(time)s: %(yes)d yes, %(if_need_be)d if need be, %(no)d no.",
                time=format_instant(best.option.start),
                yes=best.counts["yes"],
                if_need_be=best.counts["if_need_be"],
                no=best.counts["no"],
            )
        )
    lines.append(_("Book a time: %(url)s", url=calendars.page_url(f"/polls/{poll.id}")))
    return _("Answers are in: %(title)s", title=poll.title), "\n\n".join(lines)
