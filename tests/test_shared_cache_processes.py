"""Two app processes (gunicorn, as in production) on one PostgreSQL database and one Redis:
they answer alike, and a change made through one is seen through the other at once.

Needs PostgreSQL and Redis: skipped without them, failed in CI (CI=true).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask_migrate import upgrade

from benchmarks.bench_feed import gunicorn
from forum import create_app
from forum.accounts.services import create_organiser
from forum.accounts.services import issue_token
from forum.directory.models import Person
from forum.directory.services import create_institution
from forum.directory.services import create_person
from forum.events import calendars
from forum.events import services
from forum.extensions import db
from tests.celery_worker import REDIS_URL
from tests.celery_worker import redis_available
from tests.conftest import TempPostgres
from tests.conftest import missing_service
from tests.workers import free_port

SECRET = "shared-cache-test-secret-key-0123456789"  # noqa: S105 (the test's own)
SETTINGS = {"SECRET_KEY": SECRET, "MAIL_BACKEND": "memory", "FORUM_CACHE_URL": REDIS_URL}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    """A migrated PostgreSQL database with a course, and two gunicorn processes on it."""
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    database = TempPostgres()
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": database.url, **SETTINGS})
        with app.app_context():
            upgrade()
            calendars.cache.clear()
            organiser = create_organiser(
                email="registrar@pku.example.org", name="Registrar", timezone="Asia/Shanghai"
            )
            token = issue_token(organiser)
            pku = create_institution(
                name="Peking University", country="CN", timezone="Asia/Shanghai"
            )
            db.session.flush()
            students = [
                create_person(
                    name=f"Student {n}",
                    email=f"student{n}@pku.example.org",
                    institution_id=pku.id,
                    locale="en",
                )
                for n in range(3)
            ]
            db.session.flush()
            event = services.create_event(
                actor=organiser, title="MATH101 lectures", kind="series", timezone="Asia/Shanghai"
            )

            session = services.create_session(
                event,
                actor=organiser,
                title="MATH101 lecture",
                start=dt.datetime(2027, 3, 1, 1, tzinfo=dt.UTC),
                duration_minutes=100,
                rrule="FREQ=WEEKLY;COUNT=16",
                invitees=[{"person_id": s.id, "role": "participant"} for s in students],
                notify=False,
            )
            db.session.commit()
            feeds = [
                calendars.feed_url(s).removeprefix(app.config["FORUM_BASE_URL"]) for s in students
            ]
            people = [s.id for s in students]
            session_id = session.id
            db.session.remove()
            db.engine.dispose()
        env = {
            **os.environ,
            "DATABASE_URL": database.url,
            "FORUM_ENV": "testing",
            "FORUM_INLINE_SCHEDULER": "false",
            "CELERY_BROKER_URL": "",
            **SETTINGS,
        }
        ports = [free_port(), free_port()]
        with gunicorn(env, ports[0], workers=1), gunicorn(env, ports[1], workers=1):
            yield {
                "app": app,
                "bases": [f"http://127.0.0.1:{port}" for port in ports],
                "token": token,
                "feeds": feeds,
                "people": people,
                "session_id": session_id,
            }
    finally:
        database.drop()


def api(stack, base: str, method: str, path: str, body: Any = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {stack['token']}"}
    return requests.request(method, base + path, json=body, headers=headers, timeout=30)


def test_both_processes_serve_the_same_feed_and_answer_304_to_each_others_etag(stack):
    first, second = stack["bases"]
    path = stack["feeds"][0]
    a = requests.get(first + path, timeout=30)
    b = requests.get(second + path, timeout=30)
    assert (a.status_code, b.status_code) == (200, 200)
    assert a.headers["ETag"] == b.headers["ETag"]
    assert a.content == b.content and b"MATH101 lecture" in a.content
    for base, etag in ((first, b.headers["ETag"]), (second, a.headers["ETag"])):
        again = requests.get(base + path, headers={"If-None-Match": etag}, timeout=30)
        assert again.status_code == 304


def test_both_processes_give_the_same_api_answers(stack):
    first, second = stack["bases"]
    read = f"/api/v1/sessions/{stack['session_id']}"
    search = {
        "person_ids": stack["people"],
        "duration_minutes": 60,
        "window_start": "2027-03-01",
        "window_end": "2027-03-03",
    }
    answers = []
    for base in (first, second):
        got = api(stack, base, "GET", read)
        found = api(stack, base, "POST", "/api/v1/scheduling/search", search)
        assert (got.status_code, found.status_code) == (200, 200), (got.text, found.text)
        answers.append((got.json(), found.json()["slots"]))
    assert answers[0] == answers[1]
    assert answers[0][1], "the search found no slot"


def test_a_change_through_one_process_is_seen_through_the_other_at_once(stack):
    first, second = stack["bases"]
    path = stack["feeds"][1]
    before = requests.get(second + path, timeout=30)
    assert b"DTSTART;TZID=Asia/Shanghai:20270301T090000" in before.content
    moved = api(
        stack,
        first,
        "PATCH",
        f"/api/v1/sessions/{stack['session_id']}",
        {"start": "2027-03-01T02:00:00Z"},
    )
    assert moved.status_code == 200, moved.text
    for base in (second, first):
        after = requests.get(
            base + path, headers={"If-None-Match": before.headers["ETag"]}, timeout=30
        )
        assert after.status_code == 200
        assert after.headers["ETag"] != before.headers["ETag"]
        assert b"DTSTART;TZID=Asia/Shanghai:20270301T100000" in after.content
    read = api(stack, second, "GET", f"/api/v1/sessions/{stack['session_id']}").json()
    assert read["start"] == "2027-03-01T02:00:00Z"


def test_a_revoked_link_stops_working_on_every_process_at_once(stack):
    first, second = stack["bases"]
    path = stack["feeds"][2]
    etags = [requests.get(base + path, timeout=30).headers["ETag"] for base in (first, second)]
    app = stack["app"]
    with app.app_context():
        # A third process (this one) revokes the link: both servers must refuse it now.
        db.session.get(Person, stack["people"][2]).link_version += 1
        db.session.commit()
        new_path = calendars.feed_url(db.session.get(Person, stack["people"][2])).removeprefix(
            app.config["FORUM_BASE_URL"]
        )
        db.session.remove()
        db.engine.dispose()
    for base, etag in zip((first, second), etags, strict=True):
        assert requests.get(base + path, timeout=30).status_code == 404
        refused = requests.get(base + path, headers={"If-None-Match": etag}, timeout=30)
        assert refused.status_code == 404
        assert requests.get(base + new_path, timeout=30).status_code == 200
