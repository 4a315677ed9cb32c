"""Repeat rules as providers that take RFC 5545 text (Webex, Google Calendar) must receive them.

forum reads an UNTIL written without a zone (or as a date) in the session's anchor zone, as
forum.core.recurrence expands it and forum.calendar.ical writes it. RFC 5545 section 3.3.10
wants UTC there when the start has a zone, and a provider reading a floating UNTIL as UTC, or
a date as the whole of that day, would add or drop the last date: so the rule is sent with
its UNTIL as that instant in UTC.

A series' left-out and moved dates (MeetingRequest.exdates and .moved) go to the provider
too: date_changes compares the dates a provider holds with forum's and says which to delete
and which to move, so that every adapter brings a series in step the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil import parser as date_parser

from forum.core.recurrence import occurrences
from forum.core.recurrence import rule_parts
from forum.core.times import get_zone
from forum.providers.base import MeetingRequest


def with_utc_until(rrule: str, timezone: str) -> str:
    """The rule's value (no ``RRULE:`` name), its UNTIL in UTC; other parts as they were."""
    parts = rule_parts(rrule)
    if "UNTIL" in parts:
        until = date_parser.parse(parts["UNTIL"])
        if until.tzinfo is None:
            until = until.replace(tzinfo=get_zone(timezone), fold=0)
        parts["UNTIL"] = until.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return ";".join(f"{name}={value}" for name, value in parts.items())


def values(rrule: str, name: str) -> list[str]:
    """The comma-separated values of one part of the rule (BYDAY, BYMONTHDAY...), or []."""
    return [value for value in rule_parts(rrule).get(name, "").split(",") if value]


def first_date(
    rrule: str, start: dt.datetime, end: dt.datetime, timezone: str
) -> tuple[dt.datetime, dt.datetime]:
    """The series' first (start, end) as forum expands it, where the provider's must begin.

    A session may start on a day its rule does not give (a Wednesday for BYDAY=MO,TH):
    forum leaves that day out, while RFC 5545 counts DTSTART as the first date whatever the
    rule says, and providers follow one or the other. Anchored at forum's first date, the
    series is the same under both readings.
    """
    return next(
        iter(occurrences(start=start, end=end, timezone=timezone, rrule=rrule, limit=1)),
        (start, end),
    )


# --- a series' left-out and moved dates on the provider ----------------------------------------

Interval = tuple[dt.datetime, dt.datetime]


def rule_dates(request: MeetingRequest) -> list[Interval]:
    """Every (start, end) the request's rule gives, left-out and moved dates included."""
    return list(
        occurrences(
            start=request.start, end=request.end, timezone=request.timezone, rrule=request.rrule
        )
    )


def wanted_dates(request: MeetingRequest) -> dict[dt.datetime, Interval | None]:
    """Each date of the rule (by the start the rule gives) as forum holds it: its own times,
    its new times when moved, or None when the series leaves it out."""
    left_out = set(request.exdates)
    moved = {original: (start, end) for original, start, end in request.moved}
    return {
        start: None if start in left_out else moved.get(start, (start, end))
        for start, end in rule_dates(request)
    }


def series_dates(request: MeetingRequest) -> list[Interval]:
    """forum's dates of the series, in time order: moved dates at their new times."""
    return sorted(times for times in wanted_dates(request).values() if times is not None)


def series_span(request: MeetingRequest) -> Interval:
    """From the start of the series' first date to the end of its last, as forum holds them.

    A date moved before the first or after the last widens the span; left-out dates are no
    part of it. An open-ended rule ends where forum's expansion does
    (forum.core.recurrence's bounds).
    """
    dates = series_dates(request)
    if not dates:
        return request.start, request.end
    return dates[0][0], max(end for _, end in dates)


@dataclass(frozen=True)
class HeldDate:
    """One date of a series as the provider holds it.

    ``original`` is the start the provider's own rule gave it (what its id is made of), which
    stays when the date is moved; ``ref`` is the provider's id for it.
    """

    ref: str
    original: dt.datetime
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class DateChanges:
    """What the provider must do to one series' dates for them to be forum's."""

    delete: list[HeldDate]
    move: list[tuple[HeldDate, dt.datetime, dt.datetime]]
    # Dates forum holds that the provider lacks (deleted there and not given back).
    missing: list[dt.datetime]


def _by_local_day(starts: list[dt.datetime], timezone: str) -> dict[tuple[dt.date, int], int]:
    """Each start's index under (its day in ``timezone``, its rank on that day)."""
    zone = get_zone(timezone)
    keys: dict[tuple[dt.date, int], int] = {}
    ranks: dict[dt.date, int] = {}
    for index in sorted(range(len(starts)), key=lambda i: starts[i]):
        day = starts[index].astimezone(zone).date()
        ranks[day] = ranks.get(day, -1) + 1
        keys[(day, ranks[day])] = index
    return keys


def date_changes(request: MeetingRequest, held: list[HeldDate]) -> DateChanges:
    """The deletions and moves that make the provider's dates of a series forum's.

    A provider's date and forum's are the same date when the rule gives them on the same
    day in the anchor zone (the n-th of that day, for a rule giving several): a date the
    rule puts in a spring-forward gap (02:30 on the day clocks jump from 02:00 to 03:00)
    may be read at another instant by the provider than by forum, but never on another day.
    Dates begun already are left as they are: a provider may no longer list them.
    """
    now = dt.datetime.now(dt.UTC)
    wanted = wanted_dates(request)
    ours = list(wanted)
    theirs = _by_local_day([date.original for date in held], request.timezone)
    changes = DateChanges(delete=[], move=[], missing=[])
    for key, index in _by_local_day(ours, request.timezone).items():
        times = wanted[ours[index]]
        date = held[theirs[key]] if key in theirs else None
        if date is None:
            if times is not None and times[0] > now:
                changes.missing.append(ours[index])
        elif times is None:
            changes.delete.append(date)
        elif (date.start, date.end) != times and times[0] > now:
            changes.move.append((date, *times))
    return changes
