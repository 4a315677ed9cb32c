"""Which adapter serves which provider, and how one is built from an account's settings."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from forum.providers.base import VideoProvider

# kind -> "module:Class", imported when first used.
ADAPTERS = {
    "jitsi": "forum.providers.jitsi:JitsiProvider",
    "manual": "forum.providers.manual:ManualProvider",
    "zoom": "forum.providers.zoom:ZoomProvider",
    "teams": "forum.providers.teams:TeamsProvider",
    "webex": "forum.providers.webex:WebexProvider",
    "google_meet": "forum.providers.google_meet:GoogleMeetProvider",
}
KINDS = tuple(ADAPTERS)


@dataclass(frozen=True)
class AccountSettings:
    """A provider account's settings, secrets decrypted (never logged: see __repr__)."""

    name: str
    kind: str
    account_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    tenant_id: str | None = None
    token: str | None = None
    webhook_secret: str | None = None
    hosts: tuple[str, ...] = ()
    api_base_url: str | None = None
    oauth_url: str | None = None
    jitsi_base_url: str | None = None
    # Provider-specific extras (e.g. a Jitsi JWT app id, a Google service account's key).
    options: dict[str, Any] = field(default_factory=dict)
    # HTTP behaviour; tests shorten them.
    timeout_seconds: float = 20.0
    attempts: int = 4
    backoff_seconds: float = 0.5
    max_wait_seconds: float = 30.0

    def __repr__(self) -> str:
        return f"AccountSettings(name={self.name!r}, kind={self.kind!r}, hosts={self.hosts!r})"


def adapter_class(kind: str) -> type[VideoProvider]:
    try:
        module_name, _, class_name = ADAPTERS[kind].partition(":")
    except KeyError:
        raise ValueError(f"unknown provider {kind!r}; one of {', '.join(KINDS)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def build_provider(
    settings: AccountSettings, *, sleep: Callable[[float], None] = time.sleep
) -> VideoProvider:
    """The adapter for an account; ``sleep`` is what backoff waits with (tests record it)."""
    return adapter_class(settings.kind)(settings, sleep=sleep)  # type: ignore[call-arg]
