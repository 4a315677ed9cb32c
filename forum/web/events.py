"""Organiser pages for events: list, create, edit, participants, and booking a session."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import LazyString
from flask_login import current_user
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import BooleanField
from wtforms import DateField
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import RadioField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput
from wtforms.widgets import ListWidget

from forum.accounts.models import Organiser
from forum.api import schemas
from forum.core import times
from forum.core.errors import Conflict
from forum.core.errors import ForumError
from forum.core.errors import ValidationFailed
from forum.core.recurrence import MAX_OCCURRENCES
from forum.core.recurrence import WEEKDAY_CODES
from forum.core.recurrence import check_series
from forum.db import now_utc
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events import services
from forum.events.models import DEFAULT_REMINDER_MINUTES
from forum.events.models import EVENT_KINDS
from forum.events.models import EVENT_STATUSES
from forum.events.models import MEETING_STATUS_LABELS
from forum.events.models import PROVIDERS
from forum.events.models import ROLE_LABELS
from forum.events.models import ROLES
from forum.events.models import SESSION_STATUS_LABELS
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import country_name
from forum.i18n import current_locale
from forum.i18n import format_date_text
from forum.i18n import format_datetime_pattern
from forum.i18n import format_number
from forum.i18n import format_time_text
from forum.i18n import ngettext
from forum.i18n import zone_text
from forum.web import bp
from forum.web.booking_preview import build_preview
from forum.web.forms import show_errors
from forum.web.forms import validated

PROVIDER_LABELS = {
    "jitsi": "Jitsi Meet",
    "zoom": "Zoom",
    "teams": "Microsoft Teams",
    "webex": "Webex",
    "google_meet": "Google Meet",
    "manual": _l("A link I give"),
}
# The provider as the events table names it: the service's own name, or what "manual" means.
PROVIDER_CODE_LABELS = {"manual": _l("manual")}
RSVP_ANSWERS = ("accepted", "tentative", "declined", "needs-action")

# Machine values as people read them: in a list to choose from (capitalised) and inside a
# page or a sentence (lower case, as the values themselves read in English).
KIND_CHOICE_LABELS = {
    "forum": _l("Forum"),
    "bilateral": _l("Bilateral"),
    "exchange": _l("Exchange"),
    "series": _l("Series"),
}
KIND_LABELS = {
    "forum": _l("forum"),
    "bilateral": _l("bilateral"),
    "exchange": _l("exchange"),
    "series": _l("series"),
}
# A poll's status as its badge on the event page.
POLL_STATUS_LABELS = {"open": _l("open"), "closed": _l("closed"), "finalized": _l("time chosen")}
EVENT_STATUS_CHOICE_LABELS = {"active": _l("Active"), "archived": _l("Archived")}
EVENT_STATUS_LABELS = {"active": _l("active"), "archived": _l("archived")}
ROLE_CHOICE_LABELS = {
    "chair": _l("Chair"),
    "speaker": _l("Speaker"),
    "participant": _l("Participant"),
    "observer": _l("Observer"),
    "interpreter": _l("Interpreter"),
}


def _label(labels: dict[str, Any], value: str | None) -> str:
    """The value's label in the reader's language; a value without one as it is."""
    if value is None:
        return ""
    return str(labels[value]) if value in labels else value


@bp.app_template_filter("kind_label")
def kind_label(value: str | None) -> str:
    return _label(KIND_LABELS, value)


@bp.app_template_filter("event_status_label")
def event_status_label(value: str | None) -> str:
    return _label(EVENT_STATUS_LABELS, value)


@bp.app_template_filter("role_label")
def role_label(value: str | None) -> str:
    return _label(ROLE_LABELS, value)


@bp.app_template_filter("session_status_label")
def session_status_label(value: str | None) -> str:
    return _label(SESSION_STATUS_LABELS, value)


@bp.app_template_filter("meeting_status_label")
def meeting_status_label(value: str | None) -> str:
    return _label(MEETING_STATUS_LABELS, value)


@bp.app_template_filter("provider_code_label")
def provider_code_label(value: str | None) -> str:
    return _label(PROVIDER_CODE_LABELS, value)


def _organiser() -> Organiser:
    return current_user._get_current_object()


def _lines(text: str | None) -> list[str]:
    """Emails typed one per line or separated by commas."""
    return [part.strip() for part in (text or "").replace(",", "\n").splitlines() if part.strip()]


# --- forms -------------------------------------------------------------------------------


class EventForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the event a title."))])
    kind = SelectField(
        _l("Kind"), choices=[SelectChoice(kind, KIND_CHOICE_LABELS[kind]) for kind in EVENT_KINDS]
    )
    timezone = StringField(
        _l("Home time zone"),
        render_kw={"list": "zone-names", "autocomplete": "off", "spellcheck": "false"},
    )
    default_provider = SelectField(
        _l("Video provider"),
        choices=[SelectChoice(name, PROVIDER_LABELS[name]) for name in PROVIDERS],
    )
    description = TextAreaField(_l("Description"), render_kw={"rows": 4})
    organisers = TextAreaField(
        _l("Co-organisers"), render_kw={"rows": 2, "spellcheck": "false", "autocomplete": "off"}
    )
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice(s, EVENT_STATUS_CHOICE_LABELS[s]) for s in EVENT_STATUSES],
    )
    reminder_minutes = StringField(
        _l("Reminders (minutes before each meeting)"),
        render_kw={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"},
    )

    def body(self, *, editing: bool) -> dict[str, Any]:
        body = {
            "title": self.title.data or "",
            "kind": self.kind.data,
            "description": self.description.data or "",
            "timezone": (self.timezone.data or "").strip() or None,
            "default_provider": self.default_provider.data,
            "organisers": _lines(self.organisers.data),
        }
        if self.reminder_minutes.raw_data:
            # Left out of the form entirely (a client of its own): the default leads stay.
            body["reminder_minutes"] = _minutes(self.reminder_minutes.data)
        if editing and "status" in self:
            body["status"] = self.status.data
        return body


def _minutes(text: str | None) -> list[Any]:
    """'1440, 60' as [1440, 60]; what is not a whole number stays text, for the API's schema
    to refuse by name."""
    words = [word for word in (text or "").replace(",", " ").split() if word]
    return [int(word) if word.isascii() and word.isdigit() else word for word in words]


def _minutes_text(minutes: list[int]) -> str:
    return ", ".join(str(value) for value in minutes)


class ParticipantForm(FlaskForm):
    institution_id = SelectField(_l("Whole institution"), coerce=str, validators=[Optional()])
    person_email = StringField(
        _l("Or one person (email)"),
        render_kw={"list": "people-emails", "autocomplete": "off", "spellcheck": "false"},
    )
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role, ROLE_CHOICE_LABELS[role]) for role in ROLES],
        default="participant",
    )
    required = BooleanField(_l("Required (the planner must fit them)"), default=True)


def weekday_name(day: dt.date) -> str:
    """The weekday written out in the reader's language: "Tuesday", "星期二", "mardi"."""
    return format_datetime_pattern(dt.datetime(day.year, day.month, day.day), "EEEE")


