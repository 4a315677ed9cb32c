"""API v1 tests of events, participants, sessions (with time zones and DST) and invitations."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from forum.db import now_utc
from forum.events.models import Invitation
from forum.extensions import db
from tests.helpers import MISSING
from tests.helpers import assert_error
from tests.helpers import body_of

EVENTS = "/api/v1/events"
SESSIONS = "/api/v1/sessions"


def utc(local: str, offset_hours: float) -> str:
    """The UTC instant of a wall-clock time at a hand-written UTC offset (no zone database)."""
    zone = dt.timezone(dt.timedelta(hours=offset_hours))
    instant = dt.datetime.fromisoformat(local).replace(tzinfo=zone).astimezone(dt.UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def created(response) -> dict[str, Any]:
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def make_event(api, **fields: Any) -> dict[str, Any]:
    defaults = {"title": "Global University Leaders Forum", "kind": "forum"}
    return created(api.post(EVENTS, json=body_of(defaults, fields)))


def make_institution(api, name: str, country: str, timezone: str) -> dict[str, Any]:
    body = {"name": name, "country": country, "timezone": timezone}
    return created(api.post("/api/v1/institutions", json=body))


def make_person(api, name: str, email: str, institution_id: int) -> dict[str, Any]:
    body = {"name": name, "email": email, "institution_id": institution_id}
    return created(api.post("/api/v1/people", json=body))


def book(api, event_id: int, **fields: Any):
    defaults = {"title": "Plenary", "start": "2020-03-10T13:00:00Z", "duration_minutes": 90}
    return api.post(f"{EVENTS}/{event_id}/sessions", json=body_of(defaults, fields))


def make_session(api, event_id: int, **fields: Any) -> dict[str, Any]:
    return created(book(api, event_id, **fields))


def set_rsvps(app, session_id: int, rsvp: str) -> None:
    """Answer for every invitee, as the RSVP page would."""
    with app.app_context():
        db.session.execute(
            sa.update(Invitation)
            .where(Invitation.session_id == session_id)
            .values(rsvp=rsvp, rsvp_at=now_utc())
        )
        db.session.commit()


@pytest.fixture
def event(api) -> dict[str, Any]:
    return make_event(api)


@pytest.fixture
def sites(api) -> dict[str, Any]:
    """Peking University (two people) and the University of Michigan (one person)."""
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    umich = make_institution(api, "University of Michigan", "US", "America/Detroit")
    return {
        "pku": pku,
        "umich": umich,
        "li": make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"]),
        "zhang": make_person(api, "Zhang Min", "zhang.min@pku.example.org", pku["id"]),
        "smith": make_person(api, "Jane Smith", "jsmith@umich.example.org", umich["id"]),
    }


@pytest.fixture
def other(make_organiser) -> SimpleNamespace:
    """A second organiser (``api``) with an event and a session of their own."""
    api = make_organiser("other@example.org", name="Otto Other", timezone="Europe/London")
    event = make_event(api, title="Other's bilateral call", kind="bilateral")
    session = make_session(api, event["id"], title="Other's call")
    return SimpleNamespace(api=api, event=event, session=session)


# --- events ------------------------------------------------------------------------------


def test_create_event_with_defaults(api, row_count):
    response = api.post(EVENTS, json={"title": "PKU-Tokyo call", "kind": "bilateral"})

    event = created(response)
    assert event == {
        "id": event["id"],
        "title": "PKU-Tokyo call",
        "kind": "bilateral",
        "description": "",
        "timezone": "Asia/Shanghai",  # the organiser's zone
        "default_provider": "jitsi",
        "status": "active",
        "reminder_minutes": [1440, 60],  # a day and an hour ahead
        "organisers": [
            {
                "id": api.organiser_id,
                "name": "Olga Organiser",
                "email": "organiser@example.org",
                "role": "owner",
            }
        ],
        "calendar_url": event["calendar_url"],
    }
    prefix = f"http://127.0.0.1:5000/ical/events/{event['id']}.ics?token="
    assert event["calendar_url"].startswith(prefix)
    assert api.get(f"{EVENTS}/{event['id']}").get_json() == event
    assert row_count("events") == 1


def test_create_event_with_every_field(api, make_organiser):
    co = make_organiser("co@example.org", name="Chen Co")

    event = make_event(
        api,
        kind="exchange",
        description="Beijing, Wuhan and Ann Arbor",
        timezone="America/Detroit",
        default_provider="zoom",
        organisers=["CO@example.org"],
    )

    assert (event["kind"], event["description"], event["timezone"], event["default_provider"]) == (
        "exchange",
        "Beijing, Wuhan and Ann Arbor",
        "America/Detroit",
        "zoom",
    )
    assert [(o["email"], o["role"]) for o in event["organisers"]] == [
        ("organiser@example.org", "owner"),
        ("co@example.org", "co-organiser"),
    ]
    # A co-organiser reaches the event too.
    assert co.get(f"{EVENTS}/{event['id']}").get_json() == event
    assert [e["id"] for e in co.get(EVENTS).get_json()["items"]] == [event["id"]]


VALID_EVENT = {"title": "Global University Leaders Forum", "kind": "forum"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": MISSING}, "title"),
        ({"kind": MISSING}, "kind"),
        ({"title": ""}, "title"),
        ({"title": 12}, "title"),
        ({"title": "Forum\nBEGIN:VEVENT"}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"kind": "party"}, "kind"),
        ({"description": ["a"]}, "description"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "EST"}, "timezone"),
        ({"timezone": "GMT"}, "timezone"),
        ({"default_provider": "skype"}, "default_provider"),
        ({"organisers": ["nobody@example.org"]}, "organisers.0"),
        ({"organisers": ["not an email"]}, "organisers.0"),
        ({"organisers": "organiser@example.org"}, "organisers"),
        ({"status": "archived"}, "status"),
        ({"owner_id": 1}, "owner_id"),
    ],
)
def test_create_event_refuses_bad_input(api, row_count, changes, field):
    body = body_of(VALID_EVENT, changes)

    response = api.post(EVENTS, json=body)

    assert_error(response, 422, "validation_error", field)
    assert row_count("events") == 0


def test_list_events_shows_only_yours_newest_first(api, other):
    first = make_event(api, title="First")
    second = make_event(api, title="Second")
    third = make_event(api, title="Third")

    page_one = api.get(f"{EVENTS}?per_page=2").get_json()
    page_two = api.get(f"{EVENTS}?per_page=2&page=2").get_json()

    assert [e["id"] for e in page_one["items"]] == [third["id"], second["id"]]
    assert [e["id"] for e in page_two["items"]] == [first["id"]]
    assert (page_one["total"], page_one["per_page"], page_two["page"]) == (3, 2, 2)
    assert [e["id"] for e in other.api.get(EVENTS).get_json()["items"]] == [other.event["id"]]


def test_patch_event(api, event, make_organiser):
    make_organiser("co@example.org", name="Chen Co")

    response = api.patch(
        f"{EVENTS}/{event['id']}",
        json={
            "title": "GULF 2020",
            "status": "archived",
            "timezone": "Europe/London",
            "organisers": ["co@example.org"],
        },
    )

    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert (changed["title"], changed["status"], changed["timezone"], changed["kind"]) == (
        "GULF 2020",
        "archived",
        "Europe/London",
        "forum",
    )
    assert [o["role"] for o in changed["organisers"]] == ["owner", "co-organiser"]
    assert api.get(f"{EVENTS}/{event['id']}").get_json() == changed


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "GULF\r\n2020"}, "title"),
        ({"title": ""}, "title"),
        ({"kind": "party"}, "kind"),
        ({"status": "deleted"}, "status"),
        ({"timezone": "EST"}, "timezone"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"default_provider": 1}, "default_provider"),
        ({"organisers": ["nobody@example.org"]}, "organisers.0"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_patch_event_refuses_bad_input(api, event, body, field):
    response = api.patch(f"{EVENTS}/{event['id']}", json=body)

    assert_error(response, 422, "validation_error", field)
    assert api.get(f"{EVENTS}/{event['id']}").get_json() == event


def test_delete_event_without_sessions(api, event, sites, row_count):
    api.post(f"{EVENTS}/{event['id']}/participants", json={"person_id": sites["li"]["id"]})

    response = api.delete(f"{EVENTS}/{event['id']}")

    assert response.status_code == 204
    assert_error(api.get(f"{EVENTS}/{event['id']}"), 404, "not_found")
    assert row_count("events") == 0
    assert row_count("event_participants") == 0
    assert row_count("people") == 3


def test_delete_event_with_a_live_session_is_refused(api, event, row_count):
    session = make_session(api, event["id"])

    response = api.delete(f"{EVENTS}/{event['id']}")

    error = assert_error(response, 409, "event_has_sessions")
    assert error["details"]["session_ids"] == [session["id"]]
    assert api.get(f"{EVENTS}/{event['id']}").status_code == 200
    assert row_count("sessions") == 1


def test_delete_event_once_its_sessions_are_cancelled(api, event, sites, row_count):
    api.post(f"{EVENTS}/{event['id']}/participants", json={"institution_id": sites["pku"]["id"]})
    session = make_session(api, event["id"])
    api.delete(f"{SESSIONS}/{session['id']}")

    response = api.delete(f"{EVENTS}/{event['id']}")

    assert response.status_code == 204
    for table in ("events", "sessions", "invitations", "video_meetings", "event_participants"):
        assert row_count(table) == 0, table


# --- another organiser's things ----------------------------------------------------------


def test_another_organisers_event_is_invisible(api, other, sites):
    path = f"{EVENTS}/{other.event['id']}"
    calls = [
        api.get(path),
        api.patch(path, json={"title": "Taken over"}),
        api.delete(path),
        api.get(f"{path}/participants"),
        api.post(f"{path}/participants", json={"person_id": sites["li"]["id"]}),
        api.delete(f"{path}/participants/{sites['li']['id']}"),
        api.get(f"{path}/sessions"),
        api.post(
            f"{path}/sessions",
            json={"title": "Intruder", "start": "2020-03-10T13:00:00Z", "duration_minutes": 30},
        ),
    ]

    for response in calls:
        assert_error(response, 404, "not_found")
    assert other.api.get(path).get_json() == other.event
    assert other.api.get(f"{path}/participants").get_json()["total"] == 0
    assert [s["id"] for s in other.api.get(f"{path}/sessions").get_json()["items"]] == [
        other.session["id"]
    ]


def test_another_organisers_session_is_invisible(api, other):
    path = f"{SESSIONS}/{other.session['id']}"
    calls = [
        api.get(path),
        api.patch(path, json={"title": "Taken over", "duration_minutes": 15}),
        api.delete(path),
        api.get(f"{path}/invitations"),
    ]

    for response in calls:
        assert_error(response, 404, "not_found")
    assert other.api.get(path).get_json() == other.session


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/events/999"),
        ("patch", "/api/v1/events/999"),
        ("delete", "/api/v1/events/999"),
        ("get", "/api/v1/events/999/participants"),
        ("post", "/api/v1/events/999/participants"),
        ("delete", "/api/v1/events/999/participants/1"),
        ("get", "/api/v1/events/999/sessions"),
        ("post", "/api/v1/events/999/sessions"),
        ("get", "/api/v1/sessions/999"),
        ("patch", "/api/v1/sessions/999"),
        ("delete", "/api/v1/sessions/999"),
        ("get", "/api/v1/sessions/999/invitations"),
        ("get", f"/api/v1/events/{2**31}"),
        ("patch", f"/api/v1/sessions/{10**20}"),
    ],
)
def test_unknown_ids_in_the_url_are_404(api, method, path):
    kwargs = {"json": {"title": "x"}} if method in ("post", "patch") else {}

    response = getattr(api, method)(path, **kwargs)

    assert_error(response, 404, "not_found")


# --- participants ------------------------------------------------------------------------


def participants(api, event_id: int) -> list[tuple[int, str, bool]]:
    items = api.get(f"{EVENTS}/{event_id}/participants").get_json()["items"]
    return [(p["person_id"], p["role"], p["required"]) for p in items]


def test_add_a_person(api, event, sites):
    li = sites["li"]

    response = api.post(
        f"{EVENTS}/{event['id']}/participants",
        json={"person_id": li["id"], "role": "chair", "required": True},
    )

    assert created(response) == {
        "items": [
            {
                "person_id": li["id"],
                "name": "Li Wei",
                "email": "li.wei@pku.example.org",
                "institution_id": sites["pku"]["id"],
                "country": "CN",
                "timezone": "Asia/Shanghai",
                "role": "chair",
                "required": True,
            }
        ]
    }
    assert participants(api, event["id"]) == [(li["id"], "chair", True)]


def test_add_a_whole_institution(api, event, sites):
    response = api.post(
        f"{EVENTS}/{event['id']}/participants",
        json={"institution_id": sites["pku"]["id"], "role": "observer", "required": False},
    )

    assert sorted(p["person_id"] for p in created(response)["items"]) == sorted(
        [sites["li"]["id"], sites["zhang"]["id"]]
    )
    assert sorted(participants(api, event["id"])) == sorted(
        [(sites["li"]["id"], "observer", False), (sites["zhang"]["id"], "observer", False)]
    )


def test_adding_again_updates_role_and_required(api, event, sites, row_count):
    path = f"{EVENTS}/{event['id']}/participants"
    api.post(path, json={"institution_id": sites["pku"]["id"]})

    response = api.post(
        path, json={"person_id": sites["li"]["id"], "role": "speaker", "required": False}
    )

    assert response.status_code == 201
    assert dict((p[0], p[1:]) for p in participants(api, event["id"])) == {
        sites["li"]["id"]: ("speaker", False),
        sites["zhang"]["id"]: ("participant", True),
    }
    assert row_count("event_participants") == 2


def test_participants_list_is_paginated(api, event, sites):
    api.post(f"{EVENTS}/{event['id']}/participants", json={"institution_id": sites["pku"]["id"]})
    api.post(f"{EVENTS}/{event['id']}/participants", json={"person_id": sites["smith"]["id"]})

    page = api.get(f"{EVENTS}/{event['id']}/participants?per_page=2&page=2").get_json()

    assert [p["person_id"] for p in page["items"]] == [sites["smith"]["id"]]
    assert (page["total"], page["page"], page["per_page"]) == (3, 2, 2)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "person_id"),
        ({"person_id": "PERSON", "institution_id": "INSTITUTION"}, "person_id"),
        ({"person_id": 999}, "person_id"),
        ({"person_id": 2**31}, "person_id"),
        ({"person_id": "1"}, "person_id"),
        ({"institution_id": 999}, "institution_id"),
        ({"institution_id": "EMPTY_INSTITUTION"}, "institution_id"),
        ({"person_id": "PERSON", "role": "king"}, "role"),
        ({"person_id": "PERSON", "required": "yes"}, "required"),
        ({"person_id": "PERSON", "required": 1}, "required"),
        ({"person_id": "PERSON", "email": "li.wei@pku.example.org"}, "email"),
    ],
)
def test_add_participants_refuses_bad_input(api, event, sites, row_count, body, field):
    empty = make_institution(api, "University of Tokyo", "JP", "Asia/Tokyo")
    placeholders = {
        "PERSON": sites["li"]["id"],
        "INSTITUTION": sites["pku"]["id"],
        "EMPTY_INSTITUTION": empty["id"],
    }
    body = {
        key: placeholders.get(value, value) if isinstance(value, str) else value
        for key, value in body.items()
    }

    response = api.post(f"{EVENTS}/{event['id']}/participants", json=body)

    assert_error(response, 422, "validation_error", field)
    assert row_count("event_participants") == 0


def test_remove_a_participant(api, event, sites, row_count):
    api.post(f"{EVENTS}/{event['id']}/participants", json={"institution_id": sites["pku"]["id"]})

    response = api.delete(f"{EVENTS}/{event['id']}/participants/{sites['li']['id']}")

    assert response.status_code == 204
    assert participants(api, event["id"]) == [(sites["zhang"]["id"], "participant", True)]
    assert row_count("people") == 3


def test_remove_someone_who_is_not_a_participant(api, event, sites):
    api.post(f"{EVENTS}/{event['id']}/participants", json={"person_id": sites["li"]["id"]})

    response = api.delete(f"{EVENTS}/{event['id']}/participants/{sites['smith']['id']}")

    assert_error(response, 404, "not_found")
    assert participants(api, event["id"]) == [(sites["li"]["id"], "participant", True)]


def test_a_participant_cannot_be_deleted(api, event, sites, row_count):
    api.post(f"{EVENTS}/{event['id']}/participants", json={"person_id": sites["li"]["id"]})

    response = api.delete(f"/api/v1/people/{sites['li']['id']}")

    error = assert_error(response, 409, "in_use")
    assert error["details"]["event_ids"] == [event["id"]]
    assert row_count("people") == 3


def test_an_invitee_cannot_be_deleted(api, event, sites, row_count):
    session = make_session(api, event["id"], invitees=[{"person_id": sites["smith"]["id"]}])

    response = api.delete(f"/api/v1/people/{sites['smith']['id']}")

    error = assert_error(response, 409, "in_use")
    assert error["details"]["session_ids"] == [session["id"]]
    assert row_count("people") == 3


# --- sessions: booking -------------------------------------------------------------------


def test_book_a_session_with_an_instant(api, event, row_count):
    response = book(api, event["id"], start="2020-03-10T21:00:00+08:00", duration_minutes=90)

    session = created(response)
    assert session == {
        "id": session["id"],
        "event_id": event["id"],
        "title": "Plenary",
        "start": "2020-03-10T13:00:00Z",
        "end": "2020-03-10T14:30:00Z",
        "timezone": "Asia/Shanghai",  # the event's home zone
        "local_start": "2020-03-10T21:00:00",
        "local_end": "2020-03-10T22:30:00",
        "duration_minutes": 90,
        "status": "scheduled",
        "sequence": 0,
        "ical_uid": session["ical_uid"],
        "rrule": None,
        "exdates": [],
        "meeting": {
            "provider": "jitsi",
            # Opened by the job that ran after the commit (inline here): an unguessable room.
            "join_url": session["meeting"]["join_url"],
            "passcode": None,
            "status": "created",
            "error": None,
            "host_account": None,
            "host_url": None,
            "recurrence_note": None,
            "host_changes": [],
        },
        "calendar_url": session["calendar_url"],
    }
    assert re.fullmatch(
        r"https://meet\.jit\.si/Plenary-[0-9a-f]{24}", session["meeting"]["join_url"]
    )
    assert session["ical_uid"].endswith("@forum")
    prefix = f"http://127.0.0.1:5000/ical/sessions/{session['ical_uid']}.ics?token="
    assert session["calendar_url"].startswith(prefix)
    assert api.get(f"{SESSIONS}/{session['id']}").get_json() == session
    assert (row_count("sessions"), row_count("video_meetings")) == (1, 1)


def test_book_with_an_instant_reports_local_time_in_the_anchor_zone(api, event):
    session = make_session(
        api, event["id"], start="2020-03-10T13:00:00Z", timezone="America/Detroit"
    )

    assert session["timezone"] == "America/Detroit"
    assert session["local_start"] == "2020-03-10T09:00:00"  # EDT, UTC-4, since 8 March


def test_book_with_local_time_and_zone(api, event):
    session = make_session(
        api,
        event["id"],
        start=MISSING,
        local_start="2020-03-10T09:00",
        timezone="America/Detroit",
        duration_minutes=60,
    )

    assert (session["start"], session["end"]) == ("2020-03-10T13:00:00Z", "2020-03-10T14:00:00Z")
    assert (session["timezone"], session["local_start"], session["local_end"]) == (
        "America/Detroit",
        "2020-03-10T09:00:00",
        "2020-03-10T10:00:00",
    )


def test_book_with_an_end_instead_of_a_duration(api, event):
    session = make_session(
        api, event["id"], duration_minutes=MISSING, end="2020-03-10T23:00:00+08:00"
    )

    assert (session["end"], session["duration_minutes"]) == ("2020-03-10T15:00:00Z", 120)


def test_book_a_full_day(api, event):
    session = make_session(api, event["id"], duration_minutes=24 * 60)

    assert session["end"] == "2020-03-11T13:00:00Z"


def test_book_with_a_provider_and_a_recurrence(api, event):
    session = make_session(
        api, event["id"], provider="zoom", rrule="RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10"
    )

    assert session["meeting"]["provider"] == "zoom"
    assert session["rrule"] == "FREQ=WEEKLY;BYDAY=TU;COUNT=10"


# A session at 09:00 local time on each side of each zone's 2020 clock change; the offsets
# are written by hand from the published rules, not computed by the code under test.
NINE_O_CLOCK = [
    ("Asia/Shanghai", "2020-03-06T09:00", 8),
    ("Asia/Shanghai", "2020-03-09T09:00", 8),
    ("Asia/Shanghai", "2020-11-02T09:00", 8),
    ("America/Detroit", "2020-03-06T09:00", -5),
    ("America/Detroit", "2020-03-09T09:00", -4),
    ("America/Detroit", "2020-10-30T09:00", -4),
    ("America/Detroit", "2020-11-02T09:00", -5),
    ("Europe/London", "2020-03-27T09:00", 0),
    ("Europe/London", "2020-03-30T09:00", 1),
    ("Europe/London", "2020-10-23T09:00", 1),
    ("Europe/London", "2020-10-26T09:00", 0),
    ("Australia/Sydney", "2020-04-03T09:00", 11),
    ("Australia/Sydney", "2020-04-06T09:00", 10),
    ("Australia/Sydney", "2020-10-02T09:00", 10),
    ("Australia/Sydney", "2020-10-05T09:00", 11),
    ("Pacific/Auckland", "2020-04-03T09:00", 13),
    ("Pacific/Auckland", "2020-04-06T09:00", 12),
    ("Pacific/Auckland", "2020-09-25T09:00", 12),
    ("Pacific/Auckland", "2020-09-28T09:00", 13),
]


@pytest.mark.parametrize(("zone", "local", "offset"), NINE_O_CLOCK)
def test_local_nine_o_clock_across_the_2020_changes(api, event, zone, local, offset):
    session = make_session(
        api, event["id"], start=MISSING, local_start=local, timezone=zone, duration_minutes=60
    )

    assert session["start"] == utc(local, offset)
    assert session["end"] == utc(local.replace("T09:", "T10:"), offset)
    assert (session["timezone"], session["local_start"]) == (zone, local + ":00")


@pytest.mark.parametrize(("zone", "local", "offset"), NINE_O_CLOCK)
def test_instant_reported_as_nine_o_clock_across_the_2020_changes(api, event, zone, local, offset):
    session = make_session(api, event["id"], start=utc(local, offset), timezone=zone)

    assert session["local_start"] == local + ":00"


def test_beijing_hour_moves_in_ann_arbor(api, event):
    """China keeps UTC+8; Michigan moves to UTC-4 on 8 March 2020, so 21:00 in Beijing
    is 08:00 in Ann Arbor before the change and 09:00 after it."""
    before = make_session(
        api, event["id"], start=MISSING, local_start="2020-03-06T21:00", timezone="Asia/Shanghai"
    )
    after = make_session(
        api, event["id"], start=MISSING, local_start="2020-03-13T21:00", timezone="Asia/Shanghai"
    )

    for session, ann_arbor in ((before, "2020-03-06T08:00:00"), (after, "2020-03-13T09:00:00")):
        moved = api.patch(f"{SESSIONS}/{session['id']}", json={"timezone": "America/Detroit"})
        assert moved.get_json()["start"] == session["start"]
        assert moved.get_json()["local_start"] == ann_arbor


def test_no_daylight_saving_in_shanghai(api, event):
    session = make_session(
        api, event["id"], start=MISSING, local_start="2020-03-08T02:30", timezone="Asia/Shanghai"
    )

    assert session["start"] == "2020-03-07T18:30:00Z"


GAPS = [
    # zone, local time in the gap, the gap's start and end, the transition instant
    ("America/Detroit", "2020-03-08T02:30", "02:00", "03:00", "2020-03-08T07:00:00Z"),
    ("Europe/London", "2020-03-29T01:30", "01:00", "02:00", "2020-03-29T01:00:00Z"),
    ("Pacific/Auckland", "2020-09-27T02:30", "02:00", "03:00", "2020-09-26T14:00:00Z"),
    ("Australia/Sydney", "2020-10-04T02:30", "02:00", "03:00", "2020-10-03T16:00:00Z"),
]


@pytest.mark.parametrize(("zone", "local", "gap_start", "gap_end", "transition"), GAPS)
@pytest.mark.parametrize("fold", [MISSING, 0, 1], ids=["no-fold", "fold-0", "fold-1"])
def test_local_time_in_a_spring_forward_gap_is_refused(
    api, event, row_count, zone, local, gap_start, gap_end, transition, fold
):
    response = book(api, event["id"], start=MISSING, local_start=local, timezone=zone, fold=fold)

    error = assert_error(response, 422, "nonexistent_local_time", "local_start")
    day = local[:10]
    assert error["details"]["timezone"] == zone
    assert error["details"]["gap_start"] == f"{day}T{gap_start}:00"
    assert error["details"]["gap_end"] == f"{day}T{gap_end}:00"
    assert error["details"]["transition"] == transition
    assert f"{gap_start} to {gap_end}" in error["message"]
    assert row_count("sessions") == 0


FOLDS = [
    # zone, local time that happens twice, UTC offsets before and after the change
    ("America/Detroit", "2020-11-01T01:30", -4, -5),
    ("Europe/London", "2020-10-25T01:30", 1, 0),
    ("Australia/Sydney", "2020-04-05T02:30", 11, 10),
    ("Pacific/Auckland", "2020-04-05T02:30", 13, 12),
]


@pytest.mark.parametrize(("zone", "local", "before", "after"), FOLDS)
def test_ambiguous_local_time_is_refused_listing_both_instants(
    api, event, row_count, zone, local, before, after
):
    response = book(api, event["id"], start=MISSING, local_start=local, timezone=zone)

    error = assert_error(response, 422, "ambiguous_local_time", "local_start")
    assert error["details"]["instants"] == [utc(local, before), utc(local, after)]
    for instant in error["details"]["instants"]:
        assert instant in error["message"]
    assert row_count("sessions") == 0


def test_ambiguous_detroit_time_lists_05_30_and_06_30(api, event):
    response = book(
        api, event["id"], start=MISSING, local_start="2020-11-01T01:30", timezone="America/Detroit"
    )

    error = assert_error(response, 422, "ambiguous_local_time", "local_start")
    assert error["details"]["instants"] == ["2020-11-01T05:30:00Z", "2020-11-01T06:30:00Z"]


@pytest.mark.parametrize(("zone", "local", "before", "after"), FOLDS)
@pytest.mark.parametrize("fold", [0, 1])
def test_fold_picks_one_of_the_two_instants(api, event, zone, local, before, after, fold):
    session = make_session(
        api, event["id"], start=MISSING, local_start=local, timezone=zone, fold=fold
    )

    assert session["start"] == utc(local, (before, after)[fold])
    assert session["local_start"] == local + ":00"


VALID_SESSION = {"title": "Plenary", "start": "2020-03-10T13:00:00Z", "duration_minutes": 60}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": MISSING}, "title"),
        ({"title": ""}, "title"),
        ({"title": 1}, "title"),
        ({"title": "Plenary\r\nATTENDEE:mailto:intruder@example.org"}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"duration_minutes": "60"}, "duration_minutes"),
        ({"duration_minutes": 60.5}, "duration_minutes"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": -30}, "duration_minutes"),
        ({"duration_minutes": 1441}, "duration_minutes"),
        ({"duration_minutes": MISSING}, "duration_minutes"),
        ({"duration_minutes": MISSING, "end": "2020-03-10T12:00:00Z"}, "end"),
        ({"duration_minutes": MISSING, "end": "2020-03-10T13:00:00Z"}, "end"),
        ({"duration_minutes": MISSING, "end": "2020-03-11T14:00:00Z"}, "end"),
        ({"duration_minutes": MISSING, "end": "2020-03-10T14:00:00"}, "end"),
        ({"end": "2020-03-10T14:00:00Z"}, "end"),
        ({"start": MISSING}, "start"),
        ({"start": "2020-03-10T13:00:00"}, "start"),
        ({"start": "next Tuesday"}, "start"),
        ({"start": 1583845200}, "start"),
        ({"start": "2020-02-30T13:00:00Z"}, "start"),
        ({"start": "9999-12-31T23:00:00Z"}, "start"),
        ({"start": "0001-01-01T00:00:00Z"}, "start"),
        ({"local_start": "2020-03-10T21:00", "timezone": "Asia/Shanghai"}, "local_start"),
        ({"start": MISSING, "local_start": "2020-03-10T21:00"}, "timezone"),
        (
            {
                "start": MISSING,
                "local_start": "2020-03-10T21:00+08:00",
                "timezone": "Asia/Shanghai",
            },
            "local_start",
        ),
        (
            {"start": MISSING, "local_start": "0001-01-01T00:00", "timezone": "Pacific/Auckland"},
            "local_start",
        ),
        (
            {"start": MISSING, "local_start": "2020-03-10T21:00", "timezone": "Mars/Olympus"},
            "timezone",
        ),
        ({"start": MISSING, "local_start": "2020-03-10T09:00", "timezone": "EST"}, "timezone"),
        ({"start": MISSING, "local_start": "2020-03-10T09:00", "timezone": "GMT"}, "timezone"),
        ({"timezone": "Etc/GMT+5"}, "timezone"),
        (
            {
                "start": MISSING,
                "local_start": "2020-11-01T01:30",
                "timezone": "America/Detroit",
                "fold": 2,
            },
            "fold",
        ),
        (
            {
                "start": MISSING,
                "local_start": "2020-11-01T01:30",
                "timezone": "America/Detroit",
                "fold": "1",
            },
            "fold",
        ),
        ({"rrule": "FREQ=SOMETIMES"}, "rrule"),
        ({"rrule": "COUNT=10"}, "rrule"),
        ({"rrule": "FREQ=WEEKLY;DTSTART=20200310T130000Z"}, "rrule"),
        ({"rrule": "DTSTART:20200310T130000Z\nRRULE:FREQ=WEEKLY"}, "rrule"),
        ({"rrule": "FREQ=WEEKLY;COUNT=ten"}, "rrule"),
        ({"rrule": "FREQ=YEARLY;BYYEARDAY=" + ",".join(str(d) for d in range(1, 200))}, "rrule"),
        ({"rrule": ["FREQ=WEEKLY"]}, "rrule"),
        ({"provider": "skype"}, "provider"),
        ({"allow_conflicts": "yes"}, "allow_conflicts"),
        ({"invitees": {"person_id": 1}}, "invitees"),
        ({"invitees": [{"person_id": 999}]}, "invitees.0.person_id"),
        ({"invitees": [{"person_id": 2**31}]}, "invitees.0.person_id"),
        ({"invitees": [{"person_id": "1"}]}, "invitees.0.person_id"),
        ({"invitees": [{"role": "chair"}]}, "invitees.0.person_id"),
        ({"room": "Hall 1"}, "room"),
        ({"status": "live"}, "status"),
    ],
)
def test_book_refuses_bad_input(api, event, row_count, changes, field):
    body = body_of(VALID_SESSION, changes)

    response = api.post(f"{EVENTS}/{event['id']}/sessions", json=body)

    assert_error(response, 422, "validation_error", field)
    for table in ("sessions", "video_meetings", "invitations"):
        assert row_count(table) == 0, table


@pytest.mark.parametrize(
    ("invitee", "field"),
    [
        ({"role": "king"}, "invitees.1.role"),
        ({"required": "yes"}, "invitees.1.required"),
        ({"email": "li.wei@pku.example.org"}, "invitees.1.email"),
        ({"person_id": 999}, "invitees.1.person_id"),
        ({}, "invitees.1.person_id"),  # listed twice
    ],
)
def test_book_refuses_bad_invitees(api, event, sites, row_count, invitee, field):
    invitees = [{"person_id": sites["li"]["id"]}, {"person_id": sites["li"]["id"], **invitee}]

    response = book(api, event["id"], invitees=invitees)

    assert_error(response, 422, "validation_error", field)
    assert (row_count("sessions"), row_count("invitations")) == (0, 0)


def invitations(api, session_id: int) -> list[tuple[int, str, bool, str]]:
    items = api.get(f"{SESSIONS}/{session_id}/invitations").get_json()["items"]
    return [(i["person_id"], i["role"], i["required"], i["rsvp"]) for i in items]


def test_invitees_default_to_the_events_participants(api, event, sites):
    path = f"{EVENTS}/{event['id']}/participants"
    api.post(path, json={"person_id": sites["li"]["id"], "role": "chair"})
    api.post(path, json={"person_id": sites["smith"]["id"], "role": "speaker", "required": False})

    session = make_session(api, event["id"])

    assert invitations(api, session["id"]) == [
        (sites["li"]["id"], "chair", True, "needs-action"),
        (sites["smith"]["id"], "speaker", False, "needs-action"),
    ]


def test_explicit_invitees_replace_the_participants(api, event, sites):
    api.post(f"{EVENTS}/{event['id']}/participants", json={"institution_id": sites["pku"]["id"]})

    with_smith = make_session(
        api,
        event["id"],
        invitees=[{"person_id": sites["smith"]["id"], "role": "interpreter", "required": False}],
    )
    with_nobody = make_session(api, event["id"], invitees=[])

    assert invitations(api, with_smith["id"]) == [
        (sites["smith"]["id"], "interpreter", False, "needs-action")
    ]
    assert invitations(api, with_nobody["id"]) == []


def test_get_invitations(api, event, sites, app):
    session = make_session(
        api,
        event["id"],
        invitees=[{"person_id": sites["li"]["id"]}, {"person_id": sites["smith"]["id"]}],
    )
    set_rsvps(app, session["id"], "accepted")

    response = api.get(f"{SESSIONS}/{session['id']}/invitations?per_page=1&page=2")

    assert response.status_code == 200
    page = response.get_json()
    assert (page["total"], page["page"], page["per_page"]) == (2, 2, 1)
    [answer] = page["items"]
    assert {k: v for k, v in answer.items() if k not in ("rsvp_at", "email_status")} == {
        "person_id": sites["smith"]["id"],
        "name": "Jane Smith",
        "email": "jsmith@umich.example.org",
        "role": "participant",
        "required": True,
        "rsvp": "accepted",
    }
    assert answer["rsvp_at"].endswith("Z")
    # Jitsi opens at once, so the invitation went out (to the memory outbox).
    assert answer["email_status"]["status"] == "sent"
    assert answer["email_status"]["error"] is None


def test_list_sessions_in_start_order_and_by_status(api, event):
    late = make_session(api, event["id"], title="Late", start="2020-03-12T13:00:00Z")
    early = make_session(api, event["id"], title="Early", start="2020-03-11T13:00:00Z")
    api.delete(f"{SESSIONS}/{late['id']}")

    everything = api.get(f"{EVENTS}/{event['id']}/sessions").get_json()
    cancelled = api.get(f"{EVENTS}/{event['id']}/sessions?status=cancelled").get_json()
    second_page = api.get(f"{EVENTS}/{event['id']}/sessions?per_page=1&page=2").get_json()

    assert [s["title"] for s in everything["items"]] == ["Early", "Late"]
    assert everything["total"] == 2
    assert [s["id"] for s in cancelled["items"]] == [late["id"]]
    assert [s["id"] for s in second_page["items"]] == [late["id"]]
    assert early["status"] == "scheduled"


def test_list_sessions_refuses_an_unknown_status(api, event):
    response = api.get(f"{EVENTS}/{event['id']}/sessions?status=postponed")

    assert_error(response, 422, "validation_error", "status")


# --- sessions: rescheduling and cancelling -----------------------------------------------


def test_reschedule_bumps_sequence_and_resets_answers(api, app, event, sites):
    session = make_session(
        api,
        event["id"],
        invitees=[{"person_id": sites["li"]["id"]}, {"person_id": sites["smith"]["id"]}],
    )
    set_rsvps(app, session["id"], "accepted")

    response = api.patch(
        f"{SESSIONS}/{session['id']}",
        json={"local_start": "2020-03-11T09:00", "timezone": "America/Detroit"},
    )

    assert response.status_code == 200, response.get_json()
    moved = response.get_json()
    assert (moved["start"], moved["end"]) == ("2020-03-11T13:00:00Z", "2020-03-11T14:30:00Z")
    assert (moved["timezone"], moved["local_start"]) == ("America/Detroit", "2020-03-11T09:00:00")
    assert moved["sequence"] == session["sequence"] + 1
    assert moved["ical_uid"] == session["ical_uid"]
    assert api.get(f"{SESSIONS}/{session['id']}").get_json() == moved
    assert [i[3] for i in invitations(api, session["id"])] == ["needs-action", "needs-action"]
    answers = api.get(f"{SESSIONS}/{session['id']}/invitations").get_json()["items"]
    assert [a["rsvp_at"] for a in answers] == [None, None]


@pytest.mark.parametrize(
    ("body", "start", "end"),
    [
        ({"start": "2020-03-10T14:00:00Z"}, "2020-03-10T14:00:00Z", "2020-03-10T15:30:00Z"),
        ({"duration_minutes": 30}, "2020-03-10T13:00:00Z", "2020-03-10T13:30:00Z"),
        ({"end": "2020-03-10T16:00:00Z"}, "2020-03-10T13:00:00Z", "2020-03-10T16:00:00Z"),
        (
            {"local_start": "2020-11-01T01:30", "timezone": "America/Detroit", "fold": 1},
            "2020-11-01T06:30:00Z",
            "2020-11-01T08:00:00Z",
        ),
    ],
)
def test_reschedule_times(api, event, body, start, end):
    session = make_session(api, event["id"])

    response = api.patch(f"{SESSIONS}/{session['id']}", json=body)

    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["start"], response.get_json()["end"]) == (start, end)
    assert response.get_json()["sequence"] == 1


def test_renaming_bumps_sequence_but_keeps_answers(api, app, event, sites):
    session = make_session(api, event["id"], invitees=[{"person_id": sites["li"]["id"]}])
    set_rsvps(app, session["id"], "declined")

    response = api.patch(f"{SESSIONS}/{session['id']}", json={"title": "Opening plenary"})

    assert response.status_code == 200
    assert (response.get_json()["title"], response.get_json()["sequence"]) == ("Opening plenary", 1)
    assert invitations(api, session["id"])[0][3] == "declined"


def test_changing_the_recurrence_resets_answers(api, app, event, sites):
    session = make_session(api, event["id"], invitees=[{"person_id": sites["li"]["id"]}])
    set_rsvps(app, session["id"], "tentative")

    response = api.patch(f"{SESSIONS}/{session['id']}", json={"rrule": "FREQ=MONTHLY;COUNT=6"})

    assert (response.get_json()["rrule"], response.get_json()["sequence"]) == (
        "FREQ=MONTHLY;COUNT=6",
        1,
    )
    assert invitations(api, session["id"])[0][3] == "needs-action"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": "Plenary"},
        {"start": "2020-03-10T21:00:00+08:00"},
        {"duration_minutes": 90},
        {"end": "2020-03-10T14:30:00Z"},
        {"timezone": "Asia/Shanghai"},
        {"local_start": "2020-03-10T21:00", "timezone": "Asia/Shanghai"},
        {"allow_conflicts": True},
    ],
)
def test_a_patch_that_changes_nothing_keeps_the_sequence(api, app, event, sites, body):
    session = make_session(api, event["id"], invitees=[{"person_id": sites["li"]["id"]}])
    set_rsvps(app, session["id"], "accepted")

    response = api.patch(f"{SESSIONS}/{session['id']}", json=body)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == session
    assert invitations(api, session["id"])[0][3] == "accepted"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"duration_minutes": "60"}, "validation_error", "duration_minutes"),
        ({"duration_minutes": 0}, "validation_error", "duration_minutes"),
        ({"duration_minutes": 1441}, "validation_error", "duration_minutes"),
        ({"end": "2020-03-10T12:00:00Z"}, "validation_error", "end"),
        ({"end": "2020-03-11T14:00:00Z"}, "validation_error", "end"),
        ({"end": "2020-03-10T15:00:00Z", "duration_minutes": 60}, "validation_error", "end"),
        ({"start": "2020-03-10T14:00:00"}, "validation_error", "start"),
        (
            {
                "start": "2020-03-11T14:00:00Z",
                "local_start": "2020-03-11T09:00",
                "timezone": "America/Detroit",
            },
            "validation_error",
            "local_start",
        ),
        ({"local_start": "2020-03-11T09:00"}, "validation_error", "timezone"),
        ({"timezone": "Mars/Olympus"}, "validation_error", "timezone"),
        ({"timezone": "EST"}, "validation_error", "timezone"),
        ({"fold": 1}, "validation_error", "fold"),
        ({"title": "Plenary\nX"}, "validation_error", "title"),
        ({"title": ""}, "validation_error", "title"),
        ({"rrule": "FREQ=WEEKLY;DTSTART=20200310T130000Z"}, "validation_error", "rrule"),
        ({"rrule": "WEEKLY"}, "validation_error", "rrule"),
        ({"provider": "zoom"}, "validation_error", "provider"),
        ({"invitees": []}, "validation_error", "invitees"),
        ({"status": "cancelled"}, "validation_error", "status"),
        (
            {"local_start": "2020-03-08T02:30", "timezone": "America/Detroit"},
            "nonexistent_local_time",
            "local_start",
        ),
        (
            {"local_start": "2020-11-01T01:30", "timezone": "America/Detroit"},
            "ambiguous_local_time",
            "local_start",
        ),
    ],
)
def test_reschedule_refuses_bad_input(api, app, event, sites, body, code, field):
    session = make_session(api, event["id"], invitees=[{"person_id": sites["li"]["id"]}])
    set_rsvps(app, session["id"], "accepted")

    response = api.patch(f"{SESSIONS}/{session['id']}", json=body)

    assert_error(response, 422, code, field)
    assert api.get(f"{SESSIONS}/{session['id']}").get_json() == session
    assert invitations(api, session["id"])[0][3] == "accepted"


def test_cancel_keeps_the_session_with_a_higher_sequence(api, event, row_count):
    session = make_session(api, event["id"])

    response = api.delete(f"{SESSIONS}/{session['id']}")

    assert response.status_code == 200
    cancelled = response.get_json()
    assert (cancelled["status"], cancelled["sequence"]) == ("cancelled", 1)
    changed = ("status", "sequence", "meeting")
    assert {k: v for k, v in cancelled.items() if k not in changed} == {
        k: v for k, v in session.items() if k not in changed
    }
    # The meeting is deleted on the provider by the job that ran after the commit.
    assert api.get(f"{SESSIONS}/{session['id']}").get_json()["meeting"]["status"] == "deleted"
    assert row_count("sessions") == 1


def test_cancelling_twice_changes_nothing(api, event):
    session = make_session(api, event["id"])
    first = api.delete(f"{SESSIONS}/{session['id']}").get_json()

    second = api.delete(f"{SESSIONS}/{session['id']}")

    assert second.status_code == 200
    assert second.get_json() == first
    assert second.get_json()["sequence"] == 1


@pytest.mark.parametrize(
    "body",
    [{"title": "Revived"}, {"start": "2020-03-12T13:00:00Z"}, {}],
)
def test_a_cancelled_session_cannot_be_changed(api, event, body):
    session = make_session(api, event["id"])
    cancelled = api.delete(f"{SESSIONS}/{session['id']}").get_json()

    response = api.patch(f"{SESSIONS}/{session['id']}", json=body)

    assert_error(response, 409, "session_cancelled")
    assert api.get(f"{SESSIONS}/{session['id']}").get_json() == cancelled


# --- strict values ---------------------------------------------------------------------------


@pytest.mark.parametrize("fold", [True, 1.0, "1", 2, -1])
def test_fold_must_be_the_number_0_or_1(api, event, row_count, fold):
    response = book(
        api,
        event["id"],
        start=MISSING,
        local_start="2020-11-01T01:30",
        timezone="America/Detroit",
        fold=fold,
    )
    assert_error(response, 422, "validation_error", "fold")
    assert row_count("sessions") == 0


@pytest.mark.parametrize("field", ["title", "kind", "timezone", "default_provider", "status"])
def test_null_for_a_required_event_field_is_refused(api, event, field):
    response = api.patch(f"{EVENTS}/{event['id']}", json={field: None})
    assert_error(response, 422, "validation_error", field)
    assert api.get(f"{EVENTS}/{event['id']}").get_json() == event


def test_null_rrule_makes_a_series_a_one_off(api, event):
    session = make_session(api, event["id"], rrule="FREQ=WEEKLY;COUNT=4")
    response = api.patch(f"{SESSIONS}/{session['id']}", json={"rrule": None})
    assert response.status_code == 200
    assert response.get_json()["rrule"] is None
    assert response.get_json()["sequence"] == session["sequence"] + 1
    title = api.patch(f"{SESSIONS}/{session['id']}", json={"title": None})
    assert_error(title, 422, "validation_error", "title")
