"""The straightforward slot search: every slot, every person, one zone conversion each.

It states the rules as plainly as they can be written, as a reader would write them without
trying to be slow: the calendars' answers are looked up per year and kept, zones are
ZoneInfo's own cache. The fast engine must give exactly the same answer (the tests check it
on random inputs), and the benchmarks measure against it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from forum.scheduling import calendars
from forum.scheduling.model import BLACKOUT
from forum.scheduling.model import BUSY
from forum.scheduling.model import EARLY
from forum.scheduling.model import HOLIDAY
from forum.scheduling.model import LATE
from forum.scheduling.model import NIGHT
from forum.scheduling.model import WEEKEND
from forum.scheduling.model import Participant
from forum.scheduling.model import Placement
from forum.scheduling.model import RankedSlot
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import WeekHours
from forum.scheduling.model import category_of
from forum.scheduling.model import cost_of
from forum.scheduling.model import epoch_minute
from forum.scheduling.model import facts_of
from forum.scheduling.model import hours_weekdays
from forum.scheduling.model import mask_of

EPOCH = dt.datetime(1970, 1, 1)
MINUTE = dt.timedelta(minutes=1)


def slot_starts(options: SearchOptions) -> Iterator[dt.datetime]:
    """Every step from the window's start whose slot ends inside the window."""
    step = dt.timedelta(minutes=options.step_minutes)
    start = options.window_start
    while start + options.duration <= options.window_end:
        yield start
        start += step


def wall_minutes(local: dt.datetime) -> int:
    """Minutes from 1970-01-01 00:00 to a naive wall-clock time."""
    return (local - EPOCH) // MINUTE


def wall_span(
    local_start: dt.datetime, last_minute: dt.datetime, duration: dt.timedelta
) -> tuple[int, int]:
    """First and last wall-clock minute a slot occupies locally.

    Across a fall-back change the last minute can read earlier than the first; the slot
    is then taken as its length from its first minute.
    """
    first, last = wall_minutes(local_start), wall_minutes(last_minute)
    if last < first:
        last = first + duration // MINUTE - 1
    return first, last


def covered(hours: WeekHours, weekdays: dict[int, int], first: int, last: int) -> bool:
    """Whether every wall-clock minute from ``first`` to ``last`` lies in ``hours``, each
    local day read with the weekday ``weekdays`` gives it (see hours_weekdays)."""
    day = first // 1440
    while day * 1440 <= last:
        lo = max(first, day * 1440) - day * 1440
        hi = min(last, day * 1440 + 1439) - day * 1440 + 1
        if not _inside(hours[weekdays[day]], lo, hi):
            return False
        day += 1
    return True


def _inside(ranges: tuple[tuple[int, int], ...], lo: int, hi: int) -> bool:
    """Whether [lo, hi) lies in the union of ``ranges`` (ranges that touch join)."""
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return any(start <= lo and hi <= end for start, end in merged)


def place(participant: Participant, start: dt.datetime, options: SearchOptions) -> Placement:
    """The participant's local times, facts, cost and availability for one slot."""
    zone = ZoneInfo(participant.timezone)
    end = start + options.duration
    local_start = start.astimezone(zone).replace(tzinfo=None)
    local_end = end.astimezone(zone).replace(tzinfo=None)
    last_minute = (end - MINUTE).astimezone(zone).replace(tzinfo=None)
    first, last = wall_span(local_start, last_minute, options.duration)

    country, subdivision = participant.country, participant.subdivision
    weekend = calendars.weekend(country)
    facts = set()
    working_days, acceptable_days = {}, {}
    for day_number in range(first // 1440, last // 1440 + 1):
        day = dt.date(1970, 1, 1) + dt.timedelta(days=day_number)
        if calendars.is_holiday(country, subdivision, day):
            facts.add(HOLIDAY)
        if any(a <= day <= b for a, b in participant.blackouts):
            facts.add(BLACKOUT)
        declared = calendars.is_working_weekend_day(country, subdivision, day)
        if day.weekday() in weekend and not declared:
            facts.add(WEEKEND)
        working_days[day_number], acceptable_days[day_number] = hours_weekdays(
            participant.working_hours, weekend, day.weekday(), declared_working=declared
        )

    start_minute = epoch_minute(start)
    end_minute = start_minute + options.duration // MINUTE
    if any(b_start < end_minute and b_end > start_minute for b_start, b_end in participant.busy):
        facts.add(BUSY)
    if not covered(participant.acceptable_hours, acceptable_days, first, last):
        facts.add(NIGHT)
    elif covered(participant.working_hours, working_days, first, last):
        pass  # working hours: no fact to add
    elif ((first + last + 1) // 2) % 1440 < 720:
        facts.add(EARLY)
    else:
        facts.add(LATE)

    mask = mask_of(tuple(facts))
    within_bounds = (participant.earliest_hour, participant.latest_hour) == (0, 24) or (
        first // 1440 == last // 1440
        and first % 1440 >= participant.earliest_hour * 60
        and last % 1440 + 1 <= participant.latest_hour * 60
    )
    return Placement(
        participant=participant,
        local_start=local_start,
        local_end=local_end,
        category=category_of(mask, options.costs),
        cost=cost_of(mask, options.costs) * participant.weight,
        available=within_bounds and not facts & options.hard_categories(),
        categories=facts_of(mask, options.costs),
    )


def rank(start: dt.datetime, placements: list[Placement], options: SearchOptions) -> RankedSlot:
    required = [p for p in placements if p.participant.required]
    judged = required or placements
    return RankedSlot(
        start=start,
        end=start + options.duration,
        required_available=sum(p.available for p in required),
        required_total=len(required),
        worst_cost=max((p.cost for p in judged), default=0),
        total_cost=sum(p.cost for p in placements),
    )


def find_slots(participants: list[Participant], options: SearchOptions) -> list[RankedSlot]:
    """The best ``options.limit`` slots, ranked by RankedSlot.sort_key."""
    ranked = [
        rank(start, [place(p, start, options) for p in participants], options)
        for start in slot_starts(options)
    ]
    ranked.sort(key=RankedSlot.sort_key)
    return ranked[: options.limit]
