"""Webhook verification and parsing of the real adapters, on real signed deliveries."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest

from forum.providers.base import VideoProvider
from forum.providers.base import WebhookRejected
from forum.providers.fakes import webhooks as wh
from forum.providers.registry import AccountSettings
from forum.providers.registry import build_provider

SECRET = "s3cr3t-token-Zq8"
NOW = dt.datetime(2026, 3, 25, 7, 35, 0, tzinfo=dt.UTC)
TS = int(NOW.timestamp())
MEETING_ID = 92674392836
MEETING_UUID = "aDYlohsHRtCd4ii1uC2+hA=="
JOIN = dt.datetime(2026, 3, 25, 7, 31, 2, tzinfo=dt.UTC)
LEAVE = dt.datetime(2026, 3, 25, 8, 29, 40, tzinfo=dt.UTC)


def provider(kind: str, secret: str | None = SECRET) -> VideoProvider:
    return build_provider(AccountSettings(name=f"{kind}-main", kind=kind, webhook_secret=secret))


def accept(p: VideoProvider, headers: dict[str, str], body: bytes, **kw: object):
    assert p.verify_webhook(headers, body, now=NOW, **kw) is None  # type: ignore[arg-type]
    return p.parse_webhook(headers, body)


# --- Zoom --------------------------------------------------------------------------------------


def zoom_joined(
    email: str | None = "A.Student@Uni.example",
    *,
    join: dt.datetime = JOIN,
    user_id: str = "16778240",
    participant_uuid: str = "6A3B2C1D-0000-4000-8000-00000000A001",
    ts: int = TS,
) -> tuple[dict[str, str], bytes]:
    person = wh.zoom_participant(
        "A. Student", email, join_time=join, user_id=user_id, participant_uuid=participant_uuid
    )
    obj = wh.zoom_meeting_object(
        MEETING_ID, id_as_string=True, uuid=MEETING_UUID, participant=person
    )
    return wh.zoom_delivery(
        SECRET, "meeting.participant_joined", obj, ts=ts, event_ts_ms=TS * 1000 + 123
    )


def test_zoom_started_with_string_id() -> None:
    obj = wh.zoom_meeting_object(
        MEETING_ID, id_as_string=True, uuid=MEETING_UUID, start_time="2026-03-25T07:30:05Z"
    )
    headers, body = wh.zoom_delivery(SECRET, "meeting.started", obj, ts=TS)
    assert json.loads(body)["payload"]["object"]["id"] == str(MEETING_ID)
    [event] = accept(provider("zoom"), headers, body)
    assert event.kind == "meeting.started"
    assert event.external_id == str(MEETING_ID)
    assert event.occurred_at == dt.datetime(2026, 3, 25, 7, 30, 5, tzinfo=dt.UTC)
    assert event.data == {"meeting_uuid": MEETING_UUID, "at": "2026-03-25T07:30:05+00:00"}


def test_zoom_ended_carries_its_end_time() -> None:
    obj = wh.zoom_meeting_object(MEETING_ID, id_as_string=True, uuid=MEETING_UUID, end_time=LEAVE)
    headers, body = wh.zoom_delivery(SECRET, "meeting.ended", obj, ts=TS)
    [event] = accept(provider("zoom"), headers, body)
    assert (event.kind, event.external_id, event.occurred_at) == (
        "meeting.ended",
        str(MEETING_ID),
        LEAVE,
    )
    assert event.data["at"] == LEAVE.isoformat()


def test_zoom_deleted_with_number_id_gives_the_same_external_id() -> None:
    obj = wh.zoom_meeting_object(MEETING_ID, id_as_string=False, uuid=MEETING_UUID)
    headers, body = wh.zoom_delivery(
        SECRET,
        "meeting.deleted",
        obj,
        ts=TS,
        payload_extra={"operator": "admin@uni.example", "operation": "all"},
    )
    assert json.loads(body)["payload"]["object"]["id"] == MEETING_ID
    [event] = accept(provider("zoom"), headers, body)
    assert event.kind == "meeting.deleted"
    assert event.external_id == str(MEETING_ID)
    assert event.data["operator"] == "admin@uni.example"
    assert event.occurred_at == dt.datetime.fromtimestamp(TS, dt.UTC)


def test_zoom_updated_names_the_changed_fields() -> None:
    obj = {"id": MEETING_ID, "topic": "Joint seminar (moved)", "start_time": "2026-03-26T07:30:00Z"}
    headers, body = wh.zoom_delivery(
        SECRET,
        "meeting.updated",
        obj,
        ts=TS,
        payload_extra={"operator": "host@uni.example", "operator_id": "x1", "time_stamp": 17e11},
    )
    [event] = accept(provider("zoom"), headers, body)
    assert event.kind == "meeting.updated"
    assert event.external_id == str(MEETING_ID)
    assert event.data == {"operator": "host@uni.example", "changed": ["start_time", "topic"]}


def test_zoom_participant_joined_and_left() -> None:
    zoom = provider("zoom")
    [joined] = accept(zoom, *zoom_joined())
    assert joined.kind == "participant.joined"
    assert joined.external_id == str(MEETING_ID)
    assert joined.occurred_at == JOIN
    assert joined.participant_email == "A.Student@Uni.example"
    assert joined.participant_name == "A. Student"
    assert joined.data["participant_key"] == "a.student@uni.example"
    assert joined.data["at"] == JOIN.isoformat()

    person = wh.zoom_participant(
        "A. Student",
        "a.student@uni.example",
        leave_time=LEAVE,
        participant_uuid="6A3B2C1D-0000-4000-8000-00000000A001",
        leave_reason="left the meeting",
    )
    obj = wh.zoom_meeting_object(
        MEETING_ID, id_as_string=True, uuid=MEETING_UUID, participant=person
    )
    [left] = accept(zoom, *wh.zoom_delivery(SECRET, "meeting.participant_left", obj, ts=TS))
    assert left.kind == "participant.left"
    assert left.occurred_at == LEAVE
    assert left.data["participant_key"] == "a.student@uni.example"
    assert left.data["at"] == LEAVE.isoformat()
    assert left.identity != joined.identity


def test_zoom_guest_without_email_is_keyed_by_participant_uuid() -> None:
    [event] = accept(provider("zoom"), *zoom_joined(email=None))
    assert event.participant_email is None
    assert event.data["participant_key"] == "6A3B2C1D-0000-4000-8000-00000000A001"


def test_zoom_recording_completed() -> None:
    start = dt.datetime(2026, 3, 25, 7, 31, tzinfo=dt.UTC)
    files = [
        wh.zoom_recording_file(MEETING_ID, recording_start=start, recording_end=LEAVE),
        wh.zoom_recording_file(
            MEETING_ID,
            recording_start=start,
            recording_end=LEAVE,
            file_type="M4A",
            recording_type="audio_only",
        ),
    ]
    obj = wh.zoom_meeting_object(
        MEETING_ID,
        id_as_string=False,
        uuid=MEETING_UUID,
        share_url="https://zoom.us/rec/share/abc",
        password="rec-pass",
        recording_count=2,
        recording_files=files,
    )
    headers, body = wh.zoom_delivery(
        SECRET, "recording.completed", obj, ts=TS, top_extra={"download_token": "dl-token"}
    )
    [event] = accept(provider("zoom"), headers, body)
    assert event.kind == "recording.ready"
    assert event.external_id == str(MEETING_ID)
    assert event.data["share_url"] == "https://zoom.us/rec/share/abc"
    assert event.data["recording_start"] == start.isoformat()
    assert event.data["recording_end"] == LEAVE.isoformat()
    assert [f["download_url"] for f in event.data["files"]] == [f["download_url"] for f in files]
    assert [f["play_url"] for f in event.data["files"]] == [f["play_url"] for f in files]


def test_zoom_other_events_give_nothing() -> None:
    obj = wh.zoom_meeting_object(MEETING_ID, id_as_string=True, uuid=MEETING_UUID)
    assert (
        accept(provider("zoom"), *wh.zoom_delivery(SECRET, "meeting.sharing_started", obj, ts=TS))
        == []
    )


def test_zoom_url_validation_reply() -> None:
    headers, body = wh.zoom_url_validation(SECRET, "qgg8vlvZRS6UYooatFL8Aw", ts=TS)
    reply = provider("zoom").verify_webhook(headers, body, now=NOW)
    assert reply is not None
    assert (reply.status, reply.content_type) == (200, "application/json")
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert json.loads(reply.body) == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": expected,
    }


def test_zoom_url_validation_is_verified_too() -> None:
    headers, body = wh.zoom_url_validation("someone-else", "qgg8vlvZRS6UYooatFL8Aw", ts=TS)
    with pytest.raises(WebhookRejected):
        provider("zoom").verify_webhook(headers, body, now=NOW)


def test_zoom_tampered_body_is_rejected() -> None:
    headers, body = zoom_joined()
    with pytest.raises(WebhookRejected, match="signature"):
        provider("zoom").verify_webhook(
            headers, body.replace(b"A. Student", b"B. Student"), now=NOW
        )


def test_zoom_reserialised_body_is_rejected() -> None:
    headers, body = zoom_joined()
    with pytest.raises(WebhookRejected):
        provider("zoom").verify_webhook(headers, json.dumps(json.loads(body)).encode(), now=NOW)


def test_zoom_wrong_secret_is_rejected() -> None:
    with pytest.raises(WebhookRejected):
        provider("zoom", secret="another-secret").verify_webhook(*zoom_joined(), now=NOW)


@pytest.mark.parametrize("missing", ["x-zm-signature", "x-zm-request-timestamp"])
def test_zoom_missing_header_is_rejected(missing: str) -> None:
    headers, body = zoom_joined()
    del headers[missing]
    with pytest.raises(WebhookRejected, match="missing"):
        provider("zoom").verify_webhook(headers, body, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301])
def test_zoom_stale_or_future_timestamp_is_rejected(offset: int) -> None:
    headers, body = zoom_joined(ts=TS + offset)
    with pytest.raises(WebhookRejected, match="5 minutes"):
        provider("zoom").verify_webhook(headers, body, now=NOW)


@pytest.mark.parametrize("offset", [-300, 300])
def test_zoom_timestamp_within_five_minutes_is_accepted(offset: int) -> None:
    assert provider("zoom").verify_webhook(*zoom_joined(ts=TS + offset), now=NOW) is None


@pytest.mark.parametrize("stamp", ["", "17x", "1.5e9", "-1742887800", "１２３"])
def test_zoom_malformed_timestamp_is_rejected(stamp: str) -> None:
    headers, body = zoom_joined()
    headers["x-zm-request-timestamp"] = stamp
    headers["x-zm-signature"] = wh.zoom_signature(SECRET, stamp, body)
    with pytest.raises(WebhookRejected):
        provider("zoom").verify_webhook(headers, body, now=NOW)


@pytest.mark.parametrize("secret", [None, ""])
def test_zoom_without_a_configured_secret_rejects(secret: str | None) -> None:
    with pytest.raises(WebhookRejected) as caught:
        provider("zoom", secret=secret).verify_webhook(*zoom_joined(), now=NOW)
    assert SECRET not in str(caught.value)


def test_zoom_headers_are_read_whatever_their_case() -> None:
    headers, body = zoom_joined()
    upper = {key.upper(): value for key, value in headers.items()}
    assert provider("zoom").verify_webhook(upper, body, now=NOW) is None


def test_zoom_identity_is_stable_per_fact() -> None:
    zoom = provider("zoom")
    [first] = zoom.parse_webhook(*zoom_joined())
    [again] = zoom.parse_webhook(*zoom_joined())
    [other_person] = zoom.parse_webhook(
        *zoom_joined(user_id="16778241", participant_uuid="6A3B2C1D-0000-4000-8000-00000000A002")
    )
    [other_time] = zoom.parse_webhook(*zoom_joined(join=JOIN + dt.timedelta(minutes=10)))
    assert first.identity == again.identity
    assert len({first.identity, other_person.identity, other_time.identity}) == 3
    assert all(len(e.identity) <= 255 for e in (first, other_person, other_time))


# --- Webex -------------------------------------------------------------------------------------

SERIES = "870f51ff287b41be84648412901e0402"
INSTANCE = f"{SERIES}_I_167427437874906709"


def webex_joined(
    email: str = "A.Student@Uni.example", joined: str = "2026-03-25T08:31:02+01:00"
) -> tuple[dict[str, str], bytes]:
    data = {
        "id": f"{INSTANCE}_{hashlib.md5(email.encode()).hexdigest()}",  # noqa: S324
        "orgId": "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9mb3J1bQ",
        "host": False,
        "coHost": False,
        "email": email,
        "displayName": "A. Student",
        "invitee": True,
        "muted": False,
        "state": "joined",
        "joinedTime": joined,
        "meetingId": INSTANCE,
        "hostEmail": "host@uni.example",
        "siteUrl": "uni.webex.com",
    }
    return wh.webex_delivery(SECRET, "meetingParticipants", "joined", data)


def test_webex_meeting_started() -> None:
    data = {
        "id": INSTANCE,
        "meetingSeriesId": SERIES,
        "meetingNumber": "25680345417",
        "title": "Joint seminar",
        "start": "2026-03-25T08:30:05+01:00",
        "end": "2026-03-25T09:30:00+01:00",
        "state": "inProgress",
        "meetingType": "meeting",
    }
    headers, body = wh.webex_delivery(SECRET, "meetings", "started", data)
    [event] = accept(provider("webex"), headers, body)
    assert event.kind == "meeting.started"
    assert event.external_id == SERIES
    assert event.occurred_at == dt.datetime(2026, 3, 25, 7, 30, 5, tzinfo=dt.UTC)
    assert event.data == {"meeting_instance_id": INSTANCE, "at": "2026-03-25T07:30:05+00:00"}


def test_webex_participant_joined() -> None:
    [event] = accept(provider("webex"), *webex_joined())
    assert event.kind == "participant.joined"
    assert event.external_id == SERIES
    assert event.participant_email == "A.Student@Uni.example"
    assert event.participant_name == "A. Student"
    assert event.occurred_at == JOIN
    assert event.data["participant_key"] == "a.student@uni.example"
    assert event.data["at"] == JOIN.isoformat()


def test_webex_recording_created() -> None:
    data = {
        "id": "4f914b1dfe3c4d11a61730f18c7f5c3e",
        "meetingId": INSTANCE,
        "meetingSeriesId": SERIES,
        "topic": "Joint seminar",
        "createTime": "2026-03-25T08:40:00Z",
        "timeRecorded": "2026-03-25T07:31:00Z",
        "downloadUrl": "https://uni.webex.com/recordingservice/sites/uni/recording/download/4f9",
        "playbackUrl": "https://uni.webex.com/recordingservice/sites/uni/recording/playback/4f9",
        "password": "BgJep@43",
        "format": "MP4",
        "durationSeconds": 3600,
        "status": "available",
    }
    [event] = accept(provider("webex"), *wh.webex_delivery(SECRET, "recordings", "created", data))
    assert event.kind == "recording.ready"
    assert event.external_id == SERIES
    assert event.data["share_url"] == data["playbackUrl"]
    assert event.data["files"][0]["downloadUrl"] == data["downloadUrl"]
    assert event.data["recording_start"] == "2026-03-25T07:31:00+00:00"
    assert event.data["recording_end"] == "2026-03-25T08:31:00+00:00"


def test_webex_meeting_deleted_names_the_actor() -> None:
    headers, body = wh.webex_delivery(
        SECRET, "meetings", "deleted", {"id": SERIES, "meetingType": "meetingSeries"}
    )
    [event] = accept(provider("webex"), headers, body)
    assert (event.kind, event.external_id) == ("meeting.deleted", SERIES)
    assert event.data["operator"] == json.loads(body)["actorId"]


def test_webex_rejections() -> None:
    webex = provider("webex")
    headers, body = webex_joined()
    with pytest.raises(WebhookRejected, match="(?i)signature"):
        webex.verify_webhook(headers, body.replace(b"A. Student", b"B. Student"), now=NOW)
    with pytest.raises(WebhookRejected):
        provider("webex", secret="another").verify_webhook(headers, body, now=NOW)
    with pytest.raises(WebhookRejected, match="missing"):
        webex.verify_webhook({"Content-Type": "application/json"}, body, now=NOW)
    with pytest.raises(WebhookRejected):
        provider("webex", secret=None).verify_webhook(headers, body, now=NOW)


def test_webex_identity_is_stable_per_fact() -> None:
    webex = provider("webex")
    [first] = webex.parse_webhook(*webex_joined())
    [again] = webex.parse_webhook(*webex_joined())
    [other] = webex.parse_webhook(*webex_joined(email="b.other@uni.example"))
    [rejoin] = webex.parse_webhook(*webex_joined(joined="2026-03-25T08:50:00+01:00"))
    assert first.identity == again.identity
    assert len({first.identity, other.identity, rejoin.identity}) == 3
    assert all(len(e.identity) <= 255 for e in (first, other, rejoin))


# --- Microsoft Graph (Teams) -------------------------------------------------------------------

EVENT_RESOURCE = "Users/9f2f4c1b-2f0e-4b7e-a5d3-7b0b1c2d3e4f/Events/AAMkAGI1AAAt9AHjAAA="


def test_graph_validation_token_is_echoed_decoded() -> None:
    query = wh.graph_validation()
    reply = provider("teams").verify_webhook(wh.GRAPH_VALIDATION_HEADERS, b"", now=NOW, query=query)
    assert reply is not None
    assert (reply.status, reply.content_type) == (200, "text/plain")
    assert reply.body.decode() == query["validationToken"]
    assert " " in reply.body.decode()  # decoded, not %20


def test_graph_batched_notifications() -> None:
    items = [
        wh.graph_item("updated", EVENT_RESOURCE, etag='W/"DwAAABYAAAB1"'),
        wh.graph_item("deleted", EVENT_RESOURCE, etag='W/"DwAAABYAAAB2"'),
        wh.graph_item("created", EVENT_RESOURCE),
    ]
    headers, body = wh.graph_notification(SECRET, items)
    events = accept(provider("teams"), headers, body)
    assert [e.kind for e in events] == ["meeting.updated", "meeting.deleted"]
    assert {e.external_id for e in events} == {"AAMkAGI1AAAt9AHjAAA="}
    assert events[0].data["resource"] == EVENT_RESOURCE
    assert events[0].identity != events[1].identity
    assert all(len(e.identity) <= 255 for e in events)


def test_graph_identity_is_stable_per_fact() -> None:
    teams = provider("teams")
    item = wh.graph_item("updated", EVENT_RESOURCE, etag='W/"DwAAABYAAAB1"')
    [first] = teams.parse_webhook(*wh.graph_notification(SECRET, [item]))
    [again] = teams.parse_webhook(*wh.graph_notification(SECRET, [item]))
    later = wh.graph_item("updated", EVENT_RESOURCE, etag='W/"DwAAABYAAAB9"')
    [other] = teams.parse_webhook(*wh.graph_notification(SECRET, [later]))
    assert first.identity == again.identity != other.identity


def test_graph_rejections() -> None:
    teams = provider("teams")
    good = wh.graph_item("updated", EVENT_RESOURCE)
    forged = {**wh.graph_item("deleted", EVENT_RESOURCE), "clientState": "guess"}
    with pytest.raises(WebhookRejected, match="clientState"):
        teams.verify_webhook(*wh.graph_notification(SECRET, [good, forged]), now=NOW)
    with pytest.raises(WebhookRejected):
        provider("teams", secret="another").verify_webhook(
            *wh.graph_notification(SECRET, [good]), now=NOW
        )
    no_state = json.dumps({"value": [good]}).encode()
    with pytest.raises(WebhookRejected):
        teams.verify_webhook({"Content-Type": "application/json"}, no_state, now=NOW)
    with pytest.raises(WebhookRejected):
        teams.verify_webhook({"Content-Type": "application/json"}, b"not json", now=NOW)
    with pytest.raises(WebhookRejected):
        provider("teams", secret=None).verify_webhook(
            wh.GRAPH_VALIDATION_HEADERS, b"", now=NOW, query=wh.graph_validation()
        )


# --- Google (Calendar watch channels) ----------------------------------------------------------


def google(state: str, number: int = 2, token: str = SECRET) -> tuple[dict[str, str], bytes]:
    return wh.google_channel_notification(
        token,
        channel_id="01234567-89ab-cdef-0123-456789abcdef",
        resource_id="ret08u3rv24htgh289g",
        state=state,
        number=number,
    )


def test_google_notifications() -> None:
    meet = provider("google_meet")
    [updated] = accept(meet, *google("exists", 2))
    [deleted] = accept(meet, *google("not_exists", 3))
    assert (updated.kind, updated.external_id) == ("meeting.updated", "ret08u3rv24htgh289g")
    assert deleted.kind == "meeting.deleted"
    assert updated.identity == "google_meet:01234567-89ab-cdef-0123-456789abcdef|2"
    assert updated.identity != deleted.identity
    assert meet.parse_webhook(*google("exists", 2))[0].identity == updated.identity


def test_google_sync_is_verified_and_ignored() -> None:
    assert accept(provider("google_meet"), *google("sync", 1)) == []


def test_google_rejections() -> None:
    meet = provider("google_meet")
    with pytest.raises(WebhookRejected):
        meet.verify_webhook(*google("exists", token="guess"), now=NOW)
    headers, body = google("exists")
    del headers["X-Goog-Channel-Token"]
    with pytest.raises(WebhookRejected, match="missing"):
        meet.verify_webhook(headers, body, now=NOW)
    headers, body = google("exists")
    headers["X-Goog-Message-Number"] = "two"
    with pytest.raises(WebhookRejected):
        meet.verify_webhook(headers, body, now=NOW)
    with pytest.raises(WebhookRejected):
        provider("google_meet", secret=None).verify_webhook(*google("exists"), now=NOW)
