"""Plain emails to an event's organisers about one of its sessions (a meeting's trouble)."""

from __future__ import annotations

import email.message
import logging
from email.utils import formataddr
from email.utils import parseaddr

from flask import current_app

from forum.core import text
from forum.events.models import Event
from forum.events.models import EventSession

log = logging.getLogger("forum.notifications")


def tell_organisers(session: EventSession, subject: str, body: str) -> int:
    """Email ``body`` to the owner and co-organisers of the session's event, now; how many went.

    Sent from the job that found the trouble, not recorded as rows: a failure to send is
    logged, and the trouble stays shown on the session page and the dashboard.
    """
    return tell_event_organisers(
        session.event, subject, f"{body}\n\nSession {session.id}: {session.title}\n"
    )


def tell_event_organisers(event: Event, subject: str, body: str) -> int:
    """Email ``body`` to the event's owner and co-organisers, now; how many went."""
    from forum.notifications.dispatch import mail_sender
    from forum.notifications.senders import SendError

    sender = current_app.config["MAIL_FROM"]
    sent = 0
    for organiser in [event.owner, *event.co_organisers]:
        message = email.message.EmailMessage()
        message["From"] = formataddr(("forum", parseaddr(sender)[1]))
        message["To"] = formataddr((text.scrub_line(organiser.name), organiser.email))
        message["Subject"] = text.scrub_line(subject)[:200]
        message.set_content(body)
        try:
            mail_sender().send(message)
        except SendError as error:
            log.warning("could not tell %s: %s", organiser.email, error)
        else:
            sent += 1
    return sent
