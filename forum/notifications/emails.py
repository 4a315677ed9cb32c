"""The emails to invitees: invite, update and cancel (with the iTIP calendar), and reminders."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage as MimeMessage
from email.message import MIMEPart
from email.policy import SMTP
from email.utils import formataddr
from email.utils import formatdate
from email.utils import make_msgid
from email.utils import parseaddr

from flask import current_app
from flask import render_template

from forum.core import text
from forum.events import calendars
from forum.events.models import ROLE_LABELS
from forum.events.models import Invitation
from forum.events.occurrences import find_occurrence
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import current_locale
from forum.i18n import in_locale
from forum.i18n import ngettext
from forum.notifications.imip import compose
from forum.notifications.models import EmailMessage

# The iTIP METHOD per kind of message.
KINDS = {
    "invite": "REQUEST",
    "update": "REQUEST",
    "cancel": "CANCEL",
    "occurrence-update": "REQUEST",
    "occurrence-cancel": "CANCEL",
}
ANSWERS = (("accepted", _l("Accept")), ("tentative", _l("Maybe")), ("declined", _l("Decline")))


def _heading(kind: str, title: str) -> str:
    """The first line of the email: what happened, and to which session."""
    if kind == "invite":
        return _("You are invited: %(title)s", title=title)
    if kind == "update":
        return _("This session has changed: %(title)s", title=title)
    if kind == "cancel":
        return _("This session is cancelled: %(title)s", title=title)
    if kind == "occurrence-update":
        return _("One date of this series has moved: %(title)s", title=title)
    return _("One date of this series is cancelled: %(title)s", title=title)


def _subject(kind: str, title: str, when: str) -> str:
    if kind == "invite":
        return _("Invitation: %(title)s (%(when)s)", title=title, when=when)
    if kind == "update":
        return _("Updated invitation: %(title)s (%(when)s)", title=title, when=when)
    if kind == "occurrence-update":
        return _("Moved: %(title)s (%(when)s)", title=title, when=when)
    return _("Cancelled: %(title)s (%(when)s)", title=title, when=when)


def role_word(role: str) -> str:
    return str(ROLE_LABELS[role]) if role in ROLE_LABELS else role


def from_name(owner_name: str) -> str:
    """The name the email comes from: the organiser's, through the product."""
    return _("%(name)s via forum", name=owner_name)


def render(message: EmailMessage, invitation: Invitation) -> MimeMessage:
    """The email for one recorded message, from the session as it is now, in the
    recipient's language (their calendar file too)."""
    with in_locale(invitation.person.locale):
        if message.kind == "reminder":
            return render_reminder(message, invitation)
        return _render_session_email(message, invitation)


def _render_session_email(message: EmailMessage, invitation: Invitation) -> MimeMessage:
    session = invitation.session
    event = session.event
    person = invitation.person
    method = KINDS[message.kind]
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
        "heading": _heading(message.kind, session.title),
        "kind": message.kind,
        "person": person,
        "session": session,
        "event": event,
        "role": role_word(invitation.role),
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
        "answers": [
            (str(label), calendars.rsvp_url(invitation, answer)) for answer, label in ANSWERS
        ]
        if method == "REQUEST"
        else [],
        "agenda_url": calendars.agenda_url(person),
        "feed_url": calendars.feed_url(person),
        "subscribe_url": calendars.subscribe_url(person),
        "organiser": event.owner,
    }
    body = render_template("email/session.txt", **context)
    html = render_template("email/session.html", **context)
    sender_address = parseaddr(current_app.config["MAIL_FROM"])[1]
    # Names and titles stored before forum.core.text may hold a line break or a control
    # character, which no header may carry (the email package refuses them): out they go.
    owner_name = text.scrub_line(event.owner.name)
    return compose(
        sender=formataddr((from_name(owner_name), sender_address)),
        to=formataddr((text.scrub_line(person.name), person.email)),
        subject=_subject(message.kind, text.scrub_line(session.title), first_line),
        text=body,
        html=html,
        calendar=calendar,
        method=method,
        reply_to=formataddr((owner_name, event.owner.email)),
        language=current_locale(),
    )


