"""Jitsi Meet: no account and no API. A meeting is an unguessable room on a base URL.

meet.jit.si (the default) creates a room when the first person joins; since August 2023 its
first participant must log in (Google, GitHub...), so institutions that want nobody to log in
run their own server. For a self-hosted server with prosody's ``token`` authentication the
account gives an app id and secret, and links carry an HS256 JWT (Jitsi's token
docs): participants get a non-moderator token valid until a day after the meeting,
the host link a moderator token (secret: organisers only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from forum.providers.base import MeetingInfo
from forum.providers.base import MeetingRequest
from forum.providers.base import VideoProvider
from forum.providers.registry import AccountSettings

DEFAULT_BASE_URL = "https://meet.jit.si"
TOKEN_GRACE_SECONDS = 24 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_jwt(claims: dict, secret: str) -> str:
    """A JSON Web Token signed with HMAC-SHA256 (RFC 7519, RFC 7515)."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _slug(topic: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", topic).strip("-")[:40] or "forum"


class JitsiProvider(VideoProvider):
    kind = "jitsi"

    def __init__(self, settings: AccountSettings, *, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.base_url = (settings.jitsi_base_url or DEFAULT_BASE_URL).rstrip("/")
        self.app_id = settings.client_id
        self.app_secret = settings.client_secret

    def _room(self, request: MeetingRequest) -> str:
        # Unguessable, and the same for the same session (so a repeated create is harmless):
        # an HMAC of the session's marker under the account's secret, or of the marker and
        # a server-wide salt for the public server.
        key = (self.app_secret or self.settings.options.get("room_salt") or "forum").encode()
        digest = hmac.new(key, request.marker.encode(), hashlib.sha256).hexdigest()[:24]
        return f"{_slug(request.topic)}-{digest}"

    def _links(self, room: str, request: MeetingRequest | None) -> tuple[str, str | None]:
        join_url = f"{self.base_url}/{room}"
        if not (self.app_id and self.app_secret) or request is None:
            return join_url, None
        expires = int(request.end.timestamp()) + TOKEN_GRACE_SECONDS
        claims = {
            "aud": "jitsi",
            "iss": self.app_id,
            "sub": urlsplit(self.base_url).hostname or "*",
            "room": room,
            "exp": expires,
            "nbf": int(request.start.timestamp()) - TOKEN_GRACE_SECONDS,
        }
        guest = hs256_jwt({**claims, "context": {"user": {"moderator": "false"}}}, self.app_secret)
        host = hs256_jwt({**claims, "context": {"user": {"moderator": "true"}}}, self.app_secret)
        return f"{join_url}?jwt={guest}", f"{join_url}?jwt={host}"

    def create_meeting(self, request: MeetingRequest) -> MeetingInfo:
        room = self._room(request)
        join_url, host_url = self._links(room, request)
        return MeetingInfo(external_id=room, join_url=join_url, host_url=host_url)

    def get_meeting(self, external_id: str, *, host: str | None = None) -> MeetingInfo:
        return MeetingInfo(external_id=external_id, join_url=f"{self.base_url}/{external_id}")

    def update_meeting(self, external_id: str, request: MeetingRequest) -> MeetingInfo:
        # Same room; tokens are issued again for the new time.
        join_url, host_url = self._links(external_id, request)
        return MeetingInfo(external_id=external_id, join_url=join_url, host_url=host_url)

    def delete_meeting(self, external_id: str, *, host: str | None = None) -> None:
        """Nothing to delete: a Jitsi room exists only while people are in it."""
