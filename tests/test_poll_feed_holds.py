"""Open polls' candidate times in the personal feed as TENTATIVE holds (a setting, off by
default): shown while the poll is open, gone once a time is chosen, which comes as the
session itself; every client reads the feed alike."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from icalendar import Calendar

from forum.directory.models import Person
from forum.events import calendars
from forum.extensions import db
from tests.calendars import check_calendar
from tests.factories import created
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person

OPTIONS = ["2027-03-09T01:00:00Z", "2027-03-10T15:30:00Z", "2027-03-11T06:00:00Z"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    calendars.cache.clear()
    yield
    calendars.cache.clear()


@pytest.fixture
def li(api) -> dict[str, Any]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    return make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"])


def feed(app, client, person: dict[str, Any]) -> bytes:
    with app.app_context():
        url = calendars.feed_url(db.session.get(Person, person["id"]))
    response = client.get(url.removeprefix(app.config["FORUM_BASE_URL"]))
    assert response.status_code == 200
    return response.data


def events_of(data: bytes) -> list[Any]:
    return [c for c in Calendar.from_ical(data).walk("VEVENT")]


def open_poll(api, li) -> dict[str, Any]:
    event = make_event(api, title="PKU - UTokyo cooperation", kind="bilateral")
    return created(
        api.post(
            f"/api/v1/events/{event['id']}/polls",
            json={
                "title": "Spring call",
                "options": [{"start": s} for s in OPTIONS],
                "invitees": [invitee(li)],
            },
        )
    )


def test_without_the_setting_the_feed_shows_no_holds(app, api, client, li):
    open_poll(api, li)
    assert events_of(feed(app, client, li)) == []


class TestWithHolds:
    @pytest.fixture
    def app_settings(self) -> dict[str, Any]:
        return {"FORUM_FEED_POLL_HOLDS": True}

    def test_open_options_are_tentative_holds_until_a_time_is_chosen(self, app, api, client, li):
        poll = open_poll(api, li)
        data = feed(app, client, li)
        holds = events_of(data)
        assert [str(e["STATUS"]) for e in holds] == ["TENTATIVE"] * 3
        assert all(str(e["SUMMARY"]) == "Hold (poll): Spring call" for e in holds)
        assert "Not answered yet." in str(holds[0]["DESCRIPTION"])
        check_calendar(data, method=None, expect_utc=None)
        starts = sorted(
            e.decoded("DTSTART").astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for e in holds
        )
        assert starts == OPTIONS

        # An answer changes the feed (the description says it).
        with app.app_context():
            token = calendars.agenda_token(db.session.get(Person, li["id"]))
        answer = client.put(
            f"/api/v1/p/{token}/polls/{poll['id']}",
            json={"votes": [{"option_id": poll["options"][0]["id"], "answer": "yes"}]},
        )
        assert answer.status_code == 200
        first = min(events_of(feed(app, client, li)), key=lambda e: e.decoded("DTSTART"))
        assert "Your answer: yes." in str(first["DESCRIPTION"])

        # Finalised: the holds go, the session comes, confirmed.
        response = api.post(
            f"/api/v1/polls/{poll['id']}/finalize", json={"option_id": poll["options"][0]["id"]}
        )
        assert response.status_code == 201, response.get_json()
        after = events_of(feed(app, client, li))
        assert [(str(e["STATUS"]), str(e["SUMMARY"])) for e in after] == [
            ("CONFIRMED", "Spring call")
        ]
