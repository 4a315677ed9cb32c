"""Webex specifics the shared contract does not cover, against the fake over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests

from forum.providers.base import AuthenticationFailed
from forum.providers.base import MeetingRequest
from forum.providers.base import RequestRejected
from forum.providers.fakes.base import RunningFake
from forum.providers.fakes.webex import FakeWebexProvider
from forum.providers.registry import build_provider
from forum.providers.webex import WebexProvider
from forum.providers.webex import error_from
from forum.providers.webex import marker_tag
from tests.fake_setups import webex as setup

START = dt.datetime(2027, 3, 10, 13, 0, tzinfo=dt.UTC)
BOT_TOKEN = "forum-test-bot-token"


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    app = setup.make_fake()
    with RunningFake(app) as running:
        yield running


@pytest.fixture
def provider(fake: RunningFake) -> WebexProvider:
    settings = replace(setup.settings(fake.url), timeout_seconds=0.6, backoff_seconds=0.01)
    adapter = build_provider(settings, sleep=lambda seconds: None)
    assert isinstance(adapter, WebexProvider)
    return adapter


def webex(fake: RunningFake) -> FakeWebexProvider:
    assert isinstance(fake.app, FakeWebexProvider)
    return fake.app


def meeting_request(**changes) -> MeetingRequest:
    fields = {
        "topic": "USP-UTokyo seminar",
        "start": START,
        "end": START + dt.timedelta(hours=1),
        "timezone": "Asia/Shanghai",
        "host": setup.HOSTS[1],
        "agenda": "Quantum materials",
        "marker": "forum-session-4d2a@forum",
    }
    fields.update(changes)
    return MeetingRequest(**fields)


def api_token(fake: RunningFake) -> str:
    return webex(fake).issue_token().value


def test_create_sends_the_documented_body_and_keeps_the_answer(fake, provider):
    created = provider.create_meeting(meeting_request())
    [(method, path, content_type, body)] = [
        sent for sent in webex(fake).last_bodies if sent[1] == "/v1/meetings"
    ]
    assert (method, content_type) == ("POST", "application/json")
    assert body == {
        "title": "USP-UTokyo seminar",
        "start": "2027-03-10T13:00:00Z",
        "end": "2027-03-10T14:00:00Z",
        "timezone": "Asia/Shanghai",
        "agenda": "Quantum materials",
        "hostEmail": setup.HOSTS[1],
        "sendEmail": False,
        "integrationTags": ["forum-session-4d2a@forum"],
    }
    stored = webex(fake).state.meetings[created.external_id]
    assert len(created.external_id) == 32 and int(created.external_id, 16) >= 0
    assert created.join_url == stored["webLink"]
    assert created.passcode == stored["password"]
    assert created.host_account == setup.HOSTS[1]
    assert created.host_url is None  # Webex has no start link
    assert created.data["meetingNumber"] == stored["meetingNumber"]
    assert isinstance(created.data["meetingNumber"], str)
    assert "hostKey" not in created.data
    json.dumps(created.data)  # JSON-safe


def test_the_fake_answers_a_create_with_200_and_local_offsets(fake):
    response = requests.post(
        f"{fake.url}/v1/meetings",
        json={
            "title": "t",
            "start": "2027-03-10T13:00:00Z",
            "end": "2027-03-10T14:00:00Z",
            "timezone": "Asia/Shanghai",
            "hostEmail": setup.HOSTS[0],
        },
        headers={"Authorization": f"Bearer {api_token(fake)}"},
        timeout=5,
    )
    assert response.status_code == 200
    meeting = response.json()
    assert meeting["start"] == "2027-03-10T21:00:00+08:00"
    assert meeting["end"] == "2027-03-10T22:00:00+08:00"
    assert isinstance(meeting["id"], str) and isinstance(meeting["meetingNumber"], str)
    assert meeting["sipAddress"] == f"{meeting['meetingNumber']}@{meeting['siteUrl']}"


def test_times_read_back_from_the_meeting_offset_are_utc(fake, provider):
    created = provider.create_meeting(meeting_request(timezone="America/Sao_Paulo"))
    assert created.data["start"] == "2027-03-10T10:00:00-03:00"
    later = START + dt.timedelta(days=1)
    provider.update_meeting(
        created.external_id, meeting_request(start=later, end=later + dt.timedelta(minutes=30))
    )
    assert setup.stored_start(webex(fake), created.external_id) == later
    fetched = provider.get_meeting(created.external_id, host=setup.HOSTS[1])
    assert fetched.data["start"] == "2027-03-11T21:00:00+08:00"


def test_update_uses_the_200_answer_without_reading_back(fake, provider):
    created = provider.create_meeting(meeting_request())
    calls = len(webex(fake).state.calls)
    updated = provider.update_meeting(created.external_id, meeting_request(topic="Renamed"))
    assert updated.data["title"] == "Renamed"
    assert webex(fake).state.calls[calls:] == [("PATCH", f"/v1/meetings/{created.external_id}")]


def test_a_duration_out_of_range_is_rejected_with_the_vendors_words(fake, provider):
    with pytest.raises(RequestRejected) as raised:
        provider.create_meeting(meeting_request(end=START + dt.timedelta(minutes=5)))
    assert raised.value.status == 400
    assert "shorter than 10 minutes" in raised.value.message
    assert "tracking id" in raised.value.message
    assert setup.meeting_count(webex(fake)) == 0


def test_errors_come_in_the_webex_envelope(fake):
    token = api_token(fake)
    gone = requests.delete(
        f"{fake.url}/v1/meetings/{'0' * 32}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert gone.status_code == 404
    assert set(gone.json()) == {"message", "errors", "trackingId"}
    assert gone.json()["errors"][0]["description"]
    unauthorized = requests.get(f"{fake.url}/v1/meetings", timeout=5)
    assert unauthorized.status_code == 401


def test_patch_takes_json_only(fake, provider):
    created = provider.create_meeting(meeting_request())
    response = requests.patch(
        f"{fake.url}/v1/meetings/{created.external_id}",
        data="title=x",
        headers={
            "Authorization": f"Bearer {api_token(fake)}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=5,
    )
    assert response.status_code == 415


def test_a_lost_create_with_a_long_marker_is_found_by_its_hashed_tag(fake, provider):
    marker = "forum-session-" + "x" * 80
    webex(fake).faults.add("lost-answer", delay=1.0, method="POST", path=setup.CREATE_PATH)
    created = provider.create_meeting(meeting_request(marker=marker))
    assert setup.meeting_count(webex(fake)) == 1
    stored = webex(fake).state.meetings[created.external_id]
    assert stored["integrationTags"] == [marker_tag(marker)]
    assert len(marker_tag(marker)) <= 64
    assert ("GET", "/v1/meetings") in webex(fake).state.calls  # the look-up by tag


def test_refused_service_app_credentials_name_the_fix_not_the_secret(fake):
    wrong = setup.wrong_credentials(setup.settings(fake.url))
    adapter = build_provider(wrong)
    with pytest.raises(AuthenticationFailed) as raised:
        adapter.create_meeting(meeting_request())
    assert "client secret" in raised.value.message
    assert wrong.client_secret not in raised.value.message
    assert setup.CALLER_TOKEN not in raised.value.message
    assert wrong.client_secret not in repr(adapter) + repr(wrong)
    [problem] = adapter.check()
    assert "client secret" in problem


def test_a_long_lived_token_is_used_as_is_and_a_revoked_one_is_reported(fake):
    app = FakeWebexProvider(hosts=setup.HOSTS, access_tokens=[BOT_TOKEN])
    with RunningFake(app) as running:
        settings = replace(
            setup.settings(running.url),
            client_id=None,
            client_secret=None,
            token=BOT_TOKEN,
            options={},
        )
        adapter = build_provider(settings)
        created = adapter.create_meeting(meeting_request())
        assert adapter.get_meeting(created.external_id).join_url == created.join_url
        assert adapter.check() == []
        assert app.tokens_issued == 0
        app.faults.add("expire-tokens")
        # Nothing to refresh: the one retry after the 401 meets the same dead token.
        with pytest.raises(AuthenticationFailed) as raised:
            adapter.get_meeting(created.external_id)
        assert BOT_TOKEN not in raised.value.message
        [problem] = adapter.check()
        assert "refused the access token" in problem


def test_a_403_is_a_permission_problem(fake, provider):
    created = provider.create_meeting(meeting_request())
    webex(fake).faults.add("status", status=403, method="GET")
    with pytest.raises(AuthenticationFailed) as raised:
        provider.get_meeting(created.external_id, host=setup.HOSTS[1])
    assert "scopes" in raised.value.message


def test_a_body_that_is_not_json_does_not_crash_the_parser(fake):
    # A proxy in front of Webex answering with HTML, as seen through requests.
    response = requests.get(f"{fake.url}/_fake/state", timeout=5)
    response.status_code = 502
    response._content = b"<html><body>Bad gateway</body></html>"
    response.reason = "Bad Gateway"
    error = error_from(response)
    assert error.temporary
    assert "Bad Gateway" in error.message
