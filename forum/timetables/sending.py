"""The invitations of a timetable import, sent in batches at the import's rate, resumably.

A term's import invites tens of thousands of people at once; its emails go out a batch at
a time, in invitation-id order, from the import's cursor (``sent_through_id``). Each batch
is taken by moving the cursor in the same transaction that records its emails
(forum.notifications: the invitation path every booking uses, one iMIP invite per invitee
per session in the invitee's language), so two runs never take the same batch and a run
that stops leaves nothing half-taken: emails recorded but not delivered are sent by the
periodic ``send_due_emails``, and the next run goes on from the cursor.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from forum.core.errors import Conflict
from forum.core.errors import NotFound
from forum.db import now_utc
from forum.directory.models import Person
from forum.events.models import Event
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import VideoMeeting
from forum.extensions import db
from forum.i18n import _
from forum.notifications.dispatch import HOLD_TIMEOUT
from forum.notifications.dispatch import send_message
from forum.notifications.models import EmailMessage
from forum.providers.meetings import open_meeting
from forum.timetables.models import TimetableImport

log = logging.getLogger("forum.timetables")

# Emails per batch at most; a slower rate makes batches smaller (one per second at least).
DEFAULT_BATCH_SIZE = 50
# While an invitee's meeting is still being opened, look again after this.
MEETING_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class BatchOutcome:
    """What one run did: the import's status after it, emails sent, and when to run again."""

    status: str
    sent: int
    remaining: int
    wait_seconds: float


def batch_size(rate_per_minute: int, configured: int | None = None) -> int:
    """Emails per batch: the configured size, fewer when the rate is slow (a batch a second
    at most then)."""
    size = configured or DEFAULT_BATCH_SIZE
    return max(1, min(size, rate_per_minute))


def pause_after(sent: int, rate_per_minute: int, elapsed: float) -> float:
    """Seconds to wait after sending ``sent`` emails in ``elapsed`` seconds to keep the rate."""
    return max(0.0, sent * 60.0 / rate_per_minute - elapsed)


def _batch_query(timetable_import: TimetableImport, limit: int) -> sa.Select:
    # Only this term's invitations: on PostgreSQL a booking committed during the import may
    # hold an id inside the import's range.
    return (
        sa.select(
            Invitation.id,
            Invitation.session_id,
            Invitation.person_id,
            Person.email,
            EventSession.sequence,
        )
        .join(EventSession, EventSession.id == Invitation.session_id)
        .join(Event, Event.id == EventSession.event_id)
        .join(Person, Person.id == Invitation.person_id)
        .where(
            Event.term_id == timetable_import.term_id,
            Invitation.id > timetable_import.sent_through_id,
            Invitation.id <= timetable_import.last_invitation_id,
        )
        .order_by(Invitation.id)
        .limit(limit)
    )


def remaining(timetable_import: TimetableImport) -> int:
    """Invitations of the import after its cursor."""
    return max(0, timetable_import.invitations_total - timetable_import.invitations_sent)


def send_next_batch(
    import_id: int, *, size: int | None = None, now: dt.datetime | None = None
) -> BatchOutcome:
    """Send the next batch of an import's invitations; commits. Safe to run twice at once.

    Returns the status ("sending", "done", "failed", or "skipped" when another run took the
    batch), how many were sent, how many remain, and how long to wait to keep the rate.
    A fault stops the import as "failed" with the error; ``resume`` goes on from the cursor.
    """
    started = now_utc()
    timetable_import = db.session.get(TimetableImport, import_id)
    if timetable_import is None:
        return BatchOutcome("skipped", 0, 0, 0.0)
    if timetable_import.status != "sending":
        return BatchOutcome(timetable_import.status, 0, remaining(timetable_import), 0.0)
    rate = timetable_import.rate_per_minute
    size = batch_size(rate, size or current_app.config.get("FORUM_TIMETABLE_INVITES_BATCH"))
    try:
        batch = db.session.execute(_batch_query(timetable_import, size)).all()
        if not batch:
            _finish(timetable_import)
            return BatchOutcome("done", 0, 0, 0.0)
        if _meetings_opening(timetable_import, {row.session_id for row in batch}, now):
            # Invites carry the meeting's link: wait for it, as booking's held emails do.
            db.session.rollback()
            return BatchOutcome("sending", 0, remaining(timetable_import), MEETING_WAIT_SECONDS)
        message_ids = _take(timetable_import, batch)
        if message_ids is None:
            db.session.rollback()
            return BatchOutcome("skipped", 0, remaining(timetable_import), 0.0)
        for message_id in message_ids:
            send_message(message_id)
        db.session.refresh(timetable_import)
        left = remaining(timetable_import)
        if not left:
            _finish(timetable_import)
            return BatchOutcome("done", len(message_ids), 0, 0.0)
        elapsed = (now_utc() - started).total_seconds()
        return BatchOutcome(
            "sending", len(message_ids), left, pause_after(len(batch), rate, elapsed)
        )
    except Exception as error:
        db.session.rollback()
        log.exception("timetable import %s: sending its invitations failed", import_id)
        _fail(import_id, error)
        return BatchOutcome("failed", 0, 0, 0.0)


