"""API v1 tests of the slot search: named cases across zones, DST, weekends and holidays."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from forum.api import schemas
from forum.events.models import Event
from forum.extensions import db
from tests.helpers import MISSING
from tests.helpers import assert_error
from tests.helpers import body_of
from tests.helpers import recorded_statements

SEARCH = "/api/v1/scheduling/search"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def created(response) -> dict[str, Any]:
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def make_institution(api, name: str, country: str, timezone: str, **fields: Any) -> dict:
    body = {"name": name, "country": country, "timezone": timezone, **fields}
    return created(api.post("/api/v1/institutions", json=body))


def make_person(api, name: str, institution_id: int, **fields: Any) -> dict:
    email = name.lower().replace(" ", ".") + "@example.org"
    body = {"name": name, "email": email, "institution_id": institution_id, **fields}
    return created(api.post("/api/v1/people", json=body))


def search(api, **fields: Any) -> dict[str, Any]:
    """The answer of a search that must succeed, checked against its documented schema."""
    defaults = {"duration_minutes": 60, "step_minutes": 30, "explain": "people"}
    response = api.post(SEARCH, json=body_of(defaults, fields))
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    schemas.SearchOut.model_validate(answer)
    return answer


def placement(slot: dict[str, Any], person_id: int) -> dict[str, Any]:
    return next(p for p in slot["participants"] if p["person_id"] == person_id)


def row_of(answer: dict[str, Any], slot: dict[str, Any], institution_id: int) -> dict[str, Any]:
    """An institution's row of a slot (the institution's people share one zone and hours)."""
    sites = answer["sites"]
    (row,) = [
        i for i in slot["institutions"] if sites[i["site"]]["institution_id"] == institution_id
    ]
    return row


def local_weekdays(placed: dict[str, Any]) -> set[str]:
    """The local weekdays a slot touches (one ending at midnight ends the day before)."""
    first = dt.datetime.fromisoformat(placed["local_start"])
    last = dt.datetime.fromisoformat(placed["local_end"]) - dt.timedelta(minutes=1)
    return {WEEKDAYS[first.weekday()], WEEKDAYS[max(first, last).weekday()]}


@pytest.fixture
def sites(api) -> dict[str, Any]:
    """One person at each of Peking, Michigan, Qatar, Auckland and UCLA (five zones)."""
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    umich = make_institution(
        api, "University of Michigan", "US", "America/Detroit", subdivision="MI"
    )
    qu = make_institution(api, "Qatar University", "QA", "Asia/Qatar")
    uoa = make_institution(api, "University of Auckland", "NZ", "Pacific/Auckland")
    ucla = make_institution(
        api, "University of California, Los Angeles", "US", "America/Los_Angeles", subdivision="CA"
    )
    return {
        "pku": pku,
        "umich": umich,
        "qu": qu,
        "uoa": uoa,
        "ucla": ucla,
        "li": make_person(api, "Li Wei", pku["id"]),
        "smith": make_person(api, "Jane Smith", umich["id"]),
        "hamad": make_person(api, "Hamad Al-Kuwari", qu["id"]),
        "aroha": make_person(api, "Aroha Ngata", uoa["id"]),
        "lopez": make_person(api, "Ana Lopez", ucla["id"]),
    }


# --- the named cases ---------------------------------------------------------------------


def test_beijing_hour_stays_while_ann_arbor_moves_across_the_us_change(api, sites):
    # Beijing mornings only, so the best slot sits at the same Beijing hour both weeks.
    people = [sites["li"]["id"], sites["smith"]["id"]]
    week = {
        "person_ids": people,
        "timezone": "Asia/Shanghai",
        "site_hours": {str(sites["pku"]["id"]): [8, 12]},
    }

    before = search(api, **week, window_start="2020-03-02", window_end="2020-03-06")["slots"][0]
    after = search(api, **week, window_start="2020-03-09", window_end="2020-03-13")["slots"][0]

    li_before, li_after = placement(before, people[0]), placement(after, people[0])
    smith_before, smith_after = placement(before, people[1]), placement(after, people[1])
    assert (li_before["local_start"], li_after["local_start"]) == (
        "2020-03-03T09:00:00",
        "2020-03-10T09:00:00",
    )
    assert li_before["weekday"] == li_after["weekday"] == "Tue"
    assert li_before["category"] == li_after["category"] == "working"
    # Michigan moved its clocks on 8 March: the same Beijing hour is an hour later there.
    assert (smith_before["local_start"], smith_after["local_start"]) == (
        "2020-03-02T20:00:00",
        "2020-03-09T21:00:00",
    )
    assert smith_before["weekday"] == smith_after["weekday"] == "Mon"
    assert smith_before["category"] == smith_after["category"] == "late"
    assert (before["start"], after["start"]) == ("2020-03-03T01:00:00Z", "2020-03-10T01:00:00Z")
    assert before["feasible"] and after["feasible"]
    assert (before["worst_cost"], before["total_cost"]) == (2, 2)


def test_qatar_and_beijing_skip_their_own_weekends(api, sites):
    people = [sites["hamad"]["id"], sites["li"]["id"]]
    window = {"window_start": "2020-03-05", "window_end": "2020-03-08", "timezone": "Asia/Qatar"}

    kept = search(api, person_ids=people, skip_weekends=False, limit=50, **window)["slots"]
    skipped = search(api, person_ids=people, skip_weekends=True, limit=40, **window)["slots"]

    # Without the option a Doha Friday is only a cost, and cheaper than a night.
    assert any(placement(slot, people[0])["weekday"] == "Fri" for slot in kept)
    assert len(skipped) == 40
    for slot in skipped:
        doha, beijing = placement(slot, people[0]), placement(slot, people[1])
        assert slot["feasible"], slot
        assert doha["category"] != "weekend" and beijing["category"] != "weekend"
        assert not local_weekdays(doha) & {"Fri", "Sat"}, doha
        assert not local_weekdays(beijing) & {"Sat", "Sun"}, beijing


def test_chinas_national_day_week_is_skipped_for_a_required_beijing_participant(api, sites):
    li = sites["li"]["id"]
    window = {"window_start": "2020-10-01", "window_end": "2020-10-09", "timezone": "Asia/Shanghai"}

    # Sunday 4 October is a weekend to the holidays package, not a holiday: skip both.
    slots = search(
        api, person_ids=[li], skip_holidays=True, skip_weekends=True, limit=40, **window
    )["slots"]

    assert len(slots) == 40
    for slot in slots:
        beijing = placement(slot, li)
        assert beijing["local_start"].startswith("2020-10-09"), beijing
        assert slot["feasible"] and beijing["available"]


def test_inside_the_holiday_week_every_slot_is_a_holiday(api, sites):
    li = sites["li"]["id"]
    window = {"window_start": "2020-10-05", "window_end": "2020-10-07", "timezone": "Asia/Shanghai"}

    slots = search(api, person_ids=[li], skip_holidays=True, **window)["slots"]

    assert slots
    for slot in slots:
        beijing = placement(slot, li)
        assert (beijing["category"], beijing["available"]) == ("holiday", False)
        assert not slot["feasible"]
        assert slot["required_available"] == 0 and slot["required_total"] == 1
        assert "public holiday for Peking University" in slot["summary"]


def test_holidays_are_soft_but_still_reported_when_not_skipped(api, sites):
    li = sites["li"]["id"]
    week = {"window_start": "2020-10-01", "window_end": "2020-10-09", "timezone": "Asia/Shanghai"}
    day = {"window_start": "2020-10-01", "window_end": "2020-10-01", "timezone": "Asia/Shanghai"}

    # A holiday costs: the working Friday after the Golden Week comes first.
    best = placement(search(api, person_ids=[li], skip_holidays=False, **week)["slots"][0], li)
    assert (best["local_start"], best["weekday"], best["categories"]) == (
        "2020-10-09T09:00:00",
        "Fri",
        ["working"],
    )
    # On National Day itself every slot says so, and can still be booked.
    slots = search(api, person_ids=[li], skip_holidays=False, **day)["slots"]
    first = placement(slots[0], li)
    assert (first["local_start"], first["categories"], first["cost"]) == (
        "2020-10-01T09:00:00",
        ["holiday"],
        6,
    )
    for slot in slots:
        beijing = placement(slot, li)
        assert beijing["category"] == "holiday" and beijing["available"] and slot["feasible"]
        assert "public holiday for Peking University" in slot["summary"]


def test_auckland_is_already_on_the_next_day(api, sites):
    lopez, aroha = sites["lopez"]["id"], sites["aroha"]["id"]

    answer = search(
        api,
        person_ids=[lopez, aroha],
        window_start="2020-03-02",
        window_end="2020-03-02",
        timezone="America/Los_Angeles",
    )

    # The organiser's Monday runs from 08:00Z Monday to 08:00Z Tuesday.
    assert (answer["window_start"], answer["window_end"]) == (
        "2020-03-02T08:00:00Z",
        "2020-03-03T08:00:00Z",
    )
    best = answer["slots"][0]
    la, auckland = placement(best, lopez), placement(best, aroha)
    assert (la["local_start"], la["weekday"]) == ("2020-03-02T12:00:00", "Mon")
    assert (auckland["local_start"], auckland["weekday"]) == ("2020-03-03T09:00:00", "Tue")
    assert la["category"] == auckland["category"] == "working"
    assert best["start"] == "2020-03-02T20:00:00Z"
    uoa = row_of(answer, best, sites["uoa"]["id"])
    assert (uoa["local_start"], uoa["local_end"], uoa["weekday"]) == (
        "2020-03-03T09:00:00",
        "2020-03-03T10:00:00",
        "Tue",
    )


def test_a_busy_optional_person_costs_less_than_a_busy_required_one(api, sites):
    li = sites["li"]
    zhang = make_person(api, "Zhang Min", sites["pku"]["id"])
    # Tuesday 10 March 2020 in Beijing (UTC+8): Li busy 09:00-10:00, Zhang 10:00-11:00.
    api.put(
        f"/api/v1/people/{li['id']}/availability",
        json={"busy": [{"start": "2020-03-10T01:00:00Z", "end": "2020-03-10T02:00:00Z"}]},
    )
    api.put(
        f"/api/v1/people/{zhang['id']}/availability",
        json={"busy": [{"start": "2020-03-10T02:00:00Z", "end": "2020-03-10T03:00:00Z"}]},
    )

    first, second = search(
        api,
        person_ids=[li["id"]],
        optional_person_ids=[zhang["id"]],
        window_start="2020-03-10T09:00:00+08:00",
        window_end="2020-03-10T11:00:00+08:00",
        step_minutes=60,
    )["slots"]

    # Both slots cost one busy person; only the required one makes a slot infeasible.
    assert first["total_cost"] == second["total_cost"] == 20
    assert first["start"] == "2020-03-10T02:00:00Z"
    assert (first["feasible"], first["required_available"], first["worst_cost"]) == (True, 1, 0)
    busy_zhang = placement(first, zhang["id"])
    assert (busy_zhang["category"], busy_zhang["available"], busy_zhang["required"]) == (
        "busy",
        False,
        False,
    )
    assert second["start"] == "2020-03-10T01:00:00Z"
    assert (second["feasible"], second["required_available"], second["worst_cost"]) == (
        False,
        0,
        20,
    )
    busy_li = placement(second, li["id"])
    assert (busy_li["category"], busy_li["available"], busy_li["required"]) == (
        "busy",
        False,
        True,
    )
    assert "someone busy at Peking University (Tue 09:00)" in second["summary"]


def test_explanations_agree_with_each_other(api, sites):
    make_person(api, "Zhang Min", sites["pku"]["id"])
    tsinghua = make_institution(api, "Tsinghua University", "CN", "Asia/Shanghai")
    make_person(api, "Sun Guoqiang", tsinghua["id"])
    institution_ids = [sites[key]["id"] for key in ("pku", "umich", "qu", "uoa", "ucla")] + [
        tsinghua["id"]
    ]

    answer = search(
        api,
        institution_ids=institution_ids,
        window_start="2020-03-02",
        window_end="2020-03-06",
        timezone="Asia/Shanghai",
        limit=5,
    )

    assert (answer["timezone"], answer["step_minutes"], answer["duration_minutes"]) == (
        "Asia/Shanghai",
        30,
        60,
    )
    assert len(answer["slots"]) == 5
    keys = [
        (-s["required_available"], s["worst_cost"], s["total_cost"], s["start"])
        for s in answer["slots"]
    ]
    assert keys == sorted(keys)
    for slot in answer["slots"]:
        people = slot["participants"]
        assert len(people) == 7
        assert all(p["required"] for p in people)
        assert slot["required_total"] == 7
        assert slot["required_available"] == sum(p["available"] for p in people)
        assert slot["feasible"] == (slot["required_available"] == 7)
        assert slot["worst_cost"] == max(p["cost"] for p in people)
        assert slot["total_cost"] == sum(p["cost"] for p in people)
        assert [(p["country"], p["name"]) for p in people][:3] == [
            ("CN", "Li Wei"),
            ("CN", "Zhang Min"),
            ("CN", "Sun Guoqiang"),
        ]
        assert [p["country"] for p in people] == sorted(p["country"] for p in people)

        institutions = slot["institutions"]
        assert len(institutions) == 6
        assert sum(answer["sites"][i["site"]]["people"] for i in institutions) == 7
        for row in institutions:
            members = [p for p in people if p["site"] == row["site"]]
            assert {p["institution_id"] for p in members} == {
                answer["sites"][row["site"]]["institution_id"]
            }
            assert row["worst_cost"] == max(p["cost"] for p in members)
            assert row["categories"][0] in {p["category"] for p in members}
            assert set(row["categories"]) == {c for p in members for c in p["categories"]}
        # Rows follow the answer's sites: by country name, then institution.
        assert [row["site"] for row in institutions] == list(range(6))
        labels = [(answer["sites"][i]["country"], answer["sites"][i]["label"]) for i in range(6)]
        assert labels[:2] == [("CN", "Peking University"), ("CN", "Tsinghua University")]

        countries = {c["country"]: c for c in slot["countries"]}
        assert set(countries) == {"CN", "US", "QA", "NZ"}
        named = {c["country"]: c for c in answer["countries"]}
        assert (named["CN"]["institutions"], named["CN"]["people"]) == (2, 3)
        assert (named["US"]["name"], named["QA"]["name"]) == ("United States", "Qatar")
        for code, country in countries.items():
            rows = [i for i in institutions if answer["sites"][i["site"]]["country"] == code]
            assert country["worst_cost"] == max(i["worst_cost"] for i in rows)
        working = sum(1 for i in institutions if i["categories"] == ["working"])
        assert slot["summary"].startswith(f"Working hours for {working} of 6 sites")
        for row in institutions:
            if row["categories"] != ["working"]:
                label = answer["sites"][row["site"]]["label"]
                assert label in slot["summary"] or "more" in slot["summary"]
        worst = max(row["worst_cost"] for row in institutions)
        assert (
            slot["worst_off"]
            == [row["site"] for row in institutions if row["worst_cost"] == worst and worst > 0][:5]
        )


def test_someone_without_an_institution_is_explained_on_their_own(api, sites):
    guest = created(
        api.post(
            "/api/v1/people",
            json={"name": "Guest Speaker", "email": "guest@example.org", "timezone": "Europe/Rome"},
        )
    )

    answer = search(
        api,
        person_ids=[sites["li"]["id"], guest["id"]],
        window_start="2020-03-02",
        window_end="2020-03-06",
        timezone="Asia/Shanghai",
    )
    slot = answer["slots"][0]

    alone = placement(slot, guest["id"])
    assert (alone["institution_id"], alone["country"], alone["timezone"]) == (
        None,
        None,
        "Europe/Rome",
    )
    assert [(site["label"], site["country"]) for site in answer["sites"]] == [
        ("Peking University", "CN"),
        ("Guest Speaker", None),
    ]
    assert [row["site"] for row in slot["institutions"]] == [0, 1]
    assert answer["sites"][0]["institution_id"] == sites["pku"]["id"]
    assert answer["sites"][1]["person_id"] == guest["id"]
    assert [row["country"] for row in slot["countries"]] == ["CN"]
    # Beijing 16:00 is Rome 09:00: both at work, counted as two sites.
    assert (alone["local_start"], alone["category"]) == ("2020-03-02T09:00:00", "working")
    assert slot["summary"] == "Working hours for all 2 sites."


def test_event_participants_come_with_their_required_flag(api, sites):
    event = created(api.post("/api/v1/events", json={"title": "Call", "kind": "bilateral"}))
    path = f"/api/v1/events/{event['id']}/participants"
    api.post(path, json={"person_id": sites["li"]["id"], "required": True})
    api.post(path, json={"person_id": sites["smith"]["id"], "required": False})

    answer = search(api, event_id=event["id"], window_start="2020-03-02", window_end="2020-03-03")

    # The event's home zone is the organiser's (Asia/Shanghai): the dates are read there.
    assert answer["timezone"] == "Asia/Shanghai"
    assert answer["window_start"] == "2020-03-01T16:00:00Z"
    slot = answer["slots"][0]
    assert placement(slot, sites["li"]["id"])["required"] is True
    assert placement(slot, sites["smith"]["id"])["required"] is False
    assert slot["required_total"] == 1

    # optional_person_ids makes an event's required participant optional for this search;
    # person_ids adds someone required.
    answer = search(
        api,
        event_id=event["id"],
        optional_person_ids=[sites["li"]["id"]],
        person_ids=[sites["hamad"]["id"]],
        window_start="2020-03-02",
        window_end="2020-03-03",
        timezone="UTC",
    )
    slot = answer["slots"][0]
    assert {p["person_id"]: p["required"] for p in slot["participants"]} == {
        sites["li"]["id"]: False,
        sites["smith"]["id"]: False,
        sites["hamad"]["id"]: True,
    }
    assert answer["window_start"] == "2020-03-02T00:00:00Z"


def test_weights_multiply_a_persons_cost(api, sites):
    li, smith = sites["li"]["id"], sites["smith"]["id"]
    window = {"window_start": "2020-03-03", "window_end": "2020-03-03", "timezone": "UTC"}

    plain = search(api, person_ids=[li, smith], **window)["slots"][0]
    answer = search(api, person_ids=[li, smith], weights={str(smith): 3}, **window)
    weighted = answer["slots"][0]

    # Beijing at 09:00 on Tuesday is Monday 20:00 in Ann Arbor: late, costing 2 (or 3 x 2).
    assert plain["start"] == weighted["start"] == "2020-03-03T01:00:00Z"
    assert placement(plain, smith)["category"] == placement(weighted, smith)["category"] == "late"
    assert (placement(plain, smith)["cost"], placement(weighted, smith)["cost"]) == (2, 6)
    assert (plain["worst_cost"], plain["total_cost"]) == (2, 2)
    assert (weighted["worst_cost"], weighted["total_cost"]) == (6, 6)
    assert row_of(answer, weighted, sites["umich"]["id"])["worst_cost"] == 6


def test_a_missing_local_midnight_does_not_crash(api, sites):
    # Havana moved its clocks from 00:00 to 01:00 on 8 March 2020 and back from 01:00 to
    # 00:00 on 1 November: one midnight never happened, another happened twice.
    answer = search(
        api,
        person_ids=[sites["lopez"]["id"]],
        window_start="2020-03-08",
        window_end="2020-03-08",
        timezone="America/Havana",
    )
    assert answer["window_start"] == "2020-03-08T05:00:00Z"  # 01:00 CDT, the day's first
    assert answer["window_end"] == "2020-03-09T04:00:00Z"

    answer = search(
        api,
        person_ids=[sites["lopez"]["id"]],
        window_start="2020-10-31",
        window_end="2020-10-31",
        timezone="America/Havana",
    )
    assert answer["window_end"] == "2020-11-01T04:00:00Z"  # the first of the two midnights


def test_a_search_writes_nothing_and_its_queries_do_not_grow_with_people(
    app, api, sites, row_count
):
    tables = ("institutions", "people", "busy_intervals", "events", "event_participants")
    before = {table: row_count(table) for table in tables}
    few = [sites["li"]["id"], sites["smith"]["id"]]
    many = [make_person(api, f"Person {n}", sites["qu"]["id"])["id"] for n in range(12)]
    for person_id in many[:6]:
        api.put(
            f"/api/v1/people/{person_id}/availability",
            json={"busy": [{"start": "2020-03-03T06:00:00Z", "end": "2020-03-03T07:00:00Z"}]},
        )
    before = {table: row_count(table) for table in tables}

    def queries(person_ids: list[int]) -> int:
        with recorded_statements(app) as statements:
            search(
                api,
                person_ids=person_ids,
                institution_ids=[sites["uoa"]["id"]],
                window_start="2020-03-02",
                window_end="2020-03-06",
            )
        return len(statements)

    assert queries(few) == queries(few + many)
    assert {table: row_count(table) for table in tables} == before


DEMO_WEEK = {"window_start": "2027-03-15", "window_end": "2027-03-21"}


@pytest.fixture
def demo_forum(runner, client) -> tuple[dict[str, str], int]:
    """The demo data's 40-university forum: the API headers and the event's id."""
    result = runner.invoke(args=["forum", "seed-demo"])
    assert result.exit_code == 0, result.output
    token = runner.invoke(args=["forum", "create-token", "organiser@forum.example.org"])
    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
    events = client.get("/api/v1/events?per_page=50", headers=headers).get_json()["items"]
    return headers, next(e for e in events if e["kind"] == "forum")["id"]


@pytest.mark.parametrize("duration", [60, 120])
def test_the_demo_forums_best_slots_fall_on_a_working_day_at_every_site(
    client, demo_forum, duration
):
    headers, event_id = demo_forum
    body = {"event_id": event_id, "duration_minutes": duration, **DEMO_WEEK}

    response = client.post(SEARCH, json=body, headers=headers)

    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    schemas.SearchOut.model_validate(answer)
    assert answer["timezone"] == "Asia/Shanghai"
    assert len(answer["slots"]) == 10
    sites = answer["sites"]
    # Columbia University's Beijing office is a site of its own.
    assert len(sites) == 41 and len({s["institution_id"] for s in sites}) == 40
    assert [s["label"] for s in sites if s["name"] == "Columbia University"] == [
        "Columbia University · America/New_York · 1 person",
        "Columbia University · Asia/Shanghai · 1 person",
    ]
    assert sum(s["people"] for s in sites) == 81
    for slot in answer["slots"][:5]:
        assert "participants" not in slot
        assert len(slot["institutions"]) == 41
        assert len(slot["countries"]) == 18
        assert slot["required_total"] == 41
        assert "of 41 sites" in slot["summary"]
        # Nobody pays with a weekend: a night on a working day costs less than a weekend
        # night, and the worst-off are named.
        for row in slot["institutions"]:
            assert "weekend" not in row["categories"], (slot["start"], sites[row["site"]], row)
        assert slot["worst_off"]
        worst = {row["worst_cost"] for row in slot["institutions"]}
        assert max(worst) == slot["worst_cost"]


def test_the_demo_forum_with_every_participant_explained(client, demo_forum):
    headers, event_id = demo_forum
    body = {"event_id": event_id, "duration_minutes": 60, **DEMO_WEEK, "explain": "people"}

    answer = client.post(SEARCH, json=body, headers=headers).get_json()

    schemas.SearchOut.model_validate(answer)
    for slot in answer["slots"]:
        people = slot["participants"]
        assert len(people) == 81
        for row in slot["institutions"]:
            members = [p for p in people if p["site"] == row["site"]]
            assert len(members) == answer["sites"][row["site"]]["people"]
            assert row["worst_cost"] == max(p["cost"] for p in members)
            facts = {fact for p in members for fact in p["categories"] if fact != "working"}
            assert set(row["categories"]) - {"working"} == facts


def test_explain_none_gives_the_scores_alone(client, demo_forum):
    headers, event_id = demo_forum
    body = {"event_id": event_id, "duration_minutes": 60, **DEMO_WEEK}

    plain = client.post(SEARCH, json={**body, "explain": "none"}, headers=headers).get_json()
    explained = client.post(SEARCH, json=body, headers=headers).get_json()

    assert set(plain["slots"][0]) == {
        "start",
        "end",
        "required_available",
        "required_total",
        "feasible",
        "worst_cost",
        "total_cost",
    }
    assert "sites" not in plain
    scores = [{key: slot[key] for key in plain["slots"][0]} for slot in explained["slots"]]
    assert scores == plain["slots"]


# --- refused input -----------------------------------------------------------------------


VALID = {
    "person_ids": ["@li"],
    "duration_minutes": 60,
    "window_start": "2020-03-02",
    "window_end": "2020-03-06",
}


def with_ids(value: Any, ids: dict[str, int]) -> Any:
    """``value`` with "@li"-style names replaced by those rows' ids (as text in keys)."""
    if isinstance(value, dict):
        return {
            (str(ids[key[1:]]) if key.startswith("@") else key): with_ids(item, ids)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [with_ids(item, ids) for item in value]
    if isinstance(value, str) and value.startswith("@"):
        return ids[value[1:]]
    return value


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"person_ids": [999999]}, "person_ids.0"),
        ({"person_ids": ["@li", "@smith", 999999]}, "person_ids.2"),
        ({"optional_person_ids": [999999]}, "optional_person_ids.0"),
        ({"optional_person_ids": ["@smith", "@li"]}, "optional_person_ids.1"),
        ({"institution_ids": ["@pku", 999999]}, "institution_ids.1"),
        ({"institution_ids": ["@empty"]}, "institution_ids.0"),
        ({"person_ids": [0]}, "person_ids.0"),
        ({"person_ids": "@li"}, "person_ids"),
        ({"person_ids": list(range(1, 2002))}, "person_ids"),
        ({"person_ids": []}, "person_ids"),
        ({"person_ids": None}, "person_ids"),
        ({"event_id": 0}, "event_id"),
        ({"duration_minutes": MISSING}, "duration_minutes"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 1441}, "duration_minutes"),
        ({"duration_minutes": 60.5}, "duration_minutes"),
        ({"duration_minutes": "60"}, "duration_minutes"),
        ({"window_start": MISSING}, "window_start"),
        ({"window_start": "2020-02-30"}, "window_start"),
        ({"window_start": "next monday"}, "window_start"),
        ({"window_start": "2020-03-02T09:00"}, "window_start"),
        ({"window_start": "0001-01-01"}, "window_start"),
        ({"window_start": 20200302}, "window_start"),
        ({"window_end": MISSING}, "window_end"),
        ({"window_end": "2020-03-01"}, "window_end"),
        ({"window_end": "2020-03-01T23:00:00Z", "timezone": "UTC"}, "window_end"),
        ({"window_end": "2020-06-01"}, "window_end"),
        (
            {"window_start": "2020-03-02T00:00:00Z", "window_end": "2020-03-02T00:30:00Z"},
            "window_end",
        ),
        ({"timezone": "EST"}, "timezone"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"step_minutes": 20}, "step_minutes"),
        ({"step_minutes": 0}, "step_minutes"),
        ({"step_minutes": 30.0}, "step_minutes"),
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"skip_weekends": "yes"}, "skip_weekends"),
        ({"skip_holidays": None}, "skip_holidays"),
        ({"weights": {"@li": 11}}, "weights.{li}"),
        ({"weights": {"@li": 0}}, "weights.{li}"),
        ({"weights": {"@smith": 3}}, "weights.{smith}"),
        ({"weights": {"x": 3}}, "weights.x.[key]"),
        ({"site_hours": {"@pku": [20, 8]}}, "site_hours.{pku}"),
        ({"site_hours": {"@pku": [8, 25]}}, "site_hours.{pku}.1"),
        ({"site_hours": {"@pku": [8]}}, "site_hours.{pku}"),
        ({"site_hours": {"@umich": [8, 20]}}, "site_hours.{umich}"),
        ({"organiser_id": 1}, "organiser_id"),
        ({"costs": {"lunch": 3}}, "costs.lunch"),
        ({"costs": {"night": -1}}, "costs.night"),
        ({"costs": {"night": 1001}}, "costs.night"),
        ({"costs": {"night": "8"}}, "costs.night"),
        ({"costs": {"night": 2.5}}, "costs.night"),
        ({"costs": [8]}, "costs"),
        ({"explain": "everything"}, "explain"),
        ({"explain": None}, "explain"),
    ],
)
def test_search_refuses_bad_input(api, sites, row_count, changes, field):
    empty = make_institution(api, "Institute Without People", "CN", "Asia/Shanghai")
    ids = {key: row["id"] for key, row in sites.items()} | {"empty": empty["id"]}

    response = api.post(SEARCH, json=with_ids(body_of(VALID, changes), ids))

    assert_error(response, 422, "validation_error", field.format(**ids))


