"""Provider webhooks end to end: real signed deliveries posted to /webhooks/<provider>, and
what the API then says of the session, its attendance and the inbox."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import sqlalchemy as sa

from forum.accounts.models import Organiser
from forum.events.models import VideoMeeting
from forum.extensions import db
from forum.providers import accounts
from forum.providers.fakes import webhooks as deliveries
from forum.webhooks.models import InboxEntry
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


@pytest.fixture
def session(app, api) -> dict[str, Any]:
    """A session whose meeting is Zoom meeting MEETING_ID, with Li invited."""
    with app.app_context():
        add_signing_account(SECRET)
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    li = make_person(api, "Li Wei", "Li.Wei@pku.example.org", pku["id"])
    event = make_event(api)
    created = make_session(api, event["id"], invitees=[invitee(li, "chair")])
    with app.app_context():
        meeting = db.session.scalar(
            sa.select(VideoMeeting).where(VideoMeeting.session_id == created["id"])
        )
        meeting.provider, meeting.external_id, meeting.status = "zoom", str(MEETING_ID), "created"
        db.session.commit()
    return {**created, "li": li}


def post(client, provider: str, headers: dict[str, str], body: bytes, **kwargs):
    return client.post(f"/webhooks/{provider}", data=body, headers=headers, **kwargs)


def zoom(event: str, *, id_as_string: bool = True, ts: int | None = None, **obj: Any):
    meeting = deliveries.zoom_meeting_object(
        MEETING_ID, id_as_string=id_as_string, uuid=UUID, **obj
    )
    return deliveries.zoom_delivery(SECRET, event, meeting, ts=ts)


def joined(name: str, email: str | None, at: str, user_id: str = "1"):
    # Zoom keeps a participant's uuid for their stay: it is what matches a guest's leave.
    participant = deliveries.zoom_participant(
        name, email, join_time=at, user_id=user_id, participant_uuid=f"uuid-{user_id}"
    )
    return zoom("meeting.participant_joined", participant=participant)


def left(name: str, email: str | None, at: str, user_id: str = "1"):
    participant = deliveries.zoom_participant(
        name, email, leave_time=at, user_id=user_id, participant_uuid=f"uuid-{user_id}"
    )
    return zoom("meeting.participant_left", participant=participant)


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
