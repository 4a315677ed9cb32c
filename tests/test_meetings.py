"""Sessions and their video meetings, end to end: the demo forum on Zoom (the project's fake
Zoom over real HTTP), hosts, quotas, failures and retries, and secrets kept secret."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from forum.accounts.models import Organiser
from forum.db import now_utc
from forum.events.models import Event
from forum.extensions import db
from forum.providers.fakes.base import RunningFake
from forum.providers.models import HostUsage
from forum.providers.models import ProviderAccount
from tests.factories import SESSIONS
from tests.factories import book
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.fake_setups.zoom import ACCOUNT_ID
from tests.fake_setups.zoom import CLIENT_ID
from tests.fake_setups.zoom import CLIENT_SECRET
from tests.fake_setups.zoom import HOSTS
from tests.fake_setups.zoom import make_fake
from tests.helpers import assert_error


@pytest.fixture
def zoom() -> Iterator[RunningFake]:
    with RunningFake(make_fake()) as running:
        yield running


def add_zoom(runner, zoom: RunningFake, hosts=HOSTS) -> str:
    result = runner.invoke(
        args=[
            "forum",
            "provider",
            "add",
            "uni-zoom",
            "--kind",
            "zoom",
            "--account-id",
            ACCOUNT_ID,
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--hosts",
            ",".join(hosts),
            "--api-base-url",
            f"{zoom.url}/v2",
            "--oauth-url",
            zoom.url,
        ]
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def people(api) -> dict[str, Any]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    tokyo = make_institution(api, "The University of Tokyo", "JP", "Asia/Tokyo")
    return {
        "li": make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"]),
        "sato": make_person(api, "Sato Hana", "h.sato@u-tokyo.example.org", tokyo["id"]),
    }


def zoom_event(api) -> dict[str, Any]:
    return make_event(api, title="PKU-UTokyo", kind="bilateral", default_provider="zoom")


def meetings_on(zoom: RunningFake) -> list[dict[str, Any]]:
    return list(zoom.app.state.meetings.values())


def test_the_demo_forum_on_zoom(app, api, client, runner, zoom):
    assert runner.invoke(args=["forum", "seed-demo"]).exit_code == 0
    add_zoom(runner, zoom)
    with app.app_context():
        forum = db.session.scalar(sa.select(Event).where(Event.kind == "forum"))
        # The demo organiser's event: share it with this test's organiser.
        forum.co_organisers.append(db.session.get(Organiser, api.organiser_id))
        forum_id = forum.id
        db.session.commit()
    session = make_session(
        api,
        forum_id,
        title="Extra plenary",
        start=(now_utc() + dt.timedelta(days=30)).strftime("%Y-%m-%dT12:00:00Z"),
        duration_minutes=90,
        provider="zoom",
    )
    meeting = session["meeting"]
    assert meeting["status"] == "created", meeting
    assert meeting["join_url"].startswith(f"{zoom.url}/j/") and "?pwd=" in meeting["join_url"]
    assert meeting["passcode"]
    assert "zak=" in meeting["host_url"]  # the organiser's view carries the host link
    assert meeting["host_account"] == HOSTS[0]
    [stored] = meetings_on(zoom)
    assert stored["host_email"] == HOSTS[0] and stored["topic"] == "Extra plenary"

    # Participants: the invite and their agenda carry the join link, never the host link.
    messages = app.extensions["forum_mail_sender"].messages
    assert len(messages) > 40
    host_token = meeting["host_url"].split("zak=")[1]
    for message in messages:
        parts = b"".join(p.get_payload(decode=True) for p in message.walk() if not p.is_multipart())
        assert meeting["join_url"].encode() in parts
        assert host_token.encode() not in parts and b"/s/" not in parts
    with app.app_context():
        from forum.directory.models import Person
        from forum.events import calendars

        invited = api.get(f"{SESSIONS}/{session['id']}/invitations").get_json()["items"]
        person = db.session.get(Person, invited[0]["person_id"])
        path = calendars.agenda_url(person).removeprefix(app.config["FORUM_BASE_URL"])
    page = client.get(path, query_string={"tz": "UTC"}).get_data(as_text=True)
    assert meeting["join_url"].replace("&", "&amp;") in page or meeting["join_url"] in page
    assert host_token not in page


def test_overlapping_sessions_go_to_different_hosts(api, runner, zoom, people):
    add_zoom(runner, zoom)
    event = zoom_event(api)
    first = make_session(api, event["id"], invitees=[invitee(people["li"])])
    second = make_session(api, event["id"], invitees=[invitee(people["sato"])])
    hosts = {first["meeting"]["host_account"], second["meeting"]["host_account"]}
    assert hosts == set(HOSTS)
    assert {m["host_email"] for m in meetings_on(zoom)} == set(HOSTS)
    # Not overlapping: the first host again.
    later = make_session(api, event["id"], start="2027-03-10T15:00:00Z")
    assert later["meeting"]["host_account"] == HOSTS[0]


def test_with_one_host_the_second_overlapping_booking_is_refused(api, runner, zoom, row_count):
    add_zoom(runner, zoom, hosts=HOSTS[:1])
    event = zoom_event(api)
    make_session(api, event["id"], title="First")
    response = book(api, event["id"], title="Second", start="2027-03-10T13:30:00Z")
    error = assert_error(response, 409, "conflict")
    assert "host" in error["message"] and "uni-zoom" in error["message"]
    assert error["details"]["hosts"] == {HOSTS[0]: 1}
    assert len(meetings_on(zoom)) == 1
    assert row_count("sessions") == 1


def test_a_failing_provider_never_loses_the_booking_and_retry_fixes_it(api, runner, zoom, caplog):
    add_zoom(runner, zoom)
    event = zoom_event(api)
    zoom.app.faults.add("status", status=503, count=50, method="POST")
    with caplog.at_level(logging.WARNING):
        session = make_session(api, event["id"])
    meeting = session["meeting"]
    assert meeting["status"] == "failed"
    assert meeting["error"] and meeting["join_url"] is None
    assert api.get(f"{SESSIONS}/{session['id']}").get_json()["meeting"]["status"] == "failed"
    assert meetings_on(zoom) == []

    zoom.app.faults.clear()
    retried = api.post(f"{SESSIONS}/{session['id']}/meeting/retry")
    assert retried.status_code == 200, retried.get_json()
    meeting = retried.get_json()["meeting"]
    assert (meeting["status"], meeting["error"]) == ("created", None)
    assert meeting["join_url"].startswith(f"{zoom.url}/j/")
    assert len(meetings_on(zoom)) == 1
    # Nothing left to retry.
    assert_error(api.post(f"{SESSIONS}/{session['id']}/meeting/retry"), 409, "meeting_exists")
    assert CLIENT_SECRET not in caplog.text


def test_an_unknown_host_is_named_in_the_error(api, runner, zoom):
    add_zoom(runner, zoom, hosts=("ghost@uni.example",))
    session = make_session(api, zoom_event(api)["id"])
    assert session["meeting"]["status"] == "failed"
    assert "ghost@uni.example" in session["meeting"]["error"]


def test_no_account_for_the_provider_is_a_clear_error(api):
    session = make_session(api, zoom_event(api)["id"])
    assert session["meeting"]["status"] == "failed"
    assert "forum provider add" in session["meeting"]["error"]


def test_the_daily_quota_is_spread_over_hosts_then_deferred(app, api, runner, zoom):
    add_zoom(runner, zoom)
    with app.app_context():
        account = db.session.scalar(sa.select(ProviderAccount))
        db.session.add(
            HostUsage(account_id=account.id, host=HOSTS[0], day=now_utc().date(), count=100)
        )
        db.session.commit()
        account_id = account.id
    event = zoom_event(api)
    first = make_session(api, event["id"])
    assert first["meeting"]["host_account"] == HOSTS[1]  # host1 has no quota left today
    with app.app_context():
        db.session.execute(
            sa.update(HostUsage)
            .where(HostUsage.account_id == account_id, HostUsage.host == HOSTS[1])
            .values(count=100)
        )
        db.session.commit()
    later = make_session(api, event["id"], start="2027-03-11T13:00:00Z")
    assert later["meeting"]["status"] == "deferred"
    assert "limit of 100" in later["meeting"]["error"]
    assert len(meetings_on(zoom)) == 1  # nothing asked of Zoom for the deferred one


def test_reschedule_updates_and_cancel_deletes_the_meeting(api, runner, zoom):
    add_zoom(runner, zoom)
    session = make_session(api, zoom_event(api)["id"])
    [stored] = meetings_on(zoom)
    moved = api.patch(f"{SESSIONS}/{session['id']}", json={"start": "2027-04-01T09:00:00Z"})
    assert moved.status_code == 200
    assert stored["start_time"] == "2027-04-01T09:00:00Z"
    assert moved.get_json()["meeting"]["join_url"] == session["meeting"]["join_url"]
    api.delete(f"{SESSIONS}/{session['id']}")
    assert meetings_on(zoom) == []
    assert api.get(f"{SESSIONS}/{session['id']}").get_json()["meeting"]["status"] == "deleted"


def test_the_health_check_finds_a_meeting_deleted_on_zoom(app, api, runner, zoom):
    add_zoom(runner, zoom)
    soon = (now_utc() + dt.timedelta(days=2)).replace(minute=0, second=0)
    session = make_session(api, zoom_event(api)["id"], start=soon.strftime("%Y-%m-%dT%H:%M:%SZ"))
    zoom.app.state.meetings.clear()  # someone deleted it on Zoom's site
    result = runner.invoke(args=["forum", "provider", "check", "uni-zoom"])
    assert result.exit_code == 1
    assert f"session {session['id']}" in result.output and "deleted" in result.output
    meeting = api.get(f"{SESSIONS}/{session['id']}").get_json()["meeting"]
    assert meeting["status"] == "failed" and "deleted on zoom" in meeting["error"]
    assert (
        api.post(f"{SESSIONS}/{session['id']}/meeting/retry").get_json()["meeting"]["status"]
        == "created"
    )


def test_a_manual_link_is_the_meeting(api):
    event = make_event(api, default_provider="manual")
    assert_error(book(api, event["id"]), 422, "validation_error", "join_url")
    session = make_session(api, event["id"], join_url="https://video.uni.example/room/42")
    assert session["meeting"]["join_url"] == "https://video.uni.example/room/42"
    assert session["meeting"]["status"] == "created"


def test_secrets_never_leave(app, api, runner, zoom, caplog, make_organiser):
    with caplog.at_level(logging.DEBUG):
        output = add_zoom(runner, zoom)
        listed = runner.invoke(args=["forum", "provider", "list"]).output
        checked = runner.invoke(args=["forum", "provider", "check", "uni-zoom"]).output
        make_session(api, zoom_event(api)["id"])
    with app.app_context():
        db.session.get(Organiser, api.organiser_id).is_admin = True
        db.session.commit()
        stored = db.session.scalar(sa.select(ProviderAccount.secrets))
    from_api = api.get("/api/v1/provider-accounts").get_data(as_text=True)
    for text in (output, listed, checked, from_api, caplog.text, stored):
        assert CLIENT_SECRET not in text
    assert "client_secret set" in listed
    assert '"has_client_secret":true' in from_api.replace(" ", "")
    # Added through the API: the answer shows that it is set, not what it is.
    added = api.post(
        "/api/v1/provider-accounts",
        json={
            "name": "uni-webex",
            "kind": "webex",
            "token": "webex-bot-token-very-secret",
            "hosts": ["host1@uni.example"],
        },
    )
    assert added.status_code == 201 and added.get_json()["has_token"] is True
    assert "webex-bot-token-very-secret" not in added.get_data(as_text=True)
    # Organisers who are not administrators see no accounts at all.
    other = make_organiser("other@example.org")
    assert_error(other.get("/api/v1/provider-accounts"), 403, "forbidden")


def test_deferred_meetings_open_when_the_quota_resets(app, api, runner, zoom):
    add_zoom(runner, zoom, hosts=HOSTS[:1])
    with app.app_context():
        account = db.session.scalar(sa.select(ProviderAccount))
        db.session.add(
            HostUsage(account_id=account.id, host=HOSTS[0], day=now_utc().date(), count=100)
        )
        db.session.commit()
    session = make_session(api, zoom_event(api)["id"])
    assert session["meeting"]["status"] == "deferred"
    with app.app_context():
        db.session.execute(sa.delete(HostUsage))  # a new UTC day
        db.session.commit()
        from forum.jobs.tasks import retry_deferred_meetings

        assert retry_deferred_meetings.delay().get() == 1
        assert app.extensions["celery"].conf.beat_schedule["retry-deferred-meetings"]
    meeting = api.get(f"{SESSIONS}/{session['id']}").get_json()["meeting"]
    assert meeting["status"] == "created" and len(meetings_on(zoom)) == 1


def test_a_meeting_that_failed_for_a_passing_reason_is_retried_by_the_periodic_job(
    app, api, runner, zoom
):
    add_zoom(runner, zoom, hosts=("ghost@uni.example",))
    # A failure that needs someone to act (Zoom does not know the host) is left alone...
    ghost = make_session(api, zoom_event(api)["id"], start="2027-03-12T13:00:00Z")
    assert "ghost@uni.example" in ghost["meeting"]["error"]
    with app.app_context():
        db.session.scalar(sa.select(ProviderAccount)).hosts = [HOSTS[0]]
        db.session.commit()
    # ... one that passes (Zoom down) is tried again.
    zoom.app.faults.add("status", status=503, count=50)
    down = make_session(api, zoom_event(api)["id"])
    assert down["meeting"]["status"] == "failed"
    zoom.app.faults.clear()
    with app.app_context():
        from forum.jobs.tasks import retry_deferred_meetings

        assert retry_deferred_meetings.delay().get() == 1
    assert api.get(f"{SESSIONS}/{down['id']}").get_json()["meeting"]["status"] == "created"
    assert api.get(f"{SESSIONS}/{ghost['id']}").get_json()["meeting"]["status"] == "failed"


def test_a_series_zoom_cannot_repeat_says_so_in_the_api(api, runner, zoom):
    add_zoom(runner, zoom)
    session = make_session(
        api,
        zoom_event(api)["id"],
        start="2027-03-10T13:00:00Z",
        timezone="Asia/Shanghai",
        rrule="FREQ=YEARLY;COUNT=3",
    )
    meeting = session["meeting"]
    assert meeting["status"] == "created"
    assert "no fixed time: its link serves every date" in meeting["recurrence_note"]
    [stored] = meetings_on(zoom)
    assert stored["type"] == 3  # a meeting with no fixed time
    weekly = make_session(
        api, zoom_event(api)["id"], start="2027-03-11T13:00:00Z", rrule="FREQ=WEEKLY;COUNT=3"
    )
    assert weekly["meeting"]["recurrence_note"] is None


def test_a_retry_after_a_failed_update_mends_the_meeting_zoom_holds(app, api, runner, zoom):
    add_zoom(runner, zoom)
    session = make_session(api, zoom_event(api)["id"])
    [stored] = meetings_on(zoom)
    zoom.app.faults.add("status", status=503, count=50, method="PATCH")
    moved = api.patch(f"{SESSIONS}/{session['id']}", json={"start": "2027-04-01T09:00:00Z"})
    assert moved.get_json()["meeting"]["status"] == "failed"
    zoom.app.faults.clear()

    meeting = api.post(f"{SESSIONS}/{session['id']}/meeting/retry").get_json()["meeting"]
    assert meeting["status"] == "created"
    assert meeting["join_url"] == session["meeting"]["join_url"]  # the same meeting, in step
    assert meetings_on(zoom) == [stored]
    assert stored["start_time"] == "2027-04-01T09:00:00Z"


def test_each_moved_date_of_a_series_counts_against_the_hosts_daily_limit(app, api, runner, zoom):
    add_zoom(runner, zoom, hosts=HOSTS[:1])
    series = make_session(
        api,
        zoom_event(api)["id"],
        start="2027-03-10T13:00:00Z",
        timezone="Asia/Shanghai",
        rrule="FREQ=WEEKLY;COUNT=4",
    )
    for day in ("17", "24"):
        moved = api.patch(
            f"{SESSIONS}/{series['id']}/occurrences/2027-03-{day}T13:00:00Z",
            json={"start": f"2027-03-{day}T15:00:00Z"},
        )
        assert moved.status_code == 200, moved.get_json()
    with app.app_context():
        used = db.session.scalar(sa.select(HostUsage.count).where(HostUsage.host == HOSTS[0]))
    # The create (1); the first move: the series and one date (2); the second: the series
    # and both moved dates (3).
    assert used == 1 + 2 + 3
