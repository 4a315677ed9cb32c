"""Booking conflicts: a chair or speaker cannot be in two overlapping sessions at once.

Two sessions clash when they overlap in time (one occurrence of each, moved and cancelled
occurrences applied) and share a person who is chair or speaker in at least one of them.
The check is safe under concurrent bookings: ``lock_people`` serialises the transactions
that book the same people, so of N simultaneous conflicting bookings exactly one commits.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from forum.core.errors import Conflict
from forum.core.times import format_instant
from forum.directory.models import Person
from forum.events.models import ROLE_LABELS
from forum.events.models import Event
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import SessionOverride
from forum.events.occurrences import Change
from forum.events.occurrences import meeting_times
from forum.events.occurrences import session_occurrences
from forum.extensions import db
from forum.i18n import _
from forum.i18n import ngettext

CONFLICT_ROLES = ("chair", "speaker")

Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Clash:
    person: Person
    role: str
    other: EventSession
    other_role: str
    start: dt.datetime
    end: dt.datetime


def lock_people(person_ids: Iterable[int]) -> None:
    """Hold the people's rows until the transaction ends, so bookings of them queue up.

    PostgreSQL: row locks taken in id order (no deadlock between two bookings of the same
    people); FOR NO KEY UPDATE, so inserting invitations that reference these rows (which
    takes KEY SHARE) is not blocked. SQLite locks the whole database for writing: the first
    write of a transaction takes it and keeps it to the commit, and every read after it sees
    what the transactions before committed. So a write comes first, before the conflict
    check reads. A transaction that only read so far holds no lock with pysqlite, which
    begins transactions at the first write.
    """
    ids = sorted(set(person_ids))
    if not ids:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            sa.select(Person.id)
            .where(Person.id.in_(ids))
            .order_by(Person.id)
            .with_for_update(key_share=True)
        )
    else:
        db.session.execute(
            sa.text("UPDATE people SET id = id WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": ids},
        )


def session_intervals(session: EventSession) -> list[Interval]:
    """The session's occurrences: all of them, within the bounds every expansion keeps
    (at most 1,000, within ten years of the first)."""
    return [(o.start, o.end) for o in session_occurrences(session)]


def find_clashes(
    intervals: list[Interval],
    roles: dict[int, str],
    *,
    exclude_session_id: int | None = None,
) -> list[Clash]:
    """Clashes of the given times for people with the given roles ({person_id: role}).

    The people's sessions that can reach the window are read as plain columns, with their
    moved and cancelled occurrences, and compared with the times; only the invitations that
    clash are loaded as objects. A chair with a thousand sessions is so checked in a few
    queries and without building a thousand objects.
    """
    if not intervals or not roles:
        return []
    intervals = sorted(intervals)
    window_start = intervals[0][0]
    window_end = max(end for _start, end in intervals)
    key_people = [pid for pid, role in roles.items() if role in CONFLICT_ROLES]
    query = (
        sa.select(
            Invitation.id,
            EventSession.id,
            EventSession.start,
            EventSession.end,
            EventSession.timezone,
            EventSession.rrule,
            EventSession.exdates,
        )
        .join(EventSession, Invitation.session_id == EventSession.id)
        .where(
            Invitation.person_id.in_(list(roles)),
            sa.or_(Invitation.role.in_(CONFLICT_ROLES), Invitation.person_id.in_(key_people)),
            EventSession.status != "cancelled",
            EventSession.start < window_end,
            sa.or_(EventSession.rrule.is_not(None), EventSession.end > window_start),
        )
        .order_by(EventSession.start, EventSession.id, Invitation.person_id)
    )
    if exclude_session_id is not None:
        query = query.where(EventSession.id != exclude_session_id)
    rows = db.session.execute(query).all()
    changes = _changes_of({row[1] for row in rows if row[5]})

    starts = [start for start, _ in intervals]
    clashing: dict[int, Interval] = {}
    for invitation_id, session_id, start, end, timezone, rrule, exdates in rows:
        for meeting in meeting_times(
            start=start,
            end=end,
            timezone=timezone,
            rrule=rrule,
            exdates=exdates,
            changes=changes.get(session_id, {}),
            after=window_start,
            before=window_end,
        ):
            # The first of our intervals that ends after this meeting starts; the
            # intervals are one series' occurrences, so they do not overlap each other
            # and their ends are in the same order as their starts.
            index = bisect.bisect_right(starts, meeting[0])
            candidates = intervals[max(index - 1, 0) : index + 1]
            if any(s < meeting[1] and meeting[0] < e for s, e in candidates):
                clashing[invitation_id] = meeting
                break
    if not clashing:
        return []
    invitations = {
        invitation.id: invitation
        for invitation in db.session.scalars(
            sa.select(Invitation)
            .where(Invitation.id.in_(list(clashing)))
            .options(
                selectinload(Invitation.person),
                selectinload(Invitation.session).selectinload(EventSession.event),
            )
        )
    }
    return [
        Clash(
            person=invitations[invitation_id].person,
            role=roles[invitations[invitation_id].person_id],
            other=invitations[invitation_id].session,
            other_role=invitations[invitation_id].role,
            start=meeting[0],
            end=meeting[1],
        )
        for invitation_id, meeting in clashing.items()
    ]


def _changes_of(session_ids: set[int]) -> dict[int, dict[dt.datetime, Change]]:
    """The moved and cancelled occurrences of these sessions, by session and RECURRENCE-ID."""
    found: dict[int, dict[dt.datetime, Change]] = {}
    if not session_ids:
        return found
    rows = db.session.execute(
        sa.select(
            SessionOverride.session_id,
            SessionOverride.recurrence_id,
            SessionOverride.start,
            SessionOverride.end,
            SessionOverride.cancelled,
        ).where(SessionOverride.session_id.in_(sorted(session_ids)))
    )
    for session_id, recurrence_id, start, end, cancelled in rows:
        found.setdefault(session_id, {})[recurrence_id] = Change(start, end, cancelled)
    return found


def raise_for_clashes(clashes: list[Clash], *, can_see: Callable[[Event], bool]) -> None:
    """409 ``conflict`` naming every other session, or nothing when there is no clash.

    Another organiser's session is named by id and time only: its title is theirs.
    """
    if not clashes:
        return
    described = []
    for clash in clashes:
        visible = can_see(clash.other.event)
        described.append(
            {
                "session_id": clash.other.id,
                "event_id": clash.other.event_id if visible else None,
                "title": clash.other.title if visible else None,
                "start": format_instant(clash.start),
                "end": format_instant(clash.end),
                "person_id": clash.person.id,
                "person_name": clash.person.name,
                "role": clash.role,
                "other_role": clash.other_role,
            }
        )
    raise Conflict(_clash_message(described), code="conflict", details={"conflicts": described})


def _clash_message(described: list[dict]) -> str:
    """The first clash in a sentence, and how many more there are."""
    first = described[0]
    values = {
        "person": first["person_name"],
        "role": str(ROLE_LABELS.get(first["role"], first["role"])),
        "other_role": str(ROLE_LABELS.get(first["other_role"], first["other_role"])),
        "title": first["title"],
        "session": first["session_id"],
        "start": first["start"],
    }
    more = len(described) - 1
    if first["title"] and more:
        return ngettext(
            '%(person)s (%(role)s) is already %(other_role)s in "%(title)s" (session '
            "%(session)s) at %(start)s, and %(num)d more clash(es); pass allow_conflicts: true "
            "to book anyway",
            '%(person)s (%(role)s) is already %(other_role)s in "%(title)s" (session '
            "%(session)s) at %(start)s, and %(num)d more clash(es); pass allow_conflicts: true "
            "to book anyway",
            more,
            **values,
        )
    if first["title"]:
        return _(
            '%(person)s (%(role)s) is already %(other_role)s in "%(title)s" (session '
            "%(session)s) at %(start)s; pass allow_conflicts: true to book anyway",
            **values,
        )
    if more:
        return ngettext(
            "%(person)s (%(role)s) is already %(other_role)s in another organiser's session "
            "(session %(session)s) at %(start)s, and %(num)d more clash(es); pass "
            "allow_conflicts: true to book anyway",
            "%(person)s (%(role)s) is already %(other_role)s in another organiser's session "
            "(session %(session)s) at %(start)s, and %(num)d more clash(es); pass "
            "allow_conflicts: true to book anyway",
            more,
            **values,
        )
    return _(
        "%(person)s (%(role)s) is already %(other_role)s in another organiser's session "
        "(session %(session)s) at %(start)s; pass allow_conflicts: true to book anyway",
        **values,
    )
