"""The fast slot search: whole arrays of slots at once, one zone computation per profile.

People who share a zone, hours, country and institution share a *profile*: their local
times, weekends, holidays and blackouts are computed once per profile for every slot with
numpy, and each person then only adds their own busy times. The answer is the same as
``reference.find_slots`` gives (the tests compare them on random inputs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from zoneinfo import ZoneInfo

import numpy as np

from forum.scheduling import calendars
from forum.scheduling.model import CATEGORIES
from forum.scheduling.model import EPOCH
from forum.scheduling.model import Participant
from forum.scheduling.model import Placement
from forum.scheduling.model import RankedSlot
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import WeekHours
from forum.scheduling.model import check_options
from forum.scheduling.model import epoch_minute

EPOCH_DATE = dt.date(1970, 1, 1)
DAY = 1440
WEEK = 7 * DAY
# 1970-01-01 was a Thursday: shifting by three days puts Monday 00:00 at week minute 0.
WEEK_SHIFT = 3 * DAY
CODE = {name: index for index, name in enumerate(CATEGORIES)}


def _offset(zone: ZoneInfo, minute: int) -> int:
    instant = EPOCH + dt.timedelta(minutes=minute)
    return int(instant.astimezone(zone).utcoffset().total_seconds() // 60)


@lru_cache(maxsize=256)
def _transitions(
    zone_name: str, first_day: int, last_day: int
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """UTC minutes at which the zone's offset changes between two days, and the offsets.

    Offsets are probed once a day and bisected to the minute where they differ: zones
    change their clocks at most once a day.
    """
    zone = ZoneInfo(zone_name)
    at = [first_day * DAY]
    offsets = [_offset(zone, at[0])]
    for day in range(first_day + 1, last_day + 2):
        minute = day * DAY
        offset = _offset(zone, minute)
        if offset != offsets[-1]:
            lo, hi = minute - DAY, minute
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset(zone, mid) == offsets[-1]:
                    lo = mid
                else:
                    hi = mid
            at.append(hi)
            offsets.append(offset)
    return tuple(at), tuple(offsets)


def offsets_at(zone_name: str, minutes: np.ndarray) -> np.ndarray:
    """The zone's UTC offset, in minutes, at each UTC minute of ``minutes``."""
    first_day, last_day = int(minutes.min()) // DAY - 1, int(minutes.max()) // DAY + 1
    at, offsets = _transitions(zone_name, first_day, last_day)
    index = np.searchsorted(np.asarray(at), minutes, side="right") - 1
    return np.asarray(offsets, dtype=np.int64)[index]


@lru_cache(maxsize=256)
def _week_prefix(hours: WeekHours) -> np.ndarray:
    """Prefix sums of a week of minutes (twice over) marking the minutes inside ``hours``."""
    week = np.zeros(WEEK, dtype=np.int32)
    for weekday, ranges in enumerate(hours):
        for start, end in ranges:
            week[weekday * DAY + start : weekday * DAY + end] = 1
    return np.concatenate(([0], np.cumsum(np.concatenate((week, week)))))


def _covered(hours: WeekHours, first: np.ndarray, length: np.ndarray) -> np.ndarray:
    prefix = _week_prefix(hours)
    position = (first + WEEK_SHIFT) % WEEK
    return prefix[position + length] - prefix[position] == length


@dataclass(frozen=True)
class _ProfileKey:
    timezone: str
    working_hours: WeekHours
    acceptable_hours: WeekHours
    country: str | None
    subdivision: str | None
    blackouts: tuple[tuple[dt.date, dt.date], ...]
    earliest_hour: int
    latest_hour: int

    @classmethod
    def of(cls, p: Participant) -> _ProfileKey:
        return cls(
            p.timezone,
            p.working_hours,
            p.acceptable_hours,
            p.country,
            p.subdivision,
            p.blackouts,
            p.earliest_hour,
            p.latest_hour,
        )


@dataclass
class _Profile:
    """Every slot's local times and category for the people who share a profile."""

    local_start: np.ndarray  # wall-clock minutes since 1970
    local_end: np.ndarray
    category: np.ndarray  # codes into CATEGORIES, before busy times
    within_bounds: np.ndarray


