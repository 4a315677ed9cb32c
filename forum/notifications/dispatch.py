"""Emails about sessions: recorded with the change, sent by a job after the commit.

``queue_session_emails`` writes one row per invitee in the transaction that changes the
session and queues a job for each after the commit; ``send_message`` (the job's work) takes
the row, renders the email from the session as it is then, and sends it. A later full
message (invite, update, cancel) to the same person about the same session supersedes the
earlier ones that are still unsent, so a person whose invite was still queued when the
session moved gets one email, with the right time.

No message stops silently. One that cannot be built (an old row the builder refuses, such as
an address no mail server is sure to take) or that the mail server refuses for good is
``failed``, with the reason in ``error``; one that fails for a while (a 4xx answer, a server
down or slow) is ``retrying`` and due again at ``next_attempt_at``, after a growing pause,
until it goes or runs out of attempts. ``send_due_messages`` (a periodic job, and
``forum send-pending``) sends whatever is due and goes on past any row that fails.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from email.message import EmailMessage as MimeMessage

import sqlalchemy as sa
from flask import current_app

from forum.core.errors import Conflict
from forum.db import now_utc
from forum.directory.models import Person
from forum.events.models import Event
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.extensions import db
from forum.i18n import _
from forum.i18n import in_locale
from forum.notifications.models import EMAIL_STATUS_LABELS
from forum.notifications.models import SESSION_KINDS
from forum.notifications.models import EmailMessage
from forum.notifications.senders import Sender
from forum.notifications.senders import SendError
from forum.notifications.senders import sender_from_config

log = logging.getLogger("forum.notifications")

FULL_KINDS = ("invite", "update", "cancel")
# A message a job took but never finished (the worker died) is taken again after this.
CLAIM_TIMEOUT = dt.timedelta(minutes=15)
# Mail servers that refuse for a while (greylisting, rate limits, a restart) usually accept
# later: the pauses after each transient failure, then the message fails for good.
RETRY_DELAYS = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=6),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# Held emails wait for the meeting job to release them with the meeting's link; if that job
# never does (its worker died), they go without the link after this rather than never.
HOLD_TIMEOUT = dt.timedelta(minutes=15)
# What a message's error keeps of a long reason (an SMTP server may answer at length).
MAX_REASON = 500


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
    opened or updated the meeting, so that the invite carries its link (or after
    HOLD_TIMEOUT if it never does). ``invitations``: only to these invitees of the session
    (default: every one).
    """
    from forum.jobs.queue import enqueue

    due = now_utc() + (HOLD_TIMEOUT if hold else dt.timedelta(0))
    messages = [
        EmailMessage(
            session=session,
            person=invitation.person,
            kind=kind,
            sequence=session.sequence,
            recurrence_id=recurrence_id,
            recipient=invitation.person.email,
            next_attempt_at=due,
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
    if ids:
        db.session.execute(
            sa.update(EmailMessage)
            .where(EmailMessage.id.in_(ids))
            .values(next_attempt_at=now_utc())
            .execution_options(synchronize_session=False)
        )
    for message_id in ids:
        enqueue("forum.send_email", message_id)
    return len(ids)


def mail_sender() -> Sender:
    """The configured sender, one per app (the memory sender keeps what tests read)."""
    extensions = current_app.extensions
    if "forum_mail_sender" not in extensions:
        extensions["forum_mail_sender"] = sender_from_config(current_app.config)
    return extensions["forum_mail_sender"]


# --- sending ---------------------------------------------------------------------------------


def _due(now: dt.datetime, *, waiting_too: bool = False) -> sa.ColumnElement[bool]:
    """Messages to send at ``now``: pending or retrying ones whose time has come (any time,
    with ``waiting_too``), and those a job took but never finished."""
    waiting = EmailMessage.status.in_(("pending", "retrying"))
    if not waiting_too:
        waiting = sa.and_(
            waiting,
            # A message with no time set (written before times were) is due now.
            sa.or_(EmailMessage.next_attempt_at.is_(None), EmailMessage.next_attempt_at <= now),
        )
    abandoned = sa.and_(
        EmailMessage.status == "sending", EmailMessage.claimed_at < now - CLAIM_TIMEOUT
    )
    return sa.or_(waiting, abandoned)


def _claim(message_id: int, *, waiting_too: bool = False) -> bool:
    """Take the message for sending; False if it is not due, another job has it, or it is done."""
    now = now_utc()
    taken = db.session.execute(
        sa.update(EmailMessage)
        .where(EmailMessage.id == message_id, _due(now, waiting_too=waiting_too))
        .values(status="sending", claimed_at=now, attempts=EmailMessage.attempts + 1)
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


def send_message(
    message_id: int, *, sender: Sender | None = None, waiting_too: bool = False
) -> str:
    """Send one recorded email if it is due; returns its status. Commits (a job's whole work).

    Returns "sent", "retrying" (a transient failure: due again at ``next_attempt_at``),
    "failed" (for good: ``error`` says why), "superseded", or "skipped" when the message is
    not due, done, or another job has it. Whatever goes wrong with this one message is
    recorded on its row rather than raised; only a failure to record it (the database is
    unreachable) raises, and the row is then taken again after CLAIM_TIMEOUT.
    """
    if not _claim(message_id, waiting_too=waiting_too):
        return "skipped"
    try:
        return _send_claimed(message_id, sender or mail_sender())
    except Exception as error:
        # Neither the message nor the mail server: the database failed, or a bug did.
        db.session.rollback()
        log.exception("email %s could not be sent", message_id)
        message = db.session.get(EmailMessage, message_id)
        if message is None:
            return "skipped"
        # A lost database connection passes; anything else would happen again.
        temporary = isinstance(error, sa.exc.OperationalError)
        try:
            locale = _organiser_locale(message)
        except sa.exc.SQLAlchemyError:
            db.session.rollback()
            locale = None
        with in_locale(locale):
            return _record_failure(
                message,
                _("could not send the message: %(reason)s", reason=_reason(error)),
                temporary=temporary,
            )


def _send_claimed(message_id: int, sender: Sender) -> str:
    message = db.session.get(EmailMessage, message_id)
    if message is None:
        return "skipped"
    if message.session_id is not None and _superseded(message):
        message.status, message.next_attempt_at = "superseded", None
        db.session.commit()
        return message.status
    # Why a message failed is kept on it for the organisers: in the event owner's language.
    # The email itself is written in the recipient's (the builders choose it).
    with in_locale(_organiser_locale(message)):
        return _send_built_message(message, BUILDERS.get(message.kind, _session_email), sender)


def _organiser_locale(message: EmailMessage) -> str | None:
    """The language of the organiser who reads about this message: the event owner's."""
    event = None
    if message.session is not None:
        event = message.session.event
    elif message.poll_id is not None and "polls" in db.metadata.tables:
        polls = db.metadata.tables["polls"]
        event_id = db.session.scalar(
            sa.select(polls.c.event_id).where(polls.c.id == message.poll_id)
        )
        event = db.session.get(Event, event_id) if event_id is not None else None
    return getattr(event.owner, "locale", None) if event is not None else None


def _session_email(message: EmailMessage) -> tuple[MimeMessage, Person]:
    """The email about a session to one invitee, from the session as it is now."""
    from forum.notifications.emails import render

    invitation = db.session.scalar(
        sa.select(Invitation).where(
            Invitation.session_id == message.session_id,
            Invitation.person_id == message.person_id,
        )
    )
    if invitation is None:
        raise LookupError(_("the person is no longer invited to this session"))
    return render(message, invitation), invitation.person


def _deliver(message: EmailMessage, email: MimeMessage, person: Person, sender: Sender) -> str:
    # Where it really goes: the person's address now, which may have been corrected since.
    message.recipient = person.email
    message.subject = str(email["Subject"])[:500]
    try:
        sender.send(email)
    except SendError as error:
        return _record_failure(message, str(error), temporary=error.temporary)
    message.status, message.error, message.next_attempt_at = "sent", None, None
    message.sent_at = now_utc()
    db.session.commit()
    return message.status


# Builders of the emails about something other than a session's invitation (a poll's),
# by kind: each takes the message and gives the email and its recipient. The module that
# owns the kind registers it (forum.polls.wiring), so this one depends on none of them.
Builder = Callable[[EmailMessage], tuple[MimeMessage, Person]]
BUILDERS: dict[str, Builder] = {}


def register_builder(kinds: Iterable[str], builder: Builder) -> None:
    for kind in kinds:
        BUILDERS[kind] = builder


def _send_built_message(message: EmailMessage, builder: Builder, sender: Sender) -> str:
    try:
        email, person = builder(message)
    except LookupError as error:
        return _record_failure(message, str(error), temporary=False)
    except sa.exc.SQLAlchemyError:
        raise
    except Exception as error:
        log.warning("email %s cannot be built", message.id, exc_info=True)
        return _record_failure(
            message,
            _("could not build the message: %(reason)s", reason=_reason(error)),
            temporary=False,
        )
    return _deliver(message, email, person, sender)


def _record_failure(message: EmailMessage, reason: str, *, temporary: bool) -> str:
    """Mark the message for a retry after a pause, or failed for good; commits."""
    reason = _short(str(reason))
    if temporary and message.attempts < MAX_ATTEMPTS:
        pause = RETRY_DELAYS[max(message.attempts, 1) - 1]
        message.status, message.next_attempt_at = "retrying", now_utc() + pause
        log.info(
            "email %s to %s: attempt %d failed, again at %s: %s",
            message.id,
            message.recipient,
            message.attempts,
            message.next_attempt_at.isoformat(),
            reason,
        )
    else:
        if temporary:
            reason = _short(
                _(
                    "gave up after %(count)d attempts: %(reason)s",
                    count=message.attempts,
                    reason=reason,
                )
            )
        message.status, message.next_attempt_at = "failed", None
        log.warning("email %s to %s failed: %s", message.id, message.recipient, reason)
    message.error = reason
    db.session.commit()
    return message.status


def _reason(error: BaseException) -> str:
    if isinstance(error, UnicodeEncodeError) and isinstance(error.object, str):
        # Python's own words ("'ascii' codec can't encode character '\xeb' in position 2")
        # do not say which text; an address stored before addresses were checked, say.
        found = error.object[error.start : error.end]
        return _(
            "%(text)s holds %(found)s, where only %(encoding)s may go",
            text=repr(error.object),
            found=repr(found),
            encoding=error.encoding.upper(),
        )
    text = str(error).strip()
    return text or type(error).__name__


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


@dataclass
class SendRun:
    """What one pass over the due messages did."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    skipped: int = 0
    # (message id, recipient, reason) of each message that failed or will be retried.
    problems: list[tuple[int, str, str]] = field(default_factory=list)


def send_due_messages(
    *, limit: int = 1000, waiting_too: bool = False, sender: Sender | None = None
) -> SendRun:
    """Send the messages that are due, oldest first, past any that fails; commits each.

    ``waiting_too``: also the retries whose time has not come (the mail server is back).
    """
    run = SendRun()
    for message_id in due_message_ids(limit=limit, waiting_too=waiting_too):
        try:
            status = send_message(message_id, sender=sender, waiting_too=waiting_too)
        except Exception as error:
            # Not even recorded (the database is unreachable): the row is taken again
            # after CLAIM_TIMEOUT; this pass goes on with the others.
            db.session.rollback()
            log.exception("email %s: the failure could not be recorded", message_id)
            run.failed += 1
            run.problems.append((message_id, "", _short(f"could not record: {_reason(error)}")))
            continue
        if status == "sent":
            run.sent += 1
        elif status in ("failed", "retrying"):
            if status == "failed":
                run.failed += 1
            else:
                run.retrying += 1
            message = db.session.get(EmailMessage, message_id)
            if message is not None:
                run.problems.append((message_id, message.recipient, message.error or status))
        else:
            run.skipped += 1
    return run


def due_message_ids(*, limit: int = 1000, waiting_too: bool = False) -> list[int]:
    """Messages due now, oldest first (``waiting_too``: with retries not due yet)."""
    return list(
        db.session.scalars(
            sa.select(EmailMessage.id)
            .where(_due(now_utc(), waiting_too=waiting_too))
            .order_by(EmailMessage.id)
            .limit(limit)
        )
    )


def next_retry_at() -> dt.datetime | None:
    """When the soonest retry is due, if any message waits for one."""
    return db.session.scalar(
        sa.select(sa.func.min(EmailMessage.next_attempt_at)).where(
            EmailMessage.status == "retrying"
        )
    )


def waiting_retries() -> int:
    """How many messages wait to be retried."""
    return db.session.scalar(
        sa.select(sa.func.count(EmailMessage.id)).where(EmailMessage.status == "retrying")
    )


def retry_message(message: EmailMessage) -> None:
    """Send a failed or retrying message again now (an organiser asked), with its attempts
    counted afresh; the job goes after the current transaction commits."""
    from forum.jobs.queue import enqueue

    if message.status not in ("failed", "retrying"):
        raise Conflict(
            _(
                "this email is %(status)s: only one that failed or waits to be retried "
                "can be sent again now",
                status=str(EMAIL_STATUS_LABELS.get(message.status, message.status)),
            ),
            code="email_not_failed",
        )
    message.status, message.next_attempt_at = "pending", now_utc()
    message.attempts, message.error = 0, None
    enqueue("forum.send_email", message.id)


# --- what organisers see ---------------------------------------------------------------------


def _latest_ids(session_ids: sa.Select | list[int]) -> sa.Select:
    """The id of the newest message to each invitee of these sessions."""
    return (
        sa.select(sa.func.max(EmailMessage.id))
        .where(EmailMessage.session_id.in_(session_ids), EmailMessage.kind.in_(SESSION_KINDS))
        .group_by(EmailMessage.session_id, EmailMessage.person_id)
    )


def latest_messages(
    session_id: int, *, person_ids: list[int] | None = None
) -> dict[int, EmailMessage]:
    """The newest email to each person (or to these people) about this session, by person id."""
    latest = _latest_ids([session_id])
    if person_ids is not None:
        latest = latest.where(EmailMessage.person_id.in_(person_ids))
    messages = db.session.scalars(sa.select(EmailMessage).where(EmailMessage.id.in_(latest)))
    return {message.person_id: message for message in messages}


def failed_invitations(sessions: sa.Select) -> list[tuple[int, int]]:
    """(session id, how many) for the given sessions whose newest email to a person still
    invited failed for good, by session id."""
    rows = db.session.execute(
        sa.select(EmailMessage.session_id, sa.func.count(EmailMessage.id))
        .join(
            Invitation,
            sa.and_(
                Invitation.session_id == EmailMessage.session_id,
                Invitation.person_id == EmailMessage.person_id,
            ),
        )
        .where(EmailMessage.id.in_(_latest_ids(sessions)), EmailMessage.status == "failed")
        .group_by(EmailMessage.session_id)
        .order_by(EmailMessage.session_id)
    )
    return [(session_id, count) for session_id, count in rows]
