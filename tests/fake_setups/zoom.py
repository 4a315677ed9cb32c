"""The fake Zoom for the provider contract tests: its hosts, credentials and stored meetings."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from forum.extensions import db
from forum.providers import accounts
from forum.providers.fakes.zoom import FakeZoomProvider
from forum.providers.registry import AccountSettings

KIND = "zoom"
HOSTS = ("host1@uni.example", "host2@uni.example")
CREATE_PATH = "/v2/users/"
ACCOUNT_ID = "forum-test-account"
CLIENT_ID = "forum-test-client"
CLIENT_SECRET = "forum-test-secret"


def add_signing_account(webhook_secret: str) -> None:
    """A Zoom account that only signs its webhook deliveries, for the intake tests.

    Run in an app context; commits. Its API is never called, so its credentials are dummies.
    """
    accounts.add_account(
        name="uni-zoom",
        kind="zoom",
        account_id="a",
        client_id="c",
        client_secret="s",
        webhook_secret=webhook_secret,
        hosts=["host1@uni.example"],
    )
    db.session.commit()


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
