"""Occurrences of a recurring time, computed in its anchor zone's wall-clock time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from dateutil.rrule import rrulestr

from forum.core.times import get_zone
from forum.core.times import parse_instant

UTC = dt.UTC


def occurrences(
    *,
    start: dt.datetime,
    end: dt.datetime,
    timezone: str,
    rrule: str | None,
    exdates: list[str] | None = None,
    after: dt.datetime | None = None,
    limit: int = 1000,
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """(start, end) in UTC of each occurrence that ends after ``after``, in order.

    The rule repeats the first start's local time in ``timezone``, so a weekly 21:00 in
    Beijing stays 21:00 in Beijing whatever other countries' clocks do. A repeated local
    time that falls in a spring-forward gap or a fall-back fold is read with the offset in
    force before the change (fold=0), as RFC 5545 section 3.3.5 prescribes.
    """
    duration = end - start
    if not rrule:
        if after is None or end > after:
            yield start, end
        return
    zone = get_zone(timezone)
    local_start = start.astimezone(zone).replace(tzinfo=None)
    excluded = {parse_instant(x) for x in exdates or ()}
    rule = rrulestr(rrule, dtstart=local_start)
    produced = 0
    for local in rule:
        occurrence = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if occurrence in excluded:
            continue
        if after is not None and occurrence + duration <= after:
            continue
        yield occurrence, occurrence + duration
        produced += 1
        if produced >= limit:
            return