# --- reminders -------------------------------------------------------------------------------

# Text parts in 7-bit transfer encodings, as in forum.notifications.imip.
_SEVEN_BIT = SMTP.clone(cte_type="7bit")
# A reminder sent late (the job was down) says how soon the meeting really starts, not the
# lead it was meant for, once they differ by more than this.
LATE_SLACK = dt.timedelta(minutes=10)


def how_soon(delta: dt.timedelta) -> str:
    """'24 hours', '1 hour', '2 hours 30 minutes', '45 minutes': a wait in words."""
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes < 60:
        return ngettext("%(num)d minute", "%(num)d minutes", minutes)
    hours, rest = divmod(minutes, 60)
    words = ngettext("%(num)d hour", "%(num)d hours", hours)
    if rest:
        # A wait of hours and minutes: "2 hours 30 minutes".
        return _(
            "%(hours)s %(minutes)s",
            hours=words,
            minutes=ngettext("%(num)d minute", "%(num)d minutes", rest),
        )
    return words


def render_reminder(message: EmailMessage, invitation: Invitation) -> MimeMessage:
    """A reminder before one occurrence: when (the reader's zone first), how soon, the join
    link and passcode, the agenda link and the reader's role, in the reader's language.
    Text and HTML, no calendar: the invitation already put the meeting in the reader's
    calendar."""
    with in_locale(invitation.person.locale):
        return _render_reminder(message, invitation)


def _render_reminder(message: EmailMessage, invitation: Invitation) -> MimeMessage:
    session = invitation.session
    event = session.event
    person = invitation.person
    assert message.recurrence_id is not None
    occurrence = find_occurrence(session, message.recurrence_id)
    if occurrence is None or occurrence.cancelled:
        raise ValueError(_l("the occurrence this reminder is about no longer takes place"))
    data = message.data or {}
    lead = dt.timedelta(minutes=int(data.get("lead_minutes", 0)))
    # The time left when the reminder was due (forum.reminders) is what the reader is told.
    if "starts_in_minutes" in data:
        left = dt.timedelta(minutes=int(data["starts_in_minutes"]))
    else:
        left = occurrence.start - message.created_at
    soon = how_soon(lead if abs(left - lead) <= LATE_SLACK else left)
    zone = person.timezone
    meeting = session.meeting
    usable = meeting is not None and meeting.status == "created"
    context = {
        "person": person,
        "session": session,
        "event": event,
        "role": role_word(invitation.role),
        "soon": soon,
        "times": calendars.time_lines(occurrence.start, occurrence.end, zone, event.timezone),
        "join_url": meeting.join_url if usable and meeting else None,
        "passcode": meeting.passcode if usable and meeting else None,
        "agenda_url": calendars.agenda_url(person),
        "organiser": event.owner,
    }
    owner_name = text.scrub_line(event.owner.name)
    sender_address = parseaddr(current_app.config["MAIL_FROM"])[1]
    first_line = calendars.time_range(occurrence.start, occurrence.end, zone)
    return _plain_email(
        sender=formataddr((from_name(owner_name), sender_address)),
        to=formataddr((text.scrub_line(person.name), person.email)),
        reply_to=formataddr((owner_name, event.owner.email)),
        subject=_(
            "Reminder: %(title)s starts in %(soon)s (%(when)s)",
            title=text.scrub_line(session.title),
            soon=soon,
            when=first_line,
        ),
        plain=render_template("email/reminder.txt", **context),
        html=render_template("email/reminder.html", **context),
        language=current_locale(),
    )


def _plain_email(
    *, sender: str, to: str, reply_to: str, subject: str, plain: str, html: str, language: str
) -> MimeMessage:
    """Text and HTML as alternatives, with no calendar."""
    message = MimeMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = to
    message["Reply-To"] = reply_to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    message.make_alternative()
    for content, subtype in ((plain, "plain"), (html, "html")):
        part = MIMEPart(policy=_SEVEN_BIT)
        part.set_content(content, subtype=subtype, charset="utf-8")
        message.attach(part)
    # After make_alternative, which moves Content-* headers into the first part.
    message["Content-Language"] = language
    return message
