"""A poll's emails: the invitation to answer, the reminder, the closing notice and the
chosen time; every time in the recipient's zone first, then the home zone and UTC."""

from __future__ import annotations

from email.message import EmailMessage as MimeMessage
from email.utils import formataddr
from email.utils import parseaddr

from flask import current_app
from flask import render_template

from forum.core import text
from forum.core.times import format_instant
from forum.directory.models import Person
from forum.events import calendars
from forum.extensions import db
from forum.i18n import _
from forum.i18n import current_locale
from forum.i18n import format_datetime_text
from forum.i18n import in_locale
from forum.i18n import zone_text
from forum.notifications.emails import from_name
from forum.notifications.imip import compose
from forum.notifications.models import EmailMessage
from forum.polls import services
from forum.polls.models import Poll


def _subject(key: str, title: str, when: str | None) -> str:
    """The subject of a poll's email: what it is about, the poll, and the chosen time."""
    if key == "poll-finalized":
        if when is None:
            return _("Time chosen: %(title)s", title=title)
        return _("Time chosen: %(title)s (%(when)s)", title=title, when=when)
    if key == "poll-invite":
        subject = _("When can you meet?: %(title)s", title=title)
    elif key == "poll-reminder":
        subject = _("Reminder: when can you meet?: %(title)s", title=title)
    elif key == "poll-closed":
        subject = _("Poll closed: %(title)s", title=title)
    else:
        subject = _("Answers closed: %(title)s", title=title)
    # A time already chosen is named after the subject, as for the chosen time's own email.
    return subject if when is None else f"{subject} ({when})"


def _answer_word(answer: str | None) -> str | None:
    """The reader's answer in words ("if need be"), or None if they gave none."""
    word = services.ANSWER_WORDS.get(answer or "")
    return str(word) if word is not None else None


def ballot_url(poll: Poll, token: str) -> str:
    return calendars.page_url(f"/p/{token}/polls/{poll.id}")


def build(message: EmailMessage) -> tuple[MimeMessage, Person]:
    """The email for one recorded poll message and its recipient (for
    forum.notifications.dispatch); LookupError if the poll is gone."""
    poll = db.session.get(Poll, message.poll_id) if message.poll_id is not None else None
    if poll is None:
        raise LookupError(_("the poll no longer exists"))
    return render_poll_email(message, poll), message.person


def render_poll_email(message: EmailMessage, poll: Poll) -> MimeMessage:
    """The email for one recorded poll message, from the poll as it is when sent, in the
    recipient's language."""
    with in_locale(message.person.locale):
        return _render_poll_email(message, poll)


def _render_poll_email(message: EmailMessage, poll: Poll) -> MimeMessage:
    person = message.person
    event = poll.event
    zone = person.timezone
    votes = services.votes_of(poll)
    chosen = next((o for o in poll.options if o.id == poll.chosen_option_id), None)
    options = [
        {
            "times": calendars.time_lines(o.start, o.end, zone, event.timezone),
            "answer": _answer_word(votes.get((o.id, person.id))),
        }
        for o in poll.options
    ]
    context = {
        "kind": message.kind,
        # poll-closed: by its closing time (a time will be chosen), or by the organiser.
        "deadline": (message.data or {}).get("reason") == "deadline",
        "poll": poll,
        "event": event,
        "person": person,
        "zone": zone,
        "options": options,
        "closes_at": format_datetime_text(poll.closes_at, zone),
        "zone_name": zone_text(zone),
        "closes_at_utc": format_instant(poll.closes_at),
        "chosen": calendars.time_lines(chosen.start, chosen.end, zone, event.timezone)
        if chosen
        else None,
        "chosen_answer": _answer_word(votes.get((chosen.id, person.id))) if chosen else None,
        # The answer itself, for what the email says about it.
        "chosen_vote": votes.get((chosen.id, person.id)) if chosen else None,
        "ballot_url": ballot_url(poll, calendars.agenda_token(person)),
        "agenda_url": calendars.agenda_url(person),
        "organiser": event.owner,
    }
    subject_key = f"{message.kind}-deadline" if context["deadline"] else message.kind
    subject_time = None
    if chosen is not None:
        subject_time = calendars.time_range(chosen.start, chosen.end, zone)
    sender_address = parseaddr(current_app.config["MAIL_FROM"])[1]
    owner_name = text.scrub_line(event.owner.name)
    return compose(
        sender=formataddr((from_name(owner_name), sender_address)),
        to=formataddr((text.scrub_line(person.name), person.email)),
        subject=_subject(subject_key, text.scrub_line(poll.title), subject_time),
        text=render_template("email/poll.txt", **context),
        html=render_template("email/poll.html", **context),
        calendar=None,
        method=None,
        reply_to=formataddr((owner_name, event.owner.email)),
        language=current_locale(),
    )