def test_an_unknown_cost_is_named_with_the_costs_there_are(api, sites):
    body = with_ids(body_of(VALID, {"costs": {"lunch": 3, "night": 10}}), {"li": sites["li"]["id"]})

    response = api.post(SEARCH, json=body)

    assert_error(response, 422, "validation_error", "costs.lunch")
    message = response.get_json()["error"]["details"]["fields"]["costs.lunch"]
    assert message == (
        "unknown; the costs are working, early, late, night, weekend, holiday, blackout, busy"
    )


def test_costs_given_per_search_change_the_ranking(api, sites):
    smith, li = sites["smith"]["id"], sites["li"]["id"]
    window = {"window_start": "2020-03-02", "window_end": "2020-03-06", "timezone": "UTC"}

    plain = search(api, person_ids=[li, smith], **window)
    # An organiser who does not mind evenings in Ann Arbor: they cost nothing, and are
    # still reported as late.
    evenings = search(api, person_ids=[li, smith], costs={"late": 0, "early": 5}, **window)

    assert evenings["costs"] == {**plain["costs"], "late": 0, "early": 5}
    assert plain["slots"][0]["worst_cost"] == 2
    best = evenings["slots"][0]
    assert (best["worst_cost"], best["total_cost"]) == (0, 0)
    assert placement(best, smith)["categories"] == ["late"]
    assert placement(best, smith)["cost"] == 0
    assert placement(best, li)["categories"] == ["working"]


