"""Changing what is booked from the session page, through the real endpoints: the session's
time, length and title, one date of a series moved or cancelled, times that happen twice
or never, past times, and clashes of people (which may be overruled) and of video hosts
(which may not). Each change sends the invitees what the same change through the API sends."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from typing import Any

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient

from forum.providers.fakes.base import RunningFake
from forum.providers.fakes.zoom import FakeZoomProvider
from tests.conftest import ApiClient
from tests.conftest import csrf_token
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.fake_setups.zoom import ACCOUNT_ID
from tests.fake_setups.zoom import CLIENT_ID
from tests.fake_setups.zoom import CLIENT_SECRET
from tests.fake_setups.zoom import HOSTS
from tests.helpers import recorded_statements
from tests.test_meetings import add_zoom
from tests.test_web import log_in
from tests.test_web import section

ORGANISER = "organiser@example.org"
SESSIONS = "/api/v1/sessions"
ZONE = "America/New_York"
SERIES_START = "2030-06-04T10:00:00"  # a Tuesday, 14:00 UTC (EDT)


@pytest.fixture
def api(make_organiser) -> ApiClient:
    return make_organiser(timezone="Europe/Berlin")


@pytest.fixture
def institution(api) -> dict[str, Any]:
    return make_institution(api, "Columbia University", "US", ZONE)


@pytest.fixture
def people(api, institution) -> list[dict[str, Any]]:
    return [
        make_person(api, f"Person {i}", f"p{i}@uni.example", institution["id"]) for i in range(3)
    ]


@pytest.fixture
def logged_in(client: FlaskClient, api) -> FlaskClient:
    log_in(client, ORGANISER)
    return client


@pytest.fixture
def event(api) -> dict[str, Any]:
    return make_event(api, title="Rectors' forum", timezone=ZONE)


def book(api, event, people, **fields: Any) -> dict[str, Any]:
    fields.setdefault("local_start", "2030-06-04T10:00:00")
    fields.setdefault("timezone", ZONE)
    fields.setdefault("title", "Plenary")
    return make_session(api, event["id"], invitees=[invitee(p) for p in people], **fields)


def sent(app: Flask) -> list:
    return app.extensions["forum_mail_sender"].messages


def received(messages: list) -> list[tuple]:
    """What each invitee's calendar reads from the emails, apart from the session's UID."""
    found = []
    for message in messages:
        [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
        for entry in calendar.walk("VEVENT"):
            found.append(
                (
                    message["To"].addresses[0].addr_spec,
                    str(calendar["METHOD"]),
                    int(entry["SEQUENCE"]),
                    entry.decoded("DTSTART"),
                    entry.decoded("DTEND"),
                    str(entry["SUMMARY"]),
                    entry.decoded("RECURRENCE-ID") if "RECURRENCE-ID" in entry else None,
                    str(entry.get("RRULE").to_ical().decode()) if "RRULE" in entry else None,
                    exdates_of(entry),
                )
            )
    return sorted(found, key=repr)


def exdates_of(entry) -> tuple[str, ...]:
    found = entry.get("EXDATE") or []
    return tuple(
        sorted(part.to_ical().decode() for part in (found if isinstance(found, list) else [found]))
    )


def session_of(api, session_id: int) -> dict[str, Any]:
    return api.get(f"{SESSIONS}/{session_id}").get_json()


def form_post(client: FlaskClient, path: str, **fields: Any):
    """POST the form at ``path`` with the token its page carries."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf_token": csrf_token(page.text), **fields})


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash[^"]*">(.*?)</p>', page)]


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


# --- the session -----------------------------------------------------------------------------


def test_rescheduling_from_the_page_sends_what_the_api_sends(app, logged_in, api, event, people):
    by_page = book(api, event, people)
    by_api = book(api, event, people)
    page = logged_in.get(f"/sessions/{by_page['id']}").text
    change_path = f"/sessions/{by_page['id']}/change"
    assert f'href="{change_path}"' in section(page, "actions-heading")

    form = logged_in.get(change_path).text
    # Filled with the session as it is: local time in its anchor zone, length, title.
    assert 'value="2030-06-04T10:00"' in form
    assert f'value="{ZONE}"' in form
    assert 'value="60"' in form
    assert 'value="Plenary"' in form
    for name in ("title", "local_start", "timezone", "duration_minutes"):
        assert re.search(rf'<label for="{name}">', form), name

    before = len(sent(app))
    response = form_post(
        logged_in,
        change_path,
        title="Plenary, new time",
        local_start="2030-06-05T09:30",
        timezone=ZONE,
        duration_minutes="90",
    )
    assert response.status_code == 303, response.text
    assert "every invitee is being sent the updated invitation" in " ".join(
        flashes(logged_in.get(response.headers["Location"]).text)
    )
    from_page = received(sent(app)[before:])

    before = len(sent(app))
    patched = api.patch(
        f"{SESSIONS}/{by_api['id']}",
        json={
            "title": "Plenary, new time",
            "local_start": "2030-06-05T09:30:00",
            "timezone": ZONE,
            "duration_minutes": 90,
        },
    )
    assert patched.status_code == 200, patched.get_json()
    from_api = received(sent(app)[before:])

    assert from_page == from_api
    assert len(from_page) == len(people)
    assert {(m[1], m[2], m[3], m[5]) for m in from_page} == {
        ("REQUEST", 1, utc("2030-06-05T13:30:00"), "Plenary, new time")
    }
    changed = session_of(api, by_page["id"])
    assert (changed["start"], changed["end"], changed["sequence"]) == (
        "2030-06-05T13:30:00Z",
        "2030-06-05T15:00:00Z",
        1,
    )


def test_a_time_that_happens_twice_offers_both_and_nothing_is_written_until_one_is_chosen(
    app, logged_in, api, event, people
):
    session = book(api, event, people)
    path = f"/sessions/{session['id']}/change"
    before = len(sent(app))
    fields = {"title": "Plenary", "timezone": ZONE, "duration_minutes": "60"}
    # Clocks go back at 02:00 EDT on 3 November 2030: 01:30 happens twice.
    response = form_post(logged_in, path, local_start="2030-11-03T01:30", **fields)
    assert response.status_code == 422
    page = text_of(response.text)
    assert "Sun 03 Nov 2030 01:30 happens twice in America/New_York" in page
    assert "01:30 EDT, 05:30 UTC" in page
    assert "01:30 EST, 06:30 UTC" in page
    assert 'aria-describedby="local_start-errors"' in response.text
    assert len(sent(app)) == before
    assert session_of(api, session["id"])["sequence"] == 0

    response = logged_in.post(
        path,
        data={
            "csrf_token": csrf_token(response.text),
            "local_start": "2030-11-03T01:30",
            "fold": "1",
            **fields,
        },
    )
    assert response.status_code == 303, response.text
    assert session_of(api, session["id"])["start"] == "2030-11-03T06:30:00Z"
    assert {m[3] for m in received(sent(app)[before:])} == {utc("2030-11-03T06:30:00")}


def test_a_time_that_does_not_exist_is_refused_at_its_field(app, logged_in, api, event, people):
    session = book(api, event, people)
    before = len(sent(app))
    # Clocks jump from 02:00 to 03:00 on 10 March 2030.
    response = form_post(
        logged_in,
        f"/sessions/{session['id']}/change",
        title="Plenary",
        local_start="2030-03-10T02:30",
        timezone=ZONE,
        duration_minutes="60",
    )
    assert response.status_code == 422
    errors = response.text
    assert re.search(
        r'<ul class="field-errors" id="local_start-errors">\s*<li>[^<]*does not exist', errors
    )
    assert "clocks jump from 02:00 to 03:00" in text_of(errors)
    assert len(sent(app)) == before
    assert session_of(api, session["id"])["start"] == "2030-06-04T14:00:00Z"


def test_missing_and_wrong_fields_are_named_in_plain_words(app, logged_in, api, event, people):
    session = book(api, event, people)
    before = len(sent(app))
    response = form_post(
        logged_in,
        f"/sessions/{session['id']}/change",
        title="",
        local_start="",
        timezone="Mars/Olympus",
        duration_minutes="",
    )
    assert response.status_code == 422
    page = text_of(response.text)
    assert "Give the session a title." in page
    assert "Give the length in minutes." in page
    assert len(sent(app)) == before
    assert session_of(api, session["id"])["sequence"] == 0


def test_a_past_time_asks_before_anything_is_written(app, logged_in, api, event, people):
    session = book(api, event, people)
    path = f"/sessions/{session['id']}/change"
    fields = {"title": "Plenary", "timezone": ZONE, "duration_minutes": "60"}
    before = len(sent(app))
    response = form_post(logged_in, path, local_start="2020-06-04T10:00", **fields)
    assert response.status_code == 200
    page = text_of(response.text)
    assert "This time is in the past" in page
    assert "The invitations will be sent all the same" in page
    assert "Yes, change it and send the invitations" in page
    assert len(sent(app)) == before
    assert session_of(api, session["id"])["sequence"] == 0

    # Confirmed for another past time than the one now typed: asked again.
    again = logged_in.post(
        path,
        data={
            "csrf_token": csrf_token(response.text),
            "confirm_past": "2020-06-04T14:00:00Z",
            "local_start": "2020-06-05T10:00",
            **fields,
        },
    )
    assert again.status_code == 200
    assert "This time is in the past" in text_of(again.text)
    assert session_of(api, session["id"])["sequence"] == 0

    confirmed = logged_in.post(
        path,
        data={
            "csrf_token": csrf_token(again.text),
            "confirm_past": "2020-06-05T14:00:00Z",
            "local_start": "2020-06-05T10:00",
            **fields,
        },
    )
    assert confirmed.status_code == 303, confirmed.text
    assert session_of(api, session["id"])["start"] == "2020-06-05T14:00:00Z"
    assert {(m[1], m[2]) for m in received(sent(app)[before:])} == {("REQUEST", 1)}


def test_a_post_without_its_token_writes_nothing(app, logged_in, api, event, people):
    session = book(api, event, people)
    before = len(sent(app))
    response = logged_in.post(
        f"/sessions/{session['id']}/change",
        data={"title": "X", "local_start": "2030-06-05T09:30", "duration_minutes": "60"},
    )
    assert response.status_code == 400
    assert session_of(api, session["id"])["sequence"] == 0
    assert len(sent(app)) == before


def test_a_series_time_missing_on_some_dates_may_leave_them_out_as_the_api_does(
    app, logged_in, api, event, people
):
    rule = {"rrule": "FREQ=WEEKLY;COUNT=3", "local_start": "2031-03-02T10:00:00"}
    by_page = book(api, event, people, title="Weekly call", **rule)
    by_api = book(api, event, people, title="Weekly call", **rule)
    path = f"/sessions/{by_page['id']}/change"
    # 02:30 does not exist in New York on 9 March 2031 (clocks jump from 02:00 to 03:00).
    fields = {
        "title": "Weekly call",
        "local_start": "2031-03-02T02:30",
        "timezone": ZONE,
        "duration_minutes": "60",
    }
    before = len(sent(app))
    response = form_post(logged_in, path, **fields)
    assert response.status_code == 422
    page = text_of(response.text)
    assert "the series would meet on 2031-03-09 at a local time that does not exist" in page
    assert 'name="skip_invalid_local_times"' in response.text
    assert "skip_invalid_local_times: true" not in page
    assert len(sent(app)) == before
    assert session_of(api, by_page["id"])["sequence"] == 0

    response = logged_in.post(
        path,
        data={
            "csrf_token": csrf_token(response.text),
            "skip_invalid_local_times": "y",
            **fields,
        },
    )
    assert response.status_code == 303, response.text
    from_page = received(sent(app)[before:])
    before = len(sent(app))
    patched = api.patch(
        f"{SESSIONS}/{by_api['id']}",
        json={
            "local_start": "2031-03-02T02:30:00",
            "timezone": ZONE,
            "skip_invalid_local_times": True,
        },
    )
    assert patched.status_code == 200, patched.get_json()
    assert from_page == received(sent(app)[before:])
    assert (
        session_of(api, by_page["id"])["exdates"]
        == patched.get_json()["exdates"]
        == ["2031-03-09T07:30:00Z"]
    )


# --- clashes ----------------------------------------------------------------------------------


def test_a_chair_who_clashes_is_listed_and_may_be_overruled(app, logged_in, api, event, people):
    chair = people[0]
    other = make_session(
        api,
        event["id"],
        title="Senate",
        start="2030-06-05T13:00:00Z",
        invitees=[invitee(chair, role="chair")],
    )
    session = make_session(
        api,
        event["id"],
        title="Plenary",
        start="2030-06-04T14:00:00Z",
        invitees=[invitee(chair, role="chair"), invitee(people[1])],
    )
    path = f"/sessions/{session['id']}/change"
    fields = {
        "title": "Plenary",
        "local_start": "2030-06-05T09:30",
        "timezone": ZONE,
        "duration_minutes": "60",
    }
    before = len(sent(app))
    response = form_post(logged_in, path, **fields)
    assert response.status_code == 409
    clashes = text_of(response.text)
    assert "Person 0 (chair) is chair in “Senate”" in clashes
    assert 'name="allow_conflicts"' in response.text
    assert "even if a chair or speaker is busy then" in clashes
    assert len(sent(app)) == before
    assert session_of(api, session["id"])["sequence"] == 0

    response = logged_in.post(
        path, data={"csrf_token": csrf_token(response.text), "allow_conflicts": "y", **fields}
    )
    assert response.status_code == 303, response.text
    assert session_of(api, session["id"])["start"] == "2030-06-05T13:30:00Z"
    assert session_of(api, other["id"])["sequence"] == 0


def test_a_date_moved_onto_a_chairs_other_session_is_refused_until_overruled(
    app, logged_in, api, event, people
):
    chair = people[0]
    make_session(
        api,
        event["id"],
        title="Senate",
        start="2030-06-12T15:00:00Z",
        invitees=[invitee(chair, role="speaker")],
    )
    series = make_session(
        api,
        event["id"],
        title="Weekly call",
        local_start=SERIES_START,
        timezone=ZONE,
        rrule="FREQ=WEEKLY;COUNT=4",
        invitees=[invitee(chair, role="chair"), invitee(people[1])],
    )
    path = f"/sessions/{series['id']}/dates/2030-06-11T14:00:00Z/move"
    fields = {"local_start": "2030-06-12T11:00", "duration_minutes": "60"}
    before = len(sent(app))
    response = form_post(logged_in, path, **fields)
    assert response.status_code == 409
    assert "Person 0 (chair) is speaker in “Senate”" in text_of(response.text)
    assert 'name="allow_conflicts"' in response.text
    assert len(sent(app)) == before
    assert session_of(api, series["id"])["sequence"] == 0

    response = logged_in.post(
        path, data={"csrf_token": csrf_token(response.text), "allow_conflicts": "y", **fields}
    )
    assert response.status_code == 303, response.text
    assert [(m[0], m[1], m[3]) for m in received(sent(app)[before:])] == [
        ("p0@uni.example", "REQUEST", utc("2030-06-12T15:00:00")),
        ("p1@uni.example", "REQUEST", utc("2030-06-12T15:00:00")),
    ]


@pytest.fixture
def zoom() -> Iterator[RunningFake]:
    fake = FakeZoomProvider(
        hosts=HOSTS, account_id=ACCOUNT_ID, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    with RunningFake(fake) as running:
        yield running


def test_a_busy_video_host_is_shown_without_an_offer_to_change_anyway(
    app, logged_in, api, runner, zoom, people
):
    add_zoom(runner, zoom, hosts=HOSTS[:1])
    event = make_event(api, title="Deans' forum", timezone=ZONE, default_provider="zoom")
    first = make_session(api, event["id"], title="First", start="2030-06-04T14:00:00Z")
    series = make_session(
        api,
        event["id"],
        title="Weekly call",
        local_start="2030-06-05T10:00:00",
        timezone=ZONE,
        rrule="FREQ=WEEKLY;COUNT=4",
        invitees=[invitee(people[0])],
    )
    assert first["meeting"]["host_account"] == series["meeting"]["host_account"] == HOSTS[0]
    before = len(sent(app))

    # The whole series onto the first session's time: every host is taken.
    response = form_post(
        logged_in,
        f"/sessions/{series['id']}/change",
        title="Weekly call",
        local_start="2030-06-04T10:30",
        timezone=ZONE,
        duration_minutes="60",
        allow_conflicts="y",
    )
    assert response.status_code == 409
    page = text_of(response.text)
    assert "Every host of the zoom account" in page
    assert "A video host cannot be in two meetings at once" in page
    assert 'name="allow_conflicts"' not in response.text
    assert "even if" not in page

    # One date of the series onto it: its meeting's host holds that time.
    stamp = "2030-06-12T14:00:00Z"
    response = form_post(
        logged_in,
        f"/sessions/{series['id']}/dates/{stamp}/move",
        local_start="2030-06-04T10:30",
        duration_minutes="60",
    )
    assert response.status_code == 409
    page = text_of(response.text)
    assert f"The meeting's host {HOSTS[0]} has another meeting at that time" in page
    assert 'name="allow_conflicts"' not in response.text

    assert len(sent(app)) == before
    unchanged = session_of(api, series["id"])
    assert (unchanged["sequence"], unchanged["start"]) == (0, "2030-06-05T14:00:00Z")


# --- one date of a series -------------------------------------------------------------------


def test_moving_and_cancelling_one_date_sends_what_the_api_sends(
    app, logged_in, api, event, people
):
    rule = {"rrule": "FREQ=WEEKLY;COUNT=4", "local_start": SERIES_START}
    by_page = book(api, event, people, title="Weekly call", **rule)
    by_api = book(api, event, people, title="Weekly call", **rule)
    second, third = "2030-06-11T14:00:00Z", "2030-06-18T14:00:00Z"

    coming = section(logged_in.get(f"/sessions/{by_page['id']}").text, "when-heading")
    move_path = f"/sessions/{by_page['id']}/dates/{second}/move"
    cancel_path = f"/sessions/{by_page['id']}/dates/{third}/cancel"
    assert f'href="{move_path}"' in coming
    assert f'href="{cancel_path}"' in coming
    assert coming.count(">Move<") == 4
    assert coming.count(">Cancel this date<") == 4

    form = logged_in.get(move_path).text
    assert 'value="2030-06-11T10:00"' in form and 'value="60"' in form
    before = len(sent(app))
    response = form_post(
        logged_in, move_path, local_start="2030-06-12T11:00", duration_minutes="45"
    )
    assert response.status_code == 303, response.text
    assert "its invitees are being sent the change" in " ".join(
        flashes(logged_in.get(response.headers["Location"]).text)
    )
    from_page = received(sent(app)[before:])
    before = len(sent(app))
    moved = api.patch(
        f"{SESSIONS}/{by_api['id']}/occurrences/{second}",
        json={"local_start": "2030-06-12T11:00:00", "duration_minutes": 45},
    )
    assert moved.status_code == 200, moved.get_json()
    assert from_page == received(sent(app)[before:])
    assert {(m[1], m[2], m[3], m[4], m[6]) for m in from_page} == {
        (
            "REQUEST",
            1,
            utc("2030-06-12T15:00:00"),
            utc("2030-06-12T15:45:00"),
            utc("2030-06-11T14:00:00"),
        )
    }

    # Cancelling asks first; the question's page writes nothing.
    before = len(sent(app))
    question = logged_in.get(cancel_path)
    assert question.status_code == 200
    assert "Every invitee gets a cancellation of this date" in text_of(question.text)
    assert session_of(api, by_page["id"])["sequence"] == 1
    response = logged_in.post(cancel_path, data={"csrf_token": csrf_token(question.text)})
    assert response.status_code == 303
    assert "its invitees are being told" in " ".join(
        flashes(logged_in.get(response.headers["Location"]).text)
    )
    from_page = received(sent(app)[before:])
    before = len(sent(app))
    assert api.delete(f"{SESSIONS}/{by_api['id']}/occurrences/{third}").status_code == 200
    assert from_page == received(sent(app)[before:])
    assert {(m[1], m[2], m[6]) for m in from_page} == {("CANCEL", 2, utc("2030-06-18T14:00:00"))}

    page = logged_in.get(f"/sessions/{by_page['id']}").text
    coming = section(page, "when-heading")
    assert coming.count(">Cancel this date<") == 3
    assert 'class="occurrence-cancelled"' in coming
    # The cancelled date offers nothing more; asking again changes nothing.
    before = len(sent(app))
    assert logged_in.post(cancel_path, data={"csrf_token": csrf_token(page)}).status_code == 303
    assert logged_in.get(cancel_path).status_code == 303
    assert len(sent(app)) == before


def test_a_date_that_is_not_in_the_series_is_not_found(logged_in, api, event, people):
    series = book(api, event, people, rrule="FREQ=WEEKLY;COUNT=4", local_start=SERIES_START)
    one_off = book(api, event, people)
    for path in (
        f"/sessions/{series['id']}/dates/2030-06-11T15:00:00Z/move",
        f"/sessions/{series['id']}/dates/yesterday/cancel",
        f"/sessions/{one_off['id']}/dates/2030-06-04T14:00:00Z/move",
    ):
        assert logged_in.get(path).status_code == 404, path


def test_a_moved_date_in_the_past_asks_first(app, logged_in, api, event, people):
    series = book(api, event, people, rrule="FREQ=WEEKLY;COUNT=4", local_start=SERIES_START)
    path = f"/sessions/{series['id']}/dates/2030-06-11T14:00:00Z/move"
    before = len(sent(app))
    response = form_post(logged_in, path, local_start="2020-06-11T10:00", duration_minutes="60")
    assert response.status_code == 200
    assert "The invitations will be sent all the same" in text_of(response.text)
    assert session_of(api, series["id"])["sequence"] == 0
    assert len(sent(app)) == before
    response = logged_in.post(
        path,
        data={
            "csrf_token": csrf_token(response.text),
            "confirm_past": "2020-06-11T14:00:00Z",
            "local_start": "2020-06-11T10:00",
            "duration_minutes": "60",
        },
    )
    assert response.status_code == 303, response.text
    assert {(m[1], m[3]) for m in received(sent(app)[before:])} == {
        ("REQUEST", utc("2020-06-11T14:00:00"))
    }


# --- queries -----------------------------------------------------------------------------------


def test_the_pages_ask_the_same_number_of_queries_whatever_the_number_of_invitees(
    app, logged_in, api, event, institution
):
    def measure(count: int, offset: int) -> list[int]:
        people = [
            make_person(
                api, f"Member {offset + i}", f"m{offset + i}@uni.example", institution["id"]
            )
            for i in range(count)
        ]
        series = book(api, event, people, rrule="FREQ=WEEKLY;COUNT=8", local_start=SERIES_START)
        stamp = "2030-06-11T14:00:00Z"
        assert api.delete(f"{SESSIONS}/{series['id']}/occurrences/{stamp}").status_code == 200
        paths = [
            f"/sessions/{series['id']}",
            f"/sessions/{series['id']}/change",
            f"/sessions/{series['id']}/dates/2030-06-18T14:00:00Z/move",
            f"/sessions/{series['id']}/dates/2030-06-25T14:00:00Z/cancel",
        ]
        counts = []
        for path in paths:
            logged_in.get(path)  # warm caches (templates, zones)
            with recorded_statements(app) as statements:
                assert logged_in.get(path).status_code == 200
            counts.append(len(statements))
        return counts

    assert measure(2, 0) == measure(25, 100)


def test_the_clash_list_asks_the_same_number_of_queries_whatever_its_length(
    app, logged_in, api, institution
):
    def measure(count: int, offset: int) -> int:
        chairs = [
            make_person(api, f"Chair {offset + i}", f"c{offset + i}@uni.example", institution["id"])
            for i in range(count)
        ]
        for index, chair in enumerate(chairs):
            other = make_event(api, title=f"Senate {offset + index}", timezone=ZONE)
            make_session(
                api,
                other["id"],
                title=f"Senate {offset + index}",
                start="2030-06-05T13:00:00Z",
                invitees=[invitee(chair, role="chair")],
            )
        event = make_event(api, title=f"Forum {offset}", timezone=ZONE)
        session = make_session(
            api,
            event["id"],
            title="Plenary",
            start="2030-06-04T14:00:00Z",
            invitees=[invitee(chair, role="chair") for chair in chairs],
        )
        path = f"/sessions/{session['id']}/change"
        token = csrf_token(logged_in.get(path).text)
        fields = {
            "csrf_token": token,
            "title": "Plenary",
            "local_start": "2030-06-05T09:30",
            "timezone": ZONE,
            "duration_minutes": "60",
        }
        logged_in.post(path, data=fields)  # warm caches (templates, zones)
        with recorded_statements(app) as statements:
            response = logged_in.post(path, data=fields)
        assert response.status_code == 409
        assert text_of(response.text).count("(chair) is chair in “Senate") == count
        return len(statements)

    assert measure(1, 0) == measure(6, 100)
