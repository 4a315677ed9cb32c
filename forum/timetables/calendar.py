"""A term's weeks and holidays as plain dates: which days a weekly course meets, which it skips.

Pure functions over dates and zone names (no database, no Flask): the timetable import, the
teachers-abroad report and the seed all read a term's calendar through them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import holidays

from forum.core.recurrence import WEEKDAY_CODES
from forum.core.times import format_instant
from forum.core.times import get_zone
from forum.i18n import _
from forum.scheduling.calendars import holiday_dates
from forum.scheduling.calendars import is_weekend

UTC = dt.UTC
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RANGE = re.compile(r"^\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?$")
# A holiday run is looked for this far outside the term, so that one which starts before
# the first day (or ends after the last) is still seen whole before it is clipped.
_MARGIN = dt.timedelta(days=21)


@dataclass(frozen=True)
class HolidayPeriod:
    """Consecutive days off around one or more public holidays, within a term."""

    start: dt.date
    end: dt.date
    name: str

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


def last_day(first_day: dt.date, weeks: int) -> dt.date:
    """The last day of a term of ``weeks`` weeks that starts on ``first_day``."""
    return first_day + dt.timedelta(days=7 * weeks - 1)


def parse_weekday(text: object) -> int:
    """ "mon".."sun" (also "monday", "MO", or ISO 1..7 for Monday..Sunday) as 0..6."""
    value = str(text).strip().lower()
    if value.isdigit() and 1 <= int(value) <= 7:
        return int(value) - 1
    for number, name in enumerate(WEEKDAY_NAMES):
        if value in (name, WEEKDAY_CODES[number].lower(), _FULL_NAMES[number]):
            return number
    raise ValueError(
        _("%(value)s is not a weekday: give mon, tue, wed, thu, fri, sat or sun", value=repr(text))
    )


def parse_weeks(text: str | int | Iterable[int], *, term_weeks: int | None = None) -> list[int]:
    """The week numbers a course meets in: "1-16", "1-8,10-16", "2,4,6" (sorted, unique).

    ValueError names the part that is wrong; with ``term_weeks``, a week past the term's
    last is wrong too.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        parts: list[str] = [str(text)]
    elif isinstance(text, str):
        parts = text.replace(";", ",").split(",")
    else:
        try:
            parts = [str(int(x)) for x in text]
        except (TypeError, ValueError):
            raise ValueError(
                _("%(value)s is not a list of weeks such as 1-16 or 1-8,10-16", value=repr(text))
            ) from None
    if not parts or not "".join(parts).strip():
        raise ValueError(_("no weeks given: write them as 1-16, 1-8,10-16 or 2,4,6"))
    weeks: set[int] = set()
    for part in parts:
        match = _RANGE.match(part)
        if not match:
            raise ValueError(
                _(
                    "%(value)s is not a week or a range of weeks such as 1-16",
                    value=repr(part.strip()),
                )
            )
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first < 1:
            raise ValueError(_("%(value)s: weeks are counted from 1", value=repr(part.strip())))
        if last < first:
            raise ValueError(
                _(
                    "%(value)s: a range goes from the lower week to the higher",
                    value=repr(part.strip()),
                )
            )
        if term_weeks is not None and last > term_weeks:
            raise ValueError(
                _(
                    "week %(week)s is past the term's last week (%(weeks)s)",
                    week=last,
                    weeks=term_weeks,
                )
            )
        weeks.update(range(first, last + 1))
    return sorted(weeks)


def week_date(first_day: dt.date, weekday: int, week: int) -> dt.date:
    """The date of ``weekday`` (0 Monday) in week ``week`` of a term starting on ``first_day``."""
    offset = (weekday - first_day.weekday()) % 7
    return first_day + dt.timedelta(days=7 * (week - 1) + offset)


def meeting_dates(first_day: dt.date, weekday: int, weeks: Iterable[int]) -> list[dt.date]:
    """The dates a weekly meeting on ``weekday`` (0 Monday) falls on in the given weeks.

    Week k covers first_day + 7(k-1) to first_day + 7(k-1) + 6, whatever weekday the term
    starts on.
    """
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday {weekday} is not 0 (Monday) to 6 (Sunday)")
    return [week_date(first_day, weekday, week) for week in sorted(set(weeks))]


@lru_cache(maxsize=256)
def _holiday_names(country: str, subdivision: str | None, year: int) -> dict[dt.date, str]:
    try:
        calendar = holidays.country_holidays(
            country, subdiv=subdivision, years=year, language="en_US"
        )
    except NotImplementedError:
        if subdivision is None:
            return {}
        return _holiday_names(country, None, year)
    return dict(calendar.items())


def _period_name(names: list[str]) -> str:
    """The holidays a run of days off is for, by their own names: "Labor Day", not the
    "Day off (substituted from 04/26/2020)" or "(observed)" days that lengthen it."""
    seen: list[str] = []
    for raw in names:
        for name in raw.split(";"):
            name = re.sub(r"\s*\(observed\)$", "", name.strip())
            if name and name not in seen:
                seen.append(name)
    own = [name for name in seen if not name.lower().startswith("day off")]
    return "; ".join(own or seen)


