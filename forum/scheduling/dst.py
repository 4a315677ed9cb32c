"""Where clocks change on different dates: which occurrences of a series move for whom."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from forum.core.recurrence import occurrences
from forum.core.times import get_zone


@dataclass(frozen=True)
class Shift:
    """One occurrence at which a site's local time differs from the first occurrence's."""

    start: dt.datetime  # UTC
    anchor_local: dt.datetime
    site_local: dt.datetime
    minutes: int  # how much later (+) or earlier (-) than at the first occurrence


@dataclass(frozen=True)
class SitePreview:
    key: str
    name: str
    timezone: str
    first_local: dt.datetime
    shifts: tuple[Shift, ...]


def _offset_minutes(instant: dt.datetime, zone_name: str) -> int:
    return int(instant.astimezone(get_zone(zone_name)).utcoffset().total_seconds() // 60)


def dst_preview(
    sites: list[tuple[str, str, str]],
    *,
    start: dt.datetime,
    duration: dt.timedelta,
    timezone: str,
    rrule: str,
    limit: int = 520,
) -> list[SitePreview]:
    """For each (key, name, zone) site, the occurrences whose local time moved.

    The series keeps its wall-clock time in ``timezone`` (its anchor); a site's local time
    moves when its offset from the anchor changes, as the US, Europe and the southern
    hemisphere change clocks on different dates.
    """
    starts = [
        s
        for s, _ in occurrences(
            start=start, end=start + duration, timezone=timezone, rrule=rrule, limit=limit
        )
    ]
    previews = []
    for key, name, zone_name in sites:
        zone = get_zone(zone_name)
        first_gap = _offset_minutes(starts[0], zone_name) - _offset_minutes(starts[0], timezone)
        shifts = []
        for occurrence in starts[1:]:
            gap = _offset_minutes(occurrence, zone_name) - _offset_minutes(occurrence, timezone)
            if gap != first_gap:
                shifts.append(
                    Shift(
                        start=occurrence,
                        anchor_local=occurrence.astimezone(get_zone(timezone)).replace(tzinfo=None),
                        site_local=occurrence.astimezone(zone).replace(tzinfo=None),
                        minutes=gap - first_gap,
                    )
                )
        previews.append(
            SitePreview(
                key=key,
                name=name,
                timezone=zone_name,
                first_local=starts[0].astimezone(zone).replace(tzinfo=None),
                shifts=tuple(shifts),
            )
        )
    return previews
