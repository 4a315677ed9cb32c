"""The fake Zoom for the provider contract tests: its hosts, credentials and stored meetings."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from forum.providers.fakes.zoom import FakeZoomProvider
from forum.providers.registry import AccountSettings

KIND = "zoom"
HOSTS = ("host1@uni.example", "host2@uni.example")
CREATE_PATH = "/v2/users/"
ACCOUNT_ID = "forum-test-account"
CLIENT_ID = "forum-test-client"
CLIENT_SECRET = "forum-test-secret"


def make_fake() -> FakeZoomProvider:
    return FakeZoomProvider(
        hosts=HOSTS, account_id=ACCOUNT_ID, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )


def settings(url: str) -> AccountSettings:
    return AccountSettings(
        name="zoom-test",
        kind=KIND,
        account_id=ACCOUNT_ID,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        hosts=HOSTS,
        api_base_url=f"{url}/v2",
        oauth_url=url,
    )


def wrong_credentials(account: AccountSettings) -> AccountSettings:
    return replace(account, client_secret="not-the-secret")


def meeting_count(fake_app: FakeZoomProvider) -> int:
    # DELETE removes the meeting from the fake's store, so what is stored exists.
    return len(fake_app.state.meetings)


def stored_start(fake_app: FakeZoomProvider, external_id: str) -> dt.datetime:
    start = fake_app.state.meetings[external_id]["start_time"]
    return dt.datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(dt.UTC)


def stored_topic(fake_app: FakeZoomProvider, external_id: str) -> str:
    return fake_app.state.meetings[external_id]["topic"]


def tokens_issued(fake_app: FakeZoomProvider) -> int:
    return len(fake_app.state.tokens)