def holiday_periods(
    country: str | None, subdivision: str | None, first_day: dt.date, last_day: dt.date
) -> list[HolidayPeriod]:
    """Runs of consecutive days off that hold at least one public holiday, clipped to
    ``first_day``..``last_day``.

    A day off is a public holiday or a weekend day the country did not declare a working
    day: China's 2020 Labour Day is 1-5 May (Friday to Tuesday, paid back on Sunday 26
    April and Saturday 9 May), Qingming 4-6 April (Saturday to Monday).
    """
    if not country:
        return []
    country = country.upper()
    wide_first, wide_last = first_day - _MARGIN, last_day + _MARGIN
    public = holiday_dates(country, subdivision, wide_first, wide_last)
    names: dict[dt.date, str] = {}
    for year in range(wide_first.year, wide_last.year + 1):
        names.update(_holiday_names(country, subdivision, year))
    periods: list[HolidayPeriod] = []
    run: list[dt.date] = []
    day = wide_first
    while day <= wide_last + dt.timedelta(days=1):
        off = day <= wide_last and (day in public or is_weekend(country, subdivision, day))
        if off:
            run.append(day)
        elif run:
            in_term = [d for d in run if first_day <= d <= last_day]
            holidays_in_run = [d for d in run if d in public]
            if holidays_in_run and in_term:
                periods.append(
                    HolidayPeriod(
                        start=in_term[0],
                        end=in_term[-1],
                        name=_period_name([names.get(d, "") for d in holidays_in_run]),
                    )
                )
            run = []
        day += dt.timedelta(days=1)
    return periods


def excluded_dates(periods: Iterable[HolidayPeriod]) -> list[dict[str, str]]:
    """The days of the periods as Term.excluded_dates holds them: [{"date", "name"}]."""
    return [
        {"date": day.isoformat(), "name": period.name}
        for period in periods
        for day in period.dates()
    ]


def occurrence_instant(day: dt.date, start: dt.time, timezone: str) -> dt.datetime:
    """The UTC instant of ``start`` on ``day`` in ``timezone``, read as a recurrence rule's
    expansion reads it (fold=0): the instant an EXDATE of that date must hold."""
    local = dt.datetime.combine(day, start.replace(tzinfo=None))
    return local.replace(tzinfo=get_zone(timezone), fold=0).astimezone(UTC)


def local_time_problem(day: dt.date, start: dt.time, timezone: str) -> str | None:
    """Why ``start`` on ``day`` is not one instant in ``timezone`` (a gap or a fold), or None."""
    zone = get_zone(timezone)
    local = dt.datetime.combine(day, start.replace(tzinfo=None))
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    if first.astimezone(UTC) == second.astimezone(UTC):
        return None
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        return "nonexistent_local_time"
    return "ambiguous_local_time"


@dataclass(frozen=True)
class WeeklyPlan:
    """One weekly meeting of a course as a recurring session: its rule, first start, EXDATEs.

    ``start``/``end`` are the first meeting that takes place (UTC); the rule runs weekly
    from it to the last one; ``exdates`` are the weeks in between that are not taught or
    fall in a holiday period; ``skipped`` those dates with the reason ("holiday" or
    "not taught").
    """

    rrule: str
    start: dt.datetime
    end: dt.datetime
    exdates: list[str]
    dates: list[dt.date]
    skipped: dict[dt.date, str]


def weekly_plan(
    *,
    first_day: dt.date,
    weekday: int,
    weeks: Iterable[int],
    start: dt.time,
    minutes: int,
    timezone: str,
    periods: Iterable[HolidayPeriod] = (),
) -> WeeklyPlan:
    """The recurring session for a meeting on ``weekday`` at local ``start`` in ``weeks``.

    ValueError when it meets on no date (every week taught falls in a holiday).
    """
    taught = meeting_dates(first_day, weekday, weeks)
    periods = list(periods)
    skipped: dict[dt.date, str] = {}
    met: list[dt.date] = []
    for day in taught:
        if any(day in period for period in periods):
            skipped[day] = "holiday"
        else:
            met.append(day)
    if not met:
        raise ValueError(_("every week it is taught falls in a holiday: it would never meet"))
    week = dt.timedelta(days=7)
    span = [met[0] + n * week for n in range((met[-1] - met[0]).days // 7 + 1)]
    for day in span:
        if day not in skipped and day not in met:
            skipped[day] = "not taught"
    first = occurrence_instant(met[0], start, timezone)
    exdates = [
        format_instant(occurrence_instant(day, start, timezone)) for day in span if day in skipped
    ]
    return WeeklyPlan(
        rrule=f"FREQ=WEEKLY;BYDAY={WEEKDAY_CODES[weekday]};COUNT={len(span)}",
        start=first,
        end=first + dt.timedelta(minutes=minutes),
        exdates=exdates,
        dates=met,
        skipped=dict(sorted(skipped.items())),
    )


def occurrence_exdates(
    *,
    first_day: dt.date,
    weekday: int,
    weeks: Iterable[int],
    start: dt.time,
    timezone: str,
    periods: Iterable[HolidayPeriod] = (),
) -> list[str]:
    """The EXDATEs ("...Z", UTC) of a weekly meeting: its dates in holiday periods and in
    the weeks between its first and last that are not taught (see ``weekly_plan``)."""
    return weekly_plan(
        first_day=first_day,
        weekday=weekday,
        weeks=weeks,
        start=start,
        minutes=1,
        timezone=timezone,
        periods=periods,
    ).exdates
