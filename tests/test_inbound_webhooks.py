"""Provider webhooks end to end: real signed deliveries posted to /webhooks/<provider>, and
what the API then says of the session, its attendance and the inbox. With Redis as the
broker, intake only stores and asks for a drain, and the drains process in batches."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from forum.accounts.models import Organiser
from forum.core.times import format_instant
from forum.events.models import VideoMeeting
from forum.extensions import db
from forum.providers import accounts
from forum.providers.fakes import webhooks as deliveries
from forum.webhooks import inbound
from forum.webhooks.models import Attendance
from forum.webhooks.models import InboxEntry
from tests.celery_worker import REDIS_URL
from tests.celery_worker import purge_queue
from tests.celery_worker import redis_available
from tests.celery_worker import unique_queue
from tests.conftest import missing_service
from tests.factories import SESSIONS
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.fake_setups.zoom import add_signing_account
from tests.helpers import assert_error

SECRET = "zoom-secret-token-for-webhooks"
MEETING_ID = 92674392836
UUID = "aDYlohsHRtCd4ii1uC2+hA=="


# Redis as the broker, with no worker: what the intake queues stays in the queue.
BROKER = {"CELERY_BROKER_URL": REDIS_URL, "FORUM_JOBS_QUEUE": unique_queue()}


@pytest.fixture
def app_settings(request) -> dict[str, Any]:
    return getattr(request, "param", {})


@pytest.fixture
def broker(app_settings):
    """The Redis queue of BROKER, emptied after the test (tests using it take BROKER)."""
    assert app_settings == BROKER
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    purge_queue(BROKER["FORUM_JOBS_QUEUE"], REDIS_URL)
    yield redis.Redis.from_url(REDIS_URL)
    purge_queue(BROKER["FORUM_JOBS_QUEUE"], REDIS_URL)


@pytest.fixture
def session(app, api) -> dict[str, Any]:
    """A session whose meeting is Zoom meeting MEETING_ID, with Li invited."""
    with app.app_context():
        add_signing_account(SECRET)
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    li = make_person(api, "Li Wei", "Li.Wei@pku.example.org", pku["id"])
    event = make_event(api)
    created = make_session(api, event["id"], invitees=[invitee(li, "chair")])
    on_zoom(app, created["id"], MEETING_ID)
    return {**created, "li": li}


def on_zoom(app, session_id: int, meeting_id: int) -> None:
    """Make the session's meeting Zoom meeting ``meeting_id``."""
    with app.app_context():
        meeting = db.session.scalar(
            sa.select(VideoMeeting).where(VideoMeeting.session_id == session_id)
        )
        meeting.provider, meeting.external_id, meeting.status = "zoom", str(meeting_id), "created"
        db.session.commit()


def post(client, provider: str, headers: dict[str, str], body: bytes, **kwargs):
    return client.post(f"/webhooks/{provider}", data=body, headers=headers, **kwargs)


def zoom(
    event: str,
    *,
    id_as_string: bool = True,
    ts: int | None = None,
    meeting_id: int = MEETING_ID,
    uuid: str = UUID,
    **obj: Any,
):
    meeting = deliveries.zoom_meeting_object(
        meeting_id, id_as_string=id_as_string, uuid=uuid, **obj
    )
    return deliveries.zoom_delivery(SECRET, event, meeting, ts=ts)


def joined(name: str, email: str | None, at: str, user_id: str = "1", **meeting: Any):
    # Zoom keeps a participant's uuid for their stay: it is what matches a guest's leave.
    participant = deliveries.zoom_participant(
        name, email, join_time=at, user_id=user_id, participant_uuid=f"uuid-{user_id}"
    )
    return zoom("meeting.participant_joined", participant=participant, **meeting)


def left(name: str, email: str | None, at: str, user_id: str = "1", **meeting: Any):
    participant = deliveries.zoom_participant(
        name, email, leave_time=at, user_id=user_id, participant_uuid=f"uuid-{user_id}"
    )
    return zoom("meeting.participant_left", participant=participant, **meeting)


def attendance(api, session_id: int) -> dict[str, Any]:
    response = api.get(f"{SESSIONS}/{session_id}/attendance")
    assert response.status_code == 200
    return response.get_json()