def _day_mask(days: np.ndarray, marked: set[int]) -> np.ndarray:
    if not marked:
        return np.zeros(days.shape, dtype=bool)
    return np.isin(days, np.fromiter(marked, dtype=np.int64))


def _profile(key: _ProfileKey, starts: np.ndarray, options: SearchOptions) -> _Profile:
    duration = int(options.duration.total_seconds() // 60)
    last = starts + duration - 1
    first_wall = starts + offsets_at(key.timezone, starts)
    last_wall = last + offsets_at(key.timezone, last)
    # Across a fall-back change the last minute can read before the first: take the slot
    # as its length from its first minute (as the reference does).
    folded = last_wall < first_wall
    last_wall = np.where(folded, first_wall + duration - 1, last_wall)
    end_wall = starts + duration + offsets_at(key.timezone, starts + duration)
    first_day, last_day = first_wall // DAY, last_wall // DAY
    length = last_wall - first_wall + 1

    span = range(int(first_day.min()), int(last_day.max()) + 1)
    first_date = EPOCH_DATE + dt.timedelta(days=span.start)
    last_date = EPOCH_DATE + dt.timedelta(days=span.stop - 1)
    holidays: set[int] = set()
    if options.skip_holidays:
        holidays = {
            (d - EPOCH_DATE).days
            for d in calendars.holiday_dates(key.country, key.subdivision, first_date, last_date)
        }
    blackout_days = {
        day
        for a, b in key.blackouts
        for day in range(
            max((a - EPOCH_DATE).days, span.start), min((b - EPOCH_DATE).days, span.stop - 1) + 1
        )
    }
    weekend = np.zeros(7, dtype=bool)
    weekend[list(calendars.weekend(key.country))] = True

    holiday = _day_mask(first_day, holidays) | _day_mask(last_day, holidays)
    blackout = _day_mask(first_day, blackout_days) | _day_mask(last_day, blackout_days)
    weekend_day = weekend[(first_day + 3) % 7] | weekend[(last_day + 3) % 7]
    acceptable = _covered(key.acceptable_hours, first_wall, length)
    working = _covered(key.working_hours, first_wall, length)
    morning = ((first_wall + last_wall + 1) // 2) % DAY < 720
    category = np.select(
        [holiday, blackout, weekend_day, ~acceptable, working, morning],
        [
            CODE["holiday"],
            CODE["blackout"],
            CODE["weekend"],
            CODE["night"],
            CODE["working"],
            CODE["early"],
        ],
        default=CODE["late"],
    ).astype(np.int8)
    if (key.earliest_hour, key.latest_hour) == (0, 24):
        within = np.ones(starts.shape, dtype=bool)
    else:
        within = (
            (first_day == last_day)
            & (first_wall % DAY >= key.earliest_hour * 60)
            & (last_wall % DAY + 1 <= key.latest_hour * 60)
        )
    return _Profile(first_wall, end_wall, category, within)


def _busy_marks(
    participants: list[Participant], t0: int, n: int, options: SearchOptions
) -> tuple[np.ndarray, np.ndarray]:
    """(person row, slot index) of every slot a person's busy times overlap, each pair once."""
    duration = int(options.duration.total_seconds() // 60)
    step = options.step_minutes
    counts = np.fromiter(
        (len(p.busy) for p in participants), dtype=np.int64, count=len(participants)
    )
    if not counts.sum():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(len(participants), dtype=np.int64), counts)
    flat = np.asarray(
        list(chain.from_iterable(chain.from_iterable(p.busy for p in participants))),
        dtype=np.int64,
    ).reshape(-1, 2)
    # Slot k overlaps [bs, be) when start_k < be and start_k + duration > bs.
    low = np.clip((flat[:, 0] - duration - t0) // step + 1, 0, n)
    high = np.clip(-((t0 - flat[:, 1]) // step), 0, n)
    # Sort by person, then by first slot; cut each range where the person's previous
    # ranges already reach, so that no (person, slot) pair is counted twice.
    order = np.lexsort((low, rows))
    rows, low, high = rows[order], low[order], high[order]
    shift = rows * (n + 1)
    reach = np.maximum.accumulate(high + shift) - shift
    previous = np.concatenate(([0], reach[:-1]))
    same_person = np.concatenate(([False], rows[1:] == rows[:-1]))
    low = np.where(same_person, np.maximum(low, previous), low)
    lengths = np.maximum(high - low, 0)
    total = int(lengths.sum())
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    slots = np.arange(total, dtype=np.int64) - offsets + np.repeat(low, lengths)
    return np.repeat(rows, lengths), slots


@dataclass
class SearchResult:
    """The ranked slots, and what each participant's situation is in them."""

    slots: list[RankedSlot]
    participants: list[Participant]
    options: SearchOptions
    _category: np.ndarray  # people x returned slots
    _available: np.ndarray
    _local_start: np.ndarray
    _local_end: np.ndarray

    def costs(self) -> np.ndarray:
        """Each participant's cost in each returned slot (people x slots)."""
        table = np.asarray([self.options.costs[name] for name in CATEGORIES], dtype=np.int64)
        weights = np.asarray([p.weight for p in self.participants], dtype=np.int64)
        return table[self._category] * weights[:, None]

    def placements(self, rank: int) -> list[Placement]:
        """Every participant's local times, category and cost in the slot at ``rank``."""
        costs = self.options.costs
        wall = dt.datetime(1970, 1, 1)
        found = []
        for row, participant in enumerate(self.participants):
            category = CATEGORIES[self._category[row, rank]]
            found.append(
                Placement(
                    participant=participant,
                    local_start=wall + dt.timedelta(minutes=int(self._local_start[row, rank])),
                    local_end=wall + dt.timedelta(minutes=int(self._local_end[row, rank])),
                    category=category,
                    cost=costs[category] * participant.weight,
                    available=bool(self._available[row, rank]),
                )
            )
        return found


def _slot_starts(options: SearchOptions) -> np.ndarray:
    """UTC minute of every step from the window's start whose slot ends inside the window."""
    step = options.step_minutes
    duration = int(options.duration.total_seconds() // 60)
    t0 = epoch_minute(options.window_start)
    count = max((epoch_minute(options.window_end) - duration - t0) // step + 1, 0)
    return t0 + step * np.arange(count, dtype=np.int64)


def _profile_keys(participants: list[Participant]) -> tuple[dict[_ProfileKey, int], np.ndarray]:
    """The distinct profiles (each with its index) and each participant's profile index."""
    keys: dict[_ProfileKey, int] = {}
    profile_of = np.zeros(len(participants), dtype=np.int64)
    for row, p in enumerate(participants):
        profile_of[row] = keys.setdefault(_ProfileKey.of(p), len(keys))
    return keys, profile_of


def slot_categories(
    participants: list[Participant], options: SearchOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Every slot's UTC start minute, and each participant's category code in each slot.

    The codes (people x slots, indexes into CATEGORIES) are those ``find_slots`` gives
    the same slots, busy times included; the step and duration need not be equal, though
    the planner's grid takes hour-long slots an hour apart.
    """
    check_options(options)
    starts = _slot_starts(options)
    if not participants or not len(starts):
        return starts, np.zeros((len(participants), len(starts)), dtype=np.int8)
    profile_keys, profile_of = _profile_keys(participants)
    profiles = [_profile(key, starts, options) for key in profile_keys]
    category = np.stack([pr.category for pr in profiles])[profile_of]
    mark_rows, mark_slots = _busy_marks(
        participants, epoch_minute(options.window_start), len(starts), options
    )
    category[mark_rows, mark_slots] = CODE["busy"]
    return starts, category


def local_hours(zone_name: str, starts: np.ndarray) -> np.ndarray:
    """The zone's wall-clock hour (0-23, floored) at each UTC minute of ``starts``."""
    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    return (starts + offsets_at(zone_name, starts)) % DAY // 60


def find_slots(participants: list[Participant], options: SearchOptions) -> SearchResult:
    """The best ``options.limit`` slots for ``participants``, ranked as SPEC section 4 says.

    People with the same profile, weight and required flag form a group whose rows would
    be identical but for busy times; sums and maxima are taken over groups, with each
    slot's busy members counted apart, so the work grows with groups x slots plus the
    number of busy (person, slot) pairs, not with people x slots.
    """
    check_options(options)
    starts = _slot_starts(options)
    t0, count = epoch_minute(options.window_start), len(starts)
    profile_keys, profile_of = _profile_keys(participants)
    group_keys: dict[tuple[int, int, bool], int] = {}
    group_of = np.zeros(len(participants), dtype=np.int64)
    for row, p in enumerate(participants):
        group_of[row] = group_keys.setdefault(
            (int(profile_of[row]), p.weight, p.required), len(group_keys)
        )
    n_groups = len(group_keys)
    profiles = [_profile(key, starts, options) for key in profile_keys] if count else []
    marks = _busy_marks(participants, t0, count, options)
    if n_groups == 0 or count == 0:
        zeros = np.zeros(count, dtype=np.int64)
        return _answer(
            participants, options, starts, (zeros, zeros, zeros), profiles, profile_of, marks
        )

    group_profile = np.asarray([profile for profile, _, _ in group_keys], dtype=np.int64)
    weight = np.asarray([w for _, w, _ in group_keys], dtype=np.int64)[:, None]
    required = np.asarray([r for _, _, r in group_keys], dtype=bool)
    size = np.bincount(group_of, minlength=n_groups)[:, None]

    cost_table, hard_table = _tables(options)
    category = np.stack([pr.category for pr in profiles])[group_profile]  # groups x slots
    within = np.stack([pr.within_bounds for pr in profiles])[group_profile]
    cost = cost_table[category] * weight
    available = ~hard_table[category] & within
    busy_cost = cost_table[CODE["busy"]] * weight

    mark_rows, mark_slots = marks
    busy = np.bincount(
        group_of[mark_rows] * count + mark_slots, minlength=n_groups * count
    ).reshape(n_groups, count)
    free = size - busy

    total = (free * cost + busy * busy_cost).sum(axis=0)
    # The worst cost is taken over required people (over everyone if none is required).
    judged = (required if required.any() else np.ones(n_groups, dtype=bool))[:, None]
    worst = np.maximum(
        np.where((free > 0) & judged, cost, -1).max(axis=0),
        np.where((busy > 0) & judged, busy_cost, -1).max(axis=0),
    )
    worst = np.maximum(worst, 0)
    required_available = (np.where(available, free, 0) * required[:, None]).sum(axis=0)
    return _answer(
        participants,
        options,
        starts,
        (required_available, worst, total),
        profiles,
        profile_of,
        marks,
    )


def _tables(options: SearchOptions) -> tuple[np.ndarray, np.ndarray]:
    """Cost and hardness of each category code."""
    hard = options.hard_categories()
    costs = np.asarray([options.costs[name] for name in CATEGORIES], dtype=np.int64)
    return costs, np.asarray([name in hard for name in CATEGORIES])


def _answer(
    participants: list[Participant],
    options: SearchOptions,
    starts: np.ndarray,
    scores: tuple[np.ndarray, np.ndarray, np.ndarray],
    profiles: list[_Profile],
    profile_of: np.ndarray,
    marks: tuple[np.ndarray, np.ndarray],
) -> SearchResult:
    """Rank the slots and keep each participant's situation in the ones returned."""
    required_available, worst, total = scores
    duration = int(options.duration.total_seconds() // 60)
    order = np.lexsort((starts, total, worst, -required_available))[: options.limit]
    required_total = sum(p.required for p in participants)
    slots = [
        RankedSlot(
            start=EPOCH + dt.timedelta(minutes=int(starts[i])),
            end=EPOCH + dt.timedelta(minutes=int(starts[i]) + duration),
            required_available=int(required_available[i]),
            required_total=required_total,
            worst_cost=int(worst[i]),
            total_cost=int(total[i]),
        )
        for i in order
    ]
    if not participants or not len(starts):
        empty = np.zeros((len(participants), len(order)), dtype=np.int64)
        return SearchResult(slots, participants, options, empty, empty.astype(bool), empty, empty)

    def chosen(name: str) -> np.ndarray:
        return np.stack([getattr(pr, name) for pr in profiles])[profile_of][:, order]

    category = chosen("category")
    mark_rows, mark_slots = marks
    rank_of = np.full(len(starts), -1, dtype=np.int64)
    rank_of[order] = np.arange(len(order))
    hit = rank_of[mark_slots] >= 0
    category[mark_rows[hit], rank_of[mark_slots[hit]]] = CODE["busy"]
    _, hard_table = _tables(options)
    available = ~hard_table[category] & chosen("within_bounds")
    return SearchResult(
        slots,
        participants,
        options,
        category,
        available,
        chosen("local_start"),
        chosen("local_end"),
    )
