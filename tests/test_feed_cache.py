"""Feeds from the cache every app process shares, dropped only for the people a change
concerns: on both stores (the process's own, and Redis as production runs it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from forum.directory.models import Person
from forum.events import calendars
from forum.events import feedcache
from forum.events import services
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.extensions import db
from tests.celery_worker import REDIS_URL
from tests.celery_worker import redis_available
from tests.conftest import missing_service
from tests.factories import SESSIONS
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.helpers import recorded_statements

COURSES = ("MATH101", "PHYS201", "CHEM301")
FIRST_STARTS = ("2027-03-01T01:00:00Z", "2027-03-02T03:00:00Z", "2027-03-03T06:00:00Z")


@pytest.fixture(params=["memory", "redis"])
def app_settings(request) -> dict[str, Any]:
    if request.param == "redis":
        if not redis_available(REDIS_URL):
            missing_service(f"Redis at {REDIS_URL}")
        return {"FORUM_CACHE_URL": REDIS_URL}
    return {"FORUM_CACHE_URL": "memory://"}


@pytest.fixture(autouse=True)
def _fresh_cache(app):
    # Ids start at 1 again in every test: what an earlier test left in Redis must go.
    calendars.cache.clear()
    yield
    calendars.cache.clear()


@pytest.fixture
def term(api) -> dict[str, Any]:
    """Three weekly courses, each with a teacher and three students of its own."""
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    courses = {}
    for number, (code, start) in enumerate(zip(COURSES, FIRST_STARTS, strict=True)):
        teacher = make_person(api, f"Teacher {code}", f"t{number}@pku.example.org", pku["id"])
        students = [
            make_person(api, f"Student {code} {n}", f"s{number}-{n}@pku.example.org", pku["id"])
            for n in range(3)
        ]
        event = make_event(api, title=f"{code} lectures", kind="series", timezone="Asia/Shanghai")
        session = make_session(
            api,
            event["id"],
            title=f"{code} lecture",
            start=start,
            rrule="FREQ=WEEKLY;COUNT=16",
            invitees=[invitee(teacher, role="chair"), *(invitee(s) for s in students)],
        )
        courses[code] = {"event": event, "session": session, "people": [teacher, *students]}
    return courses


def feed_path(app, person_id: int) -> str:
    with app.app_context():
        url = calendars.feed_url(db.session.get(Person, person_id))
    return url.removeprefix(app.config["FORUM_BASE_URL"])


def first_start(body: bytes) -> str:
    [event] = [e for e in Calendar.from_ical(body).walk("VEVENT") if "RRULE" in e]
    return event.decoded("DTSTART").astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fetch_all(app, client, term) -> dict[int, Any]:
    feeds = {}
    for course in term.values():
        for person in course["people"]:
            response = client.get(feed_path(app, person["id"]))
            assert response.status_code == 200
            feeds[person["id"]] = response
    return feeds


def move_course(app, api, term, how: str) -> None:
    session = term["MATH101"]["session"]
    if how == "api":
        response = api.patch(f"{SESSIONS}/{session['id']}", json={"start": "2027-03-01T05:00:00Z"})
        assert response.status_code == 200, response.get_json()
    else:
        with app.app_context():
            services.reschedule_session(
                db.session.get(EventSession, session["id"]),
                {"start": dt.datetime(2027, 3, 1, 5, tzinfo=dt.UTC)},
            )
            db.session.commit()


@pytest.mark.parametrize("how", ["api", "service"])
def test_moving_one_course_changes_only_its_students_feeds(app, api, client, term, how):
    before = fetch_all(app, client, term)
    builds = calendars.cache.builds
    move_course(app, api, term, how)
    moved = {p["id"] for p in term["MATH101"]["people"]}
    for person_id, old in before.items():
        path = feed_path(app, person_id)
        again = client.get(path, headers={"If-None-Match": old.headers["ETag"]})
        if person_id in moved:
            assert again.status_code == 200
            assert again.headers["ETag"] != old.headers["ETag"]
            assert first_start(old.data) == "2027-03-01T01:00:00Z"
            assert first_start(again.data) == "2027-03-01T05:00:00Z"
        else:
            assert again.status_code == 304
            assert again.headers["ETag"] == old.headers["ETag"]
            assert client.get(path).data == old.data
    # Only the moved course's four feeds were built again.
    assert calendars.cache.builds - builds == len(moved)


def test_an_unchanged_feed_is_served_without_the_database(app, client, term):
    path = feed_path(app, term["PHYS201"]["people"][1]["id"])
    first = client.get(path)
    with recorded_statements(app) as statements:
        not_modified = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        since = client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
        warm = client.get(path)
    assert statements == []
    assert (not_modified.status_code, not_modified.data) == (304, b"")
    assert not_modified.headers["ETag"] == first.headers["ETag"]
    assert since.status_code == 304
    assert (warm.status_code, warm.data, warm.headers["ETag"]) == (
        200,
        first.data,
        first.headers["ETag"],
    )


def test_a_revoked_link_stops_working_at_once(app, client, term):
    person_id = term["CHEM301"]["people"][2]["id"]
    old_path = feed_path(app, person_id)
    cached = client.get(old_path)
    assert (
        client.get(old_path, headers={"If-None-Match": cached.headers["ETag"]}).status_code == 304
    )
    with app.app_context():
        db.session.get(Person, person_id).link_version += 1
        db.session.commit()
    assert client.get(old_path).status_code == 404
    assert (
        client.get(old_path, headers={"If-None-Match": cached.headers["ETag"]}).status_code == 404
    )
    new_path = feed_path(app, person_id)
    assert new_path != old_path
    assert client.get(new_path).status_code == 200
    # The old link stays refused once the new one's feed is cached.
    assert client.get(old_path).status_code == 404


def test_a_persons_language_rebuilds_only_their_feed(app, api, client, term):
    before = fetch_all(app, client, term)
    student = term["PHYS201"]["people"][1]
    response = api.patch(f"/api/v1/people/{student['id']}", json={"locale": "fr"})
    assert response.status_code == 200, response.get_json()
    for person_id, old in before.items():
        again = client.get(
            feed_path(app, person_id), headers={"If-None-Match": old.headers["ETag"]}
        )
        if person_id == student["id"]:
            assert again.status_code == 200
            assert b"Sessions you are invited to" in old.data
            assert "Les séances auxquelles vous êtes invité".encode() in again.data
        else:
            assert again.status_code == 304


def test_an_event_calendar_changes_with_its_sessions_only(app, api, client, term):
    paths = {}
    etags = {}
    for code, course in term.items():
        event = api.get(f"/api/v1/events/{course['event']['id']}").get_json()
        paths[code] = event["calendar_url"].removeprefix(app.config["FORUM_BASE_URL"])
        etags[code] = client.get(paths[code]).headers["ETag"]
    move_course(app, api, term, "api")
    for code, path in paths.items():
        again = client.get(path, headers={"If-None-Match": etags[code]})
        assert again.status_code == (200 if code == "MATH101" else 304)


def test_a_bulk_insert_shows_once_people_changed_is_called(app, api, client, term):
    student = term["CHEM301"]["people"][1]
    path = feed_path(app, student["id"])
    before = client.get(path)
    other = term["MATH101"]["session"]["id"]
    with app.app_context():
        # A Core insert, as a timetable import writes its invitations: no flush sees it.
        db.session.execute(
            sa.insert(Invitation),
            [{"session_id": other, "person_id": student["id"], "role": "participant"}],
        )
        db.session.commit()
        feedcache.people_changed([student["id"]])
    after = client.get(path, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert b"MATH101 lecture" in after.data and b"MATH101 lecture" not in before.data


def test_a_feed_built_from_data_read_before_a_change_is_not_kept(app, client, term, monkeypatch):
    """The race: a reader misses, reads the data, a change commits and drops the feed, and
    the reader stores what it built from the old data. That copy must not be served."""
    student = term["MATH101"]["people"][1]
    session_id = term["MATH101"]["session"]["id"]
    path = feed_path(app, student["id"])
    real_build = calendars.build_person_feed

    def slow_reader(person: Person):
        built = real_build(person)  # from the data as it was
        # Meanwhile another process moves the course and commits.
        with app.app_context():
            services.reschedule_session(
                db.session.get(EventSession, session_id),
                {"start": dt.datetime(2027, 3, 1, 7, tzinfo=dt.UTC)},
            )
            db.session.commit()
        return built

    monkeypatch.setattr(calendars, "build_person_feed", slow_reader)
    stale = client.get(path)
    monkeypatch.undo()
    assert first_start(stale.data) == "2027-03-01T01:00:00Z"  # what that reader answered
    fresh = client.get(path, headers={"If-None-Match": stale.headers["ETag"]})
    assert fresh.status_code == 200
    assert first_start(fresh.data) == "2027-03-01T07:00:00Z"


def test_a_store_refuses_a_calendar_built_before_a_drop(app):
    with app.test_request_context():
        store = feedcache.store()
        subject = feedcache.person(41)
        built = feedcache.BuiltCalendar(
            body=b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
            etag='"one"',
            last_modified=dt.datetime(2027, 3, 1, tzinfo=dt.UTC),
            version="0",
        )
        generation = store.generation(subject)
        feedcache.people_changed([41])
        assert store.put(subject, "feed", built, generation) is False
        assert store.get(subject, "feed") is None
        assert store.put(subject, "feed", built, store.generation(subject)) is True
        assert store.get(subject, "feed") == built
        assert store.head(subject, "feed").etag == '"one"'


def test_a_change_rolled_back_drops_nothing(app, client, term):
    student = term["PHYS201"]["people"][0]
    path = feed_path(app, student["id"])
    cached = client.get(path)
    builds = calendars.cache.builds
    with app.app_context():
        db.session.get(Person, student["id"]).name = "Not kept"
        db.session.flush()
        db.session.rollback()
    again = client.get(path, headers={"If-None-Match": cached.headers["ETag"]})
    assert again.status_code == 304
    assert calendars.cache.builds == builds


@pytest.mark.parametrize("app_settings", [{"FORUM_RATE_LIMIT_BAD_LINKS": "3 per minute"}])
def test_broken_feed_links_are_still_rate_limited(app, client, term):
    good = feed_path(app, term["MATH101"]["people"][0]["id"])
    broken = good.replace(".ics", "x.ics")
    assert [client.get(broken).status_code for _ in range(4)] == [404, 404, 404, 429]
    # A genuine link from the same address still works.
    assert client.get(good).status_code == 200


@pytest.mark.parametrize(
    "app_settings", [{"FORUM_CACHE_URL": "redis://127.0.0.1:1/0"}], ids=["redis down"]
)
def test_feeds_are_answered_from_the_database_while_redis_is_down(app, client, term):
    path = feed_path(app, term["MATH101"]["people"][1]["id"])
    first = client.get(path)
    assert first.status_code == 200 and b"MATH101 lecture" in first.data
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_the_cache_is_the_brokers_redis_unless_set():
    from config import ConfigError
    from config import load_config

    assert load_config({})["FORUM_CACHE_URL"] == "memory://"
    broker = {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/3"}
    assert load_config(broker)["FORUM_CACHE_URL"] == "redis://127.0.0.1:6379/3"
    own = {**broker, "FORUM_CACHE_URL": "redis://cache.internal:6379/0"}
    assert load_config(own)["FORUM_CACHE_URL"] == "redis://cache.internal:6379/0"
    assert load_config({**broker, "FORUM_CACHE_URL": "memory://"})["FORUM_CACHE_URL"] == (
        "memory://"
    )
    amqp = {"CELERY_BROKER_URL": "amqp://guest@127.0.0.1//"}
    assert load_config(amqp)["FORUM_CACHE_URL"] == "memory://"
    with pytest.raises(ConfigError, match="FORUM_CACHE_URL must be memory:// or a redis"):
        load_config({"FORUM_CACHE_URL": "memcached://secret@127.0.0.1"})
    with pytest.raises(ConfigError, match="FORUM_CALENDAR_CACHE_SECONDS must be at least 60"):
        load_config({"FORUM_CALENDAR_CACHE_SECONDS": "5"})