def test_an_unknown_event_is_not_found(api, sites):
    response = api.post(SEARCH, json=with_ids(body_of(VALID, {"event_id": 999999}), {"li": 1}))

    assert_error(response, 404, "not_found")


def test_search_needs_a_token(client):
    response = client.post(SEARCH, json=VALID)

    assert_error(response, 401, "unauthorized")


def test_another_organisers_event_is_not_found(api, make_organiser, sites):
    other = make_organiser("other@example.org", name="Otto Other", timezone="Europe/London")
    event = created(other.post("/api/v1/events", json={"title": "Theirs", "kind": "bilateral"}))
    other.post(f"/api/v1/events/{event['id']}/participants", json={"person_id": sites["li"]["id"]})

    response = api.post(SEARCH, json=body_of(VALID, {"person_ids": [], "event_id": event["id"]}))

    assert_error(response, 404, "not_found")
    assert (
        other.post(
            SEARCH, json=body_of(VALID, {"person_ids": [], "event_id": event["id"]})
        ).status_code
        == 200
    )


def test_the_search_is_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()

    operation = document["paths"]["/api/v1/scheduling/search"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SearchRequest"
    }
    request = document["components"]["schemas"]["SearchRequest"]
    assert {"person_ids", "window_start", "window_end", "step_minutes"} <= set(
        request["properties"]
    )
    assert request["properties"]["step_minutes"]["enum"] == [5, 10, 15, 30, 60]


