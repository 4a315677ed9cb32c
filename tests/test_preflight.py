"""Pre-flight checks of a session's meeting at its provider, a day and an hour ahead: on the
fake Zoom over real HTTP, with real databases, the outbound webhook to a real receiver, the
organisers' email in the memory sender and the dashboard page.

The fake Zoom keeps real time (it refuses meetings in the past), so sessions are booked a
few days from now and the job runs "as of" a moment before them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from forum.core.times import format_instant
from forum.db import now_utc
from forum.events.models import VideoMeeting
from forum.extensions import db
from forum.providers.fakes.base import RunningFake
from forum.providers.fakes.zoom import FakeZoomProvider
from forum.reminders.models import PreflightCheck
from tests.factories import SESSIONS
from tests.factories import make_event
from tests.factories import make_session
from tests.fake_setups.zoom import ACCOUNT_ID
from tests.fake_setups.zoom import CLIENT_ID
from tests.fake_setups.zoom import CLIENT_SECRET
from tests.fake_setups.zoom import HOSTS
from tests.test_meetings import add_zoom
from tests.test_outbound_webhooks import Receiver
from tests.test_outbound_webhooks import subscribe
from tests.test_web import log_in

ORGANISER = "organiser@example.org"


@pytest.fixture
def app_settings() -> dict[str, Any]:
    # The outbound receiver listens on loopback.
    return {"FORUM_ALLOW_PRIVATE_URLS": True}


@pytest.fixture
def zoom() -> Iterator[RunningFake]:
    fake = FakeZoomProvider(
        hosts=HOSTS, account_id=ACCOUNT_ID, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    with RunningFake(fake) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def start() -> dt.datetime:
    """A start three days from now, on a whole minute."""
    return (now_utc() + dt.timedelta(days=3)).replace(second=0)


def zoom_api(zoom: RunningFake, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A call to the fake Zoom's own API, as someone working in Zoom's web portal would."""
    token = requests.post(
        f"{zoom.url}/oauth/token",
        data={"grant_type": "account_credentials", "account_id": ACCOUNT_ID},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return requests.request(method, f"{zoom.url}/v2{path}", headers=headers, timeout=5, **kwargs)


def book_on_zoom(api, runner, zoom, start: dt.datetime, **fields: Any) -> dict[str, Any]:
    add_zoom(runner, zoom)
    event = make_event(api, title="Deans' forum", kind="forum", default_provider="zoom")
    session = make_session(api, event["id"], title="Plenary", start=format_instant(start), **fields)
    assert meeting_of(api, session["id"])["status"] == "created"
    return session


def meeting_of(api, session_id: int) -> dict[str, Any]:
    return api.get(f"{SESSIONS}/{session_id}").get_json()["meeting"]


def external_id(app, session_id: int) -> str:
    with app.app_context():
        return db.session.scalar(
            sa.select(VideoMeeting.external_id).where(VideoMeeting.session_id == session_id)
        )


def preflight(app, at: dt.datetime) -> dict[str, int]:
    task = app.extensions["celery"].tasks["forum.preflight_checks"]
    return task.apply(kwargs={"at": format_instant(at)}).get()


def checks(app) -> list[tuple[int, bool, list[str]]]:
    with app.app_context():
        return [
            (c.lead_minutes, c.ok, c.problems)
            for c in db.session.scalars(sa.select(PreflightCheck).order_by(PreflightCheck.id))
        ]


def organiser_mail(app) -> list:
    return [
        m
        for m in app.extensions["forum_mail_sender"].messages
        if m["Subject"].startswith("Meeting problem")
    ]


# --- a meeting deleted on Zoom -----------------------------------------------------------------


def test_a_meeting_deleted_on_zoom_is_reported_everywhere_and_retry_mends_it(
    app, api, client, runner, zoom, receiver, start
):
    subscription = subscribe(api, receiver, "provider.error")
    session = book_on_zoom(api, runner, zoom, start)
    first_id = external_id(app, session["id"])
    assert zoom_api(zoom, "DELETE", f"/meetings/{first_id}").status_code == 204

    assert preflight(app, start - dt.timedelta(hours=23, minutes=58)) == {
        "checked": 1,
        "problems": 1,
        "failed": 0,
    }

    [(lead, ok, problems)] = checks(app)
    assert (lead, ok) == (1440, False)
    assert problems == [f"the Zoom meeting {first_id} no longer exists"]
    meeting = meeting_of(api, session["id"])
    assert meeting["status"] == "failed"
    home = start.astimezone(dt.timezone(dt.timedelta(hours=8)))  # the event's Beijing time
    assert meeting["error"] == (
        f"the Zoom meeting {first_id} no longer exists (checked 24 hours before "
        f"{home:%a %d %b %Y %H:%M} Asia/Shanghai): Retry opens a new one"
    )
    [mail] = organiser_mail(app)
    assert mail["To"].addresses[0].addr_spec == ORGANISER
    assert meeting["error"] in mail.get_content()
    receiver.wait_for(1)
    [delivered] = receiver.events()
    assert delivered["type"] == "provider.error"
    assert delivered["data"] == {
        "session_id": session["id"],
        "provider": "zoom",
        "error": meeting["error"],
        "check": "preflight",
    }
    assert subscription["id"]

    # The dashboard shows it, with the session's link.
    assert log_in(client, ORGANISER).status_code == 302
    page = client.get("/").text
    assert "Meetings with a problem" in page
    assert f'href="/sessions/{session["id"]}"' in page
    assert f"the Zoom meeting {first_id} no longer exists" in page

    # Run again: checked once.
    assert preflight(app, start - dt.timedelta(hours=23))["checked"] == 0
    assert len(organiser_mail(app)) == 1

    # Retry opens a new meeting on Zoom; the hour-ahead check finds all well.
    response = api.post(f"{SESSIONS}/{session['id']}/meeting/retry")
    assert response.status_code in (200, 202), response.get_json()
    assert meeting_of(api, session["id"])["status"] == "created"
    second_id = external_id(app, session["id"])
    assert second_id != first_id
    assert zoom_api(zoom, "GET", f"/meetings/{second_id}").status_code == 200

    assert preflight(app, start - dt.timedelta(minutes=59))["problems"] == 0
    assert [(lead, ok) for lead, ok, _ in checks(app)] == [(1440, False), (60, True)]
    assert "Meetings with a problem" not in client.get("/").text


def test_a_meeting_moved_on_zoom_is_reported(app, api, runner, zoom, start):
    session = book_on_zoom(api, runner, zoom, start)
    meeting_id = external_id(app, session["id"])
    later = format_instant(start + dt.timedelta(hours=1))
    moved = zoom_api(zoom, "PATCH", f"/meetings/{meeting_id}", json={"start_time": later})
    assert moved.status_code == 204

    assert preflight(app, start - dt.timedelta(minutes=30))["problems"] == 1

    [(lead, ok, [problem])] = checks(app)
    assert (lead, ok) == (60, False)  # only the shortest lead due
    beijing = dt.timezone(dt.timedelta(hours=8))
    assert problem == (
        f"the Zoom meeting {meeting_id} is set for "
        f"{(start + dt.timedelta(hours=1)).astimezone(beijing):%a %d %b %Y %H:%M} Asia/Shanghai, "
        f"not {start.astimezone(beijing):%a %d %b %Y %H:%M} Asia/Shanghai as the session says"
    )
    assert meeting_of(api, session["id"])["status"] == "failed"


def test_a_host_removed_from_zoom_is_reported(app, api, runner, zoom, start):
    session = book_on_zoom(api, runner, zoom, start)
    host = meeting_of(api, session["id"])["host_account"]
    del zoom.app.users[host.lower()]  # an administrator deleted the user in Zoom

    assert preflight(app, start - dt.timedelta(minutes=30))["problems"] == 1

    [(_, ok, [problem])] = checks(app)
    assert not ok
    assert problem.startswith(f"Zoom user {host} does not exist on this account")


def test_a_host_with_another_meeting_at_that_time_is_reported(app, api, runner, zoom, start):
    session = book_on_zoom(api, runner, zoom, start)
    host = meeting_of(api, session["id"])["host_account"]
    other = zoom_api(
        zoom,
        "POST",
        f"/users/{host}/meetings",
        json={
            "topic": "Budget",
            "type": 2,
            "start_time": format_instant(start + dt.timedelta(minutes=30)),
            "duration": 60,
        },
    )
    assert other.status_code == 201
    other_id = str(other.json()["id"])

    assert preflight(app, start - dt.timedelta(minutes=30))["problems"] == 1

    [(_, _, [problem])] = checks(app)
    assert problem == (
        f"Zoom user {host} has another meeting at that time ({other_id}): one host runs one "
        "meeting at a time"
    )


def test_refused_credentials_are_reported_without_stopping_the_job(app, api, runner, zoom, start):
    session = book_on_zoom(api, runner, zoom, start)
    jitsi_event = make_event(api, title="Side call", kind="bilateral")
    make_session(api, jitsi_event["id"], title="Side", start=format_instant(start))
    # The app's secret was rotated in Zoom: tokens held run out and no new one is given.
    zoom.app.client_secret = "rotated-in-zoom"
    zoom.app.expire_tokens()

    assert preflight(app, start - dt.timedelta(minutes=30)) == {
        "checked": 2,
        "problems": 1,
        "failed": 0,
    }

    problems = {tuple(p) for _, ok, p in checks(app) if not ok}
    assert problems == {
        (
            "Zoom refused the app's credentials: check the client id and client secret of the "
            "Server-to-Server OAuth app",
        )
    }
    assert "credentials" in meeting_of(api, session["id"])["error"]


def test_a_jitsi_meeting_is_ok_without_asking_anyone(app, api, start, monkeypatch):
    event = make_event(api, title="PKU-Tokyo call", kind="bilateral")
    session = make_session(api, event["id"], title="Call", start=format_instant(start))
    assert meeting_of(api, session["id"])["provider"] == "jitsi"

    def no_http(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a pre-flight check of a Jitsi meeting made an HTTP call")

    monkeypatch.setattr(requests.Session, "send", no_http)
    assert preflight(app, start - dt.timedelta(hours=23, minutes=50)) == {
        "checked": 1,
        "problems": 0,
        "failed": 0,
    }
    assert checks(app) == [(1440, True, [])]
    assert meeting_of(api, session["id"])["status"] == "created"


def test_the_command_checks_as_of_a_moment(app, api, runner, zoom, start):
    session = book_on_zoom(api, runner, zoom, start)
    at = format_instant(start - dt.timedelta(minutes=45))

    result = runner.invoke(args=["forum", "preflight", "--at", at])

    assert result.exit_code == 0, result.output
    assert f"session {session['id']} ('Plenary')" in result.output
    assert ": ok" in result.output
    assert "1 checked, 0 with problems" in result.output


def test_each_date_of_a_series_on_zoom_is_checked_against_that_date(app, api, runner, zoom, start):
    session = book_on_zoom(api, runner, zoom, start, rrule="FREQ=WEEKLY;COUNT=3")
    second = start + dt.timedelta(weeks=1)

    assert preflight(app, second - dt.timedelta(minutes=30)) == {
        "checked": 1,
        "problems": 0,
        "failed": 0,
    }
    with app.app_context():
        [check] = db.session.scalars(sa.select(PreflightCheck)).all()
        assert (check.occurrence_start, check.lead_minutes, check.ok) == (second, 60, True)

    # The third date moved in Zoom alone: its check says so, the second's stood.
    meeting_id = external_id(app, session["id"])
    third = start + dt.timedelta(weeks=2)
    occurrence_id = str(int(third.timestamp() * 1000))
    moved = zoom_api(
        zoom,
        "PATCH",
        f"/meetings/{meeting_id}",
        params={"occurrence_id": occurrence_id},
        json={"start_time": format_instant(third + dt.timedelta(hours=2)), "duration": 60},
    )
    assert moved.status_code == 204
    assert preflight(app, third - dt.timedelta(minutes=30))["problems"] == 1
    problem = checks(app)[-1][2][0]
    assert problem.startswith(f"the Zoom meeting {meeting_id} is set for ")
