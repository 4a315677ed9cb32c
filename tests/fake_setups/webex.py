"""The fake Webex server for the contract tests: a Service App, its org and two hosts."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from forum.providers.fakes.webex import FakeWebexProvider
from forum.providers.registry import AccountSettings

KIND = "webex"
HOSTS = ("ana.lima@usp.example", "kenji.sato@utokyo.example")
CREATE_PATH = "/v1/meetings"

CLIENT_ID = "C-forum-test-client"
CLIENT_SECRET = "forum-test-secret"
APPLICATION_ID = "forum-service-app"
ORG_ID = "forum-test-org"
CALLER_TOKEN = "forum-test-admin-integration-token"


def make_fake() -> FakeWebexProvider:
    return FakeWebexProvider(
        hosts=HOSTS,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        application_id=APPLICATION_ID,
        org_id=ORG_ID,
        caller_token=CALLER_TOKEN,
    )


def settings(url: str) -> AccountSettings:
    return AccountSettings(
        name="webex-test",
        kind=KIND,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token=CALLER_TOKEN,
        hosts=HOSTS,
        api_base_url=f"{url}/v1",
        oauth_url=url,
        options={"application_id": APPLICATION_ID, "org_id": ORG_ID},
    )


def wrong_credentials(account: AccountSettings) -> AccountSettings:
    return replace(account, client_secret="not-the-secret")


def meeting_count(fake_app: FakeWebexProvider) -> int:
    return len(fake_app.state.meetings)


def stored_start(fake_app: FakeWebexProvider, external_id: str) -> dt.datetime:
    # Stored as Webex answers it: with the meeting's own offset, not UTC.
    start = fake_app.state.meetings[external_id]["start"]
    return dt.datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(dt.UTC)


def stored_topic(fake_app: FakeWebexProvider, external_id: str) -> str:
    return fake_app.state.meetings[external_id]["title"]


def tokens_issued(fake_app: FakeWebexProvider) -> int:
    return fake_app.tokens_issued
