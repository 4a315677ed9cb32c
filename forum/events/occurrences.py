"""When a session really meets: its rule's dates with moved and cancelled ones applied."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from forum.core.recurrence import MAX_OCCURRENCES
from forum.core.recurrence import exdate_local_times
from forum.core.recurrence import occurrences
from forum.events.models import EventSession
from forum.events.models import SessionOverride

ZERO = dt.timedelta(0)


@dataclass(frozen=True)
class Occurrence:
    """One meeting of a session: ``recurrence_id`` is its original start (RECURRENCE-ID)."""

    session: EventSession
    recurrence_id: dt.datetime
    start: dt.datetime
    end: dt.datetime
    moved: bool = False
    cancelled: bool = False


def session_occurrences(
    session: EventSession,
    *,
    after: dt.datetime | None = None,
    before: dt.datetime | None = None,
    include_cancelled: bool = False,
    limit: int = MAX_OCCURRENCES,
) -> Iterator[Occurrence]:
    """Occurrences ending after ``after`` and starting before ``before``, in the rule's order.

    A moved occurrence keeps its place in the rule's order (its RECURRENCE-ID) and is kept
    or left out by its new time.
    """
    overrides = {o.recurrence_id: o for o in session.overrides}
    # A moved occurrence can land in the window from outside it: widen the rule's window.
    slack = max((abs(o.start - o.recurrence_id) for o in overrides.values()), default=ZERO)
    produced = 0
    for original_start, original_end in _rule_dates(
        session, after=None if after is None else after - slack
    ):
        if before is not None and original_start >= before + slack:
            return
        occurrence = _occurrence(session, original_start, original_end, overrides)
        if occurrence.cancelled and not include_cancelled:
            continue
        if after is not None and occurrence.end <= after:
            continue
        if before is not None and occurrence.start >= before:
            continue
        yield occurrence
        produced += 1
        if produced >= limit:
            return


@dataclass(frozen=True)
class Change:
    """A moved or cancelled occurrence as plain values: its new times, or cancelled."""

    start: dt.datetime
    end: dt.datetime
    cancelled: bool


def meeting_times(
    *,
    start: dt.datetime,
    end: dt.datetime,
    timezone: str,
    rrule: str | None,
    exdates: list[str] | None,
    changes: dict[dt.datetime, Change],
    after: dt.datetime,
    before: dt.datetime,
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """(start, end) of each meeting of a session, as ``session_occurrences`` gives them
    (cancelled ones left out), from the session's columns rather than its loaded object:
    what a conflict check reads for hundreds of sessions at once. ``changes`` are its
    overrides by RECURRENCE-ID."""
    slack = max((abs(c.start - rid) for rid, c in changes.items()), default=ZERO)
    for original_start, original_end in occurrences(
        start=start,
        end=end,
        timezone=timezone,
        rrule=rrule,
        exdates=exdates,
        after=after - slack,
    ):
        if original_start >= before + slack:
            return
        change = changes.get(original_start)
        if change is not None:
            if change.cancelled:
                continue
            original_start, original_end = change.start, change.end
        if original_end > after and original_start < before:
            yield original_start, original_end


def exdate_times(session: EventSession) -> tuple[dt.datetime, ...]:
    """The session's EXDATEs as its rule's wall-clock times in its anchor zone, for calendars."""
    if not session.rrule or not session.exdates:
        return ()
    return tuple(
        exdate_local_times(
            start=session.start,
            timezone=session.timezone,
            rrule=session.rrule,
            exdates=list(session.exdates),
        )
    )


def find_occurrence(session: EventSession, recurrence_id: dt.datetime) -> Occurrence | None:
    """The occurrence whose original start is ``recurrence_id``, cancelled ones included."""
    for original_start, original_end in _rule_dates(session, after=recurrence_id):
        if original_start > recurrence_id:
            return None
        if original_start == recurrence_id:
            overrides = {o.recurrence_id: o for o in session.overrides}
            return _occurrence(session, original_start, original_end, overrides)
    return None


def _rule_dates(
    session: EventSession, *, after: dt.datetime | None
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The dates the session's rule gives (EXDATEs removed), before overrides."""
    return occurrences(
        start=session.start,
        end=session.end,
        timezone=session.timezone,
        rrule=session.rrule,
        exdates=session.exdates,
        after=after,
        limit=MAX_OCCURRENCES,
    )


def _occurrence(
    session: EventSession,
    start: dt.datetime,
    end: dt.datetime,
    overrides: dict[dt.datetime, SessionOverride],
) -> Occurrence:
    override = overrides.get(start)
    if override is None:
        return Occurrence(session, start, start, end)
    return Occurrence(
        session,
        start,
        override.start,
        override.end,
        moved=(override.start, override.end) != (start, end),
        cancelled=override.cancelled,
    )
