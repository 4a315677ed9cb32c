"""The fast slot search: whole arrays of slots at once, one zone computation per profile.

People who share a zone, hours, working calendar and blackouts share a *profile*: their
local times and facts (hour class, weekend, holiday, blackout) are computed once per
profile for every slot with numpy, and kept for the next search over the same slots; each
person then only adds their own busy times. The answer is the same as
``reference.find_slots`` gives (the tests compare them on random inputs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from zoneinfo import ZoneInfo

import numpy as np

from forum.scheduling import calendars
from forum.scheduling.model import BIT
from forum.scheduling.model import BLACKOUT
from forum.scheduling.model import BUSY
from forum.scheduling.model import EARLY
from forum.scheduling.model import EPOCH
from forum.scheduling.model import HOLIDAY
from forum.scheduling.model import LATE
from forum.scheduling.model import MASKS
from forum.scheduling.model import NIGHT
from forum.scheduling.model import WEEKEND
from forum.scheduling.model import Participant
from forum.scheduling.model import Placement
from forum.scheduling.model import RankedSlot
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import WeekHours
from forum.scheduling.model import check_options
from forum.scheduling.model import cost_of
from forum.scheduling.model import epoch_minute
from forum.scheduling.model import facts_of
from forum.scheduling.model import hours_weekdays

EPOCH_DATE = dt.date(1970, 1, 1)
DAY = 1440


def _offset(zone: ZoneInfo, minute: int) -> int:
    instant = EPOCH + dt.timedelta(minutes=minute)
    return int(instant.astimezone(zone).utcoffset().total_seconds() // 60)


@lru_cache(maxsize=256)
def transitions(
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
    at, offsets = transitions(zone_name, first_day, last_day)
    index = np.searchsorted(np.asarray(at), minutes, side="right") - 1
    return np.asarray(offsets, dtype=np.int64)[index]


@lru_cache(maxsize=256)
def _day_prefix(hours: WeekHours) -> np.ndarray:
    """Per weekday (rows, Monday first), prefix sums of the day's minutes inside ``hours``."""
    days = np.zeros((7, DAY), dtype=np.int32)
    for weekday, ranges in enumerate(hours):
        for start, end in ranges:
            days[weekday, start:end] = 1
    return np.concatenate((np.zeros((7, 1), dtype=np.int32), np.cumsum(days, axis=1)), axis=1)


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


@dataclass(frozen=True)
class _Profile:
    """Every slot's local times and facts for the people who share a profile (read-only)."""

    local_start: np.ndarray  # wall-clock minutes since 1970
    local_end: np.ndarray
    mask: np.ndarray  # fact bits (model.BIT), before busy times
    within_bounds: np.ndarray


