"""Working calendars by country and subdivision, from the `holidays` package: weekend days,
public holidays, and weekend dates declared working days (China's adjusted Saturdays and
Sundays around its Golden Weeks, and likewise in Taiwan, Belarus, Kazakhstan, Uzbekistan,
Vietnam, Hungary...)."""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache

import holidays

# Saturday and Sunday (Monday is 0), for a participant whose country is unknown.
DEFAULT_WEEKEND = frozenset({5, 6})


@lru_cache(maxsize=512)
def _calendar(country: str, subdivision: str | None, year: int) -> holidays.HolidayBase | None:
    try:
        with warnings.catch_warnings():
            # Outside the years a country's rules cover, `holidays` warns and knows of
            # no holidays: that is the answer, not a fault.
            warnings.filterwarnings("ignore", "Requested Holidays are available only")
            return holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError:
        # An unknown subdivision still has the country's holidays; an unknown country none.
        if subdivision is not None:
            return _calendar(country, None, year)
        return None


def weekend(country: str | None) -> frozenset[int]:
    """The country's weekend days (Monday 0): Friday-Saturday in Qatar, Israel, Egypt..."""
    if not country:
        return DEFAULT_WEEKEND
    calendar = _calendar(country, None, 2020)
    if calendar is None:
        return DEFAULT_WEEKEND
    return frozenset(calendar.weekend)


@lru_cache(maxsize=4096)
def holidays_in_year(country: str | None, subdivision: str | None, year: int) -> frozenset[dt.date]:
    """Public holidays observed in the country (and subdivision) in ``year``."""
    if not country:
        return frozenset()
    calendar = _calendar(country, subdivision, year)
    return frozenset(calendar.keys()) if calendar is not None else frozenset()


def holiday_dates(
    country: str | None, subdivision: str | None, first: dt.date, last: dt.date
) -> frozenset[dt.date]:
    """Public holidays between two dates, inclusive."""
    found: set[dt.date] = set()
    for year in range(first.year, last.year + 1):
        found.update(d for d in holidays_in_year(country, subdivision, year) if first <= d <= last)
    return frozenset(found)


def is_holiday(country: str | None, subdivision: str | None, day: dt.date) -> bool:
    return day in holidays_in_year(country, subdivision, day.year)


@lru_cache(maxsize=4096)
def working_weekend_days_in_year(
    country: str | None, subdivision: str | None, year: int
) -> frozenset[dt.date]:
    """Weekend dates of ``year`` that the country declared working days."""
    if not country:
        return frozenset()
    calendar = _calendar(country, subdivision, year)
    if calendar is None:
        return frozenset()
    # The package keeps these for every year it has computed: keep this year's.
    return frozenset(d for d in calendar.weekend_workdays if d.year == year)


def working_weekend_days(
    country: str | None, subdivision: str | None, first: dt.date, last: dt.date
) -> frozenset[dt.date]:
    """Weekend dates declared working days between two dates, inclusive."""
    found: set[dt.date] = set()
    for year in range(first.year, last.year + 1):
        found.update(
            d
            for d in working_weekend_days_in_year(country, subdivision, year)
            if first <= d <= last
        )
    return frozenset(found)


def is_working_weekend_day(country: str | None, subdivision: str | None, day: dt.date) -> bool:
    return day in working_weekend_days_in_year(country, subdivision, day.year)


def is_weekend(country: str | None, subdivision: str | None, day: dt.date) -> bool:
    """A weekend day of the country, unless it was declared a working day."""
    return day.weekday() in weekend(country) and not is_working_weekend_day(
        country, subdivision, day
    )
