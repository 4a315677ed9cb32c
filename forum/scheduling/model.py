"""The engine's inputs and answers, and the rules that give each slot a category and a cost."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import field

# A participant's situation in a slot, from the most to the least serious: the first that
# applies is the one reported.
BUSY = "busy"
HOLIDAY = "holiday"
BLACKOUT = "blackout"
WEEKEND = "weekend"
NIGHT = "night"
EARLY = "early"
LATE = "late"
WORKING = "working"
CATEGORIES = (BUSY, HOLIDAY, BLACKOUT, WEEKEND, NIGHT, EARLY, LATE, WORKING)

DEFAULT_COSTS = {
    WORKING: 0,
    EARLY: 2,
    LATE: 2,
    WEEKEND: 5,
    NIGHT: 8,
    BUSY: 20,
    HOLIDAY: 20,
    BLACKOUT: 20,
}
STEPS = (5, 10, 15, 30, 60)
MAX_WINDOW = dt.timedelta(days=90)
MAX_DURATION = dt.timedelta(hours=24)

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
    costs: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_COSTS))

    def hard_categories(self) -> frozenset[str]:
        """Categories that keep a required participant from attending."""
        hard = {BUSY, BLACKOUT}
        if self.skip_holidays:
            hard.add(HOLIDAY)
        if self.skip_weekends:
            hard.add(WEEKEND)
        return frozenset(hard)


@dataclass(frozen=True)
class Placement:
    """One participant in one slot."""

    participant: Participant
    local_start: dt.datetime  # naive local wall-clock time
    local_end: dt.datetime
    category: str
    cost: int
    available: bool


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
