"""What follows each change of a session (forum.events.signals), in one place.

Each listener runs inside the transaction of the change: emails and outbound webhook
deliveries are written as rows beside it, and jobs are handed to the queue only once it
commits (forum.jobs.queue.enqueue), so a change that rolls back leaves nothing behind and a
committed one always has its emails and deliveries recorded, even with the queue down.
Jobs are named rather than imported: the jobs module imports the services it runs, so the
services never import it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from forum.events import signals
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import VideoMeeting
from forum.jobs.queue import enqueue
from forum.notifications.dispatch import queue_session_emails
from forum.providers.meetings import reserve_host
from forum.webhooks.outbound import emit
from forum.webhooks.outbound import organisers_of
from forum.webhooks.outbound import session_data


def _host_needed(
    session: EventSession, *, meeting: VideoMeeting, may_move: bool = True, reason: str = "booked"
) -> None:
    reserve_host(session, meeting, may_move=may_move, reason=reason)


def _booked(session: EventSession, *, notify: bool) -> None:
    if notify:
        # The invites wait for the meeting job, so that they carry its link.
        queue_session_emails(session, "invite", hold=True)
    emit("session.scheduled", session_data(session), organiser_ids=organisers_of(session.event))
    enqueue("forum.open_meeting", session.id)


def _rescheduled(session: EventSession) -> None:
    queue_session_emails(session, "update", hold=True)
    emit("session.rescheduled", session_data(session), organiser_ids=organisers_of(session.event))
    enqueue("forum.sync_meeting", session.id)


def _cancelled(session: EventSession) -> None:
    queue_session_emails(session, "cancel")
    emit("session.cancelled", session_data(session), organiser_ids=organisers_of(session.event))
    enqueue("forum.close_meeting", session.id)


def _occurrence_moved(session: EventSession, *, recurrence_id: dt.datetime) -> None:
    queue_session_emails(session, "occurrence-update", recurrence_id=recurrence_id)
    # The provider's series moves that date too.
    enqueue("forum.sync_meeting", session.id)


def _occurrence_cancelled(session: EventSession, *, recurrence_id: dt.datetime) -> None:
    queue_session_emails(session, "occurrence-cancel", recurrence_id=recurrence_id)
    enqueue("forum.sync_meeting", session.id)


def _invitations_resent(
    session: EventSession, *, invitations: Iterable[Invitation], hold: bool
) -> None:
    queue_session_emails(session, "invite", hold=hold, invitations=invitations)


def _meeting_retried(session: EventSession) -> None:
    enqueue("forum.open_meeting", session.id)


def _answered(invitation: Invitation) -> None:
    emit(
        "rsvp.updated",
        {
            "session_id": invitation.session_id,
            "person_id": invitation.person_id,
            "email": invitation.person.email,
            "rsvp": invitation.rsvp,
        },
        organiser_ids=organisers_of(invitation.session.event),
    )


_LISTENERS = {
    signals.host_needed: _host_needed,
    signals.booked: _booked,
    signals.rescheduled: _rescheduled,
    signals.cancelled: _cancelled,
    signals.occurrence_moved: _occurrence_moved,
    signals.occurrence_cancelled: _occurrence_cancelled,
    signals.invitations_resent: _invitations_resent,
    signals.meeting_retried: _meeting_retried,
    signals.answered: _answered,
}


def connect() -> None:
    """Listen to every change of a session; connecting twice changes nothing."""
    for signal, listener in _LISTENERS.items():
        signal.connect(listener, weak=False)
