"""Zoom specifics the shared contract does not cover, against the fake Zoom over loopback HTTP."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests

from forum.providers.base import AuthenticationFailed
from forum.providers.base import HostNotFound
from forum.providers.base import MeetingNotFound
from forum.providers.base import MeetingRequest
from forum.providers.base import QuotaExceeded
from forum.providers.base import RequestRejected
from forum.providers.fakes.base import RunningFake
from forum.providers.fakes.zoom import FakeZoomProvider
from forum.providers.registry import build_provider
from forum.providers.zoom import ZoomProvider
from tests.fake_setups import zoom as setup

START = dt.datetime(2027, 3, 10, 13, 0, tzinfo=dt.UTC)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    app = FakeZoomProvider(
        hosts=setup.HOSTS,
        account_id=setup.ACCOUNT_ID,
        client_id=setup.CLIENT_ID,
        client_secret=setup.CLIENT_SECRET,
        daily_limit=3,
        token_params_in_query=False,
    )
    with RunningFake(app) as running:
        yield running


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_provider(fake: RunningFake, sleeps: Sleeps, **changes) -> ZoomProvider:
    settings = replace(setup.settings(fake.url), timeout_seconds=0.6, backoff_seconds=0.01)
    provider = build_provider(replace(settings, **changes), sleep=sleeps)
    assert isinstance(provider, ZoomProvider)
    return provider


@pytest.fixture
def provider(fake, sleeps) -> ZoomProvider:
    return make_provider(fake, sleeps)


def meeting_request(**changes) -> MeetingRequest:
    fields = {
        "topic": "PKU-UTokyo bilateral",
        "start": START,
        "end": START + dt.timedelta(minutes=90),
        "timezone": "Asia/Shanghai",
        "host": setup.HOSTS[0],
        "agenda": "Joint seminar on materials science",
        "marker": "forum-session-9c1f6e2a@forum",
    }
    fields.update(changes)
    return MeetingRequest(**fields)


def test_the_create_sends_zoom_shapes_and_keeps_what_matters(fake, provider):
    created = provider.create_meeting(meeting_request())
    stored = fake.app.state.meetings[created.external_id]
    assert stored["start_time"] == "2027-03-10T13:00:00Z"
    assert stored["duration"] == 90
    assert stored["timezone"] == "Asia/Shanghai"
    assert stored["type"] == 2
    assert stored["agenda"].splitlines()[-1] == "forum:forum-session-9c1f6e2a@forum"
    assert isinstance(stored["id"], int)  # int64 in Zoom's answer, a string on our side
    assert created.external_id == str(stored["id"])
    assert "?pwd=" in created.join_url
    assert created.host_url and "?zak=" in created.host_url
    assert created.passcode == stored["password"]
    assert created.host_account == setup.HOSTS[0]
    json.dumps(created.data)
    assert "start_url" not in created.data and "password" not in created.data


def test_the_token_is_asked_with_basic_auth_in_the_form_body(fake, provider):
    # The fake here refuses query-string params and any other auth than Basic.
    provider.create_meeting(meeting_request())
    assert setup.tokens_issued(fake.app) == 1


def test_the_api_url_of_the_token_answer_is_the_base(fake, sleeps):
    # The configured base is dead; the token's regional api_url leads to the fake.
    provider = make_provider(fake, sleeps, api_base_url="http://127.0.0.1:9/v2", attempts=1)
    created = provider.create_meeting(meeting_request())
    assert provider.http.base_url == f"{fake.url}/v2"
    assert provider.get_meeting(created.external_id).external_id == created.external_id


def test_a_wrong_secret_is_named_and_never_shown(fake, sleeps):
    provider = make_provider(fake, sleeps, client_secret="s3cr3t-that-is-wrong")
    with pytest.raises(AuthenticationFailed) as raised:
        provider.create_meeting(meeting_request())
    assert "client secret" in raised.value.message
    assert "s3cr3t" not in str(raised.value) and "s3cr3t" not in repr(provider)
    [problem] = provider.check()
    assert "client secret" in problem
    assert setup.meeting_count(fake.app) == 0


def test_an_unknown_host_is_named(fake, provider):
    with pytest.raises(HostNotFound) as raised:
        provider.create_meeting(meeting_request(host="ghost@uni.example"))
    assert raised.value.message.startswith(
        "Zoom user ghost@uni.example does not exist on this account"
    )
    assert raised.value.code == 1001


def test_the_daily_limit_per_host_is_a_quota_not_retried(fake, provider, sleeps):
    for _ in range(3):  # the fake's limit is 3 here, Zoom's is 100
        provider.create_meeting(meeting_request(marker=""))
    calls = len(fake.app.state.calls)
    with pytest.raises(QuotaExceeded) as raised:
        provider.create_meeting(meeting_request(marker=""))
    assert "host1@uni.example" in raised.value.message
    assert "00:00 UTC" in raised.value.message
    assert raised.value.temporary
    assert 0 < raised.value.retry_after <= 86400
    assert len(fake.app.state.calls) == calls + 1 and sleeps == []
    # Another host has its own count.
    assert provider.create_meeting(meeting_request(host=setup.HOSTS[1])).join_url


def test_an_update_counts_against_the_daily_limit(fake, provider):
    created = provider.create_meeting(meeting_request())
    provider.update_meeting(created.external_id, meeting_request(topic="Two"))
    provider.update_meeting(created.external_id, meeting_request(topic="Three"))
    with pytest.raises(QuotaExceeded) as raised:
        provider.update_meeting(created.external_id, meeting_request(topic="Four"))
    assert "Zoom host" in raised.value.message
    assert setup.stored_topic(fake.app, created.external_id) == "Three"


def test_a_validation_error_carries_zoom_fields(fake, provider):
    with pytest.raises(RequestRejected) as raised:
        provider.create_meeting(meeting_request(timezone="Mars/Olympus_Mons"))
    assert raised.value.message == (
        "Zoom refused the meeting: Validation Failed. (timezone: Invalid field.)"
    )
    assert raised.value.code == 300


def test_a_token_refused_after_the_refresh_is_an_authentication_error(fake, provider):
    created = provider.create_meeting(meeting_request())
    fake.app.faults.add("expire-tokens", count=2, method="GET")
    with pytest.raises(AuthenticationFailed) as raised:
        provider.get_meeting(created.external_id)
    assert "Access token is expired." in raised.value.message
    assert raised.value.status == 401 and raised.value.code == 124


def test_a_lost_create_is_found_by_its_marker_not_its_time(fake, provider):
    other = provider.create_meeting(meeting_request(marker="another-session"))
    fake.app.faults.add("lost-answer", delay=1.0, method="POST", path=setup.CREATE_PATH)
    created = provider.create_meeting(meeting_request())
    assert created.external_id != other.external_id
    assert setup.meeting_count(fake.app) == 2


def test_a_weekly_rule_becomes_a_zoom_recurrence(fake, provider):
    created = provider.create_meeting(
        meeting_request(rrule="RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;COUNT=6")
    )
    stored = fake.app.state.meetings[created.external_id]
    assert stored["type"] == 8
    assert stored["recurrence"] == {
        "type": 2,
        "repeat_interval": 2,
        "weekly_days": "3,5",
        "end_times": 6,
    }


@pytest.mark.parametrize(
    ("start", "timezone", "weekly_days"),
    [
        # Wednesday 21:00 in Beijing.
        (START, "Asia/Shanghai", "4"),
        # Tuesday 23:30 in UTC is Wednesday 08:30 in Tokyo, across the date line in Auckland
        # Wednesday 12:30, and still Tuesday 19:30 in Ann Arbor: Zoom reads the meeting's zone.
        (dt.datetime(2027, 3, 2, 23, 30, tzinfo=dt.UTC), "Asia/Tokyo", "4"),
        (dt.datetime(2027, 3, 2, 23, 30, tzinfo=dt.UTC), "Pacific/Auckland", "4"),
        (dt.datetime(2027, 3, 2, 23, 30, tzinfo=dt.UTC), "America/Detroit", "3"),
    ],
)
def test_a_weekly_rule_without_days_repeats_on_the_start_s_weekday_in_its_zone(
    fake, provider, start, timezone, weekly_days
):
    created = provider.create_meeting(
        meeting_request(
            start=start,
            end=start + dt.timedelta(hours=1),
            timezone=timezone,
            rrule="FREQ=WEEKLY;COUNT=4",
        )
    )
    stored = fake.app.state.meetings[created.external_id]
    assert stored["timezone"] == timezone
    assert stored["recurrence"] == {
        "type": 2,
        "repeat_interval": 1,
        "weekly_days": weekly_days,
        "end_times": 4,
    }


def test_a_monthly_rule_without_a_day_repeats_on_the_start_s_day_in_its_zone(fake, provider):
    # 31 March 23:30 UTC is 1 April in Beijing.
    start = dt.datetime(2027, 3, 31, 23, 30, tzinfo=dt.UTC)
    created = provider.create_meeting(
        meeting_request(
            start=start, end=start + dt.timedelta(hours=1), rrule="FREQ=MONTHLY;COUNT=3"
        )
    )
    recurrence = fake.app.state.meetings[created.external_id]["recurrence"]
    assert recurrence == {"type": 3, "repeat_interval": 1, "monthly_day": 1, "end_times": 3}


def test_a_monthly_rule_by_weekday_becomes_zoom_s_week_and_day(fake, provider):
    created = provider.create_meeting(meeting_request(rrule="FREQ=MONTHLY;BYDAY=-1FR;COUNT=3"))
    recurrence = fake.app.state.meetings[created.external_id]["recurrence"]
    assert (recurrence["monthly_week"], recurrence["monthly_week_day"]) == (-1, 6)


@pytest.mark.parametrize(
    ("rrule", "words"),
    [
        ("FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2;COUNT=3", "BYSETPOS"),
        ("FREQ=MONTHLY;BYDAY=5TU;COUNT=3", "first to fourth or the last"),
        ("FREQ=MONTHLY;BYDAY=1TU,3TU;COUNT=3", "first to fourth or the last"),
        ("FREQ=WEEKLY;INTERVAL=13;COUNT=3", "at most every 12 weeks"),
        ("FREQ=DAILY;BYDAY=MO,WE;COUNT=3", "make it weekly"),
        ("FREQ=WEEKLY;BYMONTH=3;COUNT=3", "BYMONTH"),
        ("FREQ=YEARLY;COUNT=3", "daily, weekly or monthly"),
        ("FREQ=WEEKLY;COUNT=51", "at most 50 dates"),
        ("FREQ=WEEKLY", "has no end"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,MO;COUNT=4", "where its weeks start"),
        ("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=4", "day 31"),
    ],
)
def test_a_rule_zoom_cannot_express_is_one_meeting_with_no_fixed_time_and_a_note(
    fake, provider, rrule, words
):
    created = provider.create_meeting(meeting_request(rrule=rrule))
    stored = fake.app.state.meetings[created.external_id]
    assert stored["type"] == 3
    assert "recurrence" not in stored
    note = created.data["recurrence_note"]
    assert words in note and "one meeting with no fixed time" in note
    assert created.data["type"] == 3 and "occurrences" not in created.data


def test_a_series_zoom_can_repeat_carries_no_note(fake, provider):
    created = provider.create_meeting(meeting_request(rrule="FREQ=WEEKLY;COUNT=4"))
    assert created.data["type"] == 8
    assert created.data["recurrence_note"] is None
    assert len(created.data["occurrences"]) == 4


def test_a_series_made_expressible_again_goes_back_to_a_fixed_time(fake, provider):
    created = provider.create_meeting(meeting_request(rrule="FREQ=YEARLY;COUNT=3"))
    assert created.data["type"] == 3
    updated = provider.update_meeting(
        created.external_id, meeting_request(rrule="FREQ=WEEKLY;COUNT=3")
    )
    assert updated.data["type"] == 8 and updated.data["recurrence_note"] is None
    assert len(updated.data["occurrences"]) == 3
    single = provider.update_meeting(created.external_id, meeting_request())
    assert single.data["type"] == 2 and "recurrence" not in single.data


def test_the_fake_refuses_a_weekly_series_without_its_days_as_zoom_requires(fake):
    token = fake.app.issue_token().value
    response = requests.post(
        f"{fake.url}{setup.CREATE_PATH}{setup.HOSTS[0]}/meetings",
        json={
            "topic": "x",
            "type": 8,
            "start_time": "2027-03-10T13:00:00Z",
            "duration": 60,
            "timezone": "Asia/Shanghai",
            "recurrence": {"type": 2, "repeat_interval": 1, "end_times": 4},
        },
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 300
    assert body["errors"] == [{"field": "recurrence.weekly_days", "message": "Invalid field."}]


def test_an_xml_error_body_is_understood(fake, provider):
    # Without a JSON Accept, Zoom answers errors in XML (Zoom's docs).
    token = fake.app.issue_token().value
    response = requests.get(
        f"{fake.url}/v2/meetings/123",
        headers={"Authorization": f"Bearer {token}", "Accept": "*/*"},
        timeout=5,
    )
    assert response.headers["Content-Type"].startswith("application/xml")
    error = provider.error_from(response)
    assert isinstance(error, MeetingNotFound)
    assert error.code == 3001 and "123" in error.message


def test_a_non_json_body_never_crashes_the_error_parser(provider):
    # What a proxy in front of Zoom may send instead of Zoom's envelope.
    response = requests.Response()
    response.status_code = 502
    response.headers["Content-Type"] = "text/html"
    response._content = b"<html><body>Bad gateway</body></html>"
    error = provider.error_from(response)
    assert "502" in error.message and "html" not in error.message


def test_the_fake_keeps_zoom_status_codes_and_envelopes(fake):
    token = fake.app.issue_token().value
    auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    url = f"{fake.url}/v2/users/{setup.HOSTS[0]}/meetings"
    assert requests.post(url, data="topic=x", headers=auth, timeout=5).status_code == 415
    created = requests.post(url, json={"topic": "x"}, headers=auth, timeout=5)
    assert created.status_code == 201
    meeting_url = f"{fake.url}/v2/meetings/{created.json()['id']}"
    patched = requests.patch(meeting_url, json={"topic": "y"}, headers=auth, timeout=5)
    assert (patched.status_code, patched.content) == (204, b"")
    assert requests.delete(meeting_url, headers=auth, timeout=5).status_code == 204
    again = requests.delete(meeting_url, headers=auth, timeout=5)
    assert again.status_code == 404
    assert again.json() == {
        "code": 3001,
        "message": f"Meeting does not exist: {created.json()['id']}.",
    }
    expired = requests.get(meeting_url, headers={**auth, "Authorization": "Bearer x"}, timeout=5)
    assert (expired.status_code, expired.json()["code"]) == (401, 124)
