"""When a session really meets: its rule's dates with moved and cancelled ones applied."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from forum.core.recurrence import occurrences
from forum.events.models import EventSession
from forum.events.models import SessionOverride

# An unbounded series is looked at this far ahead when two series are compared.
CONFLICT_HORIZON = dt.timedelta(days=2 * 366)
# And at most this many occurrences of it, whatever the horizon.
MAX_OCCURRENCES = 2000
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


def series_end(session: EventSession) -> dt.datetime | None:
    """When the last occurrence ends, or None for a series without end (COUNT/UNTIL absent)."""
    if not session.rrule:
        return session.end
    rule = session.rrule.upper()
    if "COUNT=" not in rule and "UNTIL=" not in rule:
        return None
    return max((o.end for o in session_occurrences(session)), default=session.end)


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
