"""Participants' pages, reached by secret links without an account: agenda and RSVP."""

from __future__ import annotations

import re

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from forum.calendar.links import google_calendar_url
from forum.calendar.links import outlook_calendar_url
from forum.core.errors import ForumError
from forum.core.errors import ValidationFailed
from forum.core.times import InvalidTime
from forum.core.times import get_zone
from forum.core.times import usable_zone_names
from forum.db import now_utc
from forum.events import calendars
from forum.events import services
from forum.events.models import Invitation
from forum.events.occurrences import session_occurrences
from forum.extensions import csrf
from forum.extensions import db
from forum.i18n import LANGUAGES
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import normalise_locale
from forum.i18n import use_locale
from forum.security import refuse_link
from forum.web import bp
from forum.web.forms import safe_next_path

ANSWER_LABELS = {"accepted": _l("Accept"), "tentative": _l("Maybe"), "declined": _l("Decline")}
RSVP_WORDS = {
    "needs-action": _l("not answered yet"),
    "accepted": _l("you accepted"),
    "tentative": _l("you said maybe"),
    "declined": _l("you declined"),
}


def _usable_zone(name: str) -> bool:
    try:
        get_zone(name)
    except InvalidTime:
        return False
    return True


def zone_choice(default: str) -> tuple[str, str | None]:
    """The zone asked for (?tz= on a GET, the form's tz on a POST), or ``default`` and a
    message saying why not."""
    source = request.form if request.method == "POST" else request.args
    asked = source.get("tz", "").strip()
    if not asked:
        return default, None
    try:
        get_zone(asked)
    except InvalidTime as error:
        return default, _("%(problem)s. Times are shown in %(zone)s.", problem=error, zone=default)
    return asked, None


def _calendar_links(item: services.AgendaItem) -> dict[str, str]:
    session = item.invitation.session
    occurrence = item.occurrence
    meeting = session.meeting
    join = meeting.join_url if meeting and meeting.join_url else ""
    details = (
        session.event.title + "\n\n" + _("Join: %(url)s", url=join) if join else session.event.title
    )
    series = bool(session.rrule) and not occurrence.moved
    return {
        "google": google_calendar_url(
            title=session.title,
            start=session.start if series else occurrence.start,
            end=session.end if series else occurrence.end,
            details=details,
            location=join,
            rrule=session.rrule if series else None,
            timezone=session.timezone,
        ),
        "outlook": outlook_calendar_url(
            title=session.title,
            start=occurrence.start,
            end=occurrence.end,
            details=details,
            location=join,
        ),
        "download": calendars.session_file_url(session),
    }


@bp.get("/p/<token>")
def agenda(token: str):
    person = calendars.person_for_agenda(token)
    if person is None:
        refuse_link()
    use_locale(person.locale)
    zone, zone_problem = zone_choice(person.timezone)
    if zone_problem:
        flash(zone_problem, "error")
    items = services.agenda_for(person, after=now_utc())
    suggested = sorted(
        {person.timezone, "UTC"}
        | {i.invitation.session.event.timezone for i in items}
        | {i.invitation.session.timezone for i in items}
    )
    return render_template(
        "participant/agenda.html",
        language_action=language_action(person),
        person=person,
        zone=zone,
        suggested_zones=suggested,
        all_zones=usable_zone_names(),
        items=items,
        anchors=_answer_anchors(items),
        links={id(item): _calendar_links(item) for item in items},
        rsvp_tokens={i.invitation.id: calendars.rsvp_token(i.invitation) for i in items},
        feed_url=calendars.feed_url(person),
        subscribe_url=calendars.subscribe_url(person),
        rsvp_words=RSVP_WORDS,
        answer_labels=ANSWER_LABELS,
        time_lines=calendars.time_lines,
        token=token,
    )


def language_action(person) -> str:
    """Where a participant page's language menu posts (their agenda link's secret)."""
    return url_for("web.participant_language", token=calendars.agenda_token(person))


