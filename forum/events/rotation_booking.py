"""Booking a planned rotation as one series: a rule for its regular part, overrides for the rest.

A rotation's dates come every ``interval_days`` days, but its start times move from date to
date. Calendars hold that best as one series: a daily rule at the time most dates keep, and
a RECURRENCE-ID override for each date the rotation moves. The invitees so get one
invitation for the whole series (the booking's own), which every calendar reads alike,
rather than one for the series and one more for each moved date.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from forum.accounts.models import Organiser
from forum.core import times
from forum.core.errors import ValidationFailed
from forum.events import conflicts
from forum.events import services
from forum.events import signals
from forum.events.models import Event
from forum.events.models import EventSession
from forum.events.models import SessionOverride
from forum.events.signals import announce
from forum.extensions import db


@dataclass(frozen=True)
class RotationSeries:
    """How a rotation is held: the rule's first local start and rule, and its moved dates."""

    local_start: dt.datetime  # wall clock in ``timezone``
    timezone: str
    rrule: str
    # (the rule's start of the date, the rotation's start) for each date the rotation moves
    moved: tuple[tuple[dt.datetime, dt.datetime], ...]


def series_for(
    starts: Sequence[dt.datetime], *, timezone: str, interval_days: int
) -> RotationSeries:
    """The rule at the local time most dates keep (the earliest of equals), and the moves.

    The rule's n-th date is the rotation's n-th: the rotation plans dates every
    ``interval_days`` days in ``timezone``, so a date the rule gives at another time is
    moved to the rotation's, whatever day that start falls on.
    """
    if not starts:
        raise ValueError("a rotation has at least one date")
    local = [times.to_local(start, timezone) for start in starts]
    counts = Counter(moment.time() for moment in local)
    dates = [local[0].date() + dt.timedelta(days=interval_days * k) for k in range(len(starts))]
    refusal: ValidationFailed | None = None
    # A time the clocks skip or repeat on one of the dates cannot be the rule's: the next
    # most kept time is taken instead.
    for kept in sorted(counts, key=lambda at: (-counts[at], at)):
        rule_local = [dt.datetime.combine(date, kept) for date in dates]
        try:
            rule_starts = [times.resolve_local(moment, timezone) for moment in rule_local]
        except ValidationFailed as exc:
            refusal = exc
            continue
        break
    else:
        assert refusal is not None
        raise refusal
    moved = tuple(
        (rule_start, start)
        for rule_start, start in zip(rule_starts, starts, strict=True)
        if rule_start != start
    )
    return RotationSeries(
        local_start=rule_local[0],
        timezone=timezone,
        rrule=f"FREQ=DAILY;INTERVAL={interval_days};COUNT={len(starts)}",
        moved=moved,
    )


def book_rotation(
    event: Event,
    *,
    actor: Organiser,
    title: str,
    starts: Sequence[dt.datetime],
    timezone: str,
    interval_days: int,
    duration_minutes: int,
    provider: str | None = None,
    join_url: str | None = None,
    allow_conflicts: bool = False,
) -> EventSession:
    """Book the rotation's dates as one series of ``event``, its participants invited once.

    The clash check reads the rotation's own times (not the rule's): 409 ``conflict`` as
    booking one session does, unless ``allow_conflicts``. The caller commits.
    """
    series = series_for(starts, timezone=timezone, interval_days=interval_days)
    length = dt.timedelta(minutes=duration_minutes)
    if not allow_conflicts:
        roles = {p.person_id: p.role for p in event.participants}
        conflicts.lock_people(roles)
        clashes = conflicts.find_clashes([(start, start + length) for start in starts], roles)
        conflicts.raise_for_clashes(
            clashes, can_see=lambda other: services.can_manage(actor, other)
        )
    session = services.create_session(
        event,
        actor=actor,
        title=title,
        local_start=series.local_start,
        timezone=series.timezone,
        duration_minutes=duration_minutes,
        rrule=series.rrule,
        provider=provider,
        join_url=join_url,
        # Checked above at the rotation's times; the rule's own times are not all kept.
        allow_conflicts=True,
    )
    for recurrence_id, start in series.moved:
        session.overrides.append(
            SessionOverride(
                recurrence_id=recurrence_id,
                start=start,
                end=start + length,
                sequence=session.sequence,
            )
        )
    db.session.flush()
    if series.moved and session.meeting is not None:
        # The host was found free at the rule's times; the moved dates must find it free too.
        announce(signals.host_needed, session, meeting=session.meeting)
    return session
