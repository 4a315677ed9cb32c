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
from forum.core.times import to_local
from forum.directory.models import Person
from forum.events import calendars
from forum.extensions import db
from forum.notifications.imip import compose
from forum.notifications.models import EmailMessage
from forum.polls import services
from forum.polls.models import Poll

SUBJECTS = {
    "poll-invite": "When can you meet?",
    "poll-reminder": "Reminder: when can you meet?",
    "poll-closed": "Poll closed",
    "poll-closed-deadline": "Answers closed",
    "poll-finalized": "Time chosen",
}


def ballot_url(poll: Poll, token: str) -> str:
    return calendars.page_url(f"/p/{token}/polls/{poll.id}")


def build(message: EmailMessage) -> tuple[MimeMessage, Person]:
    """The email for one recorded poll message and its recipient (for
    forum.notifications.dispatch); LookupError if the poll is gone."""
    poll = db.session.get(Poll, message.poll_id) if message.poll_id is not None else None
    if poll is None:
        raise LookupError("the poll no longer exists")
    return render_poll_email(message, poll), message.person


def render_poll_email(message: EmailMessage, poll: Poll) -> MimeMessage:
    """The email for one recorded poll message, from the poll as it is when sent."""
    person = message.person
    event = poll.event
    zone = person.timezone
    votes = services.votes_of(poll)
    chosen = next((o for o in poll.options if o.id == poll.chosen_option_id), None)
    options = [
        {
            "times": calendars.time_lines(o.start, o.end, zone, event.timezone),
            "answer": services.ANSWER_WORDS.get(votes.get((o.id, person.id)) or ""),
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
        "closes_at": f"{to_local(poll.closes_at, zone):%a %d %b %Y %H:%M}",
        "closes_at_utc": format_instant(poll.closes_at),
        "chosen": calendars.time_lines(chosen.start, chosen.end, zone, event.timezone)
        if chosen
        else None,
        "chosen_answer": services.ANSWER_WORDS.get(votes.get((chosen.id, person.id)) or "")
        if chosen
        else None,
        "ballot_url": ballot_url(poll, calendars.agenda_token(person)),
        "agenda_url": calendars.agenda_url(person),
        "organiser": event.owner,
    }
    subject_key = f"{message.kind}-deadline" if context["deadline"] else message.kind
    subject_time = ""
    if chosen is not None:
        subject_time = f" ({calendars.time_range(chosen.start, chosen.end, zone)})"
    sender_name, sender_address = parseaddr(current_app.config["MAIL_FROM"])
    owner_name = text.scrub_line(event.owner.name)
    return compose(
        sender=formataddr((f"{owner_name} via forum", sender_address)),
        to=formataddr((text.scrub_line(person.name), person.email)),
        subject=f"{SUBJECTS[subject_key]}: {text.scrub_line(poll.title)}{subject_time}",
        text=render_template("email/poll.txt", **context),
        html=render_template("email/poll.html", **context),
        calendar=None,
        method=None,
        reply_to=formataddr((owner_name, event.owner.email)),
    )