def _meetings_opening(
    timetable_import: TimetableImport, session_ids: set[int], now: dt.datetime | None
) -> bool:
    """Open the batch's meetings that are not open yet; True while one is still being
    opened elsewhere (its job holds the lease), so that the invites wait for its link."""

    def pending() -> list[int]:
        return list(
            db.session.scalars(
                sa.select(VideoMeeting.session_id).where(
                    VideoMeeting.session_id.in_(session_ids), VideoMeeting.status == "pending"
                )
            )
        )

    waiting = pending()
    if not waiting:
        return False
    for session_id in waiting:
        # Idempotent and leased (forum.providers.meetings): the job queued at the import
        # and this call never open the same meeting twice. Commits.
        open_meeting(session_id)
    if (now or now_utc()) - timetable_import.created_at > HOLD_TIMEOUT:
        return False  # a meeting job never finished: send without the link rather than never
    return bool(pending())


def _take(timetable_import: TimetableImport, batch: list[Any]) -> list[int] | None:
    """Move the cursor past ``batch`` and record its emails, in one commit; None if another
    run moved the cursor first."""
    cursor = timetable_import.sent_through_id
    taken = db.session.execute(
        sa.update(TimetableImport)
        .where(
            TimetableImport.id == timetable_import.id,
            TimetableImport.sent_through_id == cursor,
            TimetableImport.status == "sending",
        )
        .values(
            sent_through_id=batch[-1].id,
            invitations_sent=TimetableImport.invitations_sent + len(batch),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        return None
    now = now_utc()
    messages = [
        EmailMessage(
            session_id=row.session_id,
            person_id=row.person_id,
            kind="invite",
            sequence=row.sequence,
            recipient=row.email,
            next_attempt_at=now,
        )
        for row in batch
    ]
    db.session.add_all(messages)
    db.session.flush()
    ids = [message.id for message in messages]
    db.session.commit()
    return ids


def _finish(timetable_import: TimetableImport) -> None:
    timetable_import.status = "done"
    timetable_import.finished_at = now_utc()
    timetable_import.error = None
    db.session.commit()


def _fail(import_id: int, error: BaseException) -> None:
    timetable_import = db.session.get(TimetableImport, import_id)
    if timetable_import is None:
        return
    timetable_import.status = "failed"
    reason = " ".join(str(error).split()) or type(error).__name__
    timetable_import.error = _(
        "sending stopped after %(sent)s of %(total)s invitations: %(reason)s",
        sent=timetable_import.invitations_sent,
        total=timetable_import.invitations_total,
        reason=reason[:500],
    )
    db.session.commit()


def resume(timetable_import: TimetableImport) -> TimetableImport:
    """Go on sending a failed import's invitations from its cursor (the caller commits;
    the next batch is queued after the commit)."""
    from forum.jobs.queue import enqueue

    if timetable_import.status != "failed":
        raise Conflict(
            _(
                "only an import whose sending failed can be resumed; this one is %(status)s",
                status=timetable_import.status,
            ),
            code="import_not_failed",
        )
    timetable_import.status = "sending"
    timetable_import.error = None
    enqueue("forum.send_timetable_invitations", timetable_import.id)
    return timetable_import


def sending_import_ids() -> list[int]:
    """Imports whose invitations are still going out, oldest first."""
    return list(
        db.session.scalars(
            sa.select(TimetableImport.id)
            .where(TimetableImport.status == "sending")
            .order_by(TimetableImport.id)
        )
    )


def get_import(import_id: int, *, organiser: Any) -> TimetableImport:
    """An import into one of the organiser's terms, else 404 (as events, a term is its
    owner's alone; its existence is not revealed)."""
    timetable_import = db.session.get(TimetableImport, import_id)
    if timetable_import is None or timetable_import.term.owner_id != organiser.id:
        raise NotFound(_("no timetable import with id %(id)s", id=import_id))
    return timetable_import


def send_for_a_minute(*, size: int | None = None) -> int:
    """Send up to a minute's worth (each import's rate) of every sending import's invitations,
    in batches; for the periodic job without a broker. Returns how many were sent."""
    sent = 0
    for import_id in sending_import_ids():
        timetable_import = db.session.get(TimetableImport, import_id)
        if timetable_import is None:
            continue
        budget = timetable_import.rate_per_minute
        while budget > 0:
            outcome = send_next_batch(import_id, size=min(budget, size or budget))
            sent += outcome.sent
            budget -= outcome.sent
            if outcome.status != "sending" or not outcome.sent:
                break
    return sent
