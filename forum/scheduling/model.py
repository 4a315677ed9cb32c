"""The engine's inputs and answers, and the rules that give each slot its facts and a cost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

# What can hold for a participant in a slot. The hour class (one of working, early, late,
# night) comes from their hours; the day facts (weekend, holiday, blackout) from their
# country's working calendar and their institution; busy from their engagements. Listed
# from the most to the least serious: on equal cost, the first is the one reported.
BUSY = "busy"
BLACKOUT = "blackout"
HOLIDAY = "holiday"
NIGHT = "night"
WEEKEND = "weekend"
EARLY = "early"
LATE = "late"
WORKING = "working"
CATEGORIES = (BUSY, BLACKOUT, HOLIDAY, NIGHT, WEEKEND, EARLY, LATE, WORKING)
DAY_CLASSES = (WEEKEND, HOLIDAY, BLACKOUT)

# The facts as bits of one small integer: a slot's hour class, day facts and busy at once.
BIT = {EARLY: 1, LATE: 2, NIGHT: 4, WEEKEND: 8, HOLIDAY: 16, BLACKOUT: 32, BUSY: 64}
MASKS = 128

DEFAULT_COSTS = {
    WORKING: 0,
    EARLY: 2,
    LATE: 2,
    NIGHT: 8,
    WEEKEND: 5,
    HOLIDAY: 6,
    BLACKOUT: 20,
    BUSY: 20,
}
MAX_COST = 1000
STEPS = (5, 10, 15, 30, 60)
MAX_WINDOW = dt.timedelta(days=90)
MAX_DURATION = dt.timedelta(hours=24)


def facts_of(mask: int, costs: Mapping[str, int] | None = None) -> tuple[str, ...]:
    """The facts a mask holds, most serious first: the costliest, then in CATEGORIES order
    on equal cost (so the first is category_of's); ("working",) when none does."""
    found = [name for name in CATEGORIES if name != WORKING and mask & BIT[name]]
    if costs is not None:
        found.sort(key=lambda name: -costs[name])  # stable: CATEGORIES order on ties
    return tuple(found) or (WORKING,)


def mask_of(facts: tuple[str, ...] | list[str]) -> int:
    mask = 0
    for name in facts:
        mask |= BIT.get(name, 0)
    return mask


def cost_of(mask: int, costs: Mapping[str, int]) -> int:
    """The hour class's cost plus the day's (its most costly fact), plus busy.

    A weekend night costs a night and a weekend; a holiday that falls on a weekend is one
    day off, not two.
    """
    hour = next((costs[name] for name in (EARLY, LATE, NIGHT) if mask & BIT[name]), costs[WORKING])
    day = max((costs[name] for name in DAY_CLASSES if mask & BIT[name]), default=0)
    return hour + day + (costs[BUSY] if mask & BIT[BUSY] else 0)


def category_of(mask: int, costs: Mapping[str, int]) -> str:
    """The most serious fact: the most costly, the first in CATEGORIES on equal cost."""
    return facts_of(mask, costs)[0]


def check_costs(costs: Mapping[str, int]) -> dict[str, str]:
    """What is wrong with a cost table, by field ("costs.night"); empty when it is fine."""
    wrong = {}
    for name, value in costs.items():
        if name not in DEFAULT_COSTS:
            wrong[f"costs.{name}"] = f"unknown; the costs are {', '.join(DEFAULT_COSTS)}"
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COST:
            wrong[f"costs.{name}"] = f"must be a whole number from 0 to {MAX_COST}"
    return wrong


# Local ranges per weekday, Monday first: ((start_minute, end_minute), ...) with end up to
# 1440, e.g. ((540, 1080),) for 09:00-18:00.
WeekHours = tuple[tuple[tuple[int, int], ...], ...]


def parse_hours(hours: dict[str, list[list[str]]]) -> WeekHours:
    """{"mon": [["09:00", "18:00"]], ...} as minutes per weekday, Monday first."""

    def minutes(text: str) -> int:
        hour, minute = text.split(":")
        return int(hour) * 60 + int(minute)

    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return tuple(
        tuple(sorted((minutes(a), minutes(b)) for a, b in hours.get(day, []))) for day in days
    )


def reference_weekday(working: WeekHours, weekend: frozenset[int]) -> int | None:
    """The weekday whose hours stand for a working day: the first of the country's working
    days with working hours (Monday first), else the first with any; None without hours."""
    days = [day for day in range(7) if working[day]]
    usual = [day for day in days if day not in weekend]
    return (usual or days or [None])[0]


def hours_weekdays(
    working: WeekHours, weekend: frozenset[int], weekday: int, *, declared_working: bool
) -> tuple[int, int]:
    """Whose weekday's working and acceptable hours apply on a date.

    A person's own hours apply on their days. On a weekend day for which they keep no
    working hours, the hour is judged as on a working day, so that Saturday 14:00 reads
    "weekend" and not "late", and Saturday 02:00 "night" as well as "weekend"; and a
    weekend date declared a working day (China's adjusted Sundays) takes a working day's
    hours outright.
    """
    reference = reference_weekday(working, weekend)
    if working[weekday] or weekday not in weekend or reference is None:
        return weekday, weekday
    return (reference, reference) if declared_working else (reference, weekday)


@dataclass(frozen=True)
class Participant:
    """Someone the search must fit, with everything about them the engine needs."""

    person_id: int
    timezone: str
    working_hours: WeekHours
    acceptable_hours: WeekHours
    country: str | None = None
    subdivision: str | None = None
    institution_id: int | None = None
    institution_name: str = ""
    # Days off for the whole institution, inclusive ranges of local dates.
    blackouts: tuple[tuple[dt.date, dt.date], ...] = ()
    # Busy times as UTC minutes since 1970, [start, end): see busy_minutes().
    busy: tuple[tuple[int, int], ...] = ()
    required: bool = True
    weight: int = 1
    # Local hours (0-24) outside which this participant cannot meet at all.
    earliest_hour: int = 0
    latest_hour: int = 24


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_minute(instant: dt.datetime) -> int:
    """Whole UTC minutes since 1970 (floored) of an aware instant."""
    return int((instant - EPOCH).total_seconds() // 60)


def busy_minutes(
    intervals: list[tuple[dt.datetime, dt.datetime]],
) -> tuple[tuple[int, int], ...]:
    """Busy intervals as whole minutes, widened to the minute (start floored, end ceiled).

    Slots start on whole minutes, so widening never changes which slots a busy time
    overlaps, and the engine can work with integers throughout.
    """
    found = []
    for start, end in intervals:
        seconds = (end - EPOCH).total_seconds()
        found.append((epoch_minute(start), -int(-seconds // 60)))
    return tuple(sorted(found))


@dataclass(frozen=True)
class SearchOptions:
    duration: dt.timedelta
    window_start: dt.datetime
    window_end: dt.datetime
    step_minutes: int = 30
    limit: int = 10
    skip_weekends: bool = False
    skip_holidays: bool = True
    # Every fact's cost; a search may give some and keep the defaults for the others.
    costs: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_COSTS))

    def __post_init__(self) -> None:
        object.__setattr__(self, "costs", {**DEFAULT_COSTS, **self.costs})

    def hard_categories(self) -> frozenset[str]:
        """Facts that keep a required participant from attending."""
        hard = {BUSY, BLACKOUT}
        if self.skip_holidays:
            hard.add(HOLIDAY)
        if self.skip_weekends:
            hard.add(WEEKEND)
        return frozenset(hard)

    def hard_mask(self) -> int:
        return mask_of(tuple(self.hard_categories()))


@dataclass(frozen=True)
class Placement:
    """One participant in one slot."""

    participant: Participant
    local_start: dt.datetime  # naive local wall-clock time
    local_end: dt.datetime
    category: str  # the most serious of ``categories``
    cost: int
    available: bool
    categories: tuple[str, ...] = (WORKING,)  # every fact that holds, most serious first


@dataclass(frozen=True)
class RankedSlot:
    start: dt.datetime
    end: dt.datetime
    required_available: int
    required_total: int
    worst_cost: int
    total_cost: int

    @property
    def feasible(self) -> bool:
        return self.required_available == self.required_total

    def sort_key(self) -> tuple[int, int, int, dt.datetime]:
        """SPEC section 4: most required people able to come, then no one paying alone
        (lowest worst cost), then lowest total cost, then earliest."""
        return (-self.required_available, self.worst_cost, self.total_cost, self.start)


def check_options(options: SearchOptions) -> None:
    """Refuse a search the engine is not built for (the API checks these first, by field)."""
    if options.step_minutes not in STEPS:
        raise ValueError(f"step_minutes must be one of {STEPS}")
    if not dt.timedelta(0) < options.duration <= MAX_DURATION:
        raise ValueError("duration must be more than 0 and at most 24 hours")
    if options.window_end <= options.window_start:
        raise ValueError("window_end must be after window_start")
    if options.window_end - options.window_start > MAX_WINDOW:
        raise ValueError("the window must be at most 90 days")
    if options.duration.total_seconds() % 60:
        raise ValueError("duration must be whole minutes")
    wrong = check_costs(options.costs)
    if wrong:
        raise ValueError("; ".join(f"{name}: {message}" for name, message in wrong.items()))
