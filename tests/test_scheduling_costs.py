"""Costs that add up (hour class plus day class) and real working calendars, named cases."""

from __future__ import annotations

import datetime as dt

import pytest

from forum.directory.services import default_working_hours
from forum.scheduling import engine
from forum.scheduling import reference
from forum.scheduling.model import DEFAULT_COSTS
from forum.scheduling.model import Participant
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import parse_hours
from forum.scheduling.model import reference_weekday

UTC = dt.UTC
EVERY_DAY = {d: [["07:00", "22:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def person(zone: str, country: str, subdivision: str | None = None) -> Participant:
    return Participant(
        person_id=1,
        timezone=zone,
        country=country,
        subdivision=subdivision,
        working_hours=parse_hours(default_working_hours(country)),
        acceptable_hours=parse_hours(EVERY_DAY),
        institution_id=1,
    )


def at(who: Participant, local: str, *, minutes: int = 60, **options) -> tuple:
    """(category, categories, cost, available) for a slot starting at a local time, from
    the engine, after checking the reference says the same."""
    start = dt.datetime.fromisoformat(local).replace(tzinfo=engine.ZoneInfo(who.timezone))
    start = start.astimezone(UTC)
    search = SearchOptions(
        duration=dt.timedelta(minutes=minutes),
        window_start=start,
        window_end=start + dt.timedelta(minutes=minutes),
        step_minutes=5,
        limit=1,
        **options,
    )
    (placement,) = engine.find_slots([who], search).placements(0)
    assert placement == reference.place(who, start, search)
    return placement.category, placement.categories, placement.cost, placement.available


SYDNEY = person("Australia/Sydney", "AU", "NSW")
BEIJING = person("Asia/Shanghai", "CN")


def test_a_weekend_night_costs_a_night_and_a_weekend():
    saturday_night = at(SYDNEY, "2027-03-20T02:00")
    wednesday_night = at(SYDNEY, "2027-03-17T02:00")
    saturday_afternoon = at(SYDNEY, "2027-03-20T14:00")
    assert saturday_night[:3] == ("night", ("night", "weekend"), 13)
    assert wednesday_night[:3] == ("night", ("night",), 8)
    assert saturday_afternoon[:3] == ("weekend", ("weekend",), 5)
    assert saturday_night[2] > wednesday_night[2] > saturday_afternoon[2]


def test_a_holiday_morning_costs_more_than_a_workday_morning():
    # 26 January, Australia Day, was a Tuesday in 2027.
    holiday = at(SYDNEY, "2027-01-26T08:00", skip_holidays=False)
    workday = at(SYDNEY, "2027-01-27T08:00", skip_holidays=False)
    assert holiday[:2] == ("holiday", ("holiday", "early"))
    assert workday[:2] == ("early", ("early",))
    assert holiday[2] == DEFAULT_COSTS["holiday"] + DEFAULT_COSTS["early"] > workday[2]


@pytest.mark.parametrize("day", ["2020-09-27", "2020-10-10"])
def test_chinas_weekend_dates_declared_working_days_are_working_days(day):
    assert at(BEIJING, f"{day}T10:00") == ("working", ("working",), 0, True)
    # The weekend before and after stay weekends.
    assert at(BEIJING, "2020-10-11T10:00")[:2] == ("weekend", ("weekend",))


@pytest.mark.parametrize("day", [1, 2, 3, 5, 6, 7, 8])
def test_national_day_week_is_a_holiday_soft_or_hard(day):
    local = f"2020-10-{day:02d}T10:00"
    # Saturday the 3rd is a holiday and a weekend: one day off, costed once.
    facts = ("holiday", "weekend") if day == 3 else ("holiday",)
    assert at(BEIJING, local, skip_holidays=False) == ("holiday", facts, 6, True)
    assert at(BEIJING, local, skip_holidays=True) == ("holiday", facts, 6, False)


def test_the_sunday_inside_national_day_week_is_a_weekend():
    # The holidays package lists 1-3 and 5-8 October 2020: Sunday the 4th is a weekend.
    assert at(BEIJING, "2020-10-04T10:00", skip_holidays=False)[:2] == ("weekend", ("weekend",))


def test_qatar_works_on_sunday_and_rests_on_friday():
    doha = person("Asia/Qatar", "QA")
    assert at(doha, "2027-03-14T10:00")[:2] == ("working", ("working",))  # Sunday
    assert at(doha, "2027-03-19T10:00")[:2] == ("weekend", ("weekend",))  # Friday


def test_a_slot_over_midnight_into_the_weekend_holds_both_days_facts():
    # Auckland, Friday 23:30 to Saturday 00:30: late on a workday, night into Saturday.
    auckland = person("Pacific/Auckland", "NZ")
    category, categories, cost, _ = at(auckland, "2027-03-19T23:30")
    assert categories == ("night", "weekend") and cost == 13 and category == "night"


def test_costs_can_be_given_per_search():
    costs = {"weekend": 20, "night": 1}
    # The costliest fact comes first.
    assert at(SYDNEY, "2027-03-20T02:00", costs=costs)[:3] == ("weekend", ("weekend", "night"), 21)


def test_unknown_costs_are_refused():
    with pytest.raises(ValueError, match="costs.lunch"):
        at(SYDNEY, "2027-03-20T02:00", costs={"lunch": 3})
    with pytest.raises(ValueError, match="costs.night"):
        at(SYDNEY, "2027-03-20T02:00", costs={"night": -1})


def test_a_working_day_is_the_countrys_first_with_hours():
    assert reference_weekday(parse_hours(default_working_hours("QA")), frozenset({4, 5})) == 0
    sunday_only = parse_hours({"sun": [["09:00", "13:00"]], "sat": [["09:00", "13:00"]]})
    assert reference_weekday(sunday_only, frozenset({4, 5})) == 6
    assert reference_weekday(sunday_only, frozenset({5, 6})) == 5
    assert reference_weekday(parse_hours(default_working_hours("CN")), frozenset({5, 6})) == 0
    assert reference_weekday(parse_hours({}), frozenset({5, 6})) is None
