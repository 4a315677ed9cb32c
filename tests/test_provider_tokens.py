"""Provider access tokens are asked for once per account, not once per job: against the fake
Zoom (and fake Teams) over real HTTP, through the booking path, and between two apps sharing
a real Redis."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests
from flask import Flask

from forum import create_app
from forum.db import now_utc
from forum.extensions import db
from forum.providers import accounts
from forum.providers.base import MeetingRequest
from forum.providers.fakes.base import RunningFake
from forum.providers.fakes.zoom import TOKENS_PER_MINUTE
from forum.providers.registry import build_provider
from forum.providers.tokens import REDIS_PREFIX
from tests.celery_worker import REDIS_URL
from tests.celery_worker import redis_available
from tests.factories import make_event
from tests.factories import make_session
from tests.fake_setups import teams as teams_setup
from tests.fake_setups import webex as webex_setup
from tests.fake_setups.zoom import ACCOUNT_ID
from tests.fake_setups.zoom import CLIENT_ID
from tests.fake_setups.zoom import CLIENT_SECRET
from tests.fake_setups.zoom import HOSTS
from tests.fake_setups.zoom import make_fake


@pytest.fixture
def zoom() -> Iterator[RunningFake]:
    with RunningFake(make_fake()) as running:
        yield running


def add_zoom(zoom: RunningFake, *, client_secret: str = CLIENT_SECRET) -> None:
    """The Zoom account, as an organiser adds it (run in an app context; commits)."""
    accounts.add_account(
        name="uni-zoom",
        kind="zoom",
        account_id=ACCOUNT_ID,
        client_id=CLIENT_ID,
        client_secret=client_secret,
        hosts=list(HOSTS),
        api_base_url=f"{zoom.url}/v2",
        oauth_url=zoom.url,
    )
    db.session.commit()


def book_zoom_sessions(api, count: int, *, first_day: int = 30) -> list[dict[str, Any]]:
    event = make_event(api, title="Joint seminar", kind="series", default_provider="zoom")
    start = now_utc() + dt.timedelta(days=first_day)
    return [
        make_session(
            api,
            event["id"],
            title=f"Lecture {number}",
            start=(start + dt.timedelta(days=number)).strftime("%Y-%m-%dT09:00:00Z"),
            duration_minutes=60,
            provider="zoom",
        )
        for number in range(count)
    ]


def meeting_request(number: int = 0) -> MeetingRequest:
    start = (now_utc() + dt.timedelta(days=40 + number)).replace(microsecond=0)
    return MeetingRequest(
        topic=f"Seminar {number}",
        start=start,
        end=start + dt.timedelta(hours=1),
        timezone="Europe/Zurich",
        host=HOSTS[number % 2],
        marker=f"forum-token-test-{number}",
    )


def test_fifty_meetings_booked_one_job_each_ask_zoom_for_one_token(app, api, zoom, caplog):
    with app.app_context():
        add_zoom(zoom)
    caplog.set_level(logging.DEBUG)

    sessions = book_zoom_sessions(api, 50)

    assert [s["meeting"]["status"] for s in sessions] == ["created"] * 50
    assert len(zoom.app.state.meetings) == 50
    assert zoom.app.token_requests == 1
    [token] = zoom.app.state.tokens
    assert token not in caplog.text


def test_the_fake_zoom_rate_limits_its_token_endpoint(zoom):
    """A client asking for a token per call would be refused here, as by Zoom in a burst."""
    answers = [
        requests.post(
            f"{zoom.url}/oauth/token",
            data={"grant_type": "account_credentials", "account_id": ACCOUNT_ID},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=10,
        )
        for _ in range(TOKENS_PER_MINUTE + 1)
    ]
    assert [a.status_code for a in answers] == [200] * TOKENS_PER_MINUTE + [429]
    assert set(answers[-1].json()) == {"reason", "error"}


def test_an_expired_token_is_renewed_once(app, api, zoom):
    zoom.app.token_lifetime = 3  # seconds; renewed a tenth of that before it runs out
    with app.app_context():
        add_zoom(zoom)
    [first] = book_zoom_sessions(api, 1)
    assert zoom.app.token_requests == 1

    time.sleep(3)
    later = book_zoom_sessions(api, 1, first_day=60)

    assert [s["meeting"]["status"] for s in [first, *later]] == ["created"] * 2
    assert zoom.app.token_requests == 2


def test_a_token_refused_by_the_api_is_replaced_once_and_the_booking_goes_through(app, api, zoom):
    with app.app_context():
        add_zoom(zoom)
    book_zoom_sessions(api, 1)
    zoom.app.expire_tokens()  # revoked on Zoom's side, still cached here

    [session] = book_zoom_sessions(api, 1, first_day=60)

    assert session["meeting"]["status"] == "created", session["meeting"]
    assert zoom.app.token_requests == 2
    assert len(zoom.app.state.meetings) == 2


def test_rotated_credentials_get_a_token_of_their_own(app, api, zoom):
    with app.app_context():
        add_zoom(zoom)
    book_zoom_sessions(api, 1)
    zoom.app.client_secret = "rotated-secret"  # noqa: S105
    with app.app_context():
        accounts.delete_account(accounts.get_account("uni-zoom"))
        db.session.commit()
        add_zoom(zoom, client_secret="rotated-secret")  # noqa: S106

    [session] = book_zoom_sessions(api, 1, first_day=60)

    assert session["meeting"]["status"] == "created", session["meeting"]
    assert zoom.app.token_requests == 2


# --- two processes' apps sharing Redis ----------------------------------------------------


@pytest.fixture
def shared_redis() -> Iterator[redis.Redis]:
    if not redis_available():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    client = redis.Redis.from_url(REDIS_URL)

    def clear() -> None:
        for key in client.scan_iter(f"{REDIS_PREFIX}*"):
            client.delete(key)

    clear()
    yield client
    clear()


def redis_app(database_url: str) -> Flask:
    """An app as another process would build it: same database and key, Redis as broker."""
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key",
            "MAIL_BACKEND": "memory",
            "CELERY_BROKER_URL": REDIS_URL,
        }
    )


def create_through(app: Flask, number: int) -> str:
    with app.app_context():
        provider = accounts.provider_for(accounts.get_account("uni-zoom"), "zoom")
        info = provider.create_meeting(meeting_request(number))
        db.session.remove()
        return info.external_id


def test_two_apps_sharing_redis_ask_for_one_token_between_them(
    app, database_url, zoom, shared_redis, caplog
):
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        add_zoom(zoom)
    first, second = redis_app(database_url), redis_app(database_url)

    # A burst: both apps start at once with nothing cached anywhere.
    made: list[str] = []
    threads = [
        threading.Thread(target=lambda a=a, n=n: made.append(create_through(a, n)))
        for n, a in enumerate([first, second, first, second])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made.append(create_through(second, 9))

    assert len(made) == 5 and len(zoom.app.state.meetings) == 5
    assert zoom.app.token_requests == 1
    [token] = zoom.app.state.tokens
    stored = [shared_redis.get(key) for key in shared_redis.scan_iter(f"{REDIS_PREFIX}*")]
    assert stored and all(token.encode() not in value for value in stored if value)
    ttl = [shared_redis.pttl(key) for key in shared_redis.scan_iter(f"{REDIS_PREFIX}*")]
    assert all(0 < left < 3600 * 1000 for left in ttl)  # gone before the token expires
    assert token not in caplog.text

    # Revoked on Zoom's side: the app that meets the 401 asks for one new token and shares
    # it; the other, still holding the old one, meets a 401 too and takes the shared one.
    zoom.app.expire_tokens()
    create_through(second, 10)
    create_through(first, 11)
    assert zoom.app.token_requests == 2
    assert len(zoom.app.state.meetings) == 7
    for each in (first, second):
        with each.app_context():
            db.engine.dispose()


# --- Teams and Webex share the code path -------------------------------------------------


def test_teams_adapters_of_one_account_share_one_token(app):
    with RunningFake(teams_setup.make_fake()) as teams:
        settings = teams_setup.settings(teams.url)
        with app.app_context():
            for _ in range(3):
                assert build_provider(settings).check() == []
        asked = teams.app.state.calls.count(("POST", f"/{settings.tenant_id}/oauth2/v2.0/token"))
    assert asked == 1


def test_webex_adapters_of_one_account_share_one_service_app_token(app):
    with RunningFake(webex_setup.make_fake()) as webex:
        with app.app_context():
            for _ in range(3):
                assert build_provider(webex_setup.settings(webex.url)).check() == []
        asked = webex.app.state.calls.count(
            ("POST", f"/v1/applications/{webex_setup.APPLICATION_ID}/token")
        )
    assert asked == 1