def test_a_meeting_day_through_zoom_webhooks(app, api, client, session):
    sid = session["id"]
    for headers, body in (
        zoom("meeting.started", start_time="2027-03-10T13:01:00Z"),
        joined("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:02:00Z", user_id="7"),
        joined("A. Guest", "", "2027-03-10T13:05:00Z", user_id="9"),
        left("A. Guest", "", "2027-03-10T13:35:00Z", user_id="9"),
        left("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:57:30Z", user_id="7"),
    ):
        response = post(client, "zoom", headers, body)
        assert response.status_code == 200, response.get_json()
        assert response.get_json() == {"received": 1, "duplicates": 0}
    page = attendance(api, sid)
    assert page["session"]["status"] == "live"
    assert page["session"]["actual_start"] == "2027-03-10T13:01:00Z"
    [li, guest] = page["items"]
    assert (li["person_id"], li["guest"], li["minutes"]) == (session["li"]["id"], False, 55)
    assert li["stays"] == [{"joined": "2027-03-10T13:02:00Z", "left": "2027-03-10T13:57:30Z"}]
    assert (guest["guest"], guest["name"], guest["minutes"]) == (True, "A. Guest", 30)

    # The same ended event's id comes as a string; deleted/recording as a number.
    headers, body = zoom("meeting.ended", end_time="2027-03-10T14:00:00Z")
    assert post(client, "zoom", headers, body).status_code == 200
    page = attendance(api, sid)
    assert page["session"]["status"] == "ended"
    assert page["session"]["actual_end"] == "2027-03-10T14:00:00Z"


def test_a_leave_before_its_join_gives_the_right_minutes(api, client, session):
    post(client, "zoom", *left("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:50:00Z"))
    post(client, "zoom", *joined("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:10:00Z"))
    [li] = attendance(api, session["id"])["items"]
    assert li["minutes"] == 40
    assert li["stays"] == [{"joined": "2027-03-10T13:10:00Z", "left": "2027-03-10T13:50:00Z"}]


def test_someone_still_in_when_the_meeting_ended_counts_until_its_end(api, client, session):
    li_address = "li.wei@pku.example.org"
    for headers, body in (
        zoom("meeting.started", start_time="2027-03-10T13:01:00Z"),
        joined("Li Wei", li_address, "2027-03-10T13:02:00Z", user_id="7"),
        joined("A. Guest", "", "2027-03-10T13:05:00Z", user_id="9"),
        left("A. Guest", "", "2027-03-10T13:35:00Z", user_id="9"),
    ):
        assert post(client, "zoom", headers, body).status_code == 200
    # No end yet: Li counts until the scheduled end (14:00).
    [li, guest] = attendance(api, session["id"])["items"]
    assert (li["minutes"], guest["minutes"]) == (58, 30)
    assert li["stays"] == [{"joined": "2027-03-10T13:02:00Z", "left": None}]

    # The meeting overran to 14:10; Zoom sends no leave for those still in it.
    assert (
        post(client, "zoom", *zoom("meeting.ended", end_time="2027-03-10T14:10:00Z")).status_code
        == 200
    )
    [li, guest] = attendance(api, session["id"])["items"]
    assert (li["minutes"], guest["minutes"]) == (68, 30)
    assert li["stays"] == [{"joined": "2027-03-10T13:02:00Z", "left": "2027-03-10T14:10:00Z"}]


def test_an_end_that_arrives_before_the_join_still_bounds_the_stay(api, client, session):
    for headers, body in (
        zoom("meeting.ended", end_time="2027-03-10T13:45:00Z"),
        joined("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:02:00Z", user_id="7"),
    ):
        assert post(client, "zoom", headers, body).status_code == 200
    [li] = attendance(api, session["id"])["items"]
    assert li["minutes"] == 43


def test_a_leave_that_comes_after_the_end_shortens_the_stay(api, client, session):
    li_address = "li.wei@pku.example.org"
    for headers, body in (
        joined("Li Wei", li_address, "2027-03-10T13:02:00Z", user_id="7"),
        zoom("meeting.ended", end_time="2027-03-10T14:10:00Z"),
        left("Li Wei", li_address, "2027-03-10T13:50:00Z", user_id="7"),
    ):
        assert post(client, "zoom", headers, body).status_code == 200
    [li] = attendance(api, session["id"])["items"]
    assert li["minutes"] == 48
    assert li["stays"] == [{"joined": "2027-03-10T13:02:00Z", "left": "2027-03-10T13:50:00Z"}]


