"""VTIMEZONE components for IANA zones, read from zoneinfo and checked against it."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import zoneinfo
from collections.abc import Sequence
from typing import NamedTuple

import icalendar
from icalendar.prop import vRecur

_DAY = 86_400
_WEEK = 7 * _DAY
_ZERO = dt.timedelta(0)
_EPOCH = dt.datetime(1970, 1, 1)  # naive: wall-clock arithmetic in whole seconds
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_NTH_FIRST_DAYS = (1, 8, 15, 22)

# A yearly rule read off the transitions is used only if it also reproduces zoneinfo's
# transitions for this many further years.
_VERIFY_YEARS = 30
# For a range with no end, the years after the range's start whose transitions are probed
# daily (and emitted one by one if they precede the zone's yearly rule).
_OPEN_SCAN_YEARS = 2
# A range with no end in a zone whose changes follow no yearly rule (Asia/Gaza's around
# Ramadan; Morocco's before tzdata 2026) gets them one by one up to the later of start + 51
# years and 2088, then the yearly rules that follow, if any: tzdata predicts such changes
# explicitly up to 2087 at most, so the result is right for every date.
_HORIZON_YEARS = 51
_HORIZON_YEAR = 2088


class _State(NamedTuple):
    offset: dt.timedelta  # east of UTC
    dst: dt.timedelta  # negative in Europe/Dublin's winter (tzdata's "negative DST")
    name: str


class _Transition(NamedTuple):
    at: int  # POSIX time of the first second in the new state
    before: _State
    after: _State

    @property
    def wall(self) -> dt.datetime:
        """Local time of the transition, read in the offset before it (RFC 5545 §3.6.5)."""
        return _wall(self.at, self.before.offset)


class _Pattern(NamedTuple):
    """The day of its month on which a yearly rule falls."""

    weekday: int | None  # Monday 0; None for a fixed day of the month
    nth: int  # 1-4: the nth weekday; -1: the last; 0: `first_day` says which
    first_day: int  # nth 0: the weekday on or after this day, or this fixed day

    def day(self, year: int, month: int) -> int | None:
        month_days = calendar.monthrange(year, month)[1]
        if self.weekday is None:
            return self.first_day if self.first_day <= month_days else None
        if self.nth > 0:
            first = 7 * self.nth - 6
        elif self.nth < 0:
            first = month_days - 6
        else:
            first = self.first_day
        day = first + (self.weekday - calendar.weekday(year, month, first)) % 7
        return day if day <= month_days else None

    def rrule(self, month: int) -> dict[str, object]:
        # Clients know BYDAY=2SU / -1SU best (RFC 5545 §3.6.5's own examples). A window
        # such as Asia/Jerusalem's "Friday before the last Sunday" is the weekday limited
        # to seven month days (§3.3.10: BYxxx parts limit one another).
        parts: dict[str, object] = {"FREQ": "YEARLY", "BYMONTH": month}
        if self.weekday is None:
            parts["BYMONTHDAY"] = self.first_day
        elif self.nth:
            parts["BYDAY"] = f"{self.nth}{_WEEKDAYS[self.weekday]}"
        else:
            parts["BYDAY"] = _WEEKDAYS[self.weekday]
            parts["BYMONTHDAY"] = tuple(range(self.first_day, self.first_day + 7))
        return parts


class _Rule(NamedTuple):
    """Transitions with the same states before and after, once a year on a regular day."""

    before: _State
    after: _State
    month: int
    seconds: int  # wall-clock time of day, in the offset before
    patterns: tuple[_Pattern, ...]  # all that fit the transitions seen, preferred first
    starts: tuple[int, ...]  # the transitions seen (POSIX times), ascending

    def at(self, pattern: _Pattern, year: int) -> int | None:
        day = pattern.day(year, self.month)
        if day is None:
            return None
        wall = dt.datetime(year, self.month, day) - _EPOCH - self.before.offset
        return int(wall.total_seconds()) + self.seconds


class _Observance(NamedTuple):
    daylight: bool
    start: dt.datetime  # DTSTART: wall-clock time in offset_from, no TZID, no Z
    offset_from: dt.timedelta
    offset_to: dt.timedelta
    name: str
    rrule: tuple[tuple[str, object], ...] = ()


class _Recur(vRecur):
    # BYMONTH before BYDAY, as in RFC 5545 §3.6.5's examples and most producers' output;
    # icalendar's default order is equally valid but harder to read.
    canonical_order = ("FREQ", "BYMONTH", "BYDAY", "BYMONTHDAY")


def vtimezone(tzid: str, start: dt.datetime, end: dt.datetime | None) -> icalendar.Timezone:
    """A VTIMEZONE for IANA zone `tzid`, right for every instant from `start` to `end`.

    `start` and `end` are aware; `end` None is a series with no end, for which the result
    stays right for every future date under the zone's current rules. Yearly rules become
    RRULEs; other changes in the range are observances of their own (for an irregular zone
    such as Asia/Gaza with no end: up to the later of start + 51 years and 2088, some
    20 kB). The TZID is `tzid` itself. Each call returns a new component, which the caller
    may change. Raises `zoneinfo.ZoneInfoNotFoundError` for an unknown zone.
    """
    if start.utcoffset() is None or (end is not None and end.utcoffset() is None):
        raise ValueError("start and end must be aware datetimes")
    if end is not None and end < start:
        raise ValueError("end is before start")
    start_year = start.astimezone(dt.UTC).year
    end_year = None if end is None else end.astimezone(dt.UTC).year
    timezone = icalendar.Timezone()
    timezone.add("TZID", tzid)
    for observance in _observances(tzid, start_year, end_year):
        timezone.add_component(_component(observance))
    return timezone


def _component(observance: _Observance) -> icalendar.Component:
    if observance.daylight:
        component: icalendar.Component = icalendar.TimezoneDaylight()
    else:
        component = icalendar.TimezoneStandard()
    component.add("DTSTART", observance.start)
    component.add("TZOFFSETFROM", observance.offset_from)
    component.add("TZOFFSETTO", observance.offset_to)
    component.add("TZNAME", observance.name)
    if observance.rrule:
        # Lists of its own: the cached observances are shared between calls.
        parts = {k: list(v) if isinstance(v, tuple) else v for k, v in observance.rrule}
        component.add("RRULE", _Recur(parts))
    return component


@functools.lru_cache(maxsize=1024)
def _observances(tzid: str, start_year: int, end_year: int | None) -> tuple[_Observance, ...]:
    """The observances for the years given: immutable, so the cache can share them."""
    zone = zoneinfo.ZoneInfo(tzid)
    # A year's margin before the start: the first observance begins by then. The scan
    # starts a year earlier still, so that yearly rules can begin before the margin.
    margin = _new_year(zone, start_year - 1)
    scan_end = start_year + _OPEN_SCAN_YEARS if end_year is None else end_year + 2
    transitions = _scan(zone, _new_year(zone, start_year - 2), _new_year(zone, scan_end))
    plan = _plan(zone, transitions, scan_end)
    if plan is None and end_year is None:
        horizon = max(start_year + _HORIZON_YEARS, _HORIZON_YEAR)
        transitions += _scan(zone, _new_year(zone, scan_end), _new_year(zone, horizon))
        plan = _plan(zone, transitions, horizon)
    if plan is None:
        # No verified rule: every transition up to the scan's end, one by one; the last
        # state is then the zone's for the rest of the range.
        plan = len(transitions), ()
    return _assemble(zone, margin, transitions, *plan)


def _new_year(zone: zoneinfo.ZoneInfo, year: int) -> int:
    return int(dt.datetime(year, 1, 1, tzinfo=zone).timestamp())


def _wall(at: int, offset: dt.timedelta) -> dt.datetime:
    return _EPOCH + dt.timedelta(seconds=at) + offset


def _state(zone: zoneinfo.ZoneInfo, at: int) -> tuple[dt.timedelta, dt.timedelta, str]:
    """The zone's state at `at`, as a plain tuple that compares equal to a `_State`.

    Thousands of these make up a scan: a plain tuple is twice as fast as a `_State`.
    """
    local = dt.datetime.fromtimestamp(at, zone)
    return local.utcoffset(), local.dst(), local.tzname()  # type: ignore[return-value]


def _scan(zone: zoneinfo.ZoneInfo, lo: int, hi: int) -> list[_Transition]:
    """Every transition after `lo` up to `hi`, to the second.

    Probing daily: some transitions come a few days apart (Asia/Gaza's in 2040, six days;
    Brazil's in 2000, seven), so a coarser step would miss pairs of them.
    """
    found: list[_Transition] = []
    at = lo
    state = _state(zone, at)
    while at < hi:
        probe = min(at + _DAY, hi)
        if _state(zone, probe) == state:
            at = probe
            continue
        same, changed = at, probe
        while changed - same > 1:
            middle = (same + changed) // 2
            if _state(zone, middle) == state:
                same = middle
            else:
                changed = middle
        after = _State(*_state(zone, changed))
        found.append(_Transition(changed, _State(*state), after))
        at, state = changed, after
    return found


def _plan(
    zone: zoneinfo.ZoneInfo, transitions: list[_Transition], scan_end: int
) -> tuple[int, tuple[tuple[_Rule, _Pattern], ...]] | None:
    """How many transitions to write out one by one, and the yearly rules for the rest.

    The rules come from the longest run of transitions at the end of the scan that recur
    yearly on a regular day, and must reproduce zoneinfo for `_VERIFY_YEARS` more years;
    None if they do not.
    """
    index, rules = _regular_suffix(transitions, scan_end - 1)
    chosen = _verify(zone, rules, scan_end, scan_end + _VERIFY_YEARS)
    return None if chosen is None else (index, chosen)


def _regular_suffix(
    transitions: Sequence[_Transition], last_year: int
) -> tuple[int, tuple[_Rule, ...]]:
    # Dropping the first transition of a regular run leaves a regular run, so a binary
    # search finds the longest; the empty run (no rules: the last state lasts) always is.
    lo, hi = 0, len(transitions)
    best: tuple[_Rule, ...] = ()
    while lo < hi:
        middle = (lo + hi) // 2
        rules = _rules(transitions[middle:], last_year)
        if rules is None:
            lo = middle + 1
        else:
            hi, best = middle, rules
    return hi, best


def _rules(run: Sequence[_Transition], last_year: int) -> tuple[_Rule, ...] | None:
    """The yearly rules `run` follows, or None: each kind of transition (states before and
    after) must come once every year up to `last_year`, in one month, at one local time."""
    groups: dict[tuple[_State, _State], list[_Transition]] = {}
    for transition in run:
        groups.setdefault((transition.before, transition.after), []).append(transition)
    rules = []
    for (before, after), group in groups.items():
        walls = [transition.wall for transition in group]
        first = walls[0]
        if [wall.year for wall in walls] != list(range(first.year, last_year + 1)):
            return None
        if any(wall.month != first.month or wall.time() != first.time() for wall in walls):
            return None
        patterns = _patterns(first.month, [(wall.year, wall.day) for wall in walls])
        if not patterns:
            return None
        seconds = first.hour * 3600 + first.minute * 60 + first.second
        starts = tuple(transition.at for transition in group)
        rules.append(_Rule(before, after, first.month, seconds, patterns, starts))
    return tuple(rules)


def _patterns(month: int, seen: list[tuple[int, int]]) -> tuple[_Pattern, ...]:
    """The patterns that give each (year, day) seen, the usual BYDAY forms first."""
    candidates = []
    weekdays = {calendar.weekday(year, month, day) for year, day in seen}
    if len(weekdays) == 1:
        (weekday,) = weekdays
        candidates += [_Pattern(weekday, nth, 0) for nth in (1, 2, 3, 4, -1)]
        latest = max(day for _, day in seen)
        earliest = min(day for _, day in seen)
        candidates += [
            _Pattern(weekday, 0, first)
            for first in range(max(latest - 6, 1), earliest + 1)
            if first not in _NTH_FIRST_DAYS
        ]
    days = {day for _, day in seen}
    if len(days) == 1:
        candidates.append(_Pattern(None, 0, days.pop()))
    return tuple(
        pattern
        for pattern in candidates
        if all(pattern.day(year, month) == day for year, day in seen)
    )


def _verify(
    zone: zoneinfo.ZoneInfo, rules: tuple[_Rule, ...], first_year: int, end_year: int
) -> tuple[tuple[_Rule, _Pattern], ...] | None:
    """Each rule with the first of its patterns that zoneinfo confirms for every year from
    `first_year` to before `end_year`, or None if some rule has none or zoneinfo has other
    transitions in those years."""
    years = range(first_year, end_year)
    chosen = []
    expected: list[tuple[int, _State]] = []
    for rule in rules:
        for pattern in rule.patterns:
            starts = [rule.at(pattern, year) for year in years]
            if all(
                at is not None
                and _state(zone, at - 1) == rule.before
                and _state(zone, at) == rule.after
                for at in starts
            ):
                chosen.append((rule, pattern))
                expected += [(at, rule.after) for at in starts if at is not None]
                break
        else:
            return None
    # Between the predicted transitions nothing may change: a weekly probe sees any other
    # change lasting a week or more (a Ramadan suspension, a rule change).
    expected.sort()
    lo, hi = _new_year(zone, first_year), _new_year(zone, end_year)
    state = _state(zone, lo)
    index = 0
    for at in range(lo, hi, _WEEK):
        while index < len(expected) and expected[index][0] <= at:
            state = expected[index][1]
            index += 1
        if _state(zone, at) != state:
            return None
    return tuple(chosen)


def _is_daylight(state: _State, *neighbours: _State | None) -> bool:
    """Whether `state` is written as DAYLIGHT; `neighbours` are the states before and after.

    DAYLIGHT is the observance with DST in force. tzdata's negative DST (Europe/Dublin's
    GMT winter, Morocco's Ramadan +00) is written the other way round, as in tzdata's
    rearguard format and Windows' zones: the negative state is STANDARD and the usual one
    next to it DAYLIGHT. dateutil (icalendar's and vobject's parser) needs this too: it
    takes the second of two repeated wall-clock times to be in STANDARD time.
    """
    if state.dst != _ZERO:
        return state.dst > _ZERO
    return any(neighbour is not None and neighbour.dst < _ZERO for neighbour in neighbours)


def _assemble(
    zone: zoneinfo.ZoneInfo,
    margin: int,
    transitions: list[_Transition],
    index: int,
    rules: tuple[tuple[_Rule, _Pattern], ...],
) -> tuple[_Observance, ...]:
    observances = []
    later = [transition for transition in transitions if transition.at > margin]
    if not rules or transitions[index].at > margin:
        # Nothing covers the margin's start yet: an observance beginning there, in the
        # state then. Its TZOFFSETFROM only places its onset (RFC 5545 §3.6.5); dateutil
        # takes a DAYLIGHT observance's DST to be TZOFFSETTO - TZOFFSETFROM and picks the
        # wrong side of a later repeated hour if that is 0, so a DAYLIGHT one comes from
        # the standard offset.
        state = _State(*_state(zone, margin))
        earlier = [transition for transition in transitions if transition.at <= margin]
        previous = earlier[-1].before if earlier else None
        following = later[0].after if later else None
        daylight = _is_daylight(state, previous, following)
        offset_from = state.offset
        if daylight and state.dst > _ZERO:
            offset_from = state.offset - state.dst
        elif daylight and following is not None:
            offset_from = following.offset
        wall = _wall(margin, state.offset)
        observances.append(_Observance(daylight, wall, offset_from, state.offset, state.name))
    # Irregular transitions before the rules: one observance each with DTSTART only, never
    # a comma-separated RDATE list (ical.js and vobject read only its first value).
    for position, transition in enumerate(transitions[:index]):
        if transition.at > margin:
            following = transitions[position + 1].after if position + 1 < len(transitions) else None
            observances.append(
                _Observance(
                    _is_daylight(transition.after, transition.before, following),
                    transition.wall,
                    transition.before.offset,
                    transition.after.offset,
                    transition.after.name,
                )
            )
    # The rules start with the last of their transitions by the margin's start, so that
    # they alone cover the range, or with their first if they begin later.
    anchor = max((at for rule, _ in rules for at in rule.starts if at <= margin), default=0)
    for rule, pattern in rules:
        start = next(at for at in rule.starts if at >= anchor)
        observances.append(
            _Observance(
                _is_daylight(rule.after, *(other.after for other, _ in rules)),
                _wall(start, rule.before.offset),
                rule.before.offset,
                rule.after.offset,
                rule.after.name,
                tuple(pattern.rrule(rule.month).items()),
            )
        )
    return tuple(sorted(observances, key=lambda o: o.start - o.offset_from))
