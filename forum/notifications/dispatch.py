"""Emails about sessions: recorded with the change, sent by a job after the commit.

``queue_session_emails`` writes one row per invitee in the transaction that changes the
session and queues a job for each after the commit; ``send_message`` (the job's work) takes
the row, renders the email from the session as it is then, and sends it. A later full
message (invite, update, cancel) to the same person about the same session supersedes the
earlier ones that are still unsent, so a person whose invite was still queued when the
session moved gets one email, with the right time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app

from forum.db import now_utc
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.extensions import db
from forum.notifications.models import EmailMessage
from forum.notifications.senders import Sender
from forum.notifications.senders import SendError
from forum.notifications.senders import sender_from_config

log = logging.getLogger("forum.notifications")

FULL_KINDS = ("invite", "update", "cancel")
# A message a job took but never finished (the worker died) is taken again after this.
CLAIM_TIMEOUT = dt.timedelta(minutes=15)


def queue_session_emails(
    session: EventSession,
    kind: str,
    *,
    recurrence_id: dt.datetime | None = None,
    hold: bool = False,
    invitations: Iterable[Invitation] | None = None,
) -> list[EmailMessage]:
    """One email per invitee about this change, sent after the transaction commits.

    ``hold``: recorded now but sent by ``release_held_emails``, once the meeting job has
    opened or updated the meeting, so that the invite carries its link. ``invitations``:
    only to these invitees of the session (default: every one).
    """
    from forum.jobs.queue import enqueue

    messages = [
        EmailMessage(
            session=session,
            person=invitation.person,
            kind=kind,
            sequence=session.sequence,
            recurrence_id=recurrence_id,
            recipient=invitation.person.email,
        )
        for invitation in (session.invitations if invitations is None else invitations)
    ]
    db.session.add_all(messages)
    db.session.flush()
    if not hold:
        for message in messages:
            enqueue("forum.send_email", message.id)
    return messages


def release_held_emails(session_id: int) -> int:
    """Queue the session's emails not sent yet, to go after the current transaction commits."""
    from forum.jobs.queue import enqueue

    ids = db.session.scalars(
        sa.select(EmailMessage.id).where(
            EmailMessage.session_id == session_id, EmailMessage.status == "pending"
        )
    ).all()
    for message_id in ids:
        enqueue("forum.send_email", message_id)
    return len(ids)


def mail_sender() -> Sender:
    """The configured sender, one per app (the memory sender keeps what tests read)."""
    extensions = current_app.extensions
    if "forum_mail_sender" not in extensions:
        extensions["forum_mail_sender"] = sender_from_config(current_app.config)
    return extensions["forum_mail_sender"]


def _claim(message_id: int) -> bool:
    """Take the message for sending; False if another job has it or it is done."""
    stale = now_utc() - CLAIM_TIMEOUT
    taken = db.session.execute(
        sa.update(EmailMessage)
        .where(
            EmailMessage.id == message_id,
            sa.or_(
                EmailMessage.status.in_(("pending", "failed")),
                sa.and_(EmailMessage.status == "sending", EmailMessage.claimed_at < stale),
            ),
        )
        .values(status="sending", claimed_at=now_utc(), attempts=EmailMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return taken == 1


def _superseded(message: EmailMessage) -> bool:
    later = db.session.scalar(
        sa.select(sa.func.count(EmailMessage.id)).where(
            EmailMessage.session_id == message.session_id,
            EmailMessage.person_id == message.person_id,
            EmailMessage.id > message.id,
            EmailMessage.kind.in_(FULL_KINDS),
        )
    )
    return bool(later)


def send_message(message_id: int, *, sender: Sender | None = None) -> str:
    """Send one recorded email; returns its status. Commits (this is a job's whole work).

    Raises SendError when the mail server refused or could not be reached: the row says
    ``failed`` with the reason, and the job may try again.
    """
    from forum.notifications.emails import render

    if not _claim(message_id):
        return "skipped"
    message = db.session.get(EmailMessage, message_id)
    if message is None:
        return "skipped"
    if _superseded(message):
        message.status = "superseded"
        db.session.commit()
        return message.status
    invitation = db.session.scalar(
        sa.select(Invitation).where(
            Invitation.session_id == message.session_id,
            Invitation.person_id == message.person_id,
        )
    )
    if invitation is None:
        message.status, message.error = "failed", "the person is no longer invited"
        db.session.commit()
        return message.status
    email = render(message, invitation)
    message.subject = str(email["Subject"])
    try:
        (sender or mail_sender()).send(email)
    except SendError as error:
        message.status, message.error = "failed", str(error)
        db.session.commit()
        log.warning("email %s to %s failed: %s", message.id, message.recipient, error)
        raise
    message.status, message.error, message.sent_at = "sent", None, now_utc()
    db.session.commit()
    return message.status


def pending_message_ids(*, limit: int = 1000) -> list[int]:
    """Messages not sent yet (never tried, failed, or taken by a job that died)."""
    stale = now_utc() - CLAIM_TIMEOUT
    return list(
        db.session.scalars(
            sa.select(EmailMessage.id)
            .where(
                sa.or_(
                    EmailMessage.status.in_(("pending", "failed")),
                    sa.and_(EmailMessage.status == "sending", EmailMessage.claimed_at < stale),
                )
            )
            .order_by(EmailMessage.id)
            .limit(limit)
        )
    )
