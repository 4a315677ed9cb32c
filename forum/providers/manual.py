"""A meeting link an organiser pastes (an institution's own system): stored, never called."""

from __future__ import annotations

import time
from collections.abc import Callable

from forum.i18n import _
from forum.providers.base import MeetingInfo
from forum.providers.base import MeetingRequest
from forum.providers.base import RequestRejected
from forum.providers.base import VideoProvider
from forum.providers.registry import AccountSettings


class ManualProvider(VideoProvider):
    kind = "manual"

    def __init__(self, settings: AccountSettings, *, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings

    def create_meeting(self, request: MeetingRequest) -> MeetingInfo:
        if not request.join_url:
            raise RequestRejected(
                _("this session's provider is manual: give its meeting link (join_url)")
            )
        # The link is the meeting: it is also its identity.
        return MeetingInfo(external_id=request.join_url, join_url=request.join_url)

    def get_meeting(self, external_id: str, *, host: str | None = None) -> MeetingInfo:
        return MeetingInfo(external_id=external_id, join_url=external_id)

    def update_meeting(self, external_id: str, request: MeetingRequest) -> MeetingInfo:
        link = request.join_url or external_id
        return MeetingInfo(external_id=link, join_url=link)

    def delete_meeting(self, external_id: str, *, host: str | None = None) -> None:
        """Nothing to delete: the link belongs to the organiser's own system."""
