"""The Google Meet fake (Google's token endpoint and Calendar API) for the contract tests."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from forum.providers.fakes.google_meet import SERVICE_ACCOUNT
from forum.providers.fakes.google_meet import FakeGoogleMeetProvider
from forum.providers.fakes.google_meet import generate_private_key
from forum.providers.fakes.google_meet import private_pem
from forum.providers.registry import AccountSettings

KIND = "google_meet"
HOSTS = ("host1@uni.example", "host2@uni.example")
CREATE_PATH = "/calendar/v3/calendars/"


@functools.cache
def _key_pems() -> tuple[str, str]:
    """The service account's private key, and another one: RSA keys are slow to make."""
    return private_pem(generate_private_key()), private_pem(generate_private_key())


def make_fake() -> FakeGoogleMeetProvider:
    key = load_pem_private_key(_key_pems()[0].encode("ascii"), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return FakeGoogleMeetProvider(hosts=HOSTS, public_key=key.public_key())


def settings(url: str) -> AccountSettings:
    return AccountSettings(
        name="Google Workspace (fake)",
        kind=KIND,
        client_id=SERVICE_ACCOUNT,
        client_secret=_key_pems()[0],
        hosts=HOSTS,
        api_base_url=url,
        oauth_url=url,
    )


def wrong_credentials(settings: AccountSettings) -> AccountSettings:
    """The same account signing with a key Google does not know: "Invalid JWT Signature."."""
    return replace(settings, client_secret=_key_pems()[1])


def _live(fake_app: FakeGoogleMeetProvider) -> dict[str, dict]:
    return {k: e for k, e in fake_app.state.meetings.items() if e["status"] != "cancelled"}


def meeting_count(fake_app: FakeGoogleMeetProvider) -> int:
    return len(_live(fake_app))


def stored_start(fake_app: FakeGoogleMeetProvider, external_id: str) -> dt.datetime:
    start = fake_app.state.meetings[external_id]["start"]["dateTime"]
    return dt.datetime.fromisoformat(start).astimezone(dt.UTC)


def stored_topic(fake_app: FakeGoogleMeetProvider, external_id: str) -> str:
    return fake_app.state.meetings[external_id]["summary"]


def tokens_issued(fake_app: FakeGoogleMeetProvider) -> int:
    return len(fake_app.state.tokens)
