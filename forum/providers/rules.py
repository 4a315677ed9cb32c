"""Repeat rules as providers that take RFC 5545 text (Webex, Google Calendar) must receive them.

forum reads an UNTIL written without a zone (or as a date) in the session's anchor zone, as
forum.core.recurrence expands it and forum.calendar.ical writes it. RFC 5545 section 3.3.10
wants UTC there when the start has a zone, and a provider reading a floating UNTIL as UTC, or
a date as the whole of that day, would add or drop the last date: so the rule is sent with
its UNTIL as that instant in UTC.
"""

from __future__ import annotations

import datetime as dt

from dateutil import parser as date_parser

from forum.core.recurrence import occurrences
from forum.core.recurrence import rule_parts
from forum.core.times import get_zone


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


def series_span(
    rrule: str, start: dt.datetime, end: dt.datetime, timezone: str
) -> tuple[dt.datetime, dt.datetime]:
    """From the start of the series' first date to the end of its last, as forum expands it.

    An open-ended rule ends where forum's expansion does (forum.core.recurrence's bounds).
    """
    dates = list(occurrences(start=start, end=end, timezone=timezone, rrule=rrule))
    return (dates[0][0], dates[-1][1]) if dates else (start, end)