def test_in_a_series_an_open_stay_ends_with_its_own_date(app, api, client, session):
    weekly = make_session(
        api,
        session["event_id"],
        start="2027-03-17T13:00:00Z",
        rrule="FREQ=WEEKLY;COUNT=3",
        invitees=[invitee(session["li"])],
    )
    on_zoom(app, weekly["id"], MEETING_ID + 1)
    li_address = "li.wei@pku.example.org"
    for headers, body in (
        joined("Li Wei", li_address, "2027-03-17T13:00:00Z", meeting_id=MEETING_ID + 1),
        zoom("meeting.ended", end_time="2027-03-17T14:05:00Z", meeting_id=MEETING_ID + 1),
    ):
        assert post(client, "zoom", headers, body).status_code == 200
    assert attendance(api, weekly["id"])["items"][0]["minutes"] == 65

    # The next week's meeting ends later: the first week's stay keeps its own end.
    ended = zoom("meeting.ended", end_time="2027-03-24T14:30:00Z", meeting_id=MEETING_ID + 1)
    assert post(client, "zoom", *ended).status_code == 200
    assert attendance(api, weekly["id"])["items"][0]["minutes"] == 65


def test_the_same_delivery_three_times_is_processed_once(app, api, client, session, row_count):
    delivery = joined("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:10:00Z")
    answers = [post(client, "zoom", *delivery).get_json() for _ in range(3)]
    assert answers == [
        {"received": 1, "duplicates": 0},
        {"received": 0, "duplicates": 1},
        {"received": 0, "duplicates": 1},
    ]
    assert row_count("webhook_inbox") == 1
    with app.app_context():
        assert db.session.scalar(sa.select(InboxEntry.attempts)) == 1
    post(client, "zoom", *left("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:40:00Z"))
    assert attendance(api, session["id"])["items"][0]["minutes"] == 30


@pytest.mark.parametrize(
    "spoil",
    ["tampered body", "wrong secret", "stale", "from the future", "no signature", "no timestamp"],
)
def test_bad_deliveries_are_401_and_nothing_is_stored(client, session, row_count, spoil):
    now = int(time.time())
    headers, body = zoom("meeting.started", ts=now - 301 if spoil == "stale" else None)
    if spoil == "from the future":
        headers, body = zoom("meeting.started", ts=now + 301)
    elif spoil == "tampered body":
        body = body.replace(b"Joint seminar", b"Joint seminaR")
    elif spoil == "wrong secret":
        meeting = deliveries.zoom_meeting_object(MEETING_ID, id_as_string=True)
        headers, body = deliveries.zoom_delivery("not-the-secret", "meeting.started", meeting)
    elif spoil == "no signature":
        headers = {k: v for k, v in headers.items() if k.lower() != "x-zm-signature"}
    elif spoil == "no timestamp":
        headers = {k: v for k, v in headers.items() if k.lower() != "x-zm-request-timestamp"}
    response = post(client, "zoom", headers, body)
    assert_error(response, 401, "unauthorized")
    assert row_count("webhook_inbox") == 0


def test_zoom_url_validation_is_answered(client, session, row_count):
    headers, body = deliveries.zoom_url_validation(SECRET, "qgg8vlvZRS6UYooatFL8Aw")
    response = post(client, "zoom", headers, body)
    assert response.status_code == 200
    assert response.get_json() == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": deliveries.zoom_encrypted_token(SECRET, "qgg8vlvZRS6UYooatFL8Aw"),
    }
    assert row_count("webhook_inbox") == 0