# A Monday, to name each weekday from.
_A_MONDAY = dt.date(2024, 1, 1)
WEEKDAY_CHOICES = [
    SelectChoice(code, LazyString(weekday_name, _A_MONDAY + dt.timedelta(days=index)))
    for index, code in enumerate(WEEKDAY_CODES)
]
REPEATS = [
    SelectChoice("", _l("Does not repeat")),
    SelectChoice("weekly", _l("Weekly")),
    SelectChoice("weeks", _l("Every few weeks")),
    SelectChoice("monthly_date", _l("Monthly on the same date (the 9th)")),
    SelectChoice("monthly_weekday", _l("Monthly on the same weekday (the second Tuesday)")),
]
ORDINALS = ("first", "second", "third", "fourth", "fifth")
MAX_WEEKS_APART = 52


def long_date(day: dt.date) -> str:
    """A date as a sentence says it: "Sunday 7 November 2027"."""
    return format_date_text(day, long=True)


def _day_month_year(day: dt.date) -> str:
    """A date without its weekday, as English says it here ("09 March 2027"); the other
    languages write their long date."""
    if current_locale() == "en":
        return f"{day:%d %B %Y}"
    return format_date_text(day, long=True)


class BookForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the session a title."))])
    local_start = StringField(_l("Starts"), render_kw={"type": "datetime-local"})
    timezone = StringField(
        _l("in time zone"),
        render_kw={"list": "zone-names", "autocomplete": "off", "spellcheck": "false"},
    )
    # From the planner: the slot's UTC start, which needs no zone.
    start = HiddenField()
    # Offered only when the local start happens twice: which of the two instants.
    fold = RadioField(_l("Which one?"), choices=[], validate_choice=False, validators=[Optional()])
    duration_minutes = IntegerField(
        _l("Length (minutes)"),
        validators=[DataRequired(_l("Give the length in minutes."))],
        render_kw={"min": 1, "max": 1440, "inputmode": "numeric"},
    )
    repeat = SelectField(_l("How often"), choices=REPEATS, default="")
    weeks_apart = IntegerField(
        _l("Every how many weeks"),
        validators=[Optional()],
        default=2,
        render_kw={"min": 2, "max": MAX_WEEKS_APART, "inputmode": "numeric"},
    )
    weekdays = SelectMultipleField(
        _l("On"),
        choices=WEEKDAY_CHOICES,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    month_position = RadioField(
        _l("Which weekday of the month"),
        choices=[
            SelectChoice("nth", _l("Counted from the start of the month (the second Tuesday)")),
            SelectChoice("last", _l("The last one of the month (the last Friday)")),
        ],
        default="nth",
    )
    ends = RadioField(
        _l("Ends"),
        choices=[
            SelectChoice("count", _l("After a number of dates")),
            SelectChoice("until", _l("On a date")),
        ],
        default="count",
    )
    count = IntegerField(
        _l("Number of dates"),
        validators=[Optional()],
        default=10,
        render_kw={"min": 1, "max": MAX_OCCURRENCES, "inputmode": "numeric"},
    )
    until = DateField(_l("Last date"), validators=[Optional()])
    skip_invalid_local_times = BooleanField(
        _l("Leave out the dates whose local time does not exist or happens twice")
    )
    provider = SelectField(
        _l("Video provider"),
        choices=[SelectChoice(name, PROVIDER_LABELS[name]) for name in PROVIDERS],
    )
    join_url = StringField(
        _l("Meeting link (for “A link I give”)"), render_kw={"type": "url", "spellcheck": "false"}
    )
    allow_conflicts = BooleanField(_l("Book even if a chair or speaker is busy then"))
    confirm_past = BooleanField(_l("Yes, book it in the past; the invitations will be sent"))

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "title": self.title.data or "",
            "duration_minutes": self.duration_minutes.data,
            "provider": self.provider.data,
            "allow_conflicts": bool(self.allow_conflicts.data),
            "skip_invalid_local_times": bool(self.skip_invalid_local_times.data),
        }
        if self.start.data:
            body["start"] = self.start.data
            body["timezone"] = (self.timezone.data or "").strip() or None
        else:
            body["local_start"] = self.local_start.data or None
            body["timezone"] = (self.timezone.data or "").strip() or None
            if not body["local_start"]:
                raise ValidationFailed({"local_start": _("Give the date and time it starts.")})
        if self.fold.data in ("0", "1"):
            body["fold"] = int(self.fold.data)
        if (self.join_url.data or "").strip():
            body["join_url"] = self.join_url.data.strip()
        return body

    def rrule(self, local_start: dt.datetime) -> str | None:
        """The series' rule (RFC 5545) from the repeat fields, for a first date at
        ``local_start`` (wall clock); None for a one-off. Problems name the form's fields.

        The first date is always a date of the rule, as calendars expect of DTSTART: a
        weekly series includes its first weekday, a monthly one its first date's day or
        weekday position.
        """
        repeat = self.repeat.data or ""
        if not repeat:
            return None
        start_day = WEEKDAY_CODES[local_start.weekday()]
        if repeat in ("weekly", "weeks"):
            days = [code for code in WEEKDAY_CODES if code in (self.weekdays.data or [])]
            if days and start_day not in days:
                raise ValidationFailed(
                    {
                        "weekdays": _(
                            "The first date is a %(weekday)s: tick %(weekday)s too, or start "
                            "on one of the days ticked.",
                            weekday=weekday_name(local_start),
                        )
                    }
                )
            parts = ["FREQ=WEEKLY"]
            if repeat == "weeks":
                apart = self.weeks_apart.data
                if apart is None or not 2 <= apart <= MAX_WEEKS_APART:
                    raise ValidationFailed(
                        {
                            "weeks_apart": _(
                                "Give the weeks between dates, from 2 to %(most)d.",
                                most=MAX_WEEKS_APART,
                            )
                        }
                    )
                parts.append(f"INTERVAL={apart}")
            parts.append("BYDAY=" + ",".join(days or [start_day]))
        elif repeat == "monthly_date":
            parts = ["FREQ=MONTHLY", f"BYMONTHDAY={local_start.day}"]
        elif repeat == "monthly_weekday":
            parts = ["FREQ=MONTHLY", f"BYDAY={self._month_position(local_start)}{start_day}"]
        else:
            raise ValidationFailed({"repeat": _("Choose how the session repeats.")})
        parts.append(self._end_part(local_start))
        return ";".join(parts)

    def _month_position(self, local_start: dt.datetime) -> str:
        """ "2" for the second such weekday of the month, "-1" for the last one."""
        month_length = calendar.monthrange(local_start.year, local_start.month)[1]
        is_last = local_start.day + 7 > month_length
        if self.month_position.data == "last":
            if not is_last:
                raise ValidationFailed(
                    {
                        "month_position": _(
                            "%(date)s is not the last %(weekday)s of its month: choose the "
                            "other option, or start on the last one.",
                            date=long_date(local_start),
                            weekday=weekday_name(local_start),
                        )
                    }
                )
            return "-1"
        nth = (local_start.day - 1) // 7 + 1
        if nth == 5:
            raise ValidationFailed(
                {
                    "month_position": _(
                        "%(date)s is the fifth %(weekday)s of its month, which most months do "
                        "not have: choose the last one of the month.",
                        date=long_date(local_start),
                        weekday=weekday_name(local_start),
                    )
                }
            )
        return str(nth)

    def _end_part(self, local_start: dt.datetime) -> str:
        if self.ends.data == "until":
            if self.until.data is None:
                raise ValidationFailed(
                    {"until": _("Give the last date (or end after a number of dates).")}
                )
            if self.until.data < local_start.date():
                raise ValidationFailed(
                    {
                        "until": _(
                            "The last date is before the first (%(date)s).",
                            date=_day_month_year(local_start),
                        )
                    }
                )
            # The whole last day, in the series' own wall clock.
            return f"UNTIL={self.until.data:%Y%m%d}T235959"
        if self.count.data is None or self.count.data < 1:
            raise ValidationFailed({"count": _("Give the number of dates, 1 or more.")})
        return f"COUNT={self.count.data}"

    def series_problem(self, error: ValidationFailed) -> dict[str, str]:
        """A refused rule in the form's words, next to the field that can fix it."""
        details = error.details or {}
        until = self.ends.data == "until"
        if details.get("occurrences") == 0:
            field = "until" if until else "repeat"
            return {field: _("These choices give no date: check the weekdays and the last date.")}
        if "max_occurrences" in details:
            counted = details.get("occurrences", 0)
            most = format_number(details["max_occurrences"])
            if counted < 100_000:
                message = _(
                    "That makes %(count)s dates; a series has at most %(most)s.",
                    count=format_number(counted),
                    most=most,
                )
            else:
                message = _(
                    "That makes more than %(count)s dates; a series has at most %(most)s.",
                    count=format_number(100_000),
                    most=most,
                )
            return {"until" if until else "count": message}
        if error.code in ("nonexistent_local_time", "ambiguous_local_time") and "dates" in details:
            local = dt.datetime.fromisoformat(details["local_times"][0])
            dates = ", ".join(
                format_date_text(dt.date.fromisoformat(day)) for day in details["dates"]
            )
            return {
                "skip_invalid_local_times": _(
                    "The series meets at %(time)s, which the clocks in %(zone)s skip or repeat "
                    "on %(dates)s. Choose another time, or tick “Leave out…” to book the series "
                    "without those dates.",
                    time=format_time_text(local),
                    zone=details["timezone"],
                    dates=dates,
                )
            }
        return {"repeat": error.message}


