"""One contract, every adapter: each runs against its fake server over real HTTP on loopback.

Each provider with an HTTP API has a setup module in tests/fake_setups/ giving its fake, the
account settings that point the adapter at it, its hosts, and how to count the meetings the
fake holds. The same tests then hold for all of them: create, get, update, delete, delete
twice, a token that dies (one refresh), 429 with Retry-After in seconds, as a date, as an
ISO instant and absent, 5xx, a timeout, and a create whose answer is lost.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterator
from dataclasses import replace
from types import ModuleType

import pytest
import requests

from forum.providers.base import HostNotFound
from forum.providers.base import MeetingInfo
from forum.providers.base import MeetingNotFound
from forum.providers.base import MeetingRequest
from forum.providers.base import ProviderUnavailable
from forum.providers.base import RateLimited
from forum.providers.fakes.base import RunningFake
from forum.providers.registry import build_provider

HTTP_KINDS = ("zoom", "teams", "webex", "google_meet")
TIMEOUT = 0.6  # the adapters' read timeout in these tests, in seconds


class Sleeps(list):
    """Records the waits of the adapter's backoff instead of sleeping them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(params=HTTP_KINDS)
def setup(request) -> ModuleType:
    return importlib.import_module(f"tests.fake_setups.{request.param}")


@pytest.fixture
def fake(setup) -> Iterator[RunningFake]:
    with RunningFake(setup.make_fake()) as running:
        yield running


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def provider(setup, fake, sleeps):
    settings = replace(
        setup.settings(fake.url),
        timeout_seconds=TIMEOUT,
        attempts=4,
        backoff_seconds=0.01,
        max_wait_seconds=30,
    )
    return build_provider(settings, sleep=sleeps)


def meeting_request(setup, **changes) -> MeetingRequest:
    start = dt.datetime(2027, 3, 10, 13, 0, tzinfo=dt.UTC)
    fields = {
        "topic": "PKU-UTokyo bilateral",
        "start": start,
        "end": start + dt.timedelta(hours=1),
        "timezone": "Asia/Shanghai",
        "host": setup.HOSTS[0] if setup.HOSTS else None,
        "agenda": "Joint seminar on materials science",
        "marker": "forum-session-9c1f6e2a@forum",
    }
    fields.update(changes)
    return MeetingRequest(**fields)


def test_create_then_get(setup, fake, provider):
    created = provider.create_meeting(meeting_request(setup))
    assert isinstance(created, MeetingInfo)
    assert created.external_id and created.join_url.startswith(("http://", "https://"))
    assert setup.meeting_count(fake.app) == 1
    fetched = provider.get_meeting(created.external_id, host=created.host_account)
    assert fetched.external_id == created.external_id
    assert fetched.join_url == created.join_url


def test_update_changes_the_time_and_topic(setup, fake, provider):
    created = provider.create_meeting(meeting_request(setup))
    later = dt.datetime(2027, 3, 11, 14, 0, tzinfo=dt.UTC)
    updated = provider.update_meeting(
        created.external_id,
        meeting_request(setup, topic="Renamed", start=later, end=later + dt.timedelta(hours=2)),
    )
    assert updated.external_id == created.external_id
    assert updated.join_url
    assert setup.stored_start(fake.app, created.external_id) == later
    assert setup.stored_topic(fake.app, created.external_id) == "Renamed"
    assert setup.meeting_count(fake.app) == 1


def test_delete_and_delete_twice(setup, fake, provider):
    created = provider.create_meeting(meeting_request(setup))
    provider.delete_meeting(created.external_id, host=created.host_account)
    assert setup.meeting_count(fake.app) == 0
    provider.delete_meeting(created.external_id, host=created.host_account)  # gone: done
    with pytest.raises(MeetingNotFound):
        provider.get_meeting(created.external_id, host=created.host_account)


def test_a_token_that_dies_is_renewed_once(setup, fake, provider):
    created = provider.create_meeting(meeting_request(setup))
    fake.app.faults.add("expire-tokens")
    fetched = provider.get_meeting(created.external_id, host=created.host_account)
    assert fetched.join_url == created.join_url
    assert setup.tokens_issued(fake.app) == 2


