"""Where clocks change on different dates: which occurrences of a series move for whom."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from forum.core.recurrence import occurrences
from forum.core.times import get_zone
from forum.scheduling.engine import DAY
from forum.scheduling.engine import transitions
from forum.scheduling.model import EPOCH
from forum.scheduling.model import epoch_minute


@dataclass(frozen=True)
class Shift:
    """One occurrence at which a site's local time differs from the first occurrence's."""

    start: dt.datetime  # UTC
    anchor_local: dt.datetime
    site_local: dt.datetime
    minutes: int  # how much later (+) or earlier (-) than at the first occurrence


@dataclass(frozen=True)
class ClockChange:
    """A zone's clocks changing: at ``at`` (UTC) wall time jumps from ``local_before`` to
    ``local_after`` (02:00 to 03:00 in Detroit on 14 March 2027)."""

    zone: str
    at: dt.datetime
    local_before: dt.datetime
    local_after: dt.datetime
    minutes: int  # how far the clocks moved: +60 forward, -60 back


@dataclass(frozen=True)
class Stretch:
    """Consecutive occurrences moved by the same minutes at a site, and why: the clock
    changes (the site's or the series' anchor zone's) since the occurrence before it, and
    those that end it before the next one."""

    first: Shift
    last: Shift
    count: int
    minutes: int
    changes: tuple[ClockChange, ...]
    ended_by: tuple[ClockChange, ...]


@dataclass(frozen=True)
class SitePreview:
    key: str
    name: str
    timezone: str
    first_local: dt.datetime
    shifts: tuple[Shift, ...]
    stretches: tuple[Stretch, ...] = ()


def clock_changes(zone_name: str, after: dt.datetime, until: dt.datetime) -> list[ClockChange]:
    """The zone's clock changes in (after, until], from zoneinfo, to the minute."""
    first, last = epoch_minute(after), epoch_minute(until)
    at, offsets = transitions(zone_name, first // DAY, last // DAY)
    found = []
    for index in range(1, len(at)):
        if first < at[index] <= last:
            instant = EPOCH + dt.timedelta(minutes=at[index])
            wall = instant.replace(tzinfo=None)
            found.append(
                ClockChange(
                    zone=zone_name,
                    at=instant,
                    local_before=wall + dt.timedelta(minutes=offsets[index - 1]),
                    local_after=wall + dt.timedelta(minutes=offsets[index]),
                    minutes=offsets[index] - offsets[index - 1],
                )
            )
    return found


def _stretches(
    shifts: list[tuple[int, Shift]], starts: list[dt.datetime], zones: tuple[str, ...]
) -> tuple[Stretch, ...]:
    """Shifts (with their occurrence index) grouped into runs of consecutive occurrences
    moved by the same minutes, each with the clock changes on either side."""

    def changes(after: dt.datetime, until: dt.datetime) -> tuple[ClockChange, ...]:
        found = [c for zone in dict.fromkeys(zones) for c in clock_changes(zone, after, until)]
        return tuple(sorted(found, key=lambda c: (c.at, c.zone)))

    runs: list[list[tuple[int, Shift]]] = []
    for index, shift in shifts:
        if runs and runs[-1][-1][0] == index - 1 and runs[-1][-1][1].minutes == shift.minutes:
            runs[-1].append((index, shift))
        else:
            runs.append([(index, shift)])
    found = []
    for run in runs:
        (first_index, first), (last_index, last) = run[0], run[-1]
        after = starts[last_index + 1] if last_index + 1 < len(starts) else None
        found.append(
            Stretch(
                first=first,
                last=last,
                count=len(run),
                minutes=first.minutes,
                changes=changes(starts[first_index - 1], first.start),
                ended_by=changes(last.start, after) if after is not None else (),
            )
        )
    return tuple(found)


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
        for index, occurrence in enumerate(starts[1:], start=1):
            gap = _offset_minutes(occurrence, zone_name) - _offset_minutes(occurrence, timezone)
            if gap != first_gap:
                shift = Shift(
                    start=occurrence,
                    anchor_local=occurrence.astimezone(get_zone(timezone)).replace(tzinfo=None),
                    site_local=occurrence.astimezone(zone).replace(tzinfo=None),
                    minutes=gap - first_gap,
                )
                shifts.append((index, shift))
        previews.append(
            SitePreview(
                key=key,
                name=name,
                timezone=zone_name,
                first_local=starts[0].astimezone(zone).replace(tzinfo=None),
                shifts=tuple(shift for _, shift in shifts),
                stretches=_stretches(shifts, starts, (zone_name, timezone)),
            )
        )
    return previews
