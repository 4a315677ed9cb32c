"""The organiser's session page: times at every site, the meeting, answers and attendance;
and changing what is booked: the session's time, length and title, or one date of a series."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_wtf import FlaskForm
from pydantic import BaseModel
from sqlalchemy.orm import selectinload
from wtforms import BooleanField
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import RadioField
from wtforms import StringField
from wtforms.validators import DataRequired

from forum.api import schemas
from forum.core import recurrence
from forum.core import times
from forum.core.errors import Conflict
from forum.core.errors import ForumError
from forum.core.errors import ValidationFailed
from forum.db import now_utc
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events import calendars
from forum.events import services
from forum.events.explanations import CATEGORY_LABELS
from forum.events.explanations import country_groups
from forum.events.models import MEETING_STATUS_LABELS
from forum.events.models import ROLE_LABELS
from forum.events.models import SESSION_STATUS_LABELS
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.occurrences import session_occurrences
from forum.events.planning import sites_at
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import format_datetime_text
from forum.i18n import ngettext
from forum.i18n import zone_text
from forum.notifications import dispatch
from forum.notifications.models import EmailMessage
from forum.web import bp
from forum.web.events import PROVIDER_LABELS
from forum.web.forms import show_errors
from forum.web.forms import validated
from forum.web.planner import facts_label
from forum.webhooks.inbound import attendance_of

# The answers in the order the page counts them; "needs-action" is iCalendar's "no answer".
ANSWER_LABELS = {
    "accepted": _l("Accepted"),
    "tentative": _l("Tentative"),
    "declined": _l("Declined"),
    "needs-action": _l("No answer"),
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
        role_labels=ROLE_LABELS,
        status_labels=SESSION_STATUS_LABELS,
        meeting_status_labels=MEETING_STATUS_LABELS,
        host_changes=_host_changes(meeting),
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


def _host_changes(meeting) -> list[dict[str, Any]]:
    """The meeting's changes of host, newest first, each with its time as an instant."""
    changes = (meeting.data or {}).get("host_changes", []) if meeting is not None else []
    return [{**change, "at": times.parse_instant(change["at"])} for change in reversed(changes)]


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
        flash(_("The meeting is open."), "ok")
    elif meeting.status in ("failed", "deferred"):
        flash(_("The meeting could not be opened: %(error)s", error=meeting.error), "error")
    else:
        flash(_("The meeting is being opened."), "info")
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
        flash(
            _("The invitation is being emailed again to %(name)s.", name=invitation.person.name),
            "ok",
        )
    else:
        flash(
            ngettext(
                "The invitation is being emailed again to %(num)d invitee.",
                "The invitation is being emailed again to %(num)d invitees.",
                count,
            ),
            "ok",
        )
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
        flash(_("The email to %(name)s is sent.", name=name), "ok")
    elif message.status in ("failed", "retrying"):
        flash(
            _("The email to %(name)s could not be sent: %(error)s", name=name, error=message.error),
            "error",
        )
    else:
        flash(_("The email to %(name)s is being sent.", name=name), "info")
    return _back(session_id)


@bp.post("/sessions/<int:session_id>/cancel")
@login_required
def cancel_session_page(session_id: int):
    session = services.get_session_for(_organiser(), session_id)
    if session.status == "cancelled":
        flash(_("This session was already cancelled."), "info")
        return _back(session_id)
    services.cancel_session(session)
    db.session.commit()
    flash(_("The session is cancelled; every invitee is being told."), "ok")
    return _back(session_id)


# --- changing what is booked -----------------------------------------------------------------

# How a datetime-local input writes a time, and reads one back.
LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


