"""Reminders to invitees before each occurrence of their sessions, each sent once.

An event says how long ahead its invitees are reminded (``Event.reminder_minutes``: a day
and an hour unless changed); a person may turn reminders off (``Person.reminders``). A
reminder is due from ``start - lead`` until the occurrence starts. When several leads are
due at once (the job was down, or the session was booked late), only the shortest goes: one
email, saying how soon the meeting really starts. A lead whose moment had passed when the
person was invited is skipped: whoever is invited three hours ahead hears nothing "a day
ahead", and gets the hour-ahead reminder.

When a person was invited: the first invite email recorded for them about the session
(written in the transaction that invited them), else the session's creation.

Once only: the ``session_reminders`` row and the email row are written in one transaction,
the row by an INSERT that the database skips when its unique key (session, person,
occurrence, lead) exists. A second worker at the same moment, or a run after a restart,
writes nothing for a reminder already recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import selectinload

from forum.core.times import format_instant
from forum.db import now_utc
from forum.events.models import Event
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.occurrences import Occurrence
from forum.events.occurrences import session_occurrences
from forum.extensions import db
from forum.notifications.models import EmailMessage
from forum.reminders.models import SessionReminder

log = logging.getLogger("forum.reminders")

# What an event may ask for (checked by the API and the event form).
MIN_LEAD_MINUTES = 5
MAX_LEAD_MINUTES = 28 * 24 * 60
MAX_LEADS = 5


@dataclass(frozen=True)
class Due:
    """One occurrence whose reminder is due now, with the lead that applies."""

    session: EventSession
    occurrence: Occurrence
    lead_minutes: int


@dataclass(frozen=True)
class SentReminder:
    session_id: int
    title: str
    person_id: int
    recipient: str
    occurrence_start: dt.datetime
    lead_minutes: int


@dataclass
class ReminderRun:
    """What one pass did: the reminders written (their emails queued) and the failures."""

    sent: list[SentReminder] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def due_lead(starts: dt.datetime, leads: list[int], now: dt.datetime) -> int | None:
    """The shortest of ``leads`` (minutes) whose moment has come at ``now``, before ``starts``."""
    if now >= starts:
        return None
    due = [lead for lead in leads if starts - dt.timedelta(minutes=lead) <= now]
    return min(due) if due else None


def send_reminders(*, now: dt.datetime | None = None) -> ReminderRun:
    """Write (and queue) every reminder due at ``now`` (default: now); commits per session.

    One session that fails is rolled back alone and reported; the others still go.
    """
    now = now or now_utc()
    run = ReminderRun()
    longest = _longest_lead()
    if not longest:
        return run
    due = due_reminders(now, until=now + dt.timedelta(minutes=longest))
    if not due:
        return run
    by_session: dict[int, list[Due]] = defaultdict(list)
    for item in due:
        by_session[item.session.id].append(item)
    session_ids = sorted(by_session)
    invitations = _invitations(session_ids)
    recorded = _recorded(session_ids, [item.occurrence.recurrence_id for item in due])
    invited = _invited_at(session_ids)
    for session_id in session_ids:
        try:
            sent = _write(by_session[session_id], invitations[session_id], recorded, invited, now)
            db.session.commit()
        except Exception as error:  # noqa: BLE001 (one session must not stop the others)
            db.session.rollback()
            log.exception("reminders of session %s failed", session_id)
            run.failed.append((session_id, f"{type(error).__name__}: {error}"))
            continue
        run.sent.extend(sent)
    return run


def _longest_lead() -> int:
    """The longest lead any event asks for: how far ahead sessions need looking at."""
    values = db.session.scalars(sa.select(Event.reminder_minutes).distinct())
    return max((max(leads) for leads in values if leads), default=0)


def due_reminders(now: dt.datetime, *, until: dt.datetime) -> list[Due]:
    """Occurrences starting after ``now`` and before ``until`` with a reminder lead due.

    Only sessions that can meet in that window are read (the sessions' start index); a
    series is expanded within the window only.
    """
    sessions = db.session.scalars(
        sa.select(EventSession)
        .join(Event, Event.id == EventSession.event_id)
        .where(
            EventSession.status != "cancelled",
            EventSession.start < until,
            sa.or_(EventSession.rrule.is_not(None), EventSession.start > now),
        )
        .options(selectinload(EventSession.overrides), selectinload(EventSession.event))
        .order_by(EventSession.id)
    )
    due = []
    for session in sessions:
        leads = list(session.event.reminder_minutes or [])
        if not leads:
            continue
        for occurrence in session_occurrences(session, after=now, before=until):
            lead = due_lead(occurrence.start, leads, now)
            if lead is not None:
                due.append(Due(session, occurrence, lead))
    return due


def _invitations(session_ids: list[int]) -> dict[int, list[Invitation]]:
    """Invitees to remind, by session: reminders on, and not declined (they said they will
    not come; the organiser sees their answer)."""
    rows = db.session.scalars(
        sa.select(Invitation)
        .where(Invitation.session_id.in_(session_ids), Invitation.rsvp != "declined")
        .options(selectinload(Invitation.person))
        .order_by(Invitation.id)
    )
    found: dict[int, list[Invitation]] = defaultdict(list)
    for invitation in rows:
        if invitation.person.reminders:
            found[invitation.session_id].append(invitation)
    return found


def _recorded(
    session_ids: list[int], starts: list[dt.datetime]
) -> set[tuple[int, int, dt.datetime, int]]:
    """Reminders already written for these occurrences: not tried again (the unique key
    would refuse them anyway)."""
    rows = db.session.execute(
        sa.select(
            SessionReminder.session_id,
            SessionReminder.person_id,
            SessionReminder.occurrence_start,
            SessionReminder.lead_minutes,
        ).where(
            SessionReminder.session_id.in_(session_ids),
            SessionReminder.occurrence_start.in_(sorted(set(starts))),
        )
    )
    return {tuple(row) for row in rows}  # type: ignore[misc]


def _invited_at(session_ids: list[int]) -> dict[tuple[int, int], dt.datetime]:
    """When each invitee of these sessions was first sent an invitation."""
    # min() keeps the column's type, so the instants come back aware on both databases.
    first = sa.func.min(EmailMessage.created_at)
    rows = db.session.execute(
        sa.select(EmailMessage.session_id, EmailMessage.person_id, first)
        .where(EmailMessage.session_id.in_(session_ids), EmailMessage.kind == "invite")
        .group_by(EmailMessage.session_id, EmailMessage.person_id)
    )
    return {(session_id, person_id): at for session_id, person_id, at in rows}


def _write(
    items: list[Due],
    invitations: list[Invitation],
    recorded: set[tuple[int, int, dt.datetime, int]],
    invited: dict[tuple[int, int], dt.datetime],
    now: dt.datetime,
) -> list[SentReminder]:
    from forum.jobs.queue import enqueue

    sent = []
    for item in items:
        session, occurrence, lead = item.session, item.occurrence, item.lead_minutes
        moment = occurrence.start - dt.timedelta(minutes=lead)
        for invitation in invitations:
            person = invitation.person
            key = (session.id, person.id, occurrence.recurrence_id, lead)
            if key in recorded:
                continue
            if moment < invited.get((session.id, person.id), session.created_at):
                continue  # invited after this reminder's moment: too late for it
            if not _claim(session.id, person.id, occurrence.recurrence_id, lead):
                continue  # another worker wrote it first
            message = EmailMessage(
                session_id=session.id,
                person_id=person.id,
                kind="reminder",
                sequence=session.sequence,
                recurrence_id=occurrence.recurrence_id,
                recipient=person.email,
                next_attempt_at=now_utc(),
                data={
                    "lead_minutes": lead,
                    # How soon it starts, as of the moment the reminder was due.
                    "starts_in_minutes": round((occurrence.start - now).total_seconds() / 60),
                    "due_at": format_instant(now),
                },
            )
            db.session.add(message)
            db.session.flush()
            enqueue("forum.send_email", message.id)
            sent.append(
                SentReminder(
                    session.id, session.title, person.id, person.email, occurrence.start, lead
                )
            )
    return sent


def _claim(session_id: int, person_id: int, occurrence_start: dt.datetime, lead: int) -> bool:
    """Record the reminder unless it is recorded; False if it was (by anyone, at any time).

    INSERT ... ON CONFLICT DO NOTHING: of two transactions writing the same key, the second
    waits for the first (PostgreSQL: on the key; SQLite: on the database's write lock) and
    then inserts nothing.
    """
    table = SessionReminder.__table__
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = (
        insert.values(
            session_id=session_id,
            person_id=person_id,
            occurrence_start=occurrence_start,
            lead_minutes=lead,
            created_at=now_utc(),
        )
        .on_conflict_do_nothing(
            index_elements=["session_id", "person_id", "occurrence_start", "lead_minutes"]
        )
        .returning(table.c.id)
    )
    return db.session.execute(statement).scalar_one_or_none() is not None
