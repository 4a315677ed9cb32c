"""Google Meet adapter against its fake over loopback: what the shared contract does not cover."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests

from forum.providers.base import AuthenticationFailed
from forum.providers.base import MeetingNotFound
from forum.providers.base import MeetingRequest
from forum.providers.base import RateLimited
from forum.providers.base import RequestRejected
from forum.providers.fakes.base import RunningFake
from forum.providers.fakes.google_meet import SERVICE_ACCOUNT
from forum.providers.fakes.google_meet import FakeGoogleMeetProvider
from forum.providers.google_meet import GoogleMeetProvider
from forum.providers.google_meet import error_from
from forum.providers.google_meet import event_id_for
from forum.providers.registry import AccountSettings
from forum.providers.registry import build_provider
from tests.fake_setups import google_meet as setup

MARKER = "forum-session-5d2b7c10@forum"
START = dt.datetime(2027, 3, 10, 13, 0, tzinfo=dt.UTC)


def meeting_request(**changes) -> MeetingRequest:
    fields = {
        "topic": "ETH-Kyoto colloquium",
        "start": START,
        "end": START + dt.timedelta(hours=1),
        "timezone": "Europe/Zurich",
        "host": setup.HOSTS[0],
        "agenda": "Quantum materials",
        "marker": MARKER,
    }
    fields.update(changes)
    return MeetingRequest(**fields)


def fast(settings: AccountSettings) -> AccountSettings:
    return replace(settings, timeout_seconds=0.6, attempts=3, backoff_seconds=0.01)


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with RunningFake(setup.make_fake()) as running:
        yield running


@pytest.fixture
def provider(fake) -> GoogleMeetProvider:
    built = build_provider(fast(setup.settings(fake.url)), sleep=lambda seconds: None)
    assert isinstance(built, GoogleMeetProvider)
    return built


def token_for(fake: RunningFake, host: str) -> str:
    """A real access token from the fake, got the way the adapter gets it."""
    provider = build_provider(setup.settings(fake.url))
    assert isinstance(provider, GoogleMeetProvider)
    return provider.http(host).tokens.get().value  # type: ignore[union-attr]


def test_the_jwt_assertion_carries_the_delegation_claims(fake, provider):
    provider.create_meeting(meeting_request())
    assertion = fake.app.last_assertion
    assert assertion["header"] == {"alg": "RS256", "typ": "JWT"}
    claims = assertion["claims"]
    assert claims["iss"] == SERVICE_ACCOUNT
    assert claims["sub"] == setup.HOSTS[0]  # the host user the service account acts as
    assert claims["scope"] == "https://www.googleapis.com/auth/calendar"
    assert claims["aud"] == f"{fake.url}/token"
    assert 0 < claims["exp"] - claims["iat"] <= 3600


def test_one_token_per_impersonated_host(fake, provider):
    provider.create_meeting(meeting_request())
    provider.create_meeting(meeting_request(host=setup.HOSTS[1], marker="other-session"))
    provider.create_meeting(meeting_request(marker="third-session"))
    assert setup.tokens_issued(fake.app) == 2
    assert set(fake.app.subjects.values()) == set(setup.HOSTS)


def test_create_sends_a_calendar_event_with_a_meet_request(fake, provider):
    created = provider.create_meeting(meeting_request())
    assert created.external_id == event_id_for(MARKER)
    assert re.fullmatch(r"https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}", created.join_url)
    assert created.data["meeting_code"] == created.join_url.rsplit("/", 1)[1]
    assert created.host_account == setup.HOSTS[0]
    assert created.passcode is None and created.host_url is None
    assert created.data["phones"][0]["pin"]
    [(method, path, query)] = fake.app.event_calls
    assert (method, path) == ("POST", f"/calendar/v3/calendars/{setup.HOSTS[0]}/events")
    # Without conferenceDataVersion=1 Calendar drops the Meet request; forum mails invites itself.
    assert query == {"conferenceDataVersion": "1", "sendUpdates": "none"}
    stored = fake.app.state.meetings[created.external_id]
    assert stored["start"] == {"dateTime": "2027-03-10T14:00:00+01:00", "timeZone": "Europe/Zurich"}
    assert stored["description"] == "Quantum materials"
    assert stored["extendedProperties"] == {"private": {"forumMarker": MARKER}}
    json.dumps(created.data)  # JSON-safe, to be stored as it is


def test_a_repeated_create_meets_409_duplicate_and_reads_the_event(fake, provider):
    first = provider.create_meeting(meeting_request())
    again = provider.create_meeting(meeting_request())
    assert again.external_id == first.external_id
    assert again.join_url == first.join_url
    assert setup.meeting_count(fake.app) == 1
    assert [call[0] for call in fake.app.event_calls] == ["POST", "POST", "GET"]


def test_the_fake_answers_a_duplicate_id_as_google_does(fake):
    token = token_for(fake, setup.HOSTS[0])
    url = f"{fake.url}/calendar/v3/calendars/{setup.HOSTS[0]}/events"
    body = {
        "id": event_id_for(MARKER),
        "start": {"dateTime": "2027-03-10T13:00:00Z"},
        "end": {"dateTime": "2027-03-10T14:00:00Z"},
    }
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.post(url, json=body, headers=headers, timeout=5).status_code == 200
    second = requests.post(url, json=body, headers=headers, timeout=5)
    assert second.status_code == 409
    assert second.json() == {
        "error": {
            "errors": [
                {
                    "domain": "global",
                    "reason": "duplicate",
                    "message": "The requested identifier already exists.",
                }
            ],
            "code": 409,
            "message": "The requested identifier already exists.",
        }
    }


def test_the_fake_ignores_conference_data_without_the_version_parameter(fake):
    token = token_for(fake, setup.HOSTS[0])
    url = f"{fake.url}/calendar/v3/calendars/{setup.HOSTS[0]}/events"
    body = {
        "start": {"dateTime": "2027-03-10T13:00:00Z"},
        "end": {"dateTime": "2027-03-10T14:00:00Z"},
        "conferenceData": {
            "createRequest": {"requestId": "r1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}
        },
    }
    answer = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert answer.status_code == 200
    assert "hangoutLink" not in answer.json() and "conferenceData" not in answer.json()


def test_a_session_whose_meeting_was_deleted_gets_a_new_event_id(fake, provider):
    first = provider.create_meeting(meeting_request())
    provider.delete_meeting(first.external_id, host=first.host_account)
    # Calendar keeps a deleted event's id taken: the next id of the marker's chain is used.
    second = provider.create_meeting(meeting_request())
    assert second.external_id == event_id_for(MARKER, 1)
    assert setup.meeting_count(fake.app) == 1
    # ... and a lost answer for that second meeting is found by walking the same chain.
    fake.app.faults.add("lost-answer", delay=1.0, method="POST", path=setup.CREATE_PATH, count=1)
    provider.delete_meeting(second.external_id, host=second.host_account)
    third = provider.create_meeting(meeting_request())
    assert third.external_id == event_id_for(MARKER, 2)
    assert setup.meeting_count(fake.app) == 1


def test_a_deleted_event_reads_as_410_and_maps_to_meeting_not_found(fake, provider):
    created = provider.create_meeting(meeting_request())
    provider.delete_meeting(created.external_id, host=created.host_account)
    token = token_for(fake, setup.HOSTS[0])
    answer = requests.get(
        f"{fake.url}/calendar/v3/calendars/{setup.HOSTS[0]}/events/{created.external_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert answer.status_code == 410
    assert answer.json()["error"]["message"] == "Resource has been deleted"
    with pytest.raises(MeetingNotFound):
        provider.get_meeting(created.external_id, host=created.host_account)


def test_get_without_a_host_looks_on_each_configured_host(fake, provider):
    created = provider.create_meeting(meeting_request(host=setup.HOSTS[1]))
    fetched = provider.get_meeting(created.external_id)
    assert fetched.host_account == setup.HOSTS[1]
    assert fetched.join_url == created.join_url


def test_update_patches_the_event_and_keeps_the_link(fake, provider):
    created = provider.create_meeting(meeting_request())
    later = START + dt.timedelta(days=1)
    updated = provider.update_meeting(
        created.external_id,
        meeting_request(topic="Moved", start=later, end=later + dt.timedelta(minutes=90)),
    )
    assert updated.join_url == created.join_url
    assert [call[:2] for call in fake.app.event_calls][-1] == (
        "PATCH",
        f"/calendar/v3/calendars/{setup.HOSTS[0]}/events/{created.external_id}",
    )
    assert fake.app.event_calls[-1][2] == {"sendUpdates": "none"}
    assert fake.app.state.meetings[created.external_id]["sequence"] == 1


def test_a_user_without_meet_gets_the_known_message(fake):
    app = FakeGoogleMeetProvider(
        hosts=setup.HOSTS,
        public_key=setup.make_fake().public_key,
        meet_disabled=[setup.HOSTS[1]],
    )
    with RunningFake(app) as running:
        provider = build_provider(fast(setup.settings(running.url)))
        with pytest.raises(RequestRejected) as raised:
            provider.create_meeting(meeting_request(host=setup.HOSTS[1]))
        assert "Invalid conference type value." in raised.value.message
        assert "domain-wide delegation" in raised.value.message
        assert provider.check() == [
            f"Google Meet is not enabled for {setup.HOSTS[1]}'s calendar: enable Meet for that "
            "user in the Workspace admin console"
        ]


def test_a_host_outside_the_delegating_domain_is_named(fake, provider):
    with pytest.raises(AuthenticationFailed) as raised:
        provider.create_meeting(meeting_request(host="prof@other.example"))
    assert "prof@other.example" in raised.value.message
    assert "domain-wide delegation" in raised.value.message
    assert raised.value.code == "unauthorized_client"


def test_a_wrong_key_is_reported_once_without_the_secret(fake):
    settings = setup.wrong_credentials(setup.settings(fake.url))
    provider = build_provider(fast(settings))
    problems = provider.check()
    assert len(problems) == 1
    assert "Invalid JWT Signature." in problems[0] and "private key" in problems[0]
    with pytest.raises(AuthenticationFailed) as raised:
        provider.create_meeting(meeting_request())
    assert "PRIVATE KEY" not in raised.value.message
    assert "PRIVATE KEY" not in repr(provider)


def test_an_unreadable_key_is_a_clear_error_without_the_secret(fake):
    settings = replace(setup.settings(fake.url), client_secret="not-a-key-SECRET123")
    problems = build_provider(fast(settings)).check()
    assert len(problems) == 1
    assert "private key could not be read" in problems[0]
    assert "SECRET123" not in problems[0]


def test_the_json_key_file_is_accepted_as_the_client_secret(fake):
    pem = setup.settings(fake.url).client_secret
    key_file = json.dumps(
        {"type": "service_account", "client_email": SERVICE_ACCOUNT, "private_key": pem}
    )
    settings = replace(setup.settings(fake.url), client_id=None, client_secret=key_file)
    assert build_provider(fast(settings)).check() == []


def test_403_rate_limit_exceeded_is_a_temporary_error(fake, provider):
    created = provider.create_meeting(meeting_request())
    # Calendar signals rate limits with 403 usageLimits/rateLimitExceeded as well as 429.
    fake.app.faults.add("status", status=403, method="GET")
    with pytest.raises(RateLimited) as raised:
        provider.get_meeting(created.external_id, host=created.host_account)
    assert raised.value.temporary


def test_a_body_that_is_not_json_does_not_break_error_parsing():
    response = requests.Response()
    response.status_code = 502
    response.reason = "Bad Gateway"
    response._content = b"<html><body>upstream gone</body></html>"
    response.request = requests.Request(
        "GET", "https://www.googleapis.com/calendar/v3/calendars/h@x/events/abc12"
    ).prepare()
    error = error_from(response)
    assert error.temporary
    assert "502" in error.message