def test_recording_and_deletion_on_zoom_tell_the_organiser(app, api, client, session):
    files = [
        deliveries.zoom_recording_file(
            MEETING_ID, recording_start="2027-03-10T13:01:00Z", recording_end="2027-03-10T14:00:00Z"
        )
    ]
    headers, body = zoom(
        "recording.completed",
        id_as_string=False,
        share_url="https://zoom.us/rec/share/abc",
        recording_files=files,
    )
    assert post(client, "zoom", headers, body).status_code == 200
    sent = app.extensions["forum_mail_sender"].messages
    assert any("Recording ready" in str(m["Subject"]) for m in sent)
    with app.app_context():
        meeting = db.session.scalar(sa.select(VideoMeeting))
        assert meeting.data["recordings"][0]["share_url"] == "https://zoom.us/rec/share/abc"

    headers, body = deliveries.zoom_delivery(
        SECRET,
        "meeting.deleted",
        deliveries.zoom_meeting_object(MEETING_ID, id_as_string=False, uuid=UUID),
        payload_extra={"operator": "admin@uni.example"},
    )
    assert post(client, "zoom", headers, body).status_code == 200
    meeting = api.get(f"{SESSIONS}/{session['id']}").get_json()["meeting"]
    assert meeting["status"] == "failed" and "admin@uni.example" in meeting["error"]
    assert any("deleted on zoom" in str(m["Subject"]) for m in sent)


def test_a_delivery_about_a_meeting_we_do_not_have_is_kept_and_ignored(app, api, client, session):
    meeting = deliveries.zoom_meeting_object(11111111111, id_as_string=True)
    assert (
        post(
            client, "zoom", *deliveries.zoom_delivery(SECRET, "meeting.started", meeting)
        ).status_code
        == 200
    )
    assert api.get("/api/v1/webhook-inbox").get_json()["items"] == []  # none of theirs
    with app.app_context():
        entry = db.session.scalar(sa.select(InboxEntry))
        assert (entry.status, entry.session_id) == ("ignored", None)
        assert "11111111111" in entry.error


def test_the_inbox_shows_deliveries_and_reprocesses_them(app, api, client, session, make_organiser):
    post(client, "zoom", *joined("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:10:00Z"))
    [entry] = api.get("/api/v1/webhook-inbox").get_json()["items"]
    assert (entry["event"], entry["status"], entry["session_id"]) == (
        "participant.joined",
        "processed",
        session["id"],
    )
    again = api.post(f"/api/v1/webhook-inbox/{entry['id']}/reprocess")
    assert again.status_code == 200 and again.get_json()["attempts"] == 2
    # Processing again changes nothing: the stay is the same one.
    assert attendance(api, session["id"])["items"][0]["stays"] == [
        {"joined": "2027-03-10T13:10:00Z", "left": None}
    ]
    other = make_organiser("other@example.org")
    assert other.get("/api/v1/webhook-inbox").get_json()["items"] == []
    assert_error(other.post(f"/api/v1/webhook-inbox/{entry['id']}/reprocess"), 404, "not_found")
    with app.app_context():
        db.session.get(Organiser, other.organiser_id).is_admin = True
        db.session.commit()
    assert len(other.get("/api/v1/webhook-inbox").get_json()["items"]) == 1


def test_webex_graph_and_google_deliveries(app, client, session):
    with app.app_context():
        accounts.add_account(
            name="uni-webex",
            kind="webex",
            token="t",
            webhook_secret="webex-secret",
            hosts=["h@uni.example"],
        )
        accounts.add_account(
            name="uni-teams",
            kind="teams",
            tenant_id="t",
            client_id="c",
            client_secret="s",
            webhook_secret="graph-client-state",
            hosts=["h@uni.example"],
        )
        accounts.add_account(
            name="uni-google",
            kind="google_meet",
            client_id="sa@x.iam",
            client_secret="k",
            webhook_secret="channel-token",
            hosts=["h@uni.example"],
        )
        db.session.commit()
    # Webex: HMAC-SHA1 of the raw body.
    headers, body = deliveries.webex_delivery(
        "webex-secret", "meetings", "started", {"id": "abc_I_1", "meetingSeriesId": "abc"}
    )
    assert post(client, "webex", headers, body).status_code == 200
    assert (
        post(client, "webex", {**headers, "X-Spark-Signature": "0" * 40}, body).status_code == 401
    )
    # Graph: the validation handshake echoes the token as text/plain.
    query = deliveries.graph_validation()
    response = client.post("/webhooks/teams", query_string=query, data=b"")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == query["validationToken"]
    headers, body = deliveries.graph_notification(
        "graph-client-state", [deliveries.graph_item("deleted", "Users/u/Events/e1")]
    )
    assert post(client, "teams", headers, body).status_code == 200
    headers, body = deliveries.graph_notification(
        "wrong-state", [deliveries.graph_item("deleted", "Users/u/Events/e1")]
    )
    assert post(client, "teams", headers, body).status_code == 401
    # Google: the channel token is the check.
    headers, body = deliveries.google_channel_notification(
        "channel-token", channel_id="c1", resource_id="r1", state="exists", number=2
    )
    assert post(client, "google_meet", headers, body).status_code == 200
    bad = {**headers, "X-Goog-Channel-Token": "guess"}
    assert post(client, "google_meet", bad, body).status_code == 401
    assert client.post("/webhooks/skype", data=b"{}").status_code == 404


