"""Booking invariants: chairs and speakers are never in two overlapping sessions, even when
many organisers book at the same moment, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from forum.events.models import EventSession
from forum.extensions import db
from tests.factories import SESSIONS
from tests.factories import book
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.helpers import assert_error


@pytest.fixture
def people(api) -> dict[str, Any]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    umich = make_institution(api, "University of Michigan", "US", "America/Detroit")
    return {
        "chair": make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"]),
        "speaker": make_person(api, "Jane Smith", "jsmith@umich.example.org", umich["id"]),
        "guest": make_person(api, "Zhang Min", "zhang.min@pku.example.org", pku["id"]),
    }


@pytest.fixture
def event(api) -> dict[str, Any]:
    return make_event(api)


def test_a_chair_cannot_chair_two_overlapping_sessions(api, event, people, row_count):
    first = make_session(
        api,
        event["id"],
        title="Opening plenary",
        start="2027-03-10T13:00:00Z",
        invitees=[invitee(people["chair"], "chair")],
    )
    response = book(
        api,
        event["id"],
        title="Panel",
        start="2027-03-10T13:30:00Z",
        invitees=[invitee(people["chair"], "chair"), invitee(people["guest"])],
    )
    body = assert_error(response, 409, "conflict")
    [clash] = body["details"]["conflicts"]
    assert clash["session_id"] == first["id"]
    assert clash["title"] == "Opening plenary"
    assert clash["person_id"] == people["chair"]["id"]
    assert (clash["start"], clash["end"]) == ("2027-03-10T13:00:00Z", "2027-03-10T14:00:00Z")
    assert "Li Wei" in body["message"] and "Opening plenary" in body["message"]
    assert row_count("sessions") == 1
    assert row_count("invitations") == 1


def test_a_participant_who_chairs_elsewhere_is_a_clash_too(api, event, people):
    make_session(api, event["id"], invitees=[invitee(people["speaker"], "speaker")])
    response = book(
        api, event["id"], start="2027-03-10T13:45:00Z", invitees=[invitee(people["speaker"])]
    )
    [clash] = assert_error(response, 409, "conflict")["details"]["conflicts"]
    assert (clash["role"], clash["other_role"]) == ("participant", "speaker")


def test_plain_participants_may_overlap(api, event, people):
    make_session(api, event["id"], invitees=[invitee(people["guest"])])
    make_session(api, event["id"], invitees=[invitee(people["guest"])])


def test_back_to_back_sessions_do_not_clash(api, event, people):
    chair = [invitee(people["chair"], "chair")]
    make_session(api, event["id"], start="2027-03-10T13:00:00Z", invitees=chair)
    make_session(api, event["id"], start="2027-03-10T14:00:00Z", invitees=chair)
    make_session(api, event["id"], start="2027-03-10T12:00:00Z", invitees=chair)


def test_allow_conflicts_books_anyway(api, event, people):
    chair = [invitee(people["chair"], "chair")]
    make_session(api, event["id"], invitees=chair)
    make_session(api, event["id"], invitees=chair, allow_conflicts=True)


def test_a_cancelled_session_frees_its_people(api, event, people):
    chair = [invitee(people["chair"], "chair")]
    first = make_session(api, event["id"], invitees=chair)
    assert_error(book(api, event["id"], invitees=chair), 409, "conflict")
    assert api.delete(f"{SESSIONS}/{first['id']}").status_code == 200
    make_session(api, event["id"], invitees=chair)


def test_a_weekly_series_clashes_with_a_one_off_on_one_of_its_dates(api, event, people):
    chair = [invitee(people["chair"], "chair")]
    series = make_session(
        api,
        event["id"],
        title="Weekly bilateral",
        local_start="2027-03-01T21:00:00",
        timezone="Asia/Shanghai",
        rrule="FREQ=WEEKLY;COUNT=6",
        invitees=chair,
    )
    # The third Monday, 2027-03-15 21:00 in Beijing, is 13:00 UTC.
    response = book(api, event["id"], start="2027-03-15T13:30:00Z", invitees=chair)
    [clash] = assert_error(response, 409, "conflict")["details"]["conflicts"]
    assert clash["session_id"] == series["id"]
    assert clash["start"] == "2027-03-15T13:00:00Z"
    # After the series ends there is no clash; on a Tuesday neither.
    make_session(api, event["id"], start="2027-04-12T13:00:00Z", invitees=chair)
    make_session(api, event["id"], start="2027-03-16T13:00:00Z", invitees=chair)


def test_an_endless_series_clashes_far_ahead(api, event, people):
    chair = [invitee(people["chair"], "chair")]
    make_session(
        api,
        event["id"],
        start="2027-01-04T13:00:00Z",
        rrule="FREQ=WEEKLY;BYDAY=MO",
        invitees=chair,
    )
    # A Monday in 2028, well over a year after the series began.
    response = book(api, event["id"], start="2028-02-07T13:15:00Z", invitees=chair)
    assert_error(response, 409, "conflict")


def test_two_series_clash_where_their_dates_meet(api, event, people):
    chair = [invitee(people["chair"], "chair")]
    make_session(
        api,
        event["id"],
        start="2027-01-04T13:00:00Z",
        rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        invitees=chair,
    )
    # Every other Monday from 8 March: meets the first series on 8 March (its 10th date).
    response = book(
        api,
        event["id"],
        start="2027-03-08T13:30:00Z",
        rrule="FREQ=WEEKLY;INTERVAL=2;COUNT=4",
        invitees=chair,
    )
    [clash] = assert_error(response, 409, "conflict")["details"]["conflicts"]
    assert clash["start"] == "2027-03-08T13:00:00Z"
    # From 15 March the first series is over.
    make_session(
        api,
        event["id"],
        start="2027-03-15T13:30:00Z",
        rrule="FREQ=WEEKLY;INTERVAL=2;COUNT=4",
        invitees=chair,
    )


def test_cancelling_or_moving_one_occurrence_frees_its_slot(api, event, people):
    chair = [invitee(people["chair"], "chair")]
    series = make_session(
        api, event["id"], start="2027-03-01T13:00:00Z", rrule="FREQ=DAILY;COUNT=5", invitees=chair
    )
    assert_error(
        book(api, event["id"], start="2027-03-03T13:00:00Z", invitees=chair), 409, "conflict"
    )
    occurrence = f"{SESSIONS}/{series['id']}/occurrences/2027-03-03T13:00:00Z"
    assert api.delete(occurrence).status_code == 200
    make_session(api, event["id"], start="2027-03-03T13:00:00Z", invitees=chair)

    # Moving the 4 March meeting onto 4 March 16:00 clashes with a session booked there.
    make_session(api, event["id"], start="2027-03-04T16:00:00Z", invitees=chair)
    moved = api.patch(
        f"{SESSIONS}/{series['id']}/occurrences/2027-03-04T13:00:00Z",
        json={"start": "2027-03-04T16:30:00Z"},
    )
    assert_error(moved, 409, "conflict")
    # The 13:00 slot it would have left is still taken by the series.
    assert_error(
        book(api, event["id"], start="2027-03-04T13:00:00Z", invitees=chair), 409, "conflict"
    )


def test_rescheduling_into_a_clash_is_refused_and_changes_nothing(api, event, people):
    chair = [invitee(people["chair"], "chair")]
    make_session(api, event["id"], start="2027-03-10T13:00:00Z", invitees=chair)
    second = make_session(api, event["id"], start="2027-03-10T15:00:00Z", invitees=chair)
    response = api.patch(f"{SESSIONS}/{second['id']}", json={"start": "2027-03-10T13:30:00Z"})
    assert_error(response, 409, "conflict")
    after = api.get(f"{SESSIONS}/{second['id']}").get_json()
    assert (after["start"], after["sequence"]) == ("2027-03-10T15:00:00Z", 0)
    # Moving over part of its own old time is no clash with itself.
    moved = api.patch(f"{SESSIONS}/{second['id']}", json={"start": "2027-03-10T14:30:00Z"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["sequence"] == 1


def test_another_organisers_session_is_named_by_id_and_time_only(api, make_organiser, people):
    other = make_organiser("other@example.org", name="Otto Other")
    theirs = make_event(other, title="Their event")
    make_session(
        other,
        theirs["id"],
        title="Secret board meeting",
        invitees=[invitee(people["chair"], "chair")],
    )
    mine = make_event(api)
    response = book(api, mine["id"], invitees=[invitee(people["chair"], "chair")])
    body = assert_error(response, 409, "conflict")
    [clash] = body["details"]["conflicts"]
    assert clash["title"] is None and clash["event_id"] is None
    assert "Secret board meeting" not in str(body)


# --- concurrency ---------------------------------------------------------------------------


def test_of_twenty_simultaneous_bookings_for_one_chair_exactly_one_wins(app, api, event, people):
    """20 threads book overlapping sessions for the same chair at the same moment."""
    threads = 20
    barrier = threading.Barrier(threads)
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/events/{event['id']}/sessions",
            json={
                "title": f"Attempt {index}",
                "start": f"2027-03-10T13:{index:02d}:00Z",
                "duration_minutes": 60,
                "invitees": [invitee(people["chair"], "chair")],
            },
            headers={"Authorization": f"Bearer {api.token}"},
        )
        with lock:
            statuses.append(response.status_code)

    workers = [threading.Thread(target=attempt, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert sorted(statuses) == [201] + [409] * (threads - 1)
    with app.app_context():
        stored = db.session.scalar(
            sa.select(sa.func.count(EventSession.id)).where(EventSession.status != "cancelled")
        )
    assert stored == 1
