"""The background jobs: small tasks that take ids and call services."""

from __future__ import annotations

from celery import shared_task

from forum.extensions import db
from forum.notifications.dispatch import release_held_emails
from forum.notifications.dispatch import send_due_messages
from forum.notifications.dispatch import send_message
from forum.providers import accounts
from forum.providers import meetings


@shared_task(name="forum.send_email")
def send_email(message_id: int) -> str:
    """Send one recorded email (forum.notifications.dispatch); safe to run twice.

    A failure is recorded on the message, not raised: one that may pass is retried by
    ``send_due_emails`` at the message's next_attempt_at, after a growing pause.
    """
    return send_message(message_id)


@shared_task(name="forum.send_due_emails")
def send_due_emails() -> dict[str, int]:
    """Periodic: send the emails that are due (retries whose time has come, any left behind)."""
    run = send_due_messages()
    return {
        "sent": run.sent,
        "failed": run.failed,
        "retrying": run.retrying,
        "skipped": run.skipped,
    }


# --- video meetings --------------------------------------------------------------------------


def _then_send_held_emails(session_id: int) -> None:
    # Invites wait for the meeting so that they carry its link (forum.notifications.dispatch).
    release_held_emails(session_id)
    db.session.commit()


@shared_task(name="forum.open_meeting")
def open_meeting(session_id: int) -> str:
    """Open a booked session's meeting on its provider, then send its invites."""
    status = meetings.open_meeting(session_id)
    _then_send_held_emails(session_id)
    return status


@shared_task(name="forum.sync_meeting")
def sync_meeting(session_id: int) -> str:
    """Update the meeting of a changed session, then send the updated invites."""
    status = meetings.sync_meeting(session_id)
    _then_send_held_emails(session_id)
    return status


@shared_task(name="forum.close_meeting")
def close_meeting(session_id: int) -> str:
    """Delete a cancelled session's meeting on its provider."""
    return meetings.close_meeting(session_id)


@shared_task(name="forum.check_providers")
def check_providers() -> dict[str, list[str]]:
    """Periodic: each account's token, hosts and meetings of the next 7 days."""
    return {account.name: meetings.check_account(account) for account in accounts.accounts()}


@shared_task(name="forum.retry_deferred_meetings")
def retry_deferred_meetings() -> int:
    """Periodic: open the meetings that waited for a quota or a provider to come back."""
    waiting = meetings.waiting_sessions()
    for session_id in waiting:
        open_meeting.delay(session_id)
    return len(waiting)


# --- provider webhooks -----------------------------------------------------------------------


@shared_task(name="forum.process_delivery")
def process_delivery(entry_id: int) -> str:
    """Apply one stored provider delivery (forum.webhooks.inbound); safe to run twice."""
    from forum.webhooks import inbound

    return inbound.process(entry_id)


@shared_task(name="forum.reprocess_delivery")
def reprocess_delivery(entry_id: int) -> str:
    """Apply a stored delivery again, even if it was processed (an organiser asked)."""
    from forum.webhooks import inbound

    return inbound.process(entry_id, again=True)


@shared_task(name="forum.drain_inbox")
def drain_inbox() -> int:
    """Process every stored provider delivery not processed yet (also periodic, as a net)."""
    from forum.webhooks import inbound

    return inbound.drain()


# --- before each occurrence ------------------------------------------------------------------


def _instant(at: str | None):
    from forum.core.times import parse_instant

    return parse_instant(at) if at else None


@shared_task(name="forum.send_reminders")
def send_reminders(at: str | None = None) -> dict[str, int]:
    """Periodic: the reminders due now (or as of ``at``, an ISO instant), each once."""
    from forum.reminders import reminders

    run = reminders.send_reminders(now=_instant(at))
    return {"sent": len(run.sent), "failed": len(run.failed)}


@shared_task(name="forum.preflight_checks")
def preflight_checks(at: str | None = None) -> dict[str, int]:
    """Periodic: check the meetings of occurrences due a check now (or as of ``at``)."""
    from forum.reminders import preflight

    run = preflight.run_checks(now=_instant(at))
    return {"checked": len(run.checks), "problems": len(run.problems), "failed": len(run.failed)}


@shared_task(name="forum.close_due_polls")
def close_due_polls() -> int:
    """Periodic: tell everyone of the polls whose closing time has passed, once each."""
    from forum.polls import closing

    return len(closing.notice_closed_polls())


# --- timetable imports -----------------------------------------------------------------------


@shared_task(name="forum.send_timetable_invitations", bind=True)
def send_timetable_invitations(self, import_id: int) -> str:
    """Send the next batch of a timetable import's invitations, then queue the next batch
    after the pause that keeps the import's rate; safe to run twice (forum.timetables.sending).

    Inline (no broker) one batch is sent and the rest is left to the periodic
    ``resume_timetable_invitations``, rather than the whole term inside one request.
    """
    from forum.timetables import sending

    outcome = sending.send_next_batch(import_id)
    if outcome.status == "sending" and not self.app.conf.task_always_eager:
        self.apply_async(args=[import_id], countdown=outcome.wait_seconds)
    return outcome.status


@shared_task(name="forum.resume_timetable_invitations", bind=True)
def resume_timetable_invitations(self) -> int:
    """Periodic, without a broker: a minute's worth of each sending import's invitations
    (with one, each import's own chain of batches sends them). Returns how many were sent."""
    from forum.timetables import sending

    if not self.app.conf.task_always_eager:
        return 0
    return sending.send_for_a_minute()