def test_the_intake_answers_json_even_for_an_unknown_provider_body(client, session):
    response = client.post("/webhooks/zoom", data=json.dumps({"event": "x"}))
    assert_error(response, 401, "unauthorized")


def test_the_inbox_page_lists_and_reprocesses(app, api, client, session):
    from tests.conftest import csrf_token
    from tests.test_web import log_in

    post(client, "zoom", *joined("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:10:00Z"))
    assert client.get("/inbox").status_code == 302  # organisers only
    log_in(client, "organiser@example.org")
    page = client.get("/inbox")
    assert page.status_code == 200
    assert "participant.joined" in page.text and "processed" in page.text
    [entry] = api.get("/api/v1/webhook-inbox").get_json()["items"]
    response = client.post(
        f"/inbox/{entry['id']}/reprocess", data={"csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 303
    assert "(2 times)" in client.get("/inbox").text


def test_each_inbox_row_names_its_session_and_the_weekday(app, api, client, session):
    from forum.accounts.models import Organiser
    from forum.webhooks.models import InboxEntry
    from tests.test_web import log_in
    from tests.test_web import shown

    post(client, "zoom", *joined("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:10:00Z"))
    with app.app_context():
        organiser = db.session.scalar(
            sa.select(Organiser).where(Organiser.email == "organiser@example.org")
        )
        organiser.timezone = "Asia/Shanghai"
        db.session.commit()
        received = db.session.scalar(sa.select(InboxEntry.received_at))
    log_in(client, "organiser@example.org")

    page = client.get("/inbox").text

    row = page.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    link = f'<a href="/sessions/{session["id"]}">{session["title"]}</a>'
    assert link in row
    # The delivery's time in the viewer's zone and UTC, each with its weekday.
    assert shown(received, "Asia/Shanghai") in row and shown(received, "UTC") in row
    # The session's start: Wed 10 Mar 2027 21:00 in Beijing, 13:00 UTC.
    assert "Wed 10 Mar 2027 21:00 (Beijing, Asia/Shanghai)" in row
    assert "Wed 10 Mar 2027 13:00 (UTC)" in row


# --- with Redis: stored at once, processed in batches -----------------------------------------


def class_burst(
    people: int, seed: int = 3, meeting_id: int = MEETING_ID, uuid: str = UUID
) -> list[tuple[dict[str, str], bytes]]:
    """Each of ``people`` joins meeting ``meeting_id`` at 13:00 + n minutes and leaves 40
    minutes later, in an order where many leaves come before their joins."""
    start = dt.datetime(2027, 3, 10, 13, tzinfo=dt.UTC)
    meeting = {"meeting_id": meeting_id, "uuid": uuid}
    burst = []
    for n in range(people):
        email = f"student{n}@pku.example.org"
        joined_at = start + dt.timedelta(minutes=n)
        left_at = joined_at + dt.timedelta(minutes=40)
        burst += [
            joined(f"Student {n}", email, format_instant(joined_at), str(100 + n), **meeting),
            left(f"Student {n}", email, format_instant(left_at), str(100 + n), **meeting),
        ]
    random.Random(seed).shuffle(burst)
    return burst


def inbox(app) -> list[tuple[str, int]]:
    with app.app_context():
        return db.session.execute(
            sa.select(InboxEntry.status, InboxEntry.attempts).order_by(InboxEntry.id)
        ).all()


def assert_whole_attendance(api, session_id: int, people: int) -> None:
    items = attendance(api, session_id)["items"]
    assert len(items) == people
    for item in items:
        assert item["minutes"] == 40, item
        assert [stay["left"] is not None for stay in item["stays"]] == [True], item


@pytest.mark.parametrize("app_settings", [BROKER], indirect=True)
def test_a_burst_is_stored_with_one_drain_asked_for_and_then_drained_in_batches(
    app, api, client, session, broker
):
    # Li, who is invited, leaves and joins among the guests (the leave arrives first).
    burst = [
        left("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:40:00Z", user_id="7"),
        *class_burst(15),
        joined("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:00:00Z", user_id="7"),
    ]
    for headers, body in burst:
        assert post(client, "zoom", headers, body).get_json() == {"received": 1, "duplicates": 0}
    # The requests stored the facts and nothing more: one drain job waits for all of them.
    assert inbox(app) == [("received", 0)] * 32
    assert broker.exists(inbound.DRAIN_PENDING_KEY)
    assert broker.llen(BROKER["FORUM_JOBS_QUEUE"]) == 1
    with app.app_context():
        assert inbound.drain(batch=7) == 32
        assert inbound.drain(batch=7) == 0
    assert not broker.exists(inbound.DRAIN_PENDING_KEY)
    assert inbox(app) == [("processed", 1)] * 32
    assert_whole_attendance(api, session["id"], 16)
    [li] = [item for item in attendance(api, session["id"])["items"] if not item["guest"]]
    assert li["person_id"] == session["li"]["id"]
    # A repeat after the drain is still a repeat.
    assert post(client, "zoom", *burst[0]).get_json() == {"received": 0, "duplicates": 1}


@pytest.mark.parametrize("app_settings", [BROKER], indirect=True)
def test_two_drains_at_once_never_take_the_same_delivery(app, api, client, session, broker):
    # Two classes at once: the batches of both drains hold deliveries of both sessions.
    other = make_session(api, session["event_id"], title="Seminar")
    on_zoom(app, other["id"], MEETING_ID + 1)
    burst = class_burst(25) + class_burst(25, meeting_id=MEETING_ID + 1, uuid="bEZmcGlpSZ2x")
    random.Random(5).shuffle(burst)
    for headers, body in burst:
        assert post(client, "zoom", headers, body).status_code == 200
    counts: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def drain() -> None:
        with app.app_context():
            try:
                start.wait()
                counts.append(inbound.drain(batch=4))
            except BaseException as error:  # noqa: BLE001 (reported by the test below)
                errors.append(error)
            finally:
                db.session.remove()

    drains = [threading.Thread(target=drain) for _ in range(2)]
    for thread in drains:
        thread.start()
    for thread in drains:
        thread.join(timeout=120)
    assert not errors
    assert sum(counts) == 100
    assert inbox(app) == [("processed", 1)] * 100
    assert_whole_attendance(api, session["id"], 25)
    assert_whole_attendance(api, other["id"], 25)


@pytest.mark.parametrize("app_settings", [BROKER], indirect=True)
def test_a_delivery_that_fails_is_marked_alone_and_the_rest_of_its_batch_stands(
    app, api, client, session, broker
):
    post(client, "zoom", *joined("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:10:00Z"))
    with app.app_context():
        inbound.drain()
        # A stay whose join time is not an instant: Li's leave cannot be placed.
        row = db.session.scalar(sa.select(Attendance))
        row.stays = {"half past one": None}
        db.session.commit()
    post(client, "zoom", *left("Li Wei", "li.wei@pku.example.org", "2027-03-10T13:50:00Z"))
    post(client, "zoom", *joined("A. Guest", "", "2027-03-10T13:05:00Z", user_id="9"))
    post(client, "zoom", *left("A. Guest", "", "2027-03-10T13:35:00Z", user_id="9"))
    with app.app_context():
        assert inbound.drain() == 3
        entries = db.session.scalars(sa.select(InboxEntry).order_by(InboxEntry.id)).all()
        assert [(e.status, e.attempts) for e in entries] == [
            ("processed", 1),
            ("failed", 1),
            ("processed", 1),
            ("processed", 1),
        ]
        assert entries[1].error.startswith("InvalidTime: ")
    items = attendance(api, session["id"])["items"]
    guest = next(item for item in items if item["guest"])
    assert guest["minutes"] == 30
    # Once the data is mended, processing the failed delivery again applies it.
    with app.app_context():
        row = db.session.scalar(sa.select(Attendance).where(Attendance.email.is_not(None)))
        row.stays = {"2027-03-10T13:10:00Z": None}
        db.session.commit()
        assert inbound.process(entries[1].id) == "processed"
    li = next(item for item in attendance(api, session["id"])["items"] if not item["guest"])
    assert li["minutes"] == 40