# --- what the pages show -------------------------------------------------------------------


@dataclass(frozen=True)
class SiteGroup:
    """Participants of one institution (or the unaffiliated), for the event page."""

    name: str
    timezone: str
    participants: list[EventParticipant]


@dataclass(frozen=True)
class CountryGroup:
    code: str
    name: str
    sites: list[SiteGroup]


def participants_by_country(participants: list[EventParticipant]) -> list[CountryGroup]:
    """Countries by name, institutions by name, people by name; the unaffiliated last."""
    by_site: dict[Institution | None, list[EventParticipant]] = defaultdict(list)
    for participant in participants:
        by_site[participant.person.institution].append(participant)
    countries: dict[str, list[SiteGroup]] = defaultdict(list)
    for institution, members in by_site.items():
        members.sort(key=lambda p: (p.person.name.casefold(), p.person.id))
        if institution is None:
            countries[""].append(SiteGroup(_("No institution"), "", members))
        else:
            countries[institution.country].append(
                SiteGroup(institution.name, institution.timezone, members)
            )
    groups = [
        CountryGroup(
            code,
            country_name(code) if code else _("Elsewhere"),
            sorted(sites, key=lambda site: site.name.casefold()),
        )
        for code, sites in countries.items()
    ]
    groups.sort(key=lambda group: (not group.code, group.name))
    return groups


