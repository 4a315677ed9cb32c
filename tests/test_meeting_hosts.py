"""A host is held until its meeting is truly gone: a failed or deferred meeting keeps its
host, a retry, a reschedule or a moved date checks the host again (another free host, or
409 naming the clash), and no host ever has two overlapping meetings, on the fake Zoom over
real HTTP, also when twenty bookings and retries arrive at once."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from forum.events.models import EventSession
from forum.events.models import VideoMeeting
from forum.events.occurrences import session_occurrences
from forum.extensions import db
from forum.providers.fakes.base import RunningFake
from forum.providers.fakes.zoom import FakeZoomProvider
from forum.providers.models import ProviderAccount
from tests.factories import SESSIONS
from tests.factories import book
from tests.factories import make_event
from tests.factories import make_session
from tests.fake_setups.zoom import ACCOUNT_ID
from tests.fake_setups.zoom import CLIENT_ID
from tests.fake_setups.zoom import CLIENT_SECRET
from tests.fake_setups.zoom import HOSTS
from tests.helpers import assert_error
from tests.test_meetings import add_zoom
from tests.test_web import log_in

HOST3 = "host3@uni.example"
AT = "2027-07-02T10:00:00Z"


@pytest.fixture
def zoom() -> Iterator[RunningFake]:
    fake = FakeZoomProvider(
        hosts=(*HOSTS, HOST3),
        account_id=ACCOUNT_ID,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    with RunningFake(fake) as running:
        yield running


def set_hosts(runner, hosts: tuple[str, ...]) -> None:
    result = runner.invoke(args=["forum", "provider", "hosts", "uni-zoom", ",".join(hosts)])
    assert result.exit_code == 0, result.output


@pytest.fixture
def event(api) -> dict[str, Any]:
    return make_event(api, title="Deans' forum", kind="forum", default_provider="zoom")


def retry(api, session_id: int):
    return api.post(f"{SESSIONS}/{session_id}/meeting/retry")


def meeting_of(api, session_id: int) -> dict[str, Any]:
    return api.get(f"{SESSIONS}/{session_id}").get_json()["meeting"]


def _instant(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def double_booked_on_zoom(zoom: RunningFake) -> list[tuple[str, str, str]]:
    """Pairs of meetings one host holds at overlapping times, as Zoom stores them."""
    by_host: dict[str, list[tuple[dt.datetime, dt.datetime, str]]] = defaultdict(list)
    for meeting in zoom.app.state.meetings.values():
        start = _instant(meeting["start_time"])
        end = start + dt.timedelta(minutes=meeting["duration"])
        by_host[meeting["host_email"]].append((start, end, str(meeting["id"])))
    return [
        (host, a[2], b[2])
        for host, spans in by_host.items()
        for a, b in itertools.combinations(spans, 2)
        if a[0] < b[1] and b[0] < a[1]
    ]


def double_booked_in_database(app) -> list[tuple[str, int, int]]:
    """Pairs of sessions whose meetings hold one host at overlapping times."""
    with app.app_context():
        sessions = db.session.scalars(
            sa.select(EventSession)
            .join(VideoMeeting)
            .where(
                EventSession.status != "cancelled",
                VideoMeeting.status != "deleted",
                VideoMeeting.host_account.is_not(None),
            )
        ).all()
        spans = [
            (s.meeting.host_account, o.start, o.end, s.id)
            for s in sessions
            for o in session_occurrences(s)
        ]
    return [
        (a[0], a[3], b[3])
        for a, b in itertools.combinations(spans, 2)
        if a[0] == b[0] and a[3] != b[3] and a[1] < b[2] and b[1] < a[2]
    ]


# --- held until gone ---------------------------------------------------------------------------


def test_a_failed_meeting_keeps_its_host_so_its_retry_never_double_books(
    app, api, runner, zoom, event
):
    add_zoom(runner, zoom)
    zoom.app.faults.add("status", status=503, count=50, method="POST")
    x = make_session(api, event["id"], title="X", start=AT)
    assert (x["meeting"]["status"], x["meeting"]["host_account"]) == ("failed", HOSTS[0])
    zoom.app.faults.clear()

    y = make_session(api, event["id"], title="Y", start=AT)
    assert y["meeting"]["host_account"] == HOSTS[1]  # host1 is still X's
    refused = assert_error(book(api, event["id"], title="Z", start=AT), 409, "conflict")
    assert refused["details"]["hosts"] == {HOSTS[0]: x["id"], HOSTS[1]: y["id"]}
    assert (
        f"{HOSTS[0]} by session {x['id']} ('X'), whose meeting failed and is held for its retry, "
        f"{HOSTS[1]} by session {y['id']} ('Y');"
    ) in refused["message"]

    retried = retry(api, x["id"])
    assert retried.status_code == 200, retried.get_json()
    meeting = retried.get_json()["meeting"]
    assert (meeting["status"], meeting["host_account"]) == ("created", HOSTS[0])
    assert len(zoom.app.state.meetings) == 2
    assert double_booked_on_zoom(zoom) == []
    assert double_booked_in_database(app) == []


def test_a_cancelled_session_gives_its_host_back(api, runner, zoom, event):
    add_zoom(runner, zoom, hosts=HOSTS[:1])
    zoom.app.faults.add("status", status=503, count=50, method="POST")
    x = make_session(api, event["id"], title="X", start=AT)
    zoom.app.faults.clear()
    assert_error(book(api, event["id"], title="Y", start=AT), 409, "conflict")
    assert api.delete(f"{SESSIONS}/{x['id']}").status_code == 200
    y = make_session(api, event["id"], title="Y", start=AT)
    assert y["meeting"]["status"] == "created" and y["meeting"]["host_account"] == HOSTS[0]


def test_a_retry_moves_to_a_free_host_and_records_why(api, client, runner, zoom, event):
    add_zoom(runner, zoom, hosts=HOSTS[:1])
    zoom.app.faults.add("status", status=503, count=50, method="POST")
    x = make_session(api, event["id"], title="X", start=AT)
    zoom.app.faults.clear()
    # The administrator replaces the pool's host; X's old host is no longer the account's.
    set_hosts(runner, (HOSTS[1],))
    meeting = retry(api, x["id"]).get_json()["meeting"]
    assert (meeting["status"], meeting["host_account"]) == ("created", HOSTS[1])
    [change] = meeting["host_changes"]
    assert (change["from_host"], change["to_host"]) == (HOSTS[0], HOSTS[1])
    assert change["reason"].startswith("retried") and "no longer a host" in change["reason"]
    [stored] = zoom.app.state.meetings.values()
    assert stored["host_email"] == HOSTS[1]
    # The session page says so too.
    log_in(client, "organiser@example.org")
    page = client.get(f"/sessions/{x['id']}").get_data(as_text=True)
    assert "Host changes" in page and f"from {HOSTS[0]} to {HOSTS[1]}" in page


def test_a_retry_with_every_host_taken_is_409_naming_the_clash(app, api, runner, zoom, event):
    add_zoom(runner, zoom, hosts=HOSTS[:1])
    zoom.app.faults.add("status", status=503, count=50, method="POST")
    x = make_session(api, event["id"], title="X", start=AT)
    zoom.app.faults.clear()
    set_hosts(runner, (HOSTS[1],))
    y = make_session(api, event["id"], title="Y", start="2027-07-02T10:30:00Z")
    assert y["meeting"]["host_account"] == HOSTS[1]

    error = assert_error(retry(api, x["id"]), 409, "conflict")
    assert f"session {y['id']}" in error["message"]
    assert error["details"]["hosts"] == {HOSTS[1]: y["id"]}
    # Nothing changed: X still failed on its old host, Zoom holds Y's meeting alone.
    meeting = meeting_of(api, x["id"])
    assert (meeting["status"], meeting["host_account"]) == ("failed", HOSTS[0])
    assert len(zoom.app.state.meetings) == 1
    assert double_booked_in_database(app) == []


def test_rescheduling_onto_a_busy_host_moves_the_meeting_and_records_it(
    app, api, runner, zoom, event
):
    add_zoom(runner, zoom)
    first = make_session(api, event["id"], title="First", start=AT)
    later = make_session(api, event["id"], title="Later", start="2027-07-02T14:00:00Z")
    assert first["meeting"]["host_account"] == later["meeting"]["host_account"] == HOSTS[0]
    moved = api.patch(f"{SESSIONS}/{later['id']}", json={"start": "2027-07-02T10:30:00Z"})
    assert moved.status_code == 200, moved.get_json()
    meeting = moved.get_json()["meeting"]
    assert (meeting["status"], meeting["host_account"]) == ("created", HOSTS[1])
    [change] = meeting["host_changes"]
    assert change["reason"] == f"rescheduled: {HOSTS[0]} has session {first['id']} at that time"
    # The meeting on host1 was deleted, a new one opened on host2.
    assert sorted(m["host_email"] for m in zoom.app.state.meetings.values()) == list(HOSTS)
    assert double_booked_on_zoom(zoom) == []


def test_a_date_of_a_series_cannot_move_onto_a_time_its_host_holds(api, runner, zoom, event):
    add_zoom(runner, zoom, hosts=HOSTS[:1])
    series = make_session(
        api,
        event["id"],
        title="Weekly call",
        start="2027-07-07T10:00:00Z",
        rrule="FREQ=WEEKLY;COUNT=4",
        timezone="Europe/London",
    )
    other = make_session(api, event["id"], title="Board", start="2027-07-08T10:00:00Z")
    assert series["meeting"]["host_account"] == other["meeting"]["host_account"] == HOSTS[0]
    occurrence = f"{SESSIONS}/{series['id']}/occurrences/2027-07-14T10:00:00Z"
    error = assert_error(
        api.patch(occurrence, json={"start": "2027-07-08T10:30:00Z"}), 409, "conflict"
    )
    assert f"session {other['id']}" in error["message"]
    assert error["details"]["hosts"] == {HOSTS[0]: other["id"]}
    # Another time is fine.
    assert api.patch(occurrence, json={"start": "2027-07-08T12:00:00Z"}).status_code == 200


# --- at once -------------------------------------------------------------------------------------


def test_twenty_simultaneous_bookings_and_retries_never_double_book_a_host(
    app, api, runner, zoom, event
):
    """Two failed meetings hold host1 and host2; then 6 retries of them and 14 bookings of
    the same hour arrive together. host3 is the only free host: one booking gets it."""
    add_zoom(runner, zoom, hosts=(*HOSTS, HOST3))
    zoom.app.faults.add("status", status=503, count=50, method="POST")
    failed = [make_session(api, event["id"], title=f"F{i}", start=AT)["id"] for i in range(2)]
    zoom.app.faults.clear()

    threads = 20
    barrier = threading.Barrier(threads)
    answers: dict[str, list[tuple[int, str | None]]] = {"retry": [], "book": []}
    lock = threading.Lock()

    def attempt(index: int) -> None:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {api.token}"}
        barrier.wait()
        if index < 6:
            kind = "retry"
            response = client.post(f"{SESSIONS}/{failed[index % 2]}/meeting/retry", headers=headers)
        else:
            kind = "book"
            response = client.post(
                f"/api/v1/events/{event['id']}/sessions",
                json={"title": f"B{index}", "start": AT, "duration_minutes": 60},
                headers=headers,
            )
        body = response.get_json() or {}
        with lock:
            answers[kind].append((response.status_code, body.get("error", {}).get("code")))

    workers = [threading.Thread(target=attempt, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    booked = [status for status, _ in answers["book"] if status == 201]
    assert len(booked) == 1
    assert sorted(answers["book"]) == [(201, None)] + [(409, "conflict")] * 13
    assert all(
        status == 200 or code in ("meeting_exists", "meeting_opening")
        for status, code in answers["retry"]
    ), answers["retry"]
    for session_id in failed:
        assert meeting_of(api, session_id)["status"] == "created"
    assert len(zoom.app.state.meetings) == 3
    assert {m["host_email"] for m in zoom.app.state.meetings.values()} == {*HOSTS, HOST3}
    assert double_booked_on_zoom(zoom) == []
    assert double_booked_in_database(app) == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(EventSession.id))) == 3
        assert db.session.scalar(sa.select(ProviderAccount.hosts)) == [*HOSTS, HOST3]


# --- the pool ------------------------------------------------------------------------------------


def test_administrators_replace_the_pool_through_the_api_and_the_cli(
    app, api, runner, zoom, make_organiser
):
    add_zoom(runner, zoom)
    with app.app_context():
        account_id = db.session.scalar(sa.select(ProviderAccount.id))
    path = f"/api/v1/provider-accounts/{account_id}"
    other = make_organiser("not-an-admin@example.org")
    assert_error(other.patch(path, json={"hosts": [HOST3]}), 403, "forbidden")
    promoted = runner.invoke(args=["forum", "set-admin", "organiser@example.org"])
    assert promoted.exit_code == 0, promoted.output
    assert_error(api.patch(path, json={"hosts": []}), 422, "validation_error", "hosts")
    assert_error(api.patch(path, json={"hosts": [""]}), 422, "validation_error", "hosts.0")
    answer = api.patch(path, json={"hosts": [HOST3, HOSTS[0], HOST3]})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["hosts"] == [HOST3, HOSTS[0]]
    set_hosts(runner, (HOSTS[1],))
    listed = runner.invoke(args=["forum", "provider", "list"]).output
    assert f"hosts: {HOSTS[1]}" in listed
    missing = runner.invoke(args=["forum", "provider", "hosts", "no-such-account", HOST3])
    assert missing.exit_code != 0 and "no-such-account" in missing.output
