"""API v1: fair rotation of a series and the DST preview, on the demo forum and exchange."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from tests.helpers import assert_error

ROTATION = "/api/v1/scheduling/rotation"
DST_PREVIEW = "/api/v1/scheduling/dst-preview"


@pytest.fixture
def demo(runner, client):
    """The demo data, and an API client for its organiser."""
    assert runner.invoke(args=["forum", "seed-demo"]).exit_code == 0
    token = runner.invoke(args=["forum", "create-token", "organiser@forum.example.org"])
    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}

    def call(path: str, body: dict | None = None):
        if body is None:
            return client.get(path, headers=headers)
        return client.post(path, json=body, headers=headers)

    events = call("/api/v1/events").get_json()["items"]
    return call, {event["kind"]: event for event in events}


def test_the_forum_rotation_shares_the_night_sessions(demo):
    call, events = demo
    response = call(
        ROTATION,
        {
            "event_id": events["forum"]["id"],
            "duration_minutes": 120,
            "first_date": "2027-03-16",
            "occurrences": 6,
        },
    )
    assert response.status_code == 200, response.get_json()
    plan = response.get_json()
    assert plan["timezone"] == "Asia/Shanghai"
    assert [o["local_start"][:10] for o in plan["occurrences"]] == [
        (dt.date(2027, 3, 16) + dt.timedelta(weeks=k)).isoformat() for k in range(6)
    ]
    assert len(plan["sites"]) == 40

    # No single time of day suits 40 universities on every continent...
    fixed = plan["fixed"]
    assert fixed is not None and fixed["max_burden"] > 0
    # ...so the rotation lowers what the most burdened institution carries,
    assert plan["max_burden"] < fixed["max_burden"]
    # and nobody has most of the meetings at night (a night costs the same on any day,
    # weekend nights more: Sydney's 22:00 to midnight is a night).
    nights = Counter(
        site["site"]
        for occurrence in plan["occurrences"]
        for site in occurrence["sites"]
        if "night" in site["categories"]
    )
    assert max(nights.values()) <= 4
    assert {site["nights"] for site in plan["sites"]} <= set(range(5))
    regions = {site["country"] for site in plan["sites"] if site["nights"]}
    assert len(regions) >= 3, "the night meetings are spread over several countries"
    for site in plan["sites"]:
        assert site["total"] == sum(site["per_occurrence"])


def test_the_exchange_moves_an_hour_in_ann_arbor_only(demo):
    call, events = demo
    response = call(
        DST_PREVIEW,
        {
            "event_id": events["exchange"]["id"],
            "local_start": "2027-02-24T21:00",
            "timezone": "Asia/Shanghai",
            "duration_minutes": 90,
            "rrule": "FREQ=WEEKLY;COUNT=6",
        },
    )
    assert response.status_code == 200, response.get_json()
    sites = {site["name"]: site for site in response.get_json()["sites"]}
    michigan = next(site for name, site in sites.items() if "Michigan" in name)
    assert michigan["timezone"] == "America/Detroit"
    assert michigan["first_local_start"] == "2027-02-24T08:00:00"
    # The US moves its clocks on 14 March 2027: from the 17th the call is at 09:00.
    assert [c["local_start"] for c in michigan["changes"]] == [
        "2027-03-17T09:00:00",
        "2027-03-24T09:00:00",
        "2027-03-31T09:00:00",
    ]
    assert {c["shift_minutes"] for c in michigan["changes"]} == {60}
    assert all(c["anchor_local_start"].endswith("T21:00:00") for c in michigan["changes"])
    # One stretch, and the day the clocks changed in Ann Arbor.
    (stretch,) = michigan["stretches"]
    assert (stretch["occurrences"], stretch["shift_minutes"]) == (3, 60)
    assert stretch["first"]["local_start"] == "2027-03-17T09:00:00"
    assert stretch["clock_changes"] == [
        {
            "zone": "America/Detroit",
            "whose": "site",
            "at": "2027-03-14T07:00:00Z",
            "local_before": "2027-03-14T02:00:00",
            "local_after": "2027-03-14T03:00:00",
            "weekday": "Sun",
            "minutes": 60,
        }
    ]
    assert stretch["ended_by"] == []
    for name, site in sites.items():
        if site["timezone"] == "Asia/Shanghai":
            assert site["changes"] == [], name


@pytest.mark.parametrize(
    ("path", "change", "code", "field"),
    [
        (ROTATION, {"occurrences": 0}, "validation_error", "occurrences"),
        (ROTATION, {"occurrences": 53}, "validation_error", "occurrences"),
        (ROTATION, {"first_date": "16/03/2027"}, "validation_error", "first_date"),
        (ROTATION, {"step_minutes": 20}, "validation_error", "step_minutes"),
        (ROTATION, {"duration_minutes": 1441}, "validation_error", "duration_minutes"),
        (ROTATION, {"timezone": "EST"}, "validation_error", "timezone"),
        (ROTATION, {"person_ids": [999999]}, "validation_error", "person_ids.0"),
        (
            DST_PREVIEW,
            {"local_start": "2027-03-14T02:30", "timezone": "America/Detroit"},
            "nonexistent_local_time",
            "local_start",
        ),
        (DST_PREVIEW, {"rrule": "FREQ=SOMETIMES"}, "validation_error", "rrule"),
        (DST_PREVIEW, {"timezone": "Mars/Olympus"}, "validation_error", "timezone"),
    ],
)
def test_bad_requests_name_the_field(demo, path, change, code, field):
    call, events = demo
    body = {"event_id": events["exchange"]["id"]}
    if path == ROTATION:
        body |= {"duration_minutes": 60, "first_date": "2027-03-02", "occurrences": 4}
    else:
        body |= {
            "local_start": "2027-02-24T21:00",
            "timezone": "Asia/Shanghai",
            "rrule": "FREQ=WEEKLY;COUNT=6",
        }
    body |= change
    assert_error(call(path, body), 422, code, field)


def test_another_organisers_event_is_not_found(demo, make_organiser):
    _, events = demo
    stranger = make_organiser("stranger@example.org")
    response = stranger.post(
        ROTATION,
        json={
            "event_id": events["forum"]["id"],
            "duration_minutes": 60,
            "first_date": "2027-03-02",
            "occurrences": 2,
        },
    )
    assert_error(response, 404, "not_found")
