"""The organiser's session page: times at every site, the meeting, answers and attendance."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from sqlalchemy.orm import selectinload

from forum.core import recurrence
from forum.core.errors import ForumError
from forum.db import now_utc
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events import calendars
from forum.events import services
from forum.events.explanations import country_groups
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.occurrences import session_occurrences
from forum.events.planning import sites_at
from forum.extensions import db
from forum.notifications import dispatch
from forum.notifications.models import EmailMessage
from forum.web import bp
from forum.web.events import PROVIDER_LABELS
from forum.web.planner import CATEGORY_LABELS
from forum.web.planner import facts_label
from forum.webhooks.inbound import attendance_of

# The answers in the order the page counts them; "needs-action" is iCalendar's "no answer".
ANSWER_LABELS = {
    "accepted": "Accepted",
    "tentative": "Tentative",
    "declined": "Declined",
    "needs-action": "No answer",
}
NEXT_OCCURRENCES = 5
# Seconds between reloads while the meeting is being opened.
REFRESH_SECONDS = 3


def _organiser():
    return current_user._get_current_object()


def _session(session_id: int) -> EventSession:
    """The organiser's session with everything the page shows, in one query per table."""
    session = services.get_session_for(_organiser(), session_id)
    return db.session.scalars(
        sa.select(EventSession)
        .where(EventSession.id == session.id)
        .options(
            # The event is loaded already: get_session_for checked who manages it.
            selectinload(EventSession.meeting),
            selectinload(EventSession.overrides),
            selectinload(EventSession.invitations)
            .selectinload(Invitation.person)
            .selectinload(Person.institution)
            .selectinload(Institution.blackouts),
        )
        .execution_options(populate_existing=True)
    ).one()


@bp.get("/sessions/<int:session_id>")
@login_required
def session_page(session_id: int):
    organiser = _organiser()
    session = _session(session_id)
    now = now_utc()
    invitations = session.invitations
    coming, shown = [], None
    if session.rrule:
        coming = services.occurrences_of(session, after=now, limit=NEXT_OCCURRENCES)
        # A series' sites are shown at its next meeting (its first once none is left).
        shown = next(session_occurrences(session, after=now, limit=1), None)
    shown_start = shown.start if shown else session.start
    shown_end = shown.end if shown else session.end
    people = [invitation.person for invitation in invitations]
    attendance = attendance_of(session)
    answers = Counter(invitation.rsvp for invitation in invitations)
    meeting = session.meeting
    return render_template(
        "sessions/session.html",
        organiser=organiser,
        session=session,
        event=session.event,
        meeting=meeting,
        invitations=invitations,
        invitation_by_id={invitation.id: invitation for invitation in invitations},
        answers=[(state, label, answers[state]) for state, label in ANSWER_LABELS.items()],
        answer_labels=ANSWER_LABELS,
        category_labels=CATEGORY_LABELS,
        facts_label=facts_label,
        provider_labels=PROVIDER_LABELS,
        sites=country_groups(sites_at([p.id for p in people], shown_start, shown_end)),
        sites_start=shown_start,
        sites_for_next=session.rrule is not None and shown is not None,
        rule=(
            calendars.describe_rule(session.rrule, session.timezone, session.start)
            if session.rrule
            else None
        ),
        left_out=(
            recurrence.exdate_local_times(
                start=session.start,
                timezone=session.timezone,
                rrule=session.rrule,
                exdates=session.exdates,
            )
            if session.rrule and session.exdates
            else []
        ),
        coming=coming,
        attendance=attendance,
        emails=dispatch.latest_messages(session.id),
        show_attendance=bool(attendance) or session.status in ("live", "ended"),
        refreshing=(
            meeting is not None and meeting.status == "pending" and session.status != "cancelled"
        ),
        refresh_seconds=REFRESH_SECONDS,
        can_retry=(
            meeting is not None
            and meeting.status in ("failed", "deferred")
            and session.status != "cancelled"
        ),
    )


def _back(session_id: int):
    return redirect(url_for("web.session_page", session_id=session_id), 303)


@bp.post("/sessions/<int:session_id>/meeting/retry")
@login_required
def retry_meeting_page(session_id: int):
    session = services.get_session_for(_organiser(), session_id)
    try:
        services.retry_meeting(session)
    except ForumError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _back(session_id)
    db.session.commit()
    # With jobs run inline the meeting is open (or failed again) by now; with a worker it
    # is still pending and the page follows it.
    meeting = session.meeting
    db.session.refresh(meeting)
    if meeting.status == "created":
        flash("The meeting is open.", "ok")
    elif meeting.status in ("failed", "deferred"):
        flash(f"The meeting could not be opened: {meeting.error}", "error")
    else:
        flash("The meeting is being opened.", "info")
    return _back(session_id)


@bp.post("/sessions/<int:session_id>/invites/resend")
@login_required
def resend_invites(session_id: int):
    session = services.get_session_for(_organiser(), session_id)
    raw = request.form.get("person_id", "").strip()
    if raw and not raw.isdigit():
        abort(400)
    person_id = int(raw) if raw else None
    try:
        count = services.resend_invitations(session, person_id=person_id)
    except ForumError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _back(session_id)
    db.session.commit()
    if person_id is not None:
        [invitation] = [i for i in session.invitations if i.person_id == person_id]
        flash(f"The invitation is being emailed again to {invitation.person.name}.", "ok")
    else:
        noun = "invitee" if count == 1 else "invitees"
        flash(f"The invitation is being emailed again to {count} {noun}.", "ok")
    return _back(session_id)


@bp.post("/sessions/<int:session_id>/emails/<int:message_id>/retry")
@login_required
def retry_email_page(session_id: int, message_id: int):
    session = services.get_session_for(_organiser(), session_id)
    message = db.session.get(EmailMessage, message_id)
    if message is None or message.session_id != session.id:
        abort(404)
    name = message.person.name
    try:
        dispatch.retry_message(message)
    except ForumError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _back(session_id)
    db.session.commit()
    # With jobs run inline the email is sent (or failed again) by now; with a worker it is
    # on its way.
    db.session.refresh(message)
    if message.status == "sent":
        flash(f"The email to {name} is sent.", "ok")
    elif message.status in ("failed", "retrying"):
        flash(f"The email to {name} could not be sent: {message.error}", "error")
    else:
        flash(f"The email to {name} is being sent.", "info")
    return _back(session_id)


@bp.post("/sessions/<int:session_id>/cancel")
@login_required
def cancel_session_page(session_id: int):
    session = services.get_session_for(_organiser(), session_id)
    if session.status == "cancelled":
        flash("This session was already cancelled.", "info")
        return _back(session_id)
    services.cancel_session(session)
    db.session.commit()
    flash("The session is cancelled; every invitee is being told.", "ok")
    return _back(session_id)
