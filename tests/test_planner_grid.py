"""The planner's grid: sites by hours, agreeing with the search and with the reference rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from forum.accounts.models import Organiser
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.events import planning
from forum.events.models import Event
from forum.extensions import db
from forum.scheduling import engine
from forum.scheduling import reference
from forum.scheduling.model import Participant
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import busy_minutes
from forum.scheduling.model import category_of
from forum.scheduling.model import facts_of
from forum.scheduling.model import mask_of
from forum.scheduling.model import parse_hours
from tests.helpers import recorded_statements
from tests.test_api_scheduling import created
from tests.test_api_scheduling import make_institution
from tests.test_api_scheduling import make_person
from tests.test_api_scheduling import search

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)
WORKING_HOURS = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
ACCEPTABLE_HOURS = {
    day: [["07:00", "22:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.fixture
def sites(api) -> dict[str, Any]:
    """Institutions in eight zones (DST both ways, the date line, a :30 offset, a Friday and
    Saturday weekend), two people at one of them, and a guest without an institution."""
    made = {
        "umich": make_institution(
            api, "University of Michigan", "US", "America/Detroit", subdivision="MI"
        ),
        "ucl": make_institution(api, "University College London", "GB", "Europe/London"),
        "usyd": make_institution(
            api, "University of Sydney", "AU", "Australia/Sydney", subdivision="NSW"
        ),
        "pku": make_institution(api, "Peking University", "CN", "Asia/Shanghai"),
        "uoa": make_institution(api, "University of Auckland", "NZ", "Pacific/Auckland"),
        "iisc": make_institution(api, "Indian Institute of Science", "IN", "Asia/Kolkata"),
        "qu": make_institution(api, "Qatar University", "QA", "Asia/Qatar"),
    }
    people = {
        "smith": make_person(api, "Jane Smith", made["umich"]["id"]),
        "jones": make_person(api, "Tom Jones", made["ucl"]["id"]),
        "nguyen": make_person(api, "Mai Nguyen", made["usyd"]["id"]),
        "li": make_person(api, "Li Wei", made["pku"]["id"]),
        "zhang": make_person(api, "Zhang Min", made["pku"]["id"]),
        "aroha": make_person(api, "Aroha Ngata", made["uoa"]["id"]),
        "rao": make_person(api, "Priya Rao", made["iisc"]["id"]),
        "hamad": make_person(api, "Hamad Al-Kuwari", made["qu"]["id"]),
    }
    guest = created(
        api.post(
            "/api/v1/people",
            json={"name": "Guest Speaker", "email": "guest@example.org", "timezone": "Europe/Rome"},
        )
    )
    # Zhang is busy over two hours in Beijing on Saturday 7 March 2020; Li is not.
    api.put(
        f"/api/v1/people/{people['zhang']['id']}/availability",
        json={"busy": [{"start": "2020-03-07T01:30:00Z", "end": "2020-03-07T02:10:00Z"}]},
    )
    return {**made, **people, "guest": guest}


@pytest.fixture
def grid_for(app, api):
    """planner_grid as the default organiser, inside the app."""

    def call(**fields: Any) -> planning.Grid:
        with app.app_context():
            actor = db.session.get(Organiser, api.organiser_id)
            return planning.planner_grid(actor, **fields)

    return call


def everyone(sites: dict[str, Any]) -> dict[str, list[int]]:
    institutions = [sites[k]["id"] for k in ("umich", "ucl", "usyd", "pku", "uoa", "iisc", "qu")]
    return {"institution_ids": institutions, "person_ids": [sites["guest"]["id"]]}


def site(grid: planning.Grid, name: str) -> planning.GridSite:
    return next(s for c in grid.countries for s in c.sites if s.name == name)


def column(grid: planning.Grid, start: dt.datetime) -> int:
    return next(i for i, hour in enumerate(grid.hours) if hour.start == start)


# --- the shape -------------------------------------------------------------------------


def test_rows_are_sites_grouped_by_country_and_columns_are_utc_hours(grid_for, sites):
    grid = grid_for(
        **everyone(sites), window_start="2020-03-02", window_end="2020-03-03", timezone="UTC"
    )

    assert grid.timezone == "UTC"
    # Country names are pytz's, as in the search ("Britain (UK)").
    assert [c.name for c in grid.countries] == [
        "Australia",
        "Britain (UK)",
        "China",
        "India",
        "New Zealand",
        "Qatar",
        "United States",
        "No institution",
    ]
    assert grid.site_count() == 8
    pku = site(grid, "Peking University")
    assert (pku.institution_id, pku.timezone, pku.people) == (
        sites["pku"]["id"],
        "Asia/Shanghai",
        2,
    )
    guest = site(grid, "Guest Speaker")
    assert (guest.institution_id, guest.timezone, guest.people) == (None, "Europe/Rome", 1)
    assert next(c for c in grid.countries if c.sites == (guest,)).code is None

    assert len(grid.hours) == 48
    assert [h.start for h in grid.hours[:2]] == [utc(2020, 3, 2), utc(2020, 3, 2, 1)]
    assert all(h.start.tzinfo is not None and h.local.tzinfo is None for h in grid.hours)
    assert [i for i, h in enumerate(grid.hours) if h.first_of_day] == [0, 24]
    for each in (pku, guest):
        assert len(each.cells) == len(each.local_hours) == 48
    # Monday 2 March: 01:00 UTC is 09:00 in Beijing, 10:00 in Rome.
    assert (pku.local_hours[1], pku.cells[1]) == (9, "working")
    assert (guest.local_hours[9], guest.cells[9]) == (10, "working")
    assert (guest.local_hours[1], guest.cells[1]) == (2, "night")


def test_sites_are_sorted_by_name_within_a_country(api, grid_for, sites):
    tsinghua = make_institution(api, "Tsinghua University", "CN", "Asia/Shanghai")
    make_person(api, "Sun Guoqiang", tsinghua["id"])
    beihang = make_institution(api, "Beihang University", "CN", "Asia/Shanghai")
    make_person(api, "Wang Fang", beihang["id"])

    grid = grid_for(
        institution_ids=[tsinghua["id"], sites["pku"]["id"], beihang["id"]],
        window_start="2020-03-02",
        window_end="2020-03-02",
    )

    (china,) = grid.countries
    assert (china.code, china.name) == ("CN", "China")
    assert [s.name for s in china.sites] == [
        "Beihang University",
        "Peking University",
        "Tsinghua University",
    ]


def test_a_half_hour_zone_starts_at_its_first_utc_hour(grid_for, sites):
    # Midnight in Kolkata is 18:30 UTC: the first whole UTC hour reads 00:30 there.
    grid = grid_for(
        person_ids=[sites["rao"]["id"], sites["li"]["id"]],
        window_start="2020-03-02",
        window_end="2020-03-02",
        timezone="Asia/Kolkata",
    )

    assert grid.timezone == "Asia/Kolkata"
    assert len(grid.hours) == 23
    assert (grid.hours[0].start, grid.hours[0].local) == (
        utc(2020, 3, 1, 19),
        dt.datetime(2020, 3, 2, 0, 30),
    )
    assert grid.hours[-1].local == dt.datetime(2020, 3, 2, 22, 30)
    assert [h.first_of_day for h in grid.hours].count(True) == 1
    iisc = site(grid, "Indian Institute of Science")
    # The hour from 09:30 in Kolkata lies inside 09:00-18:00; the one from 08:30 does not.
    assert (iisc.local_hours[8], iisc.cells[8]) == (8, "early")
    assert (iisc.local_hours[9], iisc.cells[9]) == (9, "working")
    assert (iisc.local_hours[17], iisc.cells[17]) == (17, "late")


def test_local_hours_follow_each_sites_clock_changes(grid_for, sites):
    grid = grid_for(
        **everyone(sites),
        window_start="2020-03-07T00:00:00Z",
        window_end="2020-03-09T00:00:00Z",
    )

    umich = site(grid, "University of Michigan")
    # Detroit springs forward at 07:00 UTC on Sunday 8 March: 01:00 EST, then 03:00 EDT.
    at = column(grid, utc(2020, 3, 8, 6))
    assert umich.local_hours[at : at + 2] == (1, 3)
    assert site(grid, "Peking University").local_hours[at : at + 2] == (14, 15)


def test_a_friday_and_saturday_weekend_and_a_busy_hour(grid_for, sites):
    grid = grid_for(
        **everyone(sites),
        window_start="2020-03-05T21:00:00Z",
        window_end="2020-03-08T21:00:00Z",
    )
    qu, pku = site(grid, "Qatar University"), site(grid, "Peking University")

    # Doha (UTC+3): Friday and Saturday are the weekend, Sunday a working day.
    for day, expected in ((6, "weekend"), (7, "weekend"), (8, "working")):
        ten = column(grid, utc(2020, 3, day, 7))
        assert (qu.local_hours[ten], qu.cells[ten]) == (10, expected)
    # Beijing: Friday works, the weekend is Saturday and Sunday.
    assert pku.cells[column(grid, utc(2020, 3, 6, 2))] == "working"
    assert pku.cells[column(grid, utc(2020, 3, 8, 2))] == "weekend"
    # Zhang's busy time (01:30-02:10 UTC on Saturday) marks both hours it touches: one
    # busy member makes the site busy.
    saturday = column(grid, utc(2020, 3, 7, 1))
    assert pku.cells[saturday - 1 : saturday + 3] == ("weekend", "busy", "busy", "weekend")


def test_a_public_holiday_shows_whether_or_not_holidays_are_skipped(grid_for, sites):
    window = {
        "person_ids": [sites["li"]["id"]],
        "window_start": "2020-10-01",
        "window_end": "2020-10-01",
        "timezone": "Asia/Shanghai",
    }

    skipped = site(grid_for(**window), "Peking University")
    kept = site(grid_for(**window, skip_holidays=False), "Peking University")

    assert skipped.cells == kept.cells and skipped.facts == kept.facts
    assert all("holiday" in facts for facts in kept.facts)
    assert kept.cells[9:12] == ("holiday",) * 3 and kept.facts[9:12] == (("holiday",),) * 3
    # The night and the early and late hours of the holiday say so too.
    assert kept.facts[3] == ("night", "holiday") and kept.facts[8] == ("holiday", "early")
    assert skipped.local_hours == kept.local_hours == tuple(range(24))


def test_chinas_weekend_working_days_are_working_days_in_the_grid(grid_for, sites):
    grid = grid_for(
        person_ids=[sites["li"]["id"]],
        window_start="2020-10-10",
        window_end="2020-10-11",
        timezone="Asia/Shanghai",
    )

    pku = site(grid, "Peking University")
    # Saturday 10 October 2020 was a working day in China; Sunday the 11th was not.
    assert pku.cells[10] == "working" and pku.facts[10] == ("working",)
    assert pku.cells[24 + 10] == "weekend"
    assert pku.facts[24 + 3] == ("night", "weekend") and pku.cells[24 + 3] == "night"


# --- agreement ---------------------------------------------------------------------------

# Two days each (at most 50 one-hour slots, the search's largest answer), around the 2020
# clock changes of Detroit, London and Sydney/Auckland, China's National Day and Detroit's
# fall back.
WINDOWS = [
    ("2020-03-06T12:00:00Z", "2020-03-08T12:00:00Z"),
    ("2020-03-28T12:00:00Z", "2020-03-30T12:00:00Z"),
    ("2020-04-04T00:00:00Z", "2020-04-06T00:00:00Z"),
    ("2020-09-30T12:00:00Z", "2020-10-02T12:00:00Z"),
    ("2020-10-31T12:00:00Z", "2020-11-02T12:00:00Z"),
]


@pytest.mark.parametrize(("window_start", "window_end"), WINDOWS)
def test_each_cell_is_the_searchs_worst_category_for_that_hour(
    api, grid_for, sites, window_start, window_end
):
    selection = everyone(sites)
    window = {"window_start": window_start, "window_end": window_end}

    grid = grid_for(**selection, **window)
    slots = search(api, **selection, **window, duration_minutes=60, step_minutes=60, limit=50)

    assert len(grid.hours) == len(slots["slots"]) == 48
    assert_agree(grid, slots)
    guest = site(grid, "Guest Speaker")
    for slot in slots["slots"]:
        at = column(grid, dt.datetime.fromisoformat(slot["start"]))
        alone = next(p for p in slot["participants"] if p["person_id"] == sites["guest"]["id"])
        assert guest.cells[at] == alone["category"]
        assert list(guest.facts[at]) == alone["categories"]


def assert_agree(grid: planning.Grid, answer: dict[str, Any]) -> None:
    """Every site row of the grid says what the search answer says of it, cell by cell."""
    rows = [s for c in grid.countries for s in c.sites]
    assert [row.label for row in rows] == [s["label"] for s in answer["sites"]]
    for slot in answer["slots"]:
        at = column(grid, dt.datetime.fromisoformat(slot["start"]))
        for site_row in slot["institutions"]:
            row = rows[site_row["site"]]
            assert row.cells[at] == site_row["categories"][0], (row.label, slot["start"])
            assert list(row.facts[at]) == site_row["categories"], (row.label, slot["start"])
            local = dt.datetime.fromisoformat(site_row["local_start"])
            assert row.local_hours[at] == local.hour


@pytest.mark.parametrize(("window_start", "window_end"), WINDOWS)
def test_each_cell_is_the_reference_category_of_the_sites_worst_member(
    app, grid_for, sites, window_start, window_end
):
    selection = everyone(sites)
    grid = grid_for(**selection, window_start=window_start, window_end=window_end)

    with app.app_context():
        found = planning.people_for_search(None, **selection)
        first, end = grid.hours[0].start, grid.hours[-1].start + HOUR
        table = planning.busy_in_window([p.id for p in found.people], first, end)
        busy = list(
            zip(table.person_ids.tolist(), table.starts.tolist(), table.ends.tolist(), strict=True)
        )
        # The reference reads each person's own busy times.
        participants = [
            replace(p, busy=tuple(sorted((a, b) for who, a, b in busy if who == p.person_id)))
            for p in planning.participants_for(
                found.people, required_ids=found.required_ids, weights={}, site_hours={}
            )
        ]
    options = SearchOptions(duration=HOUR, window_start=first, window_end=end, step_minutes=60)
    for row in (s for c in grid.countries for s in c.sites):
        members = [
            p
            for p in participants
            if p.institution_id == row.institution_id and p.timezone == row.timezone
        ]
        assert len(members) == row.people
        for at, hour in enumerate(grid.hours):
            placed = [reference.place(p, hour.start, options) for p in members]
            mask = mask_of([fact for p in placed for fact in p.categories])
            assert row.facts[at] == facts_of(mask, options.costs), (row.name, hour)
            assert row.cells[at] == category_of(mask, options.costs), (row.name, hour)


ZONES = [
    ("America/Detroit", "US"),
    ("Europe/London", "GB"),
    ("Australia/Sydney", "AU"),
    ("Asia/Shanghai", "CN"),
    ("Pacific/Kiritimati", "KI"),
    ("Pacific/Auckland", "NZ"),
    ("Asia/Kolkata", "IN"),
    ("Asia/Qatar", "QA"),
]


@pytest.mark.parametrize(
    "window_start",
    [utc(2020, 3, 6), utc(2020, 3, 27), utc(2020, 4, 2), utc(2020, 9, 29), utc(2020, 10, 30)],
)
def test_the_engines_hourly_categories_are_the_references(window_start):
    busy = busy_minutes([(window_start + 30 * HOUR, window_start + dt.timedelta(hours=31.5))])
    participants = [
        Participant(
            person_id=index,
            timezone=zone,
            working_hours=parse_hours(WORKING_HOURS),
            acceptable_hours=parse_hours(ACCEPTABLE_HOURS),
            country=country,
            blackouts=((window_start.date() + dt.timedelta(days=3),) * 2,) if index == 1 else (),
            busy=busy if index % 3 == 0 else (),
        )
        for index, (zone, country) in enumerate(ZONES)
    ]
    options = SearchOptions(
        duration=HOUR,
        window_start=window_start,
        window_end=window_start + dt.timedelta(days=7),
        step_minutes=60,
    )

    starts, masks = engine.slot_masks(participants, options)

    assert len(starts) == 168
    seen = set()
    for column_index, minute in enumerate(starts.tolist()):
        start = reference.EPOCH.replace(tzinfo=UTC) + dt.timedelta(minutes=minute)
        for row, participant in enumerate(participants):
            expected = reference.place(participant, start, options).categories
            assert facts_of(int(masks[row, column_index]), options.costs) == expected, (
                participant,
                start,
            )
            seen.update(expected)
    assert {"busy", "blackout", "weekend", "night", "early", "late", "working"} <= seen


def test_a_site_with_people_in_two_zones_has_a_row_per_zone(app, api, grid_for):
    # UCL's Beijing office: on Friday afternoon in London it is Friday night there.
    ucl = make_institution(api, "University College London", "GB", "Europe/London")
    london = make_person(api, "Tom Jones", ucl["id"])
    beijing = make_person(api, "Chen Jie", ucl["id"], timezone="Asia/Shanghai")
    selection = {
        "person_ids": [london["id"], beijing["id"]],
        "window_start": "2020-03-06T00:00:00Z",
        "window_end": "2020-03-07T00:00:00Z",
    }

    grid = grid_for(**selection)

    (country,) = grid.countries
    in_london, in_beijing = country.sites
    assert (in_london.label, in_london.timezone, in_london.people) == (
        "University College London · Europe/London · 1 person",
        "Europe/London",
        1,
    )
    assert in_beijing.label == "University College London · Asia/Shanghai · 1 person"
    assert in_london.name == in_beijing.name == "University College London"
    # Friday 09:00 UTC: 09:00 in London, 17:00 in Beijing: both at work.
    assert in_london.cells[9] == in_beijing.cells[9] == "working"
    # Friday 15:00 UTC: London works, Beijing's 23:00 is night.
    assert (in_london.cells[15], in_beijing.cells[15]) == ("working", "night")
    assert (in_london.local_hours[15], in_beijing.local_hours[15]) == (15, 23)
    # The search explains the same two sites.
    answer = search(api, **selection, duration_minutes=60, step_minutes=60, limit=24)
    assert_agree(grid, answer)


# --- input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"person_ids": [999_999]}, "person_ids.0"),
        ({"person_ids": []}, "person_ids"),
        ({"institution_ids": [999_999]}, "institution_ids.0"),
        ({"optional_person_ids": ["@li"]}, "optional_person_ids.0"),
        ({"timezone": "EST"}, "timezone"),
        ({"window_end": "2020-03-01"}, "window_end"),
        ({"window_end": "2020-07-01"}, "window_end"),
        (
            {"window_start": "2020-03-02T00:10:00Z", "window_end": "2020-03-02T01:09:00Z"},
            "window_end",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(grid_for, sites, fields, field):
    request = {
        "person_ids": [sites["li"]["id"]],
        "window_start": "2020-03-02",
        "window_end": "2020-03-03",
        **fields,
    }
    request = {
        key: [sites["li"]["id"] if v == "@li" else v for v in value]
        if isinstance(value, list)
        else value
        for key, value in request.items()
    }

    with pytest.raises(ValidationFailed) as refused:
        grid_for(**request)

    assert field in refused.value.fields


def test_another_organisers_event_is_not_found(app, make_organiser, grid_for, sites):
    other = make_organiser("other@example.org")
    event = other.post(
        "/api/v1/events", json={"title": "Theirs", "kind": "bilateral", "timezone": "UTC"}
    ).get_json()
    with app.app_context():
        assert db.session.get(Event, event["id"]) is not None

    with pytest.raises(NotFound):
        grid_for(event_id=event["id"], window_start="2020-03-02", window_end="2020-03-03")


def test_the_grid_writes_nothing_and_its_queries_do_not_grow_with_sites(
    app, api, grid_for, sites, row_count
):
    tables = ("institutions", "people", "busy_intervals", "events", "event_participants")
    before = {table: row_count(table) for table in tables}

    def queries(**selection: Any) -> int:
        with recorded_statements(app) as statements:
            grid_for(**selection, window_start="2020-03-02", window_end="2020-03-08")
        return len(statements)

    few = queries(institution_ids=[sites["pku"]["id"]], person_ids=[sites["guest"]["id"]])
    many = queries(**everyone(sites))

    assert few == many
    assert {table: row_count(table) for table in tables} == before


# --- the demo forum ----------------------------------------------------------------------


def test_the_demo_forums_week_agrees_with_the_search_cell_by_cell(app, api, runner):
    assert runner.invoke(args=["forum", "seed-demo"]).exit_code == 0
    with app.app_context():
        organiser = db.session.scalar(
            sa.select(Organiser).where(Organiser.email == "organiser@forum.example.org")
        )
        forum = db.session.scalar(sa.select(Event).where(Event.kind == "forum"))
        grid = planning.planner_grid(
            organiser, event_id=forum.id, window_start="2027-03-15", window_end="2027-03-21"
        )
        assert grid.timezone == "Asia/Shanghai"
        assert grid.site_count() == 41
        assert len(grid.countries) == 18
        assert len(grid.hours) == 7 * 24
        # The week in seven searches of a day each (24 one-hour slots, every one returned).
        for day in range(15, 22):
            answer = planning.search(
                organiser,
                event_id=forum.id,
                window_start=f"2027-03-{day}",
                window_end=f"2027-03-{day}",
                duration_minutes=60,
                step_minutes=60,
                limit=50,
            )
            assert len(answer["slots"]) == 24
            assert_agree(grid, answer)
