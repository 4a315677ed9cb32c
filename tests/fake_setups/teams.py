"""The Teams (Microsoft Graph) fake for the contract tests: its hosts, settings and state."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from forum.providers.fakes.teams import DEFAULT_CLIENT_ID
from forum.providers.fakes.teams import DEFAULT_CLIENT_SECRET
from forum.providers.fakes.teams import DEFAULT_TENANT
from forum.providers.fakes.teams import FakeTeamsProvider
from forum.providers.registry import AccountSettings

KIND = "teams"
HOSTS = ("kenji.sato@u-tokyo.example", "li.wei@pku.example")
# Creates go to createOrGet under the first host's object id.
CREATE_PATH = f"/v1.0/users/{FakeTeamsProvider.object_id(HOSTS[0])}/onlineMeetings"


def make_fake() -> FakeTeamsProvider:
    return FakeTeamsProvider(HOSTS)


def settings(url: str) -> AccountSettings:
    return AccountSettings(
        name="Teams (fake)",
        kind=KIND,
        tenant_id=DEFAULT_TENANT,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        hosts=HOSTS,
        api_base_url=f"{url}/v1.0",
        oauth_url=url,
    )


def wrong_credentials(account: AccountSettings) -> AccountSettings:
    return replace(account, client_secret="not-the-client-secret")


def meeting_count(fake_app: FakeTeamsProvider) -> int:
    # Graph deletes for good: what the fake holds exists.
    return len(fake_app.state.meetings)


def stored_start(fake_app: FakeTeamsProvider, external_id: str) -> dt.datetime:
    # Graph's seven fractional digits and Z: Python 3.11's fromisoformat reads both.
    return dt.datetime.fromisoformat(fake_app.state.meetings[external_id]["startDateTime"])


def stored_topic(fake_app: FakeTeamsProvider, external_id: str) -> str:
    return fake_app.state.meetings[external_id]["subject"]


def tokens_issued(fake_app: FakeTeamsProvider) -> int:
    return len(fake_app.state.tokens)
