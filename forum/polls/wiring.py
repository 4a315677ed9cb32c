"""Plugs polls into the parts that serve them without knowing them: the email sender
builds a poll's messages, personal feeds show open polls' times as holds."""

from __future__ import annotations

from forum.events import calendars
from forum.notifications import dispatch
from forum.notifications.models import POLL_KINDS
from forum.polls import emails
from forum.polls import feeds


def connect() -> None:
    """Register the poll's email builder and feed holds; connecting twice changes nothing."""
    dispatch.register_builder(POLL_KINDS, emails.build)
    calendars.HOLDS.entries = feeds.hold_entries
    feeds.connect_holds()
