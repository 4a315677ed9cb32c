"""Teams specifics beyond the shared contract: Graph's request shapes, quirks and error messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from forum.providers.base import AuthenticationFailed
from forum.providers.base import HostNotFound
from forum.providers.base import MeetingRequest
from forum.providers.fakes.base import RunningFake
from forum.providers.fakes.teams import DEFAULT_CLIENT_ID
from forum.providers.fakes.teams import DEFAULT_CLIENT_SECRET
from forum.providers.fakes.teams import DEFAULT_TENANT
from forum.providers.fakes.teams import FakeTeamsProvider
from forum.providers.registry import AccountSettings
from forum.providers.registry import build_provider
from forum.providers.teams import TeamsProvider
from tests.fake_setups import teams as setup

START = dt.datetime(2027, 3, 10, 13, 0, tzinfo=dt.UTC)


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with RunningFake(setup.make_fake()) as running:
        yield running


def account(fake: RunningFake, **changes) -> AccountSettings:
    quick = {"timeout_seconds": 2.0, "backoff_seconds": 0.01, **changes}
    return replace(setup.settings(fake.url), **quick)


def provider(fake: RunningFake, **changes) -> TeamsProvider:
    built = build_provider(account(fake, **changes), sleep=lambda seconds: None)
    assert isinstance(built, TeamsProvider)
    return built


def meeting_request(**changes) -> MeetingRequest:
    fields = {
        "topic": "PKU-UTokyo bilateral",
        "start": START,
        "end": START + dt.timedelta(hours=1),
        "timezone": "Asia/Tokyo",
        "host": setup.HOSTS[0],
        "marker": "forum-session-41@forum",
    }
    fields.update(changes)
    return MeetingRequest(**fields)


def graph_token(fake: RunningFake) -> str:
    response = requests.post(
        f"{fake.url}/{DEFAULT_TENANT}/oauth2/v2.0/token",
        data={
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "scope": "https://graph.microsoft.com/.default",
            "grant_type": "client_credentials",
        },
        timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert "refresh_token" not in body
    return body["access_token"]


# --- the fake keeps Graph's contract -------------------------------------------------------------


def test_fake_create_or_get_answers_201_then_200_with_both_join_fields(fake):
    headers = {"Authorization": f"Bearer {graph_token(fake)}"}
    path = f"{fake.url}{setup.CREATE_PATH}/createOrGet"
    body = {
        "externalId": "forum-x",
        "subject": "S",
        "startDateTime": "2027-03-10T22:00:00+09:00",
        "endDateTime": "2027-03-10T23:00:00+09:00",
    }
    first = requests.post(path, json=body, headers=headers, timeout=5)
    again = requests.post(path, json=body, headers=headers, timeout=5)
    assert (first.status_code, again.status_code) == (201, 200)
    meeting = first.json()
    assert again.json()["id"] == meeting["id"] and isinstance(meeting["id"], str)
    assert meeting["joinUrl"] == meeting["joinWebUrl"]
    assert meeting["startDateTime"] == "2027-03-10T13:00:00.0000000Z"  # answered in UTC
    assert meeting["joinMeetingIdSettings"]["passcode"]


def test_fake_patch_needs_both_times_and_delete_is_204(fake):
    headers = {"Authorization": f"Bearer {graph_token(fake)}"}
    made = requests.post(
        f"{fake.url}{setup.CREATE_PATH}/createOrGet",
        json={"externalId": "forum-y", "subject": "S"},
        headers=headers,
        timeout=5,
    ).json()
    url = f"{fake.url}{setup.CREATE_PATH}/{made['id']}"
    half = requests.patch(
        url, json={"startDateTime": "2027-03-11T10:00:00Z"}, headers=headers, timeout=5
    )
    assert half.status_code == 400
    assert half.json()["error"]["code"] == "BadRequest"
    assert set(half.json()["error"]["innerError"]) >= {"date", "request-id"}
    renamed = requests.patch(url, json={"subject": "T"}, headers=headers, timeout=5)
    assert renamed.status_code == 200 and renamed.json()["joinWebUrl"] == made["joinWebUrl"]
    gone = requests.delete(url, headers=headers, timeout=5)
    assert gone.status_code == 204 and gone.content == b""
    assert requests.get(url, headers=headers, timeout=5).status_code == 404


def test_fake_token_errors_have_entra_shape(fake):
    response = requests.post(
        f"{fake.url}/{DEFAULT_TENANT}/oauth2/v2.0/token",
        data={
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": "wrong",
            "scope": "https://graph.microsoft.com/.default",
            "grant_type": "client_credentials",
        },
        timeout=5,
    )
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215: ")


def test_fake_refuses_an_expired_token_the_graph_way(fake):
    headers = {"Authorization": f"Bearer {graph_token(fake)}"}
    fake.app.expire_tokens()
    response = requests.get(f"{fake.url}/v1.0/users", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


# --- the adapter ---------------------------------------------------------------------------------


def test_hosts_are_resolved_to_object_ids_once(fake):
    teams = provider(fake)
    teams.create_meeting(meeting_request())
    teams.create_meeting(meeting_request(marker="forum-session-42@forum"))
    lookups = [call for call in fake.app.state.calls if call == ("GET", "/v1.0/users")]
    assert len(lookups) == 1
    assert teams.user_id(setup.HOSTS[0]) == FakeTeamsProvider.object_id(setup.HOSTS[0])


def test_a_host_given_as_object_id_is_used_as_is(fake):
    object_id = FakeTeamsProvider.object_id(setup.HOSTS[1])
    teams = provider(fake, hosts=(object_id,))
    created = teams.create_meeting(meeting_request(host=object_id))
    assert created.data["organizer_id"] == object_id
    assert teams.check() == []
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(HostNotFound) as raised:
        teams.create_meeting(meeting_request(host=missing))
    assert missing in raised.value.message


def test_the_same_marker_gives_back_the_same_meeting_brought_up_to_date(fake):
    teams = provider(fake)
    first = teams.create_meeting(meeting_request())
    later = START + dt.timedelta(days=1)
    again = teams.create_meeting(
        meeting_request(topic="Moved", start=later, end=later + dt.timedelta(hours=1))
    )
    assert again.external_id == first.external_id
    assert setup.meeting_count(fake.app) == 1
    assert setup.stored_start(fake.app, first.external_id) == later
    assert setup.stored_topic(fake.app, first.external_id) == "Moved"


def test_the_create_sends_graph_fields(fake):
    created = provider(fake).create_meeting(meeting_request())
    stored = fake.app.state.meetings[created.external_id]
    assert stored["externalId"] == "forum-session-41@forum"
    assert stored["endDateTime"] == "2027-03-10T14:00:00.0000000Z"
    assert created.passcode == stored["joinMeetingIdSettings"]["passcode"]
    assert created.host_account == setup.HOSTS[0]
    assert created.host_url is None  # Teams has no separate start link
    assert created.data["join_meeting_id"] == stored["joinMeetingIdSettings"]["joinMeetingId"]


def test_without_a_host_the_pool_is_searched(fake):
    teams = provider(fake)
    created = teams.create_meeting(meeting_request(host=setup.HOSTS[1]))
    fetched = teams.get_meeting(created.external_id)
    assert fetched.host_account == setup.HOSTS[1]
    teams.delete_meeting(created.external_id)
    assert setup.meeting_count(fake.app) == 0


def test_a_missing_application_access_policy_says_what_to_do(fake):
    fake.app.deny_policy(setup.HOSTS[0])
    with pytest.raises(AuthenticationFailed) as raised:
        provider(fake).create_meeting(meeting_request())
    message = raised.value.message
    assert "no application access policy for user kenji.sato@u-tokyo.example" in message
    assert "Grant-CsApplicationAccessPolicy" in message
    assert raised.value.status == 403 and raised.value.code == "General"
    assert setup.meeting_count(fake.app) == 0


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"client_secret": "not-it"}, "check the client secret"),
        ({"client_id": "11111111-2222-4333-8444-555555555555"}, "check the client id"),
        ({"tenant_id": "77777777-2222-4333-8444-555555555555"}, "check the tenant id"),
    ],
)
def test_refused_credentials_name_the_setting_to_fix(fake, changes, expected):
    problems = provider(fake, **changes).check()
    assert len(problems) == 1 and expected in problems[0], problems
    with pytest.raises(AuthenticationFailed) as raised:
        provider(fake, **changes).create_meeting(meeting_request())
    assert expected in raised.value.message


def test_secrets_stay_out_of_messages_and_reprs(fake):
    teams = provider(fake, client_secret="s3cr3t-value")
    with pytest.raises(AuthenticationFailed) as raised:
        teams.get_meeting("anything", host=setup.HOSTS[0])
    assert "s3cr3t-value" not in str(raised.value)
    assert "s3cr3t-value" not in repr(teams)
    good = provider(fake)
    good.create_meeting(meeting_request())
    token = next(iter(fake.app.state.tokens))
    assert token not in repr(good) and token not in repr(good.settings)


class HtmlErrorsFake(FakeTeamsProvider):
    """A Graph behind a proxy that answers meeting reads with an HTML page."""

    def meeting(self, request: Request, user: str, meeting_id: str) -> Response:
        return Response("<html><body>Forbidden</body></html>", 403, content_type="text/html")


def test_a_non_json_error_body_does_not_crash():
    with RunningFake(HtmlErrorsFake(setup.HOSTS)) as running:
        teams = provider(running)
        with pytest.raises(AuthenticationFailed) as raised:
            teams.get_meeting("some-id", host=setup.HOSTS[0])
    assert "no details" in raised.value.message
    assert "OnlineMeetings.ReadWrite.All" in raised.value.message
