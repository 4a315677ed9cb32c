"""The fast engine against the straightforward reference, on random inputs and named cases."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from forum.scheduling import engine
from forum.scheduling import reference
from forum.scheduling.model import DEFAULT_COSTS
from forum.scheduling.model import STEPS
from forum.scheduling.model import Participant
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import busy_minutes

UTC = dt.UTC
# Zones with and without daylight saving, both hemispheres, half-hour offsets, the date line.
ZONES = [
    ("Asia/Shanghai", "CN"),
    ("America/Detroit", "US"),
    ("Europe/London", "GB"),
    ("Australia/Sydney", "AU"),
    ("Pacific/Auckland", "NZ"),
    ("Asia/Qatar", "QA"),
    ("Asia/Kolkata", "IN"),
    ("Australia/Lord_Howe", "AU"),
    ("Pacific/Kiritimati", "KI"),
    ("Asia/Taipei", "TW"),
    ("Europe/Budapest", "HU"),
]
# Windows around the 2020 clock changes, holidays (China's National Day, Easter) and
# weekend dates declared working days (China: 19 January, 27 September, 10 October 2020;
# Taiwan: 26 September; Hungary: 29 August, 12 December).
WINDOW_STARTS = [
    dt.datetime(2020, 1, 17, tzinfo=UTC),
    dt.datetime(2020, 8, 27, tzinfo=UTC),
    dt.datetime(2020, 10, 8, tzinfo=UTC),
    dt.datetime(2020, 12, 10, tzinfo=UTC),
    dt.datetime(2020, 3, 6, tzinfo=UTC),
    dt.datetime(2020, 3, 27, tzinfo=UTC),
    dt.datetime(2020, 4, 3, 12, tzinfo=UTC),
    dt.datetime(2020, 9, 25, tzinfo=UTC),
    dt.datetime(2020, 9, 30, 6, tzinfo=UTC),
    dt.datetime(2020, 10, 23, tzinfo=UTC),
    dt.datetime(2020, 10, 31, 17, tzinfo=UTC),
]


@st.composite
def hour_ranges(draw, *, allow_empty: bool = True) -> tuple:
    days = []
    for _ in range(7):
        ranges = []
        cursor = 0
        for _ in range(draw(st.integers(0 if allow_empty else 1, 2))):
            if cursor >= 1440:
                break
            start = draw(st.integers(cursor, 1439)) // 30 * 30
            end = draw(st.integers(start + 30, min(start + 900, 1440)))
            end = min((end + 29) // 30 * 30, 1440)
            ranges.append((start, end))
            cursor = end + draw(st.sampled_from([0, 30, 60]))
        days.append(tuple(ranges))
    return tuple(days)


@st.composite
def participants(draw, window_start: dt.datetime) -> Participant:
    zone, country = draw(st.sampled_from(ZONES))
    busy = []
    for _ in range(draw(st.integers(0, 4))):
        start = window_start + dt.timedelta(minutes=draw(st.integers(-120, 5 * 1440)))
        busy.append((start, start + dt.timedelta(minutes=draw(st.integers(1, 300)))))
    blackouts = []
    if draw(st.booleans()):
        first = window_start.date() + dt.timedelta(days=draw(st.integers(-1, 4)))
        blackouts.append((first, first + dt.timedelta(days=draw(st.integers(0, 2)))))
    earliest, latest = draw(st.sampled_from([(0, 24), (0, 24), (7, 22), (9, 18), (6, 24)]))
    return Participant(
        person_id=draw(st.integers(1, 10_000)),
        timezone=zone,
        country=draw(st.sampled_from([country, country, None])),
        subdivision=draw(st.sampled_from([None, "NSW"])) if country == "AU" else None,
        working_hours=draw(hour_ranges()),
        acceptable_hours=draw(hour_ranges()),
        institution_id=draw(st.integers(1, 4)),
        blackouts=tuple(blackouts),
        busy=busy_minutes(busy),
        required=draw(st.booleans()),
        weight=draw(st.integers(1, 3)),
        earliest_hour=earliest,
        latest_hour=latest,
    )


@st.composite
def searches(draw) -> tuple[list[Participant], SearchOptions]:
    window_start = draw(st.sampled_from(WINDOW_STARTS)) + dt.timedelta(
        minutes=draw(st.sampled_from([0, 5, 30, 45]))
    )
    people = draw(st.lists(participants(window_start), min_size=0, max_size=6))
    options = SearchOptions(
        duration=dt.timedelta(minutes=draw(st.sampled_from([15, 30, 60, 90, 240, 600, 1440]))),
        window_start=window_start,
        window_end=window_start + dt.timedelta(hours=draw(st.integers(12, 96))),
        step_minutes=draw(st.sampled_from(STEPS)),
        limit=10_000,
        skip_weekends=draw(st.booleans()),
        skip_holidays=draw(st.booleans()),
        costs=draw(
            st.one_of(
                st.just({}),
                st.dictionaries(st.sampled_from(sorted(DEFAULT_COSTS)), st.integers(0, 30)),
            )
        ),
    )
    return people, options


@settings(
    max_examples=int(os.environ.get("FORUM_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(searches())
def test_the_engine_ranks_every_slot_as_the_reference_does(search):
    people, options = search
    fast = engine.find_slots(people, options)
    slow = reference.find_slots(people, options)
    assert fast.slots == slow
    # And what it says of each participant in the best slots.
    for rank, slot in enumerate(fast.slots[:3]):
        assert fast.placements(rank) == [reference.place(p, slot.start, options) for p in people]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"step_minutes": 20}, "step_minutes"),
        ({"duration": dt.timedelta(hours=25)}, "24 hours"),
        ({"window_end": dt.datetime(2020, 3, 1, tzinfo=UTC)}, "after window_start"),
        ({"window_end": dt.datetime(2020, 6, 30, tzinfo=UTC)}, "90 days"),
    ],
)
def test_the_engine_refuses_searches_outside_its_limits(change, message):
    options = {
        "duration": dt.timedelta(hours=1),
        "window_start": dt.datetime(2020, 3, 2, tzinfo=UTC),
        "window_end": dt.datetime(2020, 3, 9, tzinfo=UTC),
        **change,
    }
    with pytest.raises(ValueError, match=message):
        engine.find_slots([], SearchOptions(**options))


@settings(
    max_examples=int(os.environ.get("FORUM_HYPOTHESIS_EXAMPLES", "300")) // 3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(searches(), st.data())
def test_busy_times_given_as_a_table_count_as_the_participants_own(search, data):
    people, options = search
    # In a directory every person has an id of their own.
    people = [replace(person, person_id=index + 1) for index, person in enumerate(people)]
    # Each person's busy times split between their own and the table (as the database
    # hands them over), in any order.
    table_rows, kept = [], []
    for person in people:
        moved = (
            data.draw(st.lists(st.sampled_from(person.busy), unique=True)) if person.busy else []
        )
        table_rows += [(person.person_id, a, b) for a, b in moved]
        kept.append(replace(person, busy=tuple(b for b in person.busy if b not in moved)))
    table_rows.append((-1, 0, 10**8))  # someone not searched changes nothing
    table_rows = data.draw(st.permutations(table_rows))

    whole = engine.find_slots(people, options)
    split = engine.find_slots(kept, options, busy=engine.BusyTable.of(table_rows))

    assert split.slots == whole.slots
    assert (split.masks == whole.masks).all()