class MoveForm(FlaskForm):
    """A new local time and length: what moving one date and rescheduling the session share."""

    local_start = StringField(_l("Starts"), render_kw={"type": "datetime-local"})
    duration_minutes = IntegerField(
        _l("Length (minutes)"),
        validators=[DataRequired(_l("Give the length in minutes."))],
        render_kw={"min": 1, "max": 1440, "inputmode": "numeric"},
    )
    # Offered when the local time happens twice (the clocks go back): which of the two.
    fold = RadioField(_l("Which one?"), choices=[], validate_choice=False)
    allow_conflicts = BooleanField(_l("Change it even if a chair or speaker is busy then"))
    # The past start the organiser agreed to: invitations go out for it all the same.
    confirm_past = HiddenField()

    def times(self, zone: str) -> dict[str, Any]:
        """The fields as the API takes them, the local time read in ``zone``."""
        local = (self.local_start.data or "").strip()
        if not local:
            raise ValidationFailed({"local_start": _("Give the date and time it starts.")})
        body: dict[str, Any] = {
            "local_start": local,
            "timezone": zone,
            "duration_minutes": self.duration_minutes.data,
            "allow_conflicts": bool(self.allow_conflicts.data),
        }
        if self.fold.data in ("0", "1"):
            body["fold"] = int(self.fold.data)
        return body