# --- the same search from the command line -----------------------------------------------


def test_find_slots_prints_a_table_per_slot(runner, api, sites):
    result = runner.invoke(
        args=[
            "forum",
            "find-slots",
            "--people",
            f"{sites['li']['id']},{sites['smith']['id']}",
            "--duration",
            "60",
            "--from",
            "2020-03-09",
            "--to",
            "2020-03-13",
            "--timezone",
            "Asia/Shanghai",
            "--limit",
            "2",
        ]
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Best 2 slots of 60 minutes from 2020-03-08T16:00:00Z")
    assert "#1  2020-03-09T13:00:00Z  required available 2/2  worst cost 2  total cost 2" in lines
    assert any(
        "Peking University" in line
        and "CN" in line
        and "Mon 2020-03-09 21:00-22:00" in line
        and line.endswith("late")
        for line in lines
    )
    assert any(
        "University of Michigan" in line and "Mon 2020-03-09 09:00-10:00" in line for line in lines
    )
    assert sum(line.startswith("#") for line in lines) == 2


def test_find_slots_reports_errors_as_messages(runner, sites):
    unknown = runner.invoke(
        args=[
            "forum",
            "find-slots",
            "--people",
            "999999",
            "--duration",
            "60",
            "--from",
            "2020-03-09",
            "--to",
            "2020-03-13",
        ]
    )
    assert unknown.exit_code != 0
    assert "person_ids.0: no person with id 999999" in unknown.output

    backwards = runner.invoke(
        args=[
            "forum",
            "find-slots",
            "--people",
            str(sites["li"]["id"]),
            "--duration",
            "60",
            "--from",
            "2020-03-09",
            "--to",
            "2020-03-01",
        ]
    )
    assert backwards.exit_code != 0
    assert "window_end" in backwards.output

    bad_date = runner.invoke(
        args=[
            "forum",
            "find-slots",
            "--people",
            "1",
            "--duration",
            "60",
            "--from",
            "soon",
            "--to",
            "2020-03-01",
        ]
    )
    assert bad_date.exit_code != 0
    assert "--from" in bad_date.output


def test_find_slots_for_the_demo_forum_lists_every_institution(app, runner):
    assert runner.invoke(args=["forum", "seed-demo"]).exit_code == 0
    with app.app_context():
        event_id = db.session.scalar(sa.select(Event.id).where(Event.kind == "forum"))

    result = runner.invoke(
        args=[
            "forum",
            "find-slots",
            "--event",
            str(event_id),
            "--duration",
            "120",
            "--from",
            "2027-03-15",
            "--to",
            "2027-03-21",
            "--limit",
            "1",
            "--organiser",
            "organiser@forum.example.org",
        ]
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "(dates in Asia/Shanghai, every 30 minutes)" in lines[0]
    assert lines[2].startswith("#1  2027-03-") and "required available 41/41" in lines[2]
    assert "of 41 sites" in lines[3]
    assert len(lines) == 4 + 41
    assert any(line.strip().startswith("University of Michigan") for line in lines[4:])
    assert any(
        line.strip().startswith("Columbia University · Asia/Shanghai · 1 person")
        for line in lines[4:]
    )


def test_find_slots_refuses_an_organiser_who_cannot_see_the_event(app, runner):
    assert runner.invoke(args=["forum", "seed-demo"]).exit_code == 0
    assert runner.invoke(args=["forum", "create-organiser", "ada@example.org"]).exit_code == 0
    with app.app_context():
        event_id = db.session.scalar(sa.select(Event.id).where(Event.kind == "forum"))

    result = runner.invoke(
        args=[
            "forum",
            "find-slots",
            "--event",
            str(event_id),
            "--duration",
            "60",
            "--from",
            "2027-03-15",
            "--to",
            "2027-03-16",
            "--organiser",
            "ada@example.org",
        ]
    )

    assert result.exit_code != 0
    assert f"no event with id {event_id}" in result.output
