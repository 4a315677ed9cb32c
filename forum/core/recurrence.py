"""Occurrences of a recurring time in its anchor zone's wall-clock time, within fixed bounds.

Every rule is expanded to at most MAX_OCCURRENCES dates, all within HORIZON_YEARS of its
first start: an open-ended rule (no COUNT, no UNTIL) stops at the horizon, and a rule
stored before these bounds existed cannot make an expansion run for minutes.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from dateutil import parser as date_parser
from dateutil.rrule import rrulestr

from forum.core.errors import ValidationFailed
from forum.core.times import format_instant
from forum.core.times import format_local
from forum.core.times import get_zone
from forum.core.times import parse_instant
from forum.core.times import resolve_local
from forum.i18n import _
from forum.i18n import format_number
from forum.i18n import ngettext

UTC = dt.UTC
MAX_OCCURRENCES = 1000
HORIZON_YEARS = 10
# A rule repeats at most daily: a finer one books a person every second of the horizon.
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# Counting stops here when telling a person how many dates a rule gives.
_COUNTED_AT_MOST = 100_000
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def rule_parts(rrule: str) -> dict[str, str]:
    """``FREQ=WEEKLY;COUNT=4`` as {"FREQ": "WEEKLY", "COUNT": "4"}, names in capitals."""
    return {
        name.strip().upper(): value.strip()
        for name, value in (
            part.split("=", 1) for part in rrule.removeprefix("RRULE:").split(";") if "=" in part
        )
    }


def horizon(local_start: dt.datetime) -> dt.datetime:
    """The local time HORIZON_YEARS after ``local_start``: no occurrence starts at or after it."""
    try:
        return local_start.replace(year=local_start.year + HORIZON_YEARS)
    except ValueError:  # 29 February: the horizon is 1 March
        return local_start.replace(year=local_start.year + HORIZON_YEARS, month=3, day=1)


def _numbers(value: str | None) -> set[int]:
    return (
        {int(x) for x in value.split(",") if x.strip().lstrip("+-").isdigit()} if value else set()
    )


def _may_occur(parts: dict[str, str], first: dt.datetime, last: dt.datetime) -> bool:
    """Whether some day from ``first`` to ``last`` passes the rule's day filters.

    A necessary condition only (BYWEEKNO, BYSETPOS and BYDAY's ordinals are not looked
    at), checked day by day: dateutil looks for a rule's next date up to the year 9999
    without looking at UNTIL, which takes seconds (minutes for a rule repeating every
    second) when no day can ever match, as 30 February.
    """
    months = _numbers(parts.get("BYMONTH"))
    month_days = _numbers(parts.get("BYMONTHDAY"))
    year_days = _numbers(parts.get("BYYEARDAY"))
    weekdays = {
        WEEKDAY_CODES.index(code[-2:].upper())
        for code in parts.get("BYDAY", "").split(",")
        if code[-2:].upper() in WEEKDAY_CODES
    }
    day = first.date()
    while day <= last.date():
        month_length = calendar.monthrange(day.year, day.month)[1]
        year_length = 366 if calendar.isleap(day.year) else 365
        year_day = day.timetuple().tm_yday
        if (
            (not months or day.month in months)
            and (not weekdays or day.weekday() in weekdays)
            and (not month_days or {day.day, day.day - month_length - 1} & month_days)
            and (not year_days or {year_day, year_day - year_length - 1} & year_days)
        ):
            return True
        day += dt.timedelta(days=1)
    return False


def _bounded(
    rrule: str, local_start: dt.datetime, last: dt.datetime, count: int
) -> Iterator[dt.datetime]:
    """At most ``count`` local dates of the rule, none after ``last``."""
    parts = rule_parts(rrule)
    rule = rrulestr(rrule.removeprefix("RRULE:"), dtstart=local_start)
    if not _may_occur(parts, local_start, last):
        return iter(())
    return itertools.islice(rule.replace(count=None, until=last), count)


def local_dates(rrule: str, local_start: dt.datetime) -> Iterator[dt.datetime]:
    """The rule's local date-times from ``local_start`` (naive), in order, within the bounds.

    dateutil is given an UNTIL no later than the horizon and no COUNT (COUNT is applied
    here), and a rule none of whose days can match within the horizon gives nothing
    without asking dateutil (see _may_occur).
    """
    parts = rule_parts(rrule)
    last = horizon(local_start) - dt.timedelta(microseconds=1)
    if "UNTIL" in parts:
        until = date_parser.parse(parts["UNTIL"])
        if until.tzinfo is None:
            last = min(last, until)
    count = MAX_OCCURRENCES
    if parts.get("COUNT", "").isdigit():
        count = min(count, int(parts["COUNT"]))
    return _bounded(rrule, local_start, last, count)


def occurrences(
    *,
    start: dt.datetime,
    end: dt.datetime,
    timezone: str,
    rrule: str | None,
    exdates: list[str] | None = None,
    after: dt.datetime | None = None,
    limit: int = MAX_OCCURRENCES,
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """(start, end) in UTC of each occurrence that ends after ``after``, in time order.

    The rule repeats the first start's local time in ``timezone``, so a weekly 21:00 in
    Beijing stays 21:00 in Beijing whatever other countries' clocks do. A repeated local
    time that falls in a spring-forward gap or a fall-back fold is read with the offset in
    force before the change (fold=0), as RFC 5545 section 3.3.5 prescribes. Each EXDATE
    removes one date: the first the rule gives at that instant (a day that did not exist,
    such as 30 December 2011 in Samoa, reads as the same instant as the next day's).
    """
    duration = end - start
    if not rrule:
        if after is None or end > after:
            yield start, end
        return
    zone = get_zone(timezone)
    local_start = start.astimezone(zone).replace(tzinfo=None)
    instants = rule_instants(rrule, local_start, timezone)
    excluded = set()
    for exdate in map(parse_instant, exdates or ()):
        index = bisect.bisect_left(instants, exdate)
        if index < len(instants) and instants[index] == exdate:
            excluded.add(index)
    # The first date that ends after ``after``.
    first = 0 if after is None else bisect.bisect_right(instants, after - duration)
    produced = 0
    for index in range(first, len(instants)):
        if index in excluded:
            continue
        yield instants[index], instants[index] + duration
        produced += 1
        if produced >= limit:
            return


@lru_cache(maxsize=512)
def rule_instants(rrule: str, local_start: dt.datetime, timezone: str) -> tuple[dt.datetime, ...]:
    """The UTC instants of the rule's local dates (read with fold=0), in time order.

    Kept for the rules last asked for: a booking compares the new times with every series
    of its people, and a calendar or an agenda expands the same series again. Sorted, as a
    date in a gap read with the offset before it can come after the next hour's (02:30 is
    03:30 by the new clock) when a rule gives several times a day.
    """
    zone = get_zone(timezone)
    return tuple(
        sorted(
            local.replace(tzinfo=zone, fold=0).astimezone(UTC)
            for local in local_dates(rrule, local_start)
        )
    )


def exdate_local_times(
    *, start: dt.datetime, timezone: str, rrule: str, exdates: list[str]
) -> list[dt.datetime]:
    """Each EXDATE as the rule's own wall-clock time in ``timezone`` (aware, in that zone).

    An EXDATE must name the date the rule gives, written as the rule writes it: a date in
    a spring-forward gap (02:30 on the day clocks jump from 02:00 to 03:00) is written as
    02:30, not as the 03:30 its instant shows, so that every calendar removes it, whether
    it compares local times or instants. An EXDATE that matches no date of the rule is
    written as its instant's local time.
    """
    zone = get_zone(timezone)
    wanted = [parse_instant(x) for x in exdates]
    found: dict[dt.datetime, dt.datetime] = {}
    remaining = set(wanted)
    if remaining:
        local_start = start.astimezone(zone).replace(tzinfo=None)
        for local in local_dates(rrule, local_start):
            instant = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
            if instant in remaining:
                remaining.discard(instant)
                found[instant] = local.replace(tzinfo=zone, fold=0)
                if not remaining:
                    break
    return [found.get(instant) or instant.astimezone(zone) for instant in wanted]


# --- checking a rule that enters ----------------------------------------------------------


def _refuse(message: str, **details: object) -> ValidationFailed:
    return ValidationFailed({"rrule": message}, message=message, details=details)


def _too_frequent(freq: str) -> str:
    """Why a rule repeating more often than daily is refused, naming how often it does."""
    if freq == "HOURLY":
        return _(
            "This rule repeats hourly, more often than daily; a session repeats at most daily "
            "(FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)"
        )
    if freq == "MINUTELY":
        return _(
            "This rule repeats every minute, more often than daily; a session repeats at most "
            "daily (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)"
        )
    if freq == "SECONDLY":
        return _(
            "This rule repeats every second, more often than daily; a session repeats at most "
            "daily (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)"
        )
    if not freq:
        return _(
            "This rule repeats without a frequency, more often than daily; a session repeats "
            "at most daily (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)"
        )
    return _(
        "This rule repeats %(frequency)s, more often than daily; a session repeats at most "
        "daily (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)",
        frequency=freq.lower(),
    )


def _no_date(until: dt.datetime | None, local_start: dt.datetime) -> str:
    if until is not None:
        return _(
            "This rule gives no date up to its UNTIL (%(until)s): check its BYMONTH, "
            "BYMONTHDAY and BYDAY parts (30 February, for one, never happens)",
            until=until.strftime("%Y-%m-%d"),
        )
    return _(
        "This rule gives no date within %(years)d years of its first date (%(first)s): check "
        "its BYMONTH, BYMONTHDAY and BYDAY parts (30 February, for one, never happens)",
        years=HORIZON_YEARS,
        first=local_start.strftime("%Y-%m-%d"),
    )


def _too_many(count: int, until: dt.datetime | None, local_start: dt.datetime) -> str:
    values = {
        "count": format_number(count),
        "max": format_number(MAX_OCCURRENCES),
        "years": HORIZON_YEARS,
        "first": f"{local_start:%Y-%m-%d}",
        "until": f"{until:%Y-%m-%d}" if until is not None else "",
    }
    if count >= _COUNTED_AT_MOST:
        values["count"] = format_number(_COUNTED_AT_MOST)
        if until is not None:
            return _(
                "This rule gives more than %(count)s dates up to its UNTIL (%(until)s); "
                "at most %(max)s",
                **values,
            )
        return _(
            "This rule gives more than %(count)s dates within %(years)d years of its first "
            "date (%(first)s); at most %(max)s",
            **values,
        )
    if until is not None:
        return _(
            "This rule gives %(count)s dates up to its UNTIL (%(until)s); at most %(max)s",
            **values,
        )
    return _(
        "This rule gives %(count)s dates within %(years)d years of its first date "
        "(%(first)s); at most %(max)s",
        **values,
    )


def check_rule(rrule: str, *, local_start: dt.datetime) -> list[dt.datetime]:
    """The rule's local dates from ``local_start``, or 422 naming ``rrule`` when it is
    out of bounds: repeating more often than daily, giving no date, or giving more than
    MAX_OCCURRENCES dates (by COUNT, before its UNTIL, or within the horizon)."""
    parts = rule_parts(rrule)
    freq = parts.get("FREQ", "").upper()
    if freq not in FREQUENCIES:
        raise _refuse(
            _too_frequent(freq),
            frequency=freq,
            frequencies=list(FREQUENCIES),
        )
    if parts.get("COUNT", "").isdigit() and int(parts["COUNT"]) > MAX_OCCURRENCES:
        count = int(parts["COUNT"])
        raise _refuse(
            _(
                "This rule gives %(count)s dates (COUNT=%(raw_count)d); at most %(max)s",
                count=format_number(count),
                raw_count=count,
                max=format_number(MAX_OCCURRENCES),
            ),
            occurrences=count,
            max_occurrences=MAX_OCCURRENCES,
        )
    # The last local time a date may have (dateutil's UNTIL includes it).
    last = horizon(local_start) - dt.timedelta(microseconds=1)
    # The UNTIL that bounds the dates, when it comes before the horizon.
    bound: dt.datetime | None = None
    if "UNTIL" in parts:
        until = date_parser.parse(parts["UNTIL"])
        if until.tzinfo is None and until < last:
            last, bound = until, until
    # COUNT (at most MAX_OCCURRENCES here) bounds the dates; without it they are counted,
    # so that the answer can say how many there would be.
    wanted = int(parts["COUNT"]) if parts.get("COUNT", "").isdigit() else _COUNTED_AT_MOST
    dates = list(_bounded(rrule, local_start, last, wanted))
    if not dates:
        raise _refuse(
            _no_date(bound, local_start),
            occurrences=0,
        )
    if len(dates) > MAX_OCCURRENCES:
        raise _refuse(
            _too_many(len(dates), bound, local_start),
            occurrences=len(dates),
            max_occurrences=MAX_OCCURRENCES,
        )
    return dates


@dataclass(frozen=True)
class InvalidLocalTime:
    """A date of a series whose local time does not exist, or exists twice, in its zone."""

    local: dt.datetime
    code: str  # nonexistent_local_time or ambiguous_local_time
    problem: str
    details: dict[str, object]

    @property
    def instant(self) -> dt.datetime:
        """The instant the expansion reads it as (fold=0), in UTC: what its EXDATE holds."""
        zone = get_zone(str(self.details["timezone"]))
        return self.local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def invalid_local_times(dates: list[dt.datetime], timezone: str) -> list[InvalidLocalTime]:
    """The dates whose wall-clock time the zone skips (a gap) or repeats (a fold)."""
    found = []
    for local in dates:
        try:
            resolve_local(local, timezone, field="rrule")
        except ValidationFailed as exc:
            found.append(InvalidLocalTime(local, exc.code, exc.message, exc.details))
    return found


def check_series(
    *,
    start: dt.datetime,
    timezone: str,
    rrule: str,
    exdates: list[str],
    skip_invalid_local_times: bool,
) -> list[str]:
    """The series' EXDATEs after checking its rule and every date's local time.

    422 naming ``rrule`` when the rule is out of bounds (see check_rule). A date whose
    local time does not exist in ``timezone`` (``nonexistent_local_time``) or happens
    twice (``ambiguous_local_time``) is refused, listing every such date, as a single
    start is; unless ``skip_invalid_local_times``, which leaves those dates out as
    EXDATEs. Calendars disagree on when such a date meets (RFC 5545 reads a gap with the
    offset before it, Thunderbird and libical otherwise), so the series never holds one.
    The first date is the session's start: a start that is ambiguous must be the first
    of the two instants (fold 0), the one calendars read for a repeated local time.
    """
    zone = get_zone(timezone)
    local_start = start.astimezone(zone).replace(tzinfo=None)
    dates = check_rule(rrule, local_start=local_start)
    if local_start.replace(tzinfo=zone, fold=0).astimezone(UTC) != start:
        problem = _(
            "%(local_time)s happens twice in %(zone)s; a repeating session keeps the first of "
            "the two (fold 0), as calendars read a repeated local time",
            local_time=format_local(local_start),
            zone=timezone,
        )
        raise ValidationFailed(
            {"fold": problem},
            message=problem,
            code="ambiguous_local_time",
            details={"timezone": timezone, "local_time": format_local(local_start)},
        )
    excluded = {parse_instant(x) for x in exdates}
    invalid = [
        date for date in invalid_local_times(dates[1:], timezone) if date.instant not in excluded
    ]
    if not invalid:
        return list(exdates)
    if skip_invalid_local_times:
        skipped = [format_instant(date.instant) for date in invalid]
        return sorted(set(exdates) | set(skipped))
    codes = [date.code for date in invalid]
    code = "nonexistent_local_time" if "nonexistent_local_time" in codes else codes[0]
    message = _series_refusal(
        kinds=tuple(dict.fromkeys(codes)),
        count=len(invalid),
        time=f"{local_start:%H:%M}",
        zone=timezone,
        days=", ".join(f"{date.local:%Y-%m-%d}" for date in invalid),
        problem=invalid[0].problem,
    )
    raise ValidationFailed(
        {"rrule": message},
        message=message,
        code=code,
        details={
            "timezone": timezone,
            "dates": [f"{date.local:%Y-%m-%d}" for date in invalid],
            "local_times": [format_local(date.local) for date in invalid],
            "invalid_dates": [
                {
                    "date": f"{date.local:%Y-%m-%d}",
                    "local_time": format_local(date.local),
                    "code": date.code,
                    "problem": date.problem,
                }
                for date in invalid
            ],
        },
    )


def _series_refusal(*, kinds: tuple[str, ...], count: int, **values: object) -> str:
    """Why a series' time is refused on some of its dates: the local time does not exist,
    happens twice, or both (in the order the dates show them), on ``count`` dates."""
    if kinds == ("nonexistent_local_time",):
        return ngettext(
            "This series meets at %(time)s, which does not exist in %(zone)s on %(days)s "
            "(%(problem)s). Choose another time, or send skip_invalid_local_times: true to "
            "leave this date out",
            "This series meets at %(time)s, which does not exist in %(zone)s on %(days)s "
            "(%(problem)s). Choose another time, or send skip_invalid_local_times: true to "
            "leave these %(num)d dates out",
            count,
            **values,
        )
    if kinds == ("ambiguous_local_time",):
        return ngettext(
            "This series meets at %(time)s, which happens twice in %(zone)s on %(days)s "
            "(%(problem)s). Choose another time, or send skip_invalid_local_times: true to "
            "leave this date out",
            "This series meets at %(time)s, which happens twice in %(zone)s on %(days)s "
            "(%(problem)s). Choose another time, or send skip_invalid_local_times: true to "
            "leave these %(num)d dates out",
            count,
            **values,
        )
    if kinds[0] == "nonexistent_local_time":
        return ngettext(
            "This series meets at %(time)s, which does not exist or happens twice in %(zone)s "
            "on %(days)s (%(problem)s). Choose another time, or send "
            "skip_invalid_local_times: true to leave this date out",
            "This series meets at %(time)s, which does not exist or happens twice in %(zone)s "
            "on %(days)s (%(problem)s). Choose another time, or send "
            "skip_invalid_local_times: true to leave these %(num)d dates out",
            count,
            **values,
        )
    return ngettext(
        "This series meets at %(time)s, which happens twice or does not exist in %(zone)s "
        "on %(days)s (%(problem)s). Choose another time, or send "
        "skip_invalid_local_times: true to leave this date out",
        "This series meets at %(time)s, which happens twice or does not exist in %(zone)s "
        "on %(days)s (%(problem)s). Choose another time, or send "
        "skip_invalid_local_times: true to leave these %(num)d dates out",
        count,
        **values,
    )