@lru_cache(maxsize=1024)
def _calendar_days(
    key: _ProfileKey, first_day: int, last_day: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each local day of the span: its day facts, and whose weekday's working and
    acceptable hours apply (model.hours_weekdays)."""
    first_date = EPOCH_DATE + dt.timedelta(days=first_day)
    last_date = EPOCH_DATE + dt.timedelta(days=last_day)
    holidays = calendars.holiday_dates(key.country, key.subdivision, first_date, last_date)
    declared = calendars.working_weekend_days(key.country, key.subdivision, first_date, last_date)
    weekend = calendars.weekend(key.country)
    count = last_day - first_day + 1
    facts = np.zeros(count, dtype=np.uint8)
    working = np.zeros(count, dtype=np.int64)
    acceptable = np.zeros(count, dtype=np.int64)
    for index in range(count):
        day = first_date + dt.timedelta(days=index)
        weekday = day.weekday()
        bits = 0
        if day in holidays:
            bits |= BIT[HOLIDAY]
        if any(a <= day <= b for a, b in key.blackouts):
            bits |= BIT[BLACKOUT]
        if weekday in weekend and day not in declared:
            bits |= BIT[WEEKEND]
        facts[index] = bits
        working[index], acceptable[index] = hours_weekdays(
            key.working_hours, weekend, weekday, declared_working=day in declared
        )
    return facts, working, acceptable


def _covered(
    prefix: np.ndarray,
    weekday_of_day: np.ndarray,
    day0: int,
    first: np.ndarray,
    last: np.ndarray,
) -> np.ndarray:
    """Whether each slot's wall-clock minutes ``first``..``last`` (inclusive) all lie in the
    hours, each local day read with its own weekday's hours. A slot of at most a day spans
    three local days at most (a day and an hour across a fall-back change)."""
    first_day, last_day = first // DAY, last // DAY
    ok = np.ones(first.shape, dtype=bool)
    for k in range(3):
        day = first_day + k
        active = day <= last_day
        if not active.any():
            break
        lo = first % DAY if k == 0 else np.zeros_like(first)
        hi = np.where(day == last_day, last % DAY + 1, DAY)
        weekday = weekday_of_day[np.minimum(day, last_day) - day0]
        inside = prefix[weekday, hi] - prefix[weekday, lo] == hi - lo
        ok &= ~active | inside
    return ok


@lru_cache(maxsize=512)
def _profile(key: _ProfileKey, t0: int, count: int, step: int, duration: int) -> _Profile:
    """The profile's local times and facts for ``count`` slots of ``duration`` minutes from
    UTC minute ``t0`` every ``step``; kept, since they depend on nothing else."""
    starts = t0 + step * np.arange(count, dtype=np.int64)
    last = starts + duration - 1
    first_wall = starts + offsets_at(key.timezone, starts)
    last_wall = last + offsets_at(key.timezone, last)
    # Across a fall-back change the last minute can read before the first: take the slot
    # as its length from its first minute (as the reference does).
    folded = last_wall < first_wall
    last_wall = np.where(folded, first_wall + duration - 1, last_wall)
    end_wall = starts + duration + offsets_at(key.timezone, starts + duration)
    first_day, last_day = first_wall // DAY, last_wall // DAY

    day0, day1 = int(first_day.min()), int(last_day.max())
    day_facts, working_day, acceptable_day = _calendar_days(key, day0, day1)
    facts = np.zeros(count, dtype=np.uint8)
    for k in range(3):
        day = first_day + k
        active = day <= last_day
        if not active.any():
            break
        facts |= np.where(active, day_facts[np.minimum(day, last_day) - day0], 0).astype(np.uint8)

    acceptable = _covered(
        _day_prefix(key.acceptable_hours), acceptable_day, day0, first_wall, last_wall
    )
    working = _covered(_day_prefix(key.working_hours), working_day, day0, first_wall, last_wall)
    morning = ((first_wall + last_wall + 1) // 2) % DAY < 720
    hour = np.select(
        [~acceptable, working, morning],
        [BIT[NIGHT], 0, BIT[EARLY]],
        default=BIT[LATE],
    ).astype(np.uint8)
    if (key.earliest_hour, key.latest_hour) == (0, 24):
        within = np.ones(starts.shape, dtype=bool)
    else:
        within = (
            (first_day == last_day)
            & (first_wall % DAY >= key.earliest_hour * 60)
            & (last_wall % DAY + 1 <= key.latest_hour * 60)
        )
    profile = _Profile(first_wall, end_wall, hour | facts, within)
    for array in (profile.local_start, profile.local_end, profile.mask, profile.within_bounds):
        array.flags.writeable = False
    return profile


def _profiles(keys: Iterable[_ProfileKey], options: SearchOptions) -> list[_Profile]:
    starts = _slot_starts(options)
    if not len(starts):
        return []
    duration = int(options.duration.total_seconds() // 60)
    t0, count = int(starts[0]), len(starts)
    return [_profile(key, t0, count, options.step_minutes, duration) for key in keys]


@dataclass(frozen=True)
class BusyTable:
    """Busy times of many people at once, as a database hands them over: parallel arrays
    of person ids and whole UTC minutes since 1970 (start floored, end ceiled: see
    model.busy_minutes). They add to each participant's own ``busy``."""

    person_ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, rows: Sequence[tuple[int, int, int]]) -> BusyTable:
        """From (person id, start minute, end minute) rows."""
        table = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
        return cls(table[:, 0], table[:, 1], table[:, 2])


def _busy_rows(
    participants: list[Participant], busy: BusyTable | None
) -> tuple[np.ndarray, np.ndarray]:
    """Every busy time as (participant row, [start, end] minutes), from both sources."""
    counts = np.fromiter(
        (len(p.busy) for p in participants), dtype=np.int64, count=len(participants)
    )
    rows = np.repeat(np.arange(len(participants), dtype=np.int64), counts)
    flat = np.asarray(
        list(chain.from_iterable(chain.from_iterable(p.busy for p in participants))),
        dtype=np.int64,
    ).reshape(-1, 2)
    if busy is not None and len(busy.person_ids) and participants:
        ids = np.fromiter(
            (p.person_id for p in participants), dtype=np.int64, count=len(participants)
        )
        by_id = np.argsort(ids, kind="stable")
        position = np.clip(np.searchsorted(ids[by_id], busy.person_ids), 0, len(ids) - 1)
        known = ids[by_id][position] == busy.person_ids
        rows = np.concatenate((rows, by_id[position][known]))
        flat = np.concatenate((flat, np.stack((busy.starts, busy.ends), axis=1)[known]))
    return rows, flat


