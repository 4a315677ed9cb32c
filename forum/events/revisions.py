"""Revision counters: every change to what a calendar shows raises one, at flush time.

Feeds and calendars compare the sum of the revisions they are built from (see
forum.events.calendars) instead of rebuilding, so no code path may forget to raise them:
they are raised here, for every flush, rather than by each service.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from forum.directory.models import Person
from forum.events.models import Event
from forum.events.models import EventSession
from forum.events.models import SessionOverride
from forum.events.models import VideoMeeting

_REVISIONED = (Event, EventSession, VideoMeeting, Person)


@sa.event.listens_for(Session, "before_flush")
def _raise_revisions(session: Session, flush_context: Any, instances: Any) -> None:
    raised: set[int] = set()
    for obj in list(session.dirty):
        if isinstance(obj, _REVISIONED) and session.is_modified(obj, include_collections=False):
            obj.revision = (obj.revision or 0) + 1
            raised.add(id(obj))
    # An override moved, added or removed changes its series without touching its row.
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, SessionOverride):
            parent = obj.session
            if parent is not None and parent not in session.new and id(parent) not in raised:
                parent.revision = (parent.revision or 0) + 1
                raised.add(id(parent))