@pytest.mark.parametrize("form", ["seconds", "date", "iso", None])
def test_429_is_retried_honouring_retry_after(setup, fake, provider, sleeps, form):
    created = provider.create_meeting(meeting_request(setup))
    sleeps.clear()
    fake.app.faults.add("rate-limit", retry_after=form, wait=3, method="GET")
    fetched = provider.get_meeting(created.external_id, host=created.host_account)
    assert fetched.external_id == created.external_id
    [waited] = sleeps
    if form is None:
        assert 0 < waited < 1  # no Retry-After: the adapter's own backoff
    else:
        assert 1.5 <= waited <= 3.5  # what the provider asked (a date has a second's grain)


def test_a_long_retry_after_is_not_slept_through(setup, fake, provider, sleeps):
    created = provider.create_meeting(meeting_request(setup))
    sleeps.clear()
    fake.app.faults.add("rate-limit", retry_after="seconds", wait=3600, method="GET")
    with pytest.raises(RateLimited) as raised:
        provider.get_meeting(created.external_id, host=created.host_account)
    assert raised.value.retry_after == pytest.approx(3600)
    assert sleeps == []


def test_5xx_is_retried(setup, fake, provider, sleeps):
    created = provider.create_meeting(meeting_request(setup))
    fake.app.faults.add("status", status=503, count=2, method="GET")
    assert provider.get_meeting(created.external_id, host=created.host_account).join_url
    assert len(sleeps) == 2


def test_5xx_that_does_not_stop_is_a_temporary_error(setup, fake, provider):
    created = provider.create_meeting(meeting_request(setup))
    fake.app.faults.add("status", status=502, count=10, method="GET")
    with pytest.raises(ProviderUnavailable) as raised:
        provider.get_meeting(created.external_id, host=created.host_account)
    assert raised.value.temporary
    assert raised.value.message


def test_a_timeout_is_retried(setup, fake, provider):
    created = provider.create_meeting(meeting_request(setup))
    fake.app.faults.add("slow", delay=TIMEOUT + 0.4, method="GET")
    assert provider.get_meeting(created.external_id, host=created.host_account).join_url


def test_a_create_whose_answer_is_lost_leaves_exactly_one_meeting(setup, fake, provider):
    fake.app.faults.add("lost-answer", delay=TIMEOUT + 0.4, method="POST", path=setup.CREATE_PATH)
    created = provider.create_meeting(meeting_request(setup))
    assert created.join_url
    assert setup.meeting_count(fake.app) == 1


def test_a_create_refused_with_a_5xx_is_not_doubled(setup, fake, provider):
    fake.app.faults.add("status", status=500, method="POST", path=setup.CREATE_PATH)
    created = provider.create_meeting(meeting_request(setup))
    assert created.join_url
    assert setup.meeting_count(fake.app) == 1


def test_an_unknown_host_is_a_clear_error(setup, fake, provider):
    with pytest.raises(HostNotFound) as raised:
        provider.create_meeting(meeting_request(setup, host="nobody@uni.example"))
    assert "nobody@uni.example" in raised.value.message
    assert setup.meeting_count(fake.app) == 0


def test_check_reports_a_missing_host_and_bad_credentials(setup, fake):
    healthy = build_provider(setup.settings(fake.url))
    assert healthy.check() == []
    broken = build_provider(
        replace(setup.settings(fake.url), hosts=(*setup.HOSTS, "ghost@uni.example"))
    )
    problems = broken.check()
    assert any("ghost@uni.example" in p for p in problems), problems
    wrong = build_provider(setup.wrong_credentials(setup.settings(fake.url)))
    assert wrong.check(), "a refused token must be reported"


def test_faults_can_be_switched_over_http(setup, fake):
    # As the README's walk-through does it, with curl's form content type.
    answer = requests.post(
        f"{fake.url}/_fake/faults",
        data='{"kind": "status", "status": 503, "count": 2}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert answer.status_code == 201
    refused = requests.post(f"{fake.url}/_fake/faults", data='{"kind": "nope"}', timeout=5)
    assert refused.status_code == 400
    assert requests.delete(f"{fake.url}/_fake/faults", timeout=5).json() == {"faults": 0}
