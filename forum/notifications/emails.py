"""The invite, update and cancel emails: text, HTML and the iTIP calendar, per invitee."""

from __future__ import annotations

from email.message import EmailMessage as MimeMessage
from email.utils import formataddr
from email.utils import parseaddr

from flask import current_app
from flask import render_template

from forum.core import text
from forum.events import calendars
from forum.events.models import Invitation
from forum.events.occurrences import find_occurrence
from forum.notifications.imip import compose
from forum.notifications.models import EmailMessage

# (METHOD, subject prefix, heading) per kind of message.
KINDS = {
    "invite": ("REQUEST", "Invitation", "You are invited"),
    "update": ("REQUEST", "Updated invitation", "This session has changed"),
    "cancel": ("CANCEL", "Cancelled", "This session is cancelled"),
    "occurrence-update": ("REQUEST", "Moved", "One date of this series has moved"),
    "occurrence-cancel": ("CANCEL", "Cancelled", "One date of this series is cancelled"),
}
ANSWERS = (("accepted", "Accept"), ("tentative", "Maybe"), ("declined", "Decline"))


def render(message: EmailMessage, invitation: Invitation) -> MimeMessage:
    """The email for one recorded message, from the session as it is now."""
    session = invitation.session
    event = session.event
    person = invitation.person
    method, prefix, heading = KINDS[message.kind]
    occurrence = None
    if message.recurrence_id is not None:
        occurrence = find_occurrence(session, message.recurrence_id)
        calendar = calendars.occurrence_file(invitation, message.recurrence_id, method=method)
    else:
        calendar = calendars.invite_file(invitation, method=method)

    start = occurrence.start if occurrence else session.start
    end = occurrence.end if occurrence else session.end
    zone = person.timezone
    first_line = calendars.time_range(start, end, zone)
    meeting = session.meeting
    context = {
        "heading": heading,
        "kind": message.kind,
        "person": person,
        "session": session,
        "event": event,
        "role": invitation.role,
        "times": calendars.time_lines(start, end, zone, event.timezone),
        "original_times": (
            calendars.time_lines(
                occurrence.recurrence_id,
                occurrence.recurrence_id + (end - start),
                zone,
                event.timezone,
            )
            if occurrence is not None and occurrence.moved
            else []
        ),
        "rule": (
            calendars.describe_rule(session.rrule, session.timezone, session.start)
            if session.rrule and occurrence is None
            else None
        ),
        "changes": (
            calendars.local_time_changes(session, zone)
            if session.rrule and occurrence is None and zone != session.timezone
            else []
        ),
        "join_url": meeting.join_url if meeting else None,
        "passcode": meeting.passcode if meeting else None,
        "answers": [(label, calendars.rsvp_url(invitation, answer)) for answer, label in ANSWERS]
        if method == "REQUEST"
        else [],
        "agenda_url": calendars.agenda_url(person),
        "feed_url": calendars.feed_url(person),
        "subscribe_url": calendars.subscribe_url(person),
        "organiser": event.owner,
    }
    body = render_template("email/session.txt", **context)
    html = render_template("email/session.html", **context)
    sender_name, sender_address = parseaddr(current_app.config["MAIL_FROM"])
    # Names and titles stored before forum.core.text may hold a line break or a control
    # character, which no header may carry (the email package refuses them): out they go.
    owner_name = text.scrub_line(event.owner.name)
    return compose(
        sender=formataddr((f"{owner_name} via forum", sender_address)),
        to=formataddr((text.scrub_line(person.name), person.email)),
        subject=f"{prefix}: {text.scrub_line(session.title)} ({first_line})",
        text=body,
        html=html,
        calendar=calendar,
        method=method,
        reply_to=formataddr((owner_name, event.owner.email)),
    )
