"""Invalidation of cached personal feeds: who changed, and dropping what they read.

Writes the ORM does not see (bulk Core inserts of invitations by a timetable import) call
``people_changed`` with the people whose feeds they touched, after their commit.
"""

from __future__ import annotations

from collections.abc import Iterable


def people_changed(person_ids: Iterable[int]) -> None:
    """Drop the cached feeds of ``person_ids``: their next read builds them again.

    Call it after the commit of the change (a reader rebuilding before the commit would
    cache the old data again).
    """
    from forum.events import calendars

    calendars.cache.drop(("feed", int(person_id)) for person_id in set(person_ids))