class RescheduleForm(MoveForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the session a title."))])
    timezone = StringField(
        _l("in time zone"),
        render_kw={"list": "zone-names", "autocomplete": "off", "spellcheck": "false"},
    )
    # Offered when a series' new time does not exist, or happens twice, on some of its dates.
    skip_invalid_local_times = BooleanField(_l("Leave those dates out of the series"))


def _session_to_change(session_id: int) -> EventSession:
    """The organiser's session with what a change reads: its invitees (whose clashes are
    checked) and its moved or cancelled dates, each table in one query."""
    session = services.get_session_for(_organiser(), session_id)
    return db.session.scalars(
        sa.select(EventSession)
        .where(EventSession.id == session.id)
        .options(
            selectinload(EventSession.meeting),
            selectinload(EventSession.overrides),
            selectinload(EventSession.invitations).selectinload(Invitation.person),
        )
        .execution_options(populate_existing=True)
    ).one()


def _recurrence_id(stamp: str) -> dt.datetime:
    """A date of a series as its address names it: its original start in UTC."""
    try:
        return times.parse_instant(stamp)
    except ValueError:
        abort(404)


def _fold_choices(form: MoveForm, zone_name: str) -> None:
    """Offer both instants of a local time that happens twice, e.g. "01:30 EDT, 05:30 UTC".

    Computed from what is typed, so the choice stays on the page through other refusals;
    a time that happens once offers nothing.
    """
    form.fold.choices = []
    try:
        local = dt.datetime.strptime((form.local_start.data or "").strip(), LOCAL_INPUT_FORMAT)
        zone = times.get_zone(zone_name)
    except (ValueError, ForumError):
        return
    instants = [local.replace(tzinfo=zone, fold=fold) for fold in (0, 1)]
    if instants[0].utcoffset() == instants[1].utcoffset() or any(
        i.astimezone(times.UTC).astimezone(zone).replace(tzinfo=None) != local for i in instants
    ):
        return
    form.fold.choices = [
        (str(fold), f"{local:%H:%M} {i.tzname()}, {i.astimezone(times.UTC):%H:%M} UTC")
        for fold, i in enumerate(sorted(instants, key=lambda i: i.astimezone(times.UTC)))
    ]


def _new_start(local: dt.datetime, zone: str, fold: int | None) -> dt.datetime:
    """The instant the change asks for, read as the services read it; refusals at the field.

    A time the clocks jump over is refused with the gap; a time that happens twice asks
    which of its two instants is meant (the choice is on the form).
    """
    try:
        return times.resolve_local(local, zone, fold=fold)
    except ValidationFailed as exc:
        if exc.code == "ambiguous_local_time":
            raise ValidationFailed(
                {
                    "local_start": _(
                        "%(time)s happens twice in %(zone)s, because the clocks go back that "
                        "night: choose which one below",
                        time=format_datetime_text(local),
                        zone=zone,
                    )
                }
            ) from None
        raise


def _clashes(details: dict[str, Any]) -> list[dict[str, Any]]:
    """The people's clashes of a refusal, their times as instants for the page to show."""
    return [
        {
            **clash,
            "start": times.parse_instant(clash["start"]),
            "end": times.parse_instant(clash["end"]),
        }
        for clash in details.get("conflicts", [])
    ]


def _apply_change(
    form: MoveForm,
    schema: type[BaseModel],
    body: dict[str, Any],
    write: Callable[[dict[str, Any]], object],
) -> dict[str, Any] | None:
    """Write a change through its service, or say why not; nothing is written on a refusal.

    None once the change is committed. Otherwise what the form's page shows: the problems
    at the fields, a past start to confirm (the invitations are sent all the same), or the
    clashes. A chair's or speaker's clash can be overruled (allow_conflicts); a video host
    busy at that time cannot, so it is shown without that offer.
    """
    try:
        changes = validated(schema, body, form)
        if changes is None:
            return {"status": 422}
        start = _new_start(changes.local_start, changes.timezone, changes.fold)
    except ValidationFailed as exc:
        show_errors(form, exc.fields)
        return {"status": 422}
    if start < now_utc() and form.confirm_past.data != times.format_instant(start):
        form.confirm_past.data = times.format_instant(start)
        return {"status": 200, "past": start}
    try:
        write(changes.model_dump(exclude_unset=True))
    except Conflict as exc:
        db.session.rollback()
        if "conflicts" in exc.details:
            return {"status": 409, "clashes": _clashes(exc.details)}
        show_errors(form, {"body": exc.message})
        return {"status": 409, "host_busy": "hosts" in exc.details}
    except ValidationFailed as exc:
        db.session.rollback()
        return {"status": 422, **_series_time_refused(form, exc)}
    db.session.commit()
    return None


def _series_time_refused(form: MoveForm, exc: ValidationFailed) -> dict[str, Any]:
    """A service's refusal at the fields, a series' time worded for this form.

    A series whose time does not exist, or happens twice, on some of its dates may leave
    those dates out (the API's skip_invalid_local_times): the form then offers to.
    """
    invalid = exc.details.get("invalid_dates")
    if invalid and "skip_invalid_local_times" in form:
        days = ", ".join(date["date"] for date in invalid)
        show_errors(
            form,
            {
                "local_start": _(
                    "at that time the series would meet on %(days)s at a local time that does "
                    "not exist or happens twice in %(zone)s (%(problem)s); choose another time, "
                    "or tick “Leave those dates out of the series”",
                    days=days,
                    zone=exc.details["timezone"],
                    problem=invalid[0]["problem"],
                )
            },
        )
        return {"invalid_dates": invalid}
    # A series keeps the first of a repeated local time: said at the time, not the choice.
    show_errors(form, {"local_start" if k == "fold" else k: v for k, v in exc.fields.items()})
    return {}


def _change_page(session: EventSession, form: MoveForm, outcome: dict[str, Any], **page: Any):
    _fold_choices(form, page["zone"])
    return render_template(
        "sessions/change.html",
        organiser=_organiser(),
        session=session,
        event=session.event,
        form=form,
        past=outcome.get("past"),
        clashes=outcome.get("clashes", []),
        host_busy=outcome.get("host_busy", False),
        invalid_dates=outcome.get("invalid_dates", []),
        role_labels=ROLE_LABELS,
        **page,
    ), outcome.get("status", 200)


@bp.route("/sessions/<int:session_id>/change", methods=["GET", "POST"])
@login_required
def reschedule_page(session_id: int):
    """The session's time, length and title, as PATCH /api/v1/sessions/{id} changes them."""
    session = _session_to_change(session_id)
    if session.status == "cancelled":
        flash(_("This session is cancelled: it cannot be changed."), "info")
        return _back(session_id)
    form = RescheduleForm()
    outcome: dict[str, Any] = {}
    if request.method == "GET":
        form.title.data = session.title
        form.timezone.data = session.timezone
        form.local_start.data = times.to_local(session.start, session.timezone).strftime(
            LOCAL_INPUT_FORMAT
        )
        form.duration_minutes.data = int(session.duration.total_seconds() // 60)
    elif not form.validate_on_submit():
        outcome = {"status": 422}
    else:
        sequence = session.sequence
        zone = (form.timezone.data or "").strip() or session.timezone
        try:
            body = {
                **form.times(zone),
                "title": form.title.data,
                "skip_invalid_local_times": bool(form.skip_invalid_local_times.data),
            }
        except ValidationFailed as exc:
            show_errors(form, exc.fields)
            body = None
            outcome = {"status": 422}
        if body is not None:
            found = _apply_change(
                form,
                schemas.SessionUpdate,
                body,
                lambda changes: services.reschedule_session(session, changes, actor=_organiser()),
            )
            if found is None:
                if session.sequence == sequence:
                    flash(_("Nothing changed, so nothing was sent."), "info")
                else:
                    flash(
                        _(
                            "“%(title)s” is changed; every invitee is being sent the updated "
                            "invitation.",
                            title=session.title,
                        ),
                        "ok",
                    )
                return _back(session_id)
            outcome = found
    return _change_page(
        session,
        form,
        outcome,
        zone=(form.timezone.data or "").strip() or session.timezone,
        action=url_for("web.reschedule_page", session_id=session.id),
        heading=_("Change “%(title)s”", title=session.title),
        occurrence=None,
    )


@bp.route("/sessions/<int:session_id>/dates/<stamp>/move", methods=["GET", "POST"])
@login_required
def move_date_page(session_id: int, stamp: str):
    """One date of a series to another time or length; the other dates stay."""
    session = _session_to_change(session_id)
    occurrence = services.get_occurrence(session, _recurrence_id(stamp))
    if session.status == "cancelled" or occurrence.cancelled:
        flash(_("This date is cancelled: it cannot be moved."), "info")
        return _back(session_id)
    form = MoveForm()
    outcome: dict[str, Any] = {}
    if request.method == "GET":
        form.local_start.data = times.to_local(occurrence.start, session.timezone).strftime(
            LOCAL_INPUT_FORMAT
        )
        form.duration_minutes.data = int((occurrence.end - occurrence.start).total_seconds() // 60)
    elif not form.validate_on_submit():
        outcome = {"status": 422}
    else:
        sequence = session.sequence
        try:
            body = form.times(session.timezone)
        except ValidationFailed as exc:
            show_errors(form, exc.fields)
            body = None
            outcome = {"status": 422}
        if body is not None:
            found = _apply_change(
                form,
                schemas.OccurrenceUpdate,
                body,
                lambda changes: services.move_occurrence(
                    session, occurrence.recurrence_id, changes, actor=_organiser()
                ),
            )
            if found is None:
                if session.sequence == sequence:
                    flash(_("Nothing changed, so nothing was sent."), "info")
                else:
                    moved = services.get_occurrence(session, occurrence.recurrence_id)
                    flash(
                        _(
                            "The meeting of %(before)s is moved to %(after)s; its invitees are "
                            "being sent the change.",
                            before=_local_text(occurrence.start, session.timezone),
                            after=_local_text(moved.start, session.timezone),
                        ),
                        "ok",
                    )
                return _back(session_id)
            outcome = found
    return _change_page(
        session,
        form,
        outcome,
        zone=session.timezone,
        action=url_for("web.move_date_page", session_id=session.id, stamp=stamp),
        heading=_("Move one date of “%(title)s”", title=session.title),
        occurrence=occurrence,
    )


def _local_text(instant: dt.datetime, zone: str) -> str:
    return f"{format_datetime_text(instant, zone)} ({zone_text(zone)})"


@bp.route("/sessions/<int:session_id>/dates/<stamp>/cancel", methods=["GET", "POST"])
@login_required
def cancel_date_page(session_id: int, stamp: str):
    """One date of a series cancelled, after the organiser confirms it; the others stay."""
    session = services.get_session_for(_organiser(), session_id)
    occurrence = services.get_occurrence(session, _recurrence_id(stamp))
    if session.status == "cancelled" or occurrence.cancelled:
        flash(_("This date was already cancelled."), "info")
        return _back(session_id)
    form = FlaskForm()
    if form.validate_on_submit():
        services.cancel_occurrence(session, occurrence.recurrence_id)
        db.session.commit()
        flash(
            _(
                "The meeting of %(date)s is cancelled; its invitees are being told.",
                date=_local_text(occurrence.start, session.timezone),
            ),
            "ok",
        )
        return _back(session_id)
    return render_template(
        "sessions/cancel_date.html",
        organiser=_organiser(),
        session=session,
        event=session.event,
        occurrence=occurrence,
        form=form,
    ), 400 if form.errors else 200
