"""Fake provider servers that follow the real APIs' contracts, with switchable faults."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

FAKES = {
    "zoom": "forum.providers.fakes.zoom:FakeZoomProvider",
    "teams": "forum.providers.fakes.teams:FakeTeamsProvider",
    "webex": "forum.providers.fakes.webex:FakeWebexProvider",
    "google_meet": "forum.providers.fakes.google_meet:FakeGoogleMeetProvider",
}
FAKE_KINDS = tuple(FAKES)


def make_fake(kind: str, *, hosts: Iterable[str]):
    module_name, _, class_name = FAKES[kind].partition(":")
    return getattr(importlib.import_module(module_name), class_name)(hosts=list(hosts))


def serve_fake(kind: str, *, port: int, hosts: Iterable[str]) -> None:
    """Serve a fake until interrupted; print what an account needs to use it."""
    from forum.providers.fakes.base import RunningFake

    fake = make_fake(kind, hosts=hosts)
    running = RunningFake(fake, port=port)
    print(f"fake {kind} API on {running.url} (hosts: {', '.join(hosts)}); Ctrl-C stops it")
    fault = '{"kind": "status", "status": 503}'
    print(f"inject a fault: curl -X POST {running.url}/_fake/faults -d '{fault}'")
    try:
        running.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        running.server.server_close()