def rsvp_counts(session_ids: list[int]) -> dict[int, Counter[str]]:
    """Each session's answers counted, in one query: {session_id: {"accepted": 3, ...}}."""
    counts: dict[int, Counter[str]] = {session_id: Counter() for session_id in session_ids}
    if not session_ids:
        return counts
    rows = db.session.execute(
        sa.select(Invitation.session_id, Invitation.rsvp, sa.func.count())
        .where(Invitation.session_id.in_(session_ids))
        .group_by(Invitation.session_id, Invitation.rsvp)
    )
    for session_id, answer, count in rows:
        counts[session_id][answer] = count
    return counts


def _event(event_id: int) -> Event:
    """The organiser's event; another's is the 404 page (the error handler renders it)."""
    return services.get_event_for(_organiser(), event_id)


# --- events ------------------------------------------------------------------------------


@bp.get("/events")
@login_required
def events():
    return render_template(
        "events/list.html",
        organiser=_organiser(),
        events=services.event_summaries(_organiser()),
    )


def _save_event(form: EventForm, event: Event | None) -> Event | None:
    """The event created or changed, or None with the problems on the form's fields."""
    schema = schemas.EventUpdate if event else schemas.EventCreate
    body = validated(schema, form.body(editing=event is not None), form)
    if body is None:
        return None
    try:
        if event is None:
            event = services.create_event(actor=_organiser(), **body.model_dump())
        else:
            services.update_event(event, body.model_dump(exclude_unset=True))
    except ValidationFailed as exc:
        db.session.rollback()
        show_errors(form, exc.fields)
        return None
    db.session.commit()
    return event