# As the answers: the link's own secret authorises the change, and it changes only words.
@csrf.exempt
@bp.post("/p/<token>/language")
def participant_language(token: str):
    """Keep the participant's choice of language (pages, emails and calendar text), then
    show the page they were on in it."""
    person = calendars.person_for_agenda(token)
    if person is None:
        refuse_link()
    locale = normalise_locale(request.form.get("locale"))
    if locale is None:
        raise ValidationFailed(
            {"locale": _("must be one of %(choices)s", choices=", ".join(LANGUAGES))}
        )
    person.locale = locale
    db.session.commit()
    back = safe_next_path(request.form.get("next")) or url_for("web.agenda", token=token)
    return redirect(back), 303


def answer_anchor(invitation: Invitation) -> str:
    """The id of the agenda item where the answer to ``invitation`` is shown.

    Named by the session's iCalendar UID (already in the participant's calendar files)
    rather than by a row number.
    """
    return "answer-" + re.sub(r"[^A-Za-z0-9_-]+", "-", invitation.session.ical_uid)


def _answer_anchors(items: list[services.AgendaItem]) -> dict[int, str]:
    """Anchors by id() of item: on each invitation's first item that can be answered.

    After an answer given on the agenda the page opens there (a series has several items).
    """
    anchors: dict[int, str] = {}
    anchored: set[int] = set()
    for item in items:
        invitation = item.invitation
        answerable = not item.occurrence.cancelled and invitation.session.status != "cancelled"
        if answerable and invitation.id not in anchored:
            anchored.add(invitation.id)
            anchors[id(item)] = answer_anchor(invitation)
    return anchors


def _invitation(token: str) -> Invitation:
    invitation = calendars.invitation_for_rsvp(token)
    if invitation is None:
        refuse_link()
    return invitation


# The RSVP answer needs no CSRF token: the link's own secret is what authorises it, and a
# participant who follows it from their mailbox has no session cookie with us anyway.
@csrf.exempt
@bp.route("/rsvp/<token>", methods=["GET", "POST"])
def rsvp(token: str):
    """GET shows the question (never answers it: mail scanners open links); POST answers."""
    invitation = _invitation(token)
    session = invitation.session
    use_locale(invitation.person.locale)
    if request.method == "POST":
        answer = request.form.get("answer", "")
        try:
            services.answer_invitation(invitation, answer)
        except ForumError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("web.rsvp", token=token)), 303
        db.session.commit()
        if session.rrule:
            thanks = _(
                "Thank you: your answer to “%(title)s” is recorded for the whole series: "
                "%(answer)s.",
                title=session.title,
                answer=RSVP_WORDS[answer],
            )
        else:
            thanks = _(
                "Thank you: your answer to “%(title)s” is recorded: %(answer)s.",
                title=session.title,
                answer=RSVP_WORDS[answer],
            )
        flash(thanks, "ok")
        back = request.form.get("back", "")
        if back == "agenda":
            # Back to the agenda as it was shown: in the zone the participant had chosen,
            # at the session answered.
            agenda_args = {"token": calendars.agenda_token(invitation.person)}
            zone = request.form.get("tz", "").strip()
            if zone and zone != invitation.person.timezone and _usable_zone(zone):
                agenda_args["tz"] = zone
            anchor = answer_anchor(invitation)
            return redirect(url_for("web.agenda", **agenda_args, _anchor=anchor)), 303
        return redirect(url_for("web.rsvp", token=token)), 303
    proposed = request.args.get("answer")
    person = invitation.person
    zone, _problem = zone_choice(person.timezone)
    # A series shows its next meeting (its first while none has taken place).
    coming = next(iter(session_occurrences(session, after=now_utc(), limit=1)), None)
    return render_template(
        "participant/rsvp.html",
        language_action=language_action(person),
        invitation=invitation,
        session=session,
        meeting_start=coming.start if coming else session.start,
        meeting_end=coming.end if coming else session.end,
        next_meeting=coming is not None and coming.start != session.start,
        person=person,
        zone=zone,
        proposed=proposed if proposed in ANSWER_LABELS else None,
        answer_labels=ANSWER_LABELS,
        rsvp_words=RSVP_WORDS,
        time_lines=calendars.time_lines,
        agenda_url=url_for("web.agenda", token=calendars.agenda_token(person)),
    )