def _busy_marks(
    participants: list[Participant],
    t0: int,
    n: int,
    options: SearchOptions,
    busy: BusyTable | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(person row, slot index) of every slot a person's busy times overlap, each pair once."""
    duration = int(options.duration.total_seconds() // 60)
    step = options.step_minutes
    rows, flat = _busy_rows(participants, busy)
    if not len(rows):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
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
    """The ranked slots, and what holds for each participant in them.

    The arrays are people (in ``participants`` order) by returned slots (in rank order).
    """

    slots: list[RankedSlot]
    participants: list[Participant]
    options: SearchOptions
    masks: np.ndarray  # fact bits (model.BIT), busy included
    local_start: np.ndarray  # wall-clock minutes since 1970
    local_end: np.ndarray
    within_bounds: np.ndarray
    # Each participant's profile number (see profile_index).
    profile_of: np.ndarray | None = None

    def costs(self) -> np.ndarray:
        """Each participant's cost in each returned slot (people x slots)."""
        weights = np.asarray([p.weight for p in self.participants], dtype=np.int64)
        return cost_table(self.options)[self.masks] * weights[:, None]

    def available(self) -> np.ndarray:
        """Whether each participant can come to each returned slot (people x slots)."""
        return ~hard_table(self.options)[self.masks] & self.within_bounds

    def placements(self, rank: int) -> list[Placement]:
        """Every participant's local times, facts and cost in the slot at ``rank``."""
        costs = cost_table(self.options)
        hard = hard_table(self.options)
        names = category_names(self.options)
        facts = fact_lists(self.options)
        wall = dt.datetime(1970, 1, 1)
        found = []
        for row, participant in enumerate(self.participants):
            mask = int(self.masks[row, rank])
            found.append(
                Placement(
                    participant=participant,
                    local_start=wall + dt.timedelta(minutes=int(self.local_start[row, rank])),
                    local_end=wall + dt.timedelta(minutes=int(self.local_end[row, rank])),
                    category=names[mask],
                    cost=int(costs[mask]) * participant.weight,
                    available=not hard[mask] and bool(self.within_bounds[row, rank]),
                    categories=facts[mask],
                )
            )
        return found


def fact_lists(options: SearchOptions) -> tuple[tuple[str, ...], ...]:
    """Every mask's facts, most serious first under the search's costs."""
    return _fact_lists(tuple(sorted(options.costs.items())))


@lru_cache(maxsize=64)
def _fact_lists(costs: tuple[tuple[str, int], ...]) -> tuple[tuple[str, ...], ...]:
    table = dict(costs)
    return tuple(facts_of(mask, table) for mask in range(MASKS))


def cost_table(options: SearchOptions) -> np.ndarray:
    """The cost of every mask under the search's costs."""
    return np.asarray([cost_of(mask, options.costs) for mask in range(MASKS)], dtype=np.int64)


def hard_table(options: SearchOptions) -> np.ndarray:
    """Whether every mask keeps a required participant away."""
    return (np.arange(MASKS) & options.hard_mask()) != 0


def category_names(options: SearchOptions) -> tuple[str, ...]:
    """The most serious fact of every mask under the search's costs."""
    return tuple(facts[0] for facts in fact_lists(options))


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
    # People mostly share the very same hours and blackouts objects: telling them apart by
    # identity first hashes each distinct set of hours once, not once per person. Equal
    # values in distinct objects still meet in ``keys``.
    by_identity: dict[tuple[object, ...], int] = {}
    profile_of = np.zeros(len(participants), dtype=np.int64)
    for row, p in enumerate(participants):
        cheap = (
            p.timezone,
            id(p.working_hours),
            id(p.acceptable_hours),
            p.country,
            p.subdivision,
            id(p.blackouts),
            p.earliest_hour,
            p.latest_hour,
        )
        index = by_identity.get(cheap)
        if index is None:
            index = by_identity[cheap] = keys.setdefault(_ProfileKey.of(p), len(keys))
        profile_of[row] = index
    return keys, profile_of


def profile_index(participants: list[Participant]) -> np.ndarray:
    """Each participant's profile number: people with the same number share their zone,
    hours, working calendar and blackouts, so that only busy times set them apart."""
    return _profile_keys(participants)[1]


def slot_masks(
    participants: list[Participant], options: SearchOptions, *, busy: BusyTable | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every slot's UTC start minute, and each participant's facts (model.BIT) in each slot.

    The masks (people x slots) are those ``find_slots`` gives the same slots, busy times
    included; the step and duration need not be equal, though the planner's grid takes
    hour-long slots an hour apart.
    """
    check_options(options)
    starts = _slot_starts(options)
    if not participants or not len(starts):
        return starts, np.zeros((len(participants), len(starts)), dtype=np.uint8)
    profile_keys, profile_of = _profile_keys(participants)
    profiles = _profiles(profile_keys, options)
    masks = np.stack([pr.mask for pr in profiles])[profile_of]
    mark_rows, mark_slots = _busy_marks(
        participants, epoch_minute(options.window_start), len(starts), options, busy
    )
    masks[mark_rows, mark_slots] |= BIT[BUSY]
    return starts, masks


def local_hours(zone_name: str, starts: np.ndarray) -> np.ndarray:
    """The zone's wall-clock hour (0-23, floored) at each UTC minute of ``starts``."""
    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    return (starts + offsets_at(zone_name, starts)) % DAY // 60


def find_slots(
    participants: list[Participant], options: SearchOptions, *, busy: BusyTable | None = None
) -> SearchResult:
    """The best ``options.limit`` slots for ``participants``, ranked as SPEC section 4 says.

    ``busy`` adds busy times to the participants' own, by person id.

    People with the same profile, weight and required flag form a group whose rows would
    be identical but for busy times; sums and maxima are taken over groups, with each
    slot's busy members counted apart, so the work grows with groups x slots plus the
    number of busy (person, slot) pairs, not with people x slots.
    """
    check_options(options)
    starts = _slot_starts(options)
    t0, count = epoch_minute(options.window_start), len(starts)
    profile_keys, profile_of = _profile_keys(participants)
    people = len(participants)
    weights = np.fromiter((p.weight for p in participants), dtype=np.int64, count=people)
    flags = np.fromiter((p.required for p in participants), dtype=np.int64, count=people)
    groups, group_of = np.unique(
        np.stack((profile_of, weights, flags)), axis=1, return_inverse=True
    )
    group_of = group_of.reshape(-1)
    n_groups = groups.shape[1]
    profiles = _profiles(profile_keys, options) if count else []
    marks = _busy_marks(participants, t0, count, options, busy)
    if n_groups == 0 or count == 0:
        zeros = np.zeros(count, dtype=np.int64)
        return _answer(
            participants, options, starts, (zeros, zeros, zeros), profiles, profile_of, marks
        )

    group_profile = groups[0]
    weight = groups[1][:, None]
    required = groups[2].astype(bool)
    size = np.bincount(group_of, minlength=n_groups)[:, None]

    costs, hard = cost_table(options), hard_table(options)
    mask = np.stack([pr.mask for pr in profiles])[group_profile]  # groups x slots
    within = np.stack([pr.within_bounds for pr in profiles])[group_profile]
    cost = costs[mask] * weight
    busy_cost = costs[mask | BIT[BUSY]] * weight
    available = ~hard[mask] & within

    mark_rows, mark_slots = marks
    busy_count = np.bincount(
        group_of[mark_rows] * count + mark_slots, minlength=n_groups * count
    ).reshape(n_groups, count)
    free = size - busy_count

    total = (free * cost + busy_count * busy_cost).sum(axis=0)
    # The worst cost is taken over required people (over everyone if none is required).
    judged = (required if required.any() else np.ones(n_groups, dtype=bool))[:, None]
    worst = np.maximum(
        np.where((free > 0) & judged, cost, -1).max(axis=0),
        np.where((busy_count > 0) & judged, busy_cost, -1).max(axis=0),
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


def _answer(
    participants: list[Participant],
    options: SearchOptions,
    starts: np.ndarray,
    scores: tuple[np.ndarray, np.ndarray, np.ndarray],
    profiles: list[_Profile],
    profile_of: np.ndarray,
    marks: tuple[np.ndarray, np.ndarray],
) -> SearchResult:
    """Rank the slots and keep what holds for each participant in the ones returned."""
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
        return SearchResult(
            slots, participants, options, empty.astype(np.uint8), empty, empty, empty.astype(bool)
        )

    def chosen(name: str) -> np.ndarray:
        # The profiles' rows for the returned slots first, then one row per person.
        return np.stack([getattr(pr, name)[order] for pr in profiles])[profile_of]

    masks = chosen("mask")
    mark_rows, mark_slots = marks
    rank_of = np.full(len(starts), -1, dtype=np.int64)
    rank_of[order] = np.arange(len(order))
    hit = rank_of[mark_slots] >= 0
    masks[mark_rows[hit], rank_of[mark_slots[hit]]] |= BIT[BUSY]
    return SearchResult(
        slots,
        participants,
        options,
        masks,
        chosen("local_start"),
        chosen("local_end"),
        chosen("within_bounds"),
        profile_of,
    )