@bp.route("/events/new", methods=["GET", "POST"])
@login_required
def new_event():
    form = EventForm()
    del form.status  # a new event is active
    if request.method == "GET":
        form.timezone.data = _organiser().timezone
        form.reminder_minutes.data = _minutes_text(list(DEFAULT_REMINDER_MINUTES))
    if form.validate_on_submit() and (event := _save_event(form, None)):
        flash(_("Event “%(title)s” created. Now add its participants.", title=event.title), "ok")
        return redirect(url_for("web.event_page", event_id=event.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("events/form.html", form=form, event=None), status


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@login_required
def edit_event(event_id: int):
    event = _event(event_id)
    form = EventForm(obj=None if request.method == "POST" else event)
    if request.method == "GET":
        form.organisers.data = "\n".join(o.email for o in event.co_organisers)
        form.reminder_minutes.data = _minutes_text(event.reminder_minutes or [])
    if form.validate_on_submit() and _save_event(form, event):
        flash(_("Event saved."), "ok")
        return redirect(url_for("web.event_page", event_id=event.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("events/form.html", form=form, event=event), status


def _event_page(event: Event, form: ParticipantForm, status: int = 200):
    organiser = _organiser()
    participants = db.session.scalars(
        services.participants_of(event).options(
            selectinload(EventParticipant.person).selectinload(Person.institution)
        )
    ).all()
    sessions = db.session.scalars(
        services.sessions_of(event).options(selectinload(EventSession.meeting))
    ).all()
    institutions = db.session.scalars(sa.select(Institution).order_by(Institution.name)).all()
    form.institution_id.choices = [SelectChoice("", _("— choose —"))] + [
        SelectChoice(str(i.id), f"{i.name} ({i.country})") for i in institutions
    ]
    people = db.session.execute(
        sa.select(Person.email, Person.name).order_by(Person.name).limit(2000)
    ).all()
    return render_template(
        "events/page.html",
        organiser=organiser,
        event=event,
        now=now_utc(),
        countries=participants_by_country(list(participants)),
        participant_count=len(participants),
        sessions=sessions,
        rsvps=rsvp_counts([s.id for s in sessions]),
        form=form,
        people=people,
        provider_labels=PROVIDER_LABELS,
        poll_status_labels=POLL_STATUS_LABELS,
    ), status


@bp.get("/events/<int:event_id>")
@login_required
def event_page(event_id: int):
    return _event_page(_event(event_id), ParticipantForm())


@bp.post("/events/<int:event_id>/participants")
@login_required
def add_participants_page(event_id: int):
    event = _event(event_id)
    form = ParticipantForm()
    form.institution_id.choices = None  # checked by the service, not against a list
    form.institution_id.validate_choice = False
    if not form.validate_on_submit():
        return _event_page(event, form, 422)
    email = (form.person_email.data or "").strip()
    target: dict[str, Any] = {"role": form.role.data, "required": bool(form.required.data)}
    try:
        if email and form.institution_id.data:
            raise ValidationFailed(
                {"person_email": _("Choose an institution or a person, not both.")}
            )
        if email:
            person = db.session.scalar(
                sa.select(Person).where(sa.func.lower(Person.email) == email.lower()).limit(1)
            )
            if person is None:
                raise ValidationFailed(
                    {"person_email": _("No one in the directory has %(email)s.", email=email)}
                )
            target["person_id"] = person.id
        elif form.institution_id.data and form.institution_id.data.isdigit():
            target["institution_id"] = int(form.institution_id.data)
        else:
            raise ValidationFailed({"institution_id": _("Choose an institution or give an email.")})
        added = services.add_participants(event, **target)
    except ValidationFailed as exc:
        db.session.rollback()
        show_errors(
            form, {"person_email" if k == "person_id" else k: v for k, v in exc.fields.items()}
        )
        return _event_page(event, form, 422)
    db.session.commit()
    flash(
        ngettext(
            "%(num)d person added as %(role)s.",
            "%(num)d people added as %(role)s.",
            len(added),
            role=role_label(target["role"]),
        ),
        "ok",
    )
    return redirect(url_for("web.event_page", event_id=event.id) + "#participants-heading", 303)


@bp.post("/events/<int:event_id>/participants/<int:person_id>/remove")
@login_required
def remove_participant_page(event_id: int, person_id: int):
    event = _event(event_id)
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.remove_participant(event, person_id)
    except ForumError:
        abort(404)
    db.session.commit()
    flash(
        _("Participant removed from the event (sessions already booked keep their invitees)."),
        "ok",
    )
    return redirect(url_for("web.event_page", event_id=event.id) + "#participants-heading", 303)


# --- booking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    """What the form asks to book, checked as the API checks it, not yet written."""

    body: schemas.SessionCreate
    start: dt.datetime  # UTC
    end: dt.datetime
    timezone: str  # the series' anchor zone
    rrule: str | None


def _fold_choices(form: BookForm, details: dict[str, Any]) -> dt.datetime:
    """Offer both instants of a local time that happens twice ("01:30 EDT, 05:30 UTC");
    the local time is returned."""
    zone = times.get_zone(details["timezone"])
    choices = []
    for fold, text in enumerate(details["instants"]):
        instant = times.parse_instant(text)
        local = instant.astimezone(zone)
        choices.append(
            SelectChoice(
                str(fold),
                f"{format_time_text(local)} {local.tzname()}, {format_time_text(instant)} UTC",
            )
        )
    form.fold.choices = choices
    return dt.datetime.fromisoformat(details["local_time"])


def _explain_local_time(form: BookForm, error: ValidationFailed) -> None:
    """A start the clocks skip or repeat, in plain words next to the start."""
    details = error.details or {}
    if error.code == "ambiguous_local_time":
        local = _fold_choices(form, details)
        form.fold.errors = [
            _(
                "%(time)s happens twice in %(zone)s on %(date)s, as the clocks go back that "
                "night: choose which of the two.",
                time=format_time_text(local),
                zone=details["timezone"],
                date=long_date(local),
            )
        ]
    elif error.code == "nonexistent_local_time":
        local = dt.datetime.fromisoformat(details["local_time"])
        gap_start = dt.datetime.fromisoformat(details["gap_start"])
        gap_end = dt.datetime.fromisoformat(details["gap_end"])
        form.local_start.errors = [
            _(
                "%(time)s does not exist in %(zone)s on %(date)s: the clocks jump from "
                "%(gap_start)s to %(gap_end)s that night. Choose a time before %(gap_start)s "
                "or from %(gap_end)s.",
                time=format_time_text(local),
                zone=details["timezone"],
                date=long_date(local),
                gap_start=format_time_text(gap_start),
                gap_end=format_time_text(gap_end),
            )
        ]
    else:
        show_errors(form, error.fields)


def checked_booking(event: Event, form: BookForm) -> Booking | None:
    """The booking the form asks for, checked by the API's schema and the services' own
    time and series rules; None with the problems on the form. Nothing is written."""
    try:
        fields = form.body()
    except ValidationFailed as exc:
        show_errors(form, exc.fields)
        return None
    body = validated(schemas.SessionCreate, fields, form)
    if body is None:
        return None
    try:
        start, zone = times.resolve_start(
            start=body.start,
            local_start=body.local_start,
            timezone=body.timezone,
            fold=body.fold,
            default_timezone=event.timezone,
        )
    except ValidationFailed as exc:
        _explain_local_time(form, exc)
        return None
    if body.local_start is not None and body.fold is not None:
        try:  # keep offering the choice made, so that it can be changed
            times.resolve_local(body.local_start, zone)
        except ValidationFailed as exc:
            if exc.code == "ambiguous_local_time":
                _fold_choices(form, exc.details)
    try:
        rrule = form.rrule(times.to_local(start, zone))
        if rrule:
            # Bounds and the first date's fold; dates the clocks skip or repeat are listed
            # by the preview and refused (or left out) by the booking itself.
            check_series(
                start=start, timezone=zone, rrule=rrule, exdates=[], skip_invalid_local_times=True
            )
    except ValidationFailed as exc:
        if "fold" in exc.fields:
            form.fold.errors = [
                _(
                    "A repeating session at a time that happens twice keeps the first of the "
                    "two, as calendars read it: choose the first."
                )
            ]
        elif "rrule" in exc.fields:
            show_errors(form, form.series_problem(exc))
        else:
            show_errors(form, exc.fields)
        return None
    if rrule:
        body = validated(schemas.SessionCreate, {**fields, "rrule": rrule}, form)
        if body is None:
            return None
    end = start + dt.timedelta(minutes=body.duration_minutes or 0)
    return Booking(body=body, start=start, end=end, timezone=zone, rrule=rrule)


def book(
    event: Event, form: BookForm, booking: Booking
) -> tuple[EventSession | None, dict[str, Any] | None]:
    """Book through the same service as the API: the session, or None with the problems
    on the form.

    A clash with a chair's or speaker's other session comes back as the conflict's
    details, so the page can show it and offer to book anyway.
    """
    try:
        session = services.create_session(
            event, actor=_organiser(), **booking.body.model_dump(exclude_unset=True)
        )
    except Conflict as exc:
        db.session.rollback()
        form.form_errors.append(exc.message)
        return None, exc.details
    except ValidationFailed as exc:
        db.session.rollback()
        show_errors(form, form.series_problem(exc) if "rrule" in exc.fields else exc.fields)
        return None, None
    db.session.commit()
    return session, None


def invitee_roles(event: Event) -> dict[int, str]:
    """The event's participants as the booking invites them: {person_id: role}."""
    rows = db.session.execute(
        sa.select(EventParticipant.person_id, EventParticipant.role).where(
            EventParticipant.event_id == event.id
        )
    )
    return {person_id: role for person_id, role in rows}


def session_page_url(session: EventSession) -> str:
    return url_for("web.session_page", session_id=session.id)


def _in_the_past(form: BookForm, booking: Booking) -> bool:
    """A start in the past is booked only once confirmed (its invitations still go out)."""
    if booking.start >= now_utc() or form.confirm_past.data:
        return False
    when = times.to_local(booking.start, booking.timezone)
    form.confirm_past.errors = [
        _(
            "This starts on %(date)s at %(time)s (%(zone)s), which is in the past. Tick the box "
            "to book it all the same.",
            date=long_date(when),
            time=format_time_text(when),
            zone=zone_text(booking.timezone),
        )
    ]
    return True


@bp.route("/events/<int:event_id>/sessions/new", methods=["GET", "POST"])
@login_required
def book_session(event_id: int):
    """The booking form; "Preview dates" shows every date first and writes nothing."""
    event = _event(event_id)
    form = BookForm()
    conflict = preview = None
    status = 200
    if request.method == "GET":
        form.timezone.data = event.timezone
        form.provider.data = event.default_provider
        form.duration_minutes.data = 60
        form.title.data = event.title
    elif not form.validate_on_submit() or (booking := checked_booking(event, form)) is None:
        status = 422
    elif "preview" in request.form:
        preview = build_preview(
            _organiser(),
            start=booking.start,
            end=booking.end,
            timezone=booking.timezone,
            rrule=booking.rrule,
            roles=invitee_roles(event),
            leave_out=bool(form.skip_invalid_local_times.data),
        )
        if booking.start < now_utc():
            form.confirm_past.errors = [
                _("This starts in the past: tick the box to book it all the same.")
            ]
    elif _in_the_past(form, booking):
        status = 422
    else:
        session, conflict = book(event, form, booking)
        if session is not None:
            flash(
                _(
                    "“%(title)s” is booked; invitations go out once the meeting is open.",
                    title=session.title,
                ),
                "ok",
            )
            return redirect(session_page_url(session), 303)
        status = 409 if conflict else 422
    return render_template(
        "events/book.html",
        event=event,
        form=form,
        conflict=conflict,
        preview=preview,
        viewer_zone=_organiser().timezone,
    ), status
