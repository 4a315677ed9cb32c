"""Fair rotation across a series, and the preview of occurrences that move with DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from forum.scheduling.dst import dst_preview
from forum.scheduling.model import Participant
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import parse_hours
from forum.scheduling.rotation import plan_rotation

UTC = dt.UTC
WORKING = parse_hours({d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})
ACCEPTABLE = parse_hours(
    {d: [["07:00", "22:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
)
OPTIONS = SearchOptions(
    duration=dt.timedelta(hours=1),
    window_start=dt.datetime(2027, 1, 1, tzinfo=UTC),
    window_end=dt.datetime(2027, 1, 2, tzinfo=UTC),
    step_minutes=30,
)
TUESDAYS = [dt.date(2027, 3, 2) + dt.timedelta(weeks=k) for k in range(6)]


def site(number: int, zone: str, country: str, name: str) -> Participant:
    return Participant(
        person_id=number,
        timezone=zone,
        working_hours=WORKING,
        acceptable_hours=ACCEPTABLE,
        country=country,
        institution_id=number,
        institution_name=name,
    )


FIVE_CONTINENTS = [
    site(1, "Asia/Shanghai", "CN", "Peking University"),
    site(2, "America/Detroit", "US", "University of Michigan"),
    site(3, "Europe/London", "GB", "University of Oxford"),
    site(4, "Australia/Sydney", "AU", "University of Sydney"),
    site(5, "America/Los_Angeles", "US", "UC Berkeley"),
]


def test_no_good_time_for_all_so_the_rotation_beats_the_best_fixed_time():
    plan = plan_rotation(
        FIVE_CONTINENTS, dates=TUESDAYS, anchor_timezone="Asia/Shanghai", options=OPTIONS
    )
    assert plan.fixed is not None
    assert plan.fixed_max_burden > 0, "the case needs a series no single time suits"
    assert plan.max_burden < plan.fixed_max_burden
    # Someone still pays, but not the same site every week.
    payers = {plan.sites[i].name for c in plan.chosen for i, b in enumerate(c.burden) if b >= 8}
    assert len(payers) >= 2


def test_the_burden_per_occurrence_adds_up_to_the_totals():
    plan = plan_rotation(
        FIVE_CONTINENTS, dates=TUESDAYS, anchor_timezone="Asia/Shanghai", options=OPTIONS
    )
    assert len(plan.chosen) == len(TUESDAYS)
    for i in range(len(plan.sites)):
        assert plan.totals[i] == sum(c.burden[i] for c in plan.chosen)
    assert plan.total_burden == sum(plan.totals)
    # Each occurrence starts on its own local date in Beijing.
    beijing = ZoneInfo("Asia/Shanghai")
    assert [c.start.astimezone(beijing).date() for c in plan.chosen] == TUESDAYS
    # A site's burden is the largest cost among its people in that occurrence.
    for occurrence in plan.chosen:
        for placement in occurrence.placements:
            index = [s.name for s in plan.sites].index(placement.participant.institution_name)
            assert occurrence.burden[index] >= placement.cost


def test_when_one_time_suits_everyone_the_plan_keeps_it():
    neighbours = [
        site(1, "Asia/Shanghai", "CN", "Peking University"),
        site(2, "Asia/Tokyo", "JP", "University of Tokyo"),
    ]
    plan = plan_rotation(
        neighbours, dates=TUESDAYS, anchor_timezone="Asia/Shanghai", options=OPTIONS
    )
    assert plan.max_burden == 0
    assert plan.fixed_max_burden == 0


@pytest.mark.parametrize("dates", [[], [dt.date(2027, 3, 2)] * 53])
def test_a_rotation_has_between_1_and_52_occurrences(dates):
    with pytest.raises(ValueError, match="occurrences"):
        plan_rotation(FIVE_CONTINENTS, dates=dates, anchor_timezone="UTC", options=OPTIONS)


def test_dst_preview_lists_who_moves_when():
    # Weekly at 21:00 in Beijing from 26 February 2020 (13:00 UTC). The US changed clocks
    # on 8 March, the UK on 29 March, New South Wales (back) on 5 April; China never did.
    previews = dst_preview(
        [
            ("umich", "Ann Arbor", "America/Detroit"),
            ("oxford", "Oxford", "Europe/London"),
            ("sydney", "Sydney", "Australia/Sydney"),
            ("tokyo", "Tokyo", "Asia/Tokyo"),
        ],
        start=dt.datetime(2020, 2, 26, 13, tzinfo=UTC),
        duration=dt.timedelta(hours=1),
        timezone="Asia/Shanghai",
        rrule="FREQ=WEEKLY;COUNT=8",
    )
    by_key = {p.key: p for p in previews}
    ann_arbor = by_key["umich"]
    assert ann_arbor.first_local == dt.datetime(2020, 2, 26, 8, 0)
    assert [s.start.date() for s in ann_arbor.shifts] == [
        dt.date(2020, 3, 11),
        dt.date(2020, 3, 18),
        dt.date(2020, 3, 25),
        dt.date(2020, 4, 1),
        dt.date(2020, 4, 8),
        dt.date(2020, 4, 15),
    ]
    assert {s.minutes for s in ann_arbor.shifts} == {60}
    assert ann_arbor.shifts[0].site_local == dt.datetime(2020, 3, 11, 9, 0)
    assert ann_arbor.shifts[0].anchor_local == dt.datetime(2020, 3, 11, 21, 0)

    assert [s.site_local for s in by_key["oxford"].shifts][0] == dt.datetime(2020, 4, 1, 14, 0)
    sydney = by_key["sydney"]
    assert sydney.first_local == dt.datetime(2020, 2, 27, 0, 0)  # past midnight there
    assert sydney.shifts[0].site_local == dt.datetime(2020, 4, 8, 23, 0)
    assert {s.minutes for s in sydney.shifts} == {-60}
    assert by_key["tokyo"].shifts == ()


def test_dst_preview_names_the_clock_change_behind_each_move():
    # Weekly at 12:00 in London from 10 March 2027. The US moves forward on 14 March,
    # London itself on 28 March (the series keeps 12:00, so every other site moves), and
    # Sydney and Auckland go back on 4 April; Beijing never changes.
    previews = dst_preview(
        [
            ("umich", "Ann Arbor", "America/Detroit"),
            ("sydney", "Sydney", "Australia/Sydney"),
            ("auckland", "Auckland", "Pacific/Auckland"),
            ("pku", "Beijing", "Asia/Shanghai"),
        ],
        start=dt.datetime(2027, 3, 10, 12, tzinfo=UTC),
        duration=dt.timedelta(hours=1),
        timezone="Europe/London",
        rrule="FREQ=WEEKLY;COUNT=6",
    )
    by_key = {p.key: p for p in previews}

    (ann_arbor,) = by_key["umich"].stretches
    assert (ann_arbor.first.start.date(), ann_arbor.last.start.date(), ann_arbor.count) == (
        dt.date(2027, 3, 17),
        dt.date(2027, 3, 24),
        2,
    )
    assert ann_arbor.minutes == 60
    (spring,) = ann_arbor.changes
    assert (spring.zone, spring.local_before, spring.local_after, spring.minutes) == (
        "America/Detroit",
        dt.datetime(2027, 3, 14, 2, 0),
        dt.datetime(2027, 3, 14, 3, 0),
        60,
    )
    assert spring.at == dt.datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    # London catching up on 28 March ends Ann Arbor's stretch.
    (london,) = ann_arbor.ended_by
    assert (london.zone, london.local_before, london.local_after) == (
        "Europe/London",
        dt.datetime(2027, 3, 28, 1, 0),
        dt.datetime(2027, 3, 28, 2, 0),
    )

    sydney = by_key["sydney"].stretches
    assert [(s.first.start.date(), s.count, s.minutes) for s in sydney] == [
        (dt.date(2027, 3, 31), 1, -60),
        (dt.date(2027, 4, 7), 2, -120),
    ]
    assert [c.zone for c in sydney[0].changes] == ["Europe/London"]
    assert [(c.zone, c.local_before, c.local_after) for c in sydney[1].changes] == [
        ("Australia/Sydney", dt.datetime(2027, 4, 4, 3, 0), dt.datetime(2027, 4, 4, 2, 0))
    ]
    # Across the date line the same day: Auckland's 03:00 back to 02:00 on 4 April.
    auckland = by_key["auckland"].stretches[1]
    assert [(c.local_before, c.minutes) for c in auckland.changes] == [
        (dt.datetime(2027, 4, 4, 3, 0), -60)
    ]
    # Beijing moves only because London does.
    (beijing,) = by_key["pku"].stretches
    assert beijing.minutes == -60 and [c.zone for c in beijing.changes] == ["Europe/London"]
