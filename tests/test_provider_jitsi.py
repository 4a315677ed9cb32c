"""Jitsi: unguessable rooms, and for a self-hosted server JWTs that prosody would accept."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from forum.providers.base import MeetingRequest
from forum.providers.registry import AccountSettings
from forum.providers.registry import build_provider

START = dt.datetime(2027, 3, 10, 13, 0, tzinfo=dt.UTC)
SECRET = "jitsi-app-secret-0123456789"


def request(marker: str = "forum-abc@forum", **changes) -> MeetingRequest:
    fields = {
        "topic": "PKU / UTokyo: weekly call",
        "start": START,
        "end": START + dt.timedelta(hours=1),
        "timezone": "Asia/Shanghai",
        "marker": marker,
    }
    return MeetingRequest(**{**fields, **changes})


def decode(token: str, secret: str) -> dict:
    header, payload, signature = token.split(".")
    expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    padded = signature + "=" * (-len(signature) % 4)
    assert hmac.compare_digest(base64.urlsafe_b64decode(padded), expected), "bad signature"
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))) == {
        "alg": "HS256",
        "typ": "JWT",
    }
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_public_rooms_are_unguessable_and_stable_per_session():
    provider = build_provider(
        AccountSettings(name="jitsi", kind="jitsi", options={"room_salt": "instance-salt"})
    )
    first = provider.create_meeting(request())
    again = provider.create_meeting(request())
    other = provider.create_meeting(request(marker="forum-def@forum"))
    assert first.join_url == again.join_url  # a repeated create gives the same room
    assert first.join_url != other.join_url
    assert first.join_url.startswith("https://meet.jit.si/PKU-UTokyo-weekly-call-")
    assert len(first.external_id.rsplit("-", 1)[1]) == 24  # 96 bits of HMAC
    assert first.host_url is None
    # Another instance (another salt) gives other rooms for the same session.
    elsewhere = build_provider(
        AccountSettings(name="jitsi", kind="jitsi", options={"room_salt": "other-salt"})
    ).create_meeting(request())
    assert elsewhere.join_url != first.join_url


def test_self_hosted_links_carry_tokens_prosody_accepts():
    settings = AccountSettings(
        name="uni-jitsi",
        kind="jitsi",
        jitsi_base_url="https://meet.uni.example",
        client_id="forum-app",
        client_secret=SECRET,
    )
    meeting = build_provider(settings).create_meeting(request())
    join = urlsplit(meeting.join_url)
    host = urlsplit(meeting.host_url)
    assert join.netloc == "meet.uni.example" and join.path == f"/{meeting.external_id}"
    guest = decode(parse_qs(join.query)["jwt"][0], SECRET)
    moderator = decode(parse_qs(host.query)["jwt"][0], SECRET)
    for claims in (guest, moderator):
        assert claims["aud"] == "jitsi" and claims["iss"] == "forum-app"
        assert claims["sub"] == "meet.uni.example"
        assert claims["room"] == meeting.external_id
        assert claims["exp"] == int((START + dt.timedelta(hours=25)).timestamp())
    assert guest["context"]["user"]["moderator"] == "false"
    assert moderator["context"]["user"]["moderator"] == "true"
    # A new time: the same room, tokens valid for the new time.
    later = START + dt.timedelta(days=7)
    moved = build_provider(settings).update_meeting(
        meeting.external_id, request(start=later, end=later + dt.timedelta(hours=1))
    )
    assert urlsplit(moved.join_url).path == join.path
    claims = decode(parse_qs(urlsplit(moved.join_url).query)["jwt"][0], SECRET)
    assert claims["exp"] == int((later + dt.timedelta(hours=25)).timestamp())
