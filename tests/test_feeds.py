"""Personal feeds and event calendars: conditional GETs, and rebuilt only when they change."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from forum.directory.models import Person
from forum.events import calendars
from forum.events.models import VideoMeeting
from forum.extensions import db
from tests.calendars import check_calendar
from tests.factories import SESSIONS
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.helpers import recorded_statements


@pytest.fixture
def li(api) -> dict[str, Any]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    return make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"])


@pytest.fixture
def feed_path(app, li) -> str:
    with app.app_context():
        url = calendars.feed_url(db.session.get(Person, li["id"]))
    return url.removeprefix(app.config["FORUM_BASE_URL"])


@pytest.fixture(autouse=True)
def _fresh_cache():
    calendars.cache.clear()
    yield
    calendars.cache.clear()


def book_for(api, person: dict[str, Any], count: int = 3) -> list[dict[str, Any]]:
    event = make_event(api, title="PKU-UTokyo bilateral", kind="bilateral", timezone="Asia/Tokyo")
    return [
        make_session(
            api,
            event["id"],
            title=f"Call {n}",
            start=f"2027-0{n + 2}-10T06:00:00Z",
            invitees=[invitee(person)],
        )
        for n in range(count)
    ]


def test_a_feed_lists_every_session_the_person_is_invited_to(api, client, li, feed_path):
    book_for(api, li)
    response = client.get(feed_path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "private, no-cache"
    check_calendar(
        response.data,
        method=None,
        expect_utc=["2027-02-10T06:00:00Z", "2027-03-10T06:00:00Z", "2027-04-10T06:00:00Z"],
    )
    for line in (b"X-WR-CALNAME:forum: Li Wei", b"REFRESH-INTERVAL;VALUE=DURATION:PT1H"):
        assert line in response.data
    assert b"X-PUBLISHED-TTL:PT1H" in response.data
    assert b"ATTENDEE" not in response.data and b"ORGANIZER" not in response.data
    assert b"METHOD" not in response.data


def test_conditional_requests_get_304(api, client, li, feed_path):
    book_for(api, li)
    first = client.get(feed_path)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = client.get(feed_path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    assert client.get(feed_path, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(feed_path, headers={"If-Modified-Since": modified}).status_code == 304
    # If-None-Match wins over If-Modified-Since (RFC 9110 section 13.1.2).
    both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
    assert client.get(feed_path, headers=both).status_code == 200
    assert client.head(feed_path).status_code == 200


def test_an_unchanged_feed_is_not_rebuilt(app, api, client, li, feed_path):
    book_for(api, li, count=5)
    client.get(feed_path)
    builds = calendars.cache.builds
    with recorded_statements(app) as statements:
        for _ in range(3):
            assert client.get(feed_path).status_code == 200
    assert calendars.cache.builds == builds
    # Served from the cache the app processes share: no query at all (forum.events.feedcache).
    assert statements == [], statements


@pytest.mark.parametrize(
    "change",
    ["reschedule", "rename", "cancel", "join link", "new session", "person's zone", "event"],
)
def test_every_change_a_feed_shows_gives_a_new_feed(app, api, client, li, feed_path, change):
    sessions = book_for(api, li)
    before = client.get(feed_path)
    target = sessions[0]
    if change == "reschedule":
        api.patch(f"{SESSIONS}/{target['id']}", json={"start": "2027-02-11T06:00:00Z"})
    elif change == "rename":
        api.patch(f"{SESSIONS}/{target['id']}", json={"title": "Renamed call"})
    elif change == "cancel":
        api.delete(f"{SESSIONS}/{target['id']}")
    elif change == "join link":
        with app.app_context():
            meeting = db.session.scalar(
                sa.select(VideoMeeting).where(VideoMeeting.session_id == target["id"])
            )
            meeting.join_url = "https://meet.example.org/forum-new-room"
            db.session.commit()
    elif change == "new session":
        book_for(api, li, count=1)
    elif change == "person's zone":
        api.patch(f"/api/v1/people/{li['id']}", json={"timezone": "Europe/London"})
    elif change == "event":
        api.patch(f"/api/v1/events/{target['event_id']}", json={"description": "Agenda: MoU"})
    after = client.get(feed_path, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.data != before.data


def test_a_revoked_link_stops_working(app, api, client, li, feed_path):
    assert client.get(feed_path).status_code == 200
    with app.app_context():
        db.session.get(Person, li["id"]).link_version += 1
        db.session.commit()
    assert client.get(feed_path).status_code == 404
    assert client.get(feed_path.replace(".ics", "x.ics")).status_code == 404


def test_an_event_calendar_answers_304_and_changes_with_its_sessions(app, api, client, li):
    [first, *_] = book_for(api, li, count=2)
    event = api.get(f"/api/v1/events/{first['event_id']}").get_json()
    path = event["calendar_url"].removeprefix(app.config["FORUM_BASE_URL"])
    response = client.get(path)
    check_calendar(
        response.data,
        method="PUBLISH",
        expect_utc=["2027-02-10T06:00:00Z", "2027-03-10T06:00:00Z"],
    )
    etag = response.headers["ETag"]
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    api.patch(f"{SESSIONS}/{first['id']}", json={"title": "Kick-off"})
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 200
