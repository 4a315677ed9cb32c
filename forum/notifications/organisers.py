"""Plain emails to an event's organisers about one of its sessions (a meeting's trouble)."""

from __future__ import annotations

import email.message
import logging
from collections.abc import Callable
from email.utils import formataddr
from email.utils import parseaddr

from flask import current_app

from forum.core import text
from forum.events.models import Event
from forum.events.models import EventSession
from forum.i18n import _
from forum.i18n import current_locale
from forum.i18n import in_locale

log = logging.getLogger("forum.notifications")

# A subject or body: the text, or a function that writes it in the language being rendered
# (called once per organiser, in that organiser's language).
Text = str | Callable[[], str]


def _written(value: Text) -> str:
    return value() if callable(value) else str(value)


def tell_organisers(session: EventSession, subject: Text, body: Text) -> int:
    """Email ``body`` to the owner and co-organisers of the session's event, now; how many went.

    Sent from the job that found the trouble, not recorded as rows: a failure to send is
    logged, and the trouble stays shown on the session page and the dashboard.
    """

    def with_session() -> str:
        session_line = _("Session %(id)s: %(title)s", id=session.id, title=session.title)
        return f"{_written(body)}\n\n{session_line}\n"

    return tell_event_organisers(session.event, subject, with_session)


def tell_event_organisers(event: Event, subject: Text, body: Text) -> int:
    """Email ``body`` to the event's owner and co-organisers, now, each in their language;
    how many went."""
    from forum.notifications.dispatch import mail_sender
    from forum.notifications.senders import SendError

    sender = current_app.config["MAIL_FROM"]
    sent = 0
    for organiser in [event.owner, *event.co_organisers]:
        with in_locale(getattr(organiser, "locale", None)):
            message = email.message.EmailMessage()
            message["From"] = formataddr(("forum", parseaddr(sender)[1]))
            message["To"] = formataddr((text.scrub_line(organiser.name), organiser.email))
            message["Subject"] = text.scrub_line(_written(subject))[:200]
            message["Content-Language"] = current_locale()
            message.set_content(_written(body))
            try:
                mail_sender().send(message)
            except SendError as error:
                log.warning("could not tell %s: %s", organiser.email, error)
            else:
                sent += 1
    return sent
