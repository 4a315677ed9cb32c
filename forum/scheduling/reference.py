"""The straightforward slot search: every slot, every person, one zone conversion each.

It states the rules as plainly as they can be written, as a reader would write them without
trying to be slow: what belongs to a person (their zone, weekend, hours) is looked up once,
the calendars' answers once per year, and each slot costs each person a zone conversion.
The fast engine must give exactly the same answer (the tests check it on random inputs), and
the benchmarks measure against it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
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


def merged(ranges: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """A day's ranges with those that overlap or touch joined."""
    joined: list[list[int]] = []
    for start, end in sorted(ranges):
        if joined and start <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])
    return [(start, end) for start, end in joined]


def covered(
    hours: list[list[tuple[int, int]]], weekdays: dict[int, int], first: int, last: int
) -> bool:
    """Whether every wall-clock minute from ``first`` to ``last`` lies in ``hours`` (merged
    ranges per weekday), each local day read with the weekday ``weekdays`` gives it (see
    hours_weekdays)."""
    day = first // 1440
    while day * 1440 <= last:
        lo = max(first, day * 1440) - day * 1440
        hi = min(last, day * 1440 + 1439) - day * 1440 + 1
        if not any(start <= lo and hi <= end for start, end in hours[weekdays[day]]):
            return False
        day += 1
    return True


@dataclass
class Person:
    """What a reader looks up once per person rather than once per slot: their zone,
    weekend and merged hours, and each local day's facts as it is first needed."""

    participant: Participant
    zone: ZoneInfo
    weekend: frozenset[int]
    working: list[list[tuple[int, int]]]  # merged ranges per weekday
    acceptable: list[list[tuple[int, int]]]
    # Local day number: (day facts, whose weekday's working and acceptable hours apply).
    days: dict[int, tuple[frozenset[str], int, int]]

    @classmethod
    def of(cls, participant: Participant) -> Person:
        return cls(
            participant,
            ZoneInfo(participant.timezone),
            calendars.weekend(participant.country),
            [merged(day) for day in participant.working_hours],
            [merged(day) for day in participant.acceptable_hours],
            {},
        )

    def day(self, day_number: int) -> tuple[frozenset[str], int, int]:
        found = self.days.get(day_number)
        if found is None:
            participant = self.participant
            country, subdivision = participant.country, participant.subdivision
            day = dt.date(1970, 1, 1) + dt.timedelta(days=day_number)
            facts = set()
            if calendars.is_holiday(country, subdivision, day):
                facts.add(HOLIDAY)
            if any(a <= day <= b for a, b in participant.blackouts):
                facts.add(BLACKOUT)
            declared = calendars.is_working_weekend_day(country, subdivision, day)
            if day.weekday() in self.weekend and not declared:
                facts.add(WEEKEND)
            working, acceptable = hours_weekdays(
                participant.working_hours, self.weekend, day.weekday(), declared_working=declared
            )
            found = self.days[day_number] = (frozenset(facts), working, acceptable)
        return found


def situation(person: Person, start: dt.datetime, duration: dt.timedelta) -> tuple[set[str], bool]:
    """Every fact that holds for the person in the slot, and whether it lies within their
    site's bounds (earliest and latest local hour)."""
    participant = person.participant
    end = start + duration
    local_start = start.astimezone(person.zone).replace(tzinfo=None)
    last_minute = (end - MINUTE).astimezone(person.zone).replace(tzinfo=None)
    first, last = wall_span(local_start, last_minute, duration)

    facts: set[str] = set()
    working_days, acceptable_days = {}, {}
    for day_number in range(first // 1440, last // 1440 + 1):
        day_facts, working_days[day_number], acceptable_days[day_number] = person.day(day_number)
        facts |= day_facts

    start_minute = epoch_minute(start)
    end_minute = start_minute + duration // MINUTE
    if any(b_start < end_minute and b_end > start_minute for b_start, b_end in participant.busy):
        facts.add(BUSY)
    if not covered(person.acceptable, acceptable_days, first, last):
        facts.add(NIGHT)
    elif covered(person.working, working_days, first, last):
        pass  # working hours: no fact to add
    elif ((first + last + 1) // 2) % 1440 < 720:
        facts.add(EARLY)
    else:
        facts.add(LATE)

    within_bounds = (participant.earliest_hour, participant.latest_hour) == (0, 24) or (
        first // 1440 == last // 1440
        and first % 1440 >= participant.earliest_hour * 60
        and last % 1440 + 1 <= participant.latest_hour * 60
    )
    return facts, within_bounds


def place(participant: Participant, start: dt.datetime, options: SearchOptions) -> Placement:
    """The participant's local times, facts, cost and availability for one slot."""
    person = Person.of(participant)
    facts, within_bounds = situation(person, start, options.duration)
    mask = mask_of(tuple(facts))
    end = start + options.duration
    return Placement(
        participant=participant,
        local_start=start.astimezone(person.zone).replace(tzinfo=None),
        local_end=end.astimezone(person.zone).replace(tzinfo=None),
        category=category_of(mask, options.costs),
        cost=cost_of(mask, options.costs) * participant.weight,
        available=within_bounds and not facts & options.hard_categories(),
        categories=facts_of(mask, options.costs),
    )


def find_slots(participants: list[Participant], options: SearchOptions) -> list[RankedSlot]:
    """The best ``options.limit`` slots, ranked by RankedSlot.sort_key: each slot's every
    participant judged by the rules above, their costs summed and compared."""
    people = [Person.of(p) for p in participants]
    hard = options.hard_categories()
    ranked = []
    for start in slot_starts(options):
        available = required_total = worst = total = worst_any = 0
        for person in people:
            facts, within_bounds = situation(person, start, options.duration)
            cost = cost_of(mask_of(tuple(facts)), options.costs) * person.participant.weight
            total += cost
            worst_any = max(worst_any, cost)
            if person.participant.required:
                required_total += 1
                worst = max(worst, cost)
                available += within_bounds and not facts & hard
        ranked.append(
            RankedSlot(
                start=start,
                end=start + options.duration,
                required_available=available,
                required_total=required_total,
                # The worst is over required people (over everyone if none is required).
                worst_cost=worst if required_total else worst_any,
                total_cost=total,
            )
        )
    ranked.sort(key=RankedSlot.sort_key)
    return ranked[: options.limit]
