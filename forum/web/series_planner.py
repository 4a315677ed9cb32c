"""The series planner page: a fair rotation of a series' start times, and its DST preview.

Planning writes nothing, so the form is a GET without a CSRF token: a plan can be
bookmarked and shared, and reloading it asks nothing of the browser. The options are
checked by the API's own schemas (RotationRequest, DstPreviewRequest), so the page and
``POST /api/v1/scheduling/rotation`` refuse and answer the same input alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import DateField
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import NumberRange
from wtforms.validators import Optional
from wtforms.validators import ValidationError

from forum.accounts.models import Organiser
from forum.api import schemas
from forum.core import times
from forum.core.errors import Conflict
from forum.core.errors import ValidationFailed
from forum.db import now_utc
from forum.events import rotation_booking
from forum.events import series_planning
from forum.events import services
from forum.events.explanations import CATEGORY_LABELS
from forum.events.models import PROVIDERS
from forum.events.models import Event
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import ngettext
from forum.scheduling.rotation import MAX_OCCURRENCES
from forum.web import bp
from forum.web import zone_picker  # noqa: F401  (the zone fields' choices, templates/events/zones.html)
from forum.web.events import PROVIDER_LABELS
from forum.web.forms import show_errors
from forum.web.forms import validated
from forum.web.planner import PlanningForm
from forum.web.planner import facts_label

MAX_INTERVAL_DAYS = 31
# Where the services' field names differ from the form's (the preview's first local start
# is the first date at the chosen time; its rule comes from the frequency and count).
FIELD_OF = {"local_start": "local_time", "rrule": "interval_days", "fold": "local_time"}


def _known_zone(form: FlaskForm, field: StringField) -> None:
    if (field.data or "").strip():
        try:
            times.check_zone_name(field.data.strip())
        except times.InvalidTime as exc:
            raise ValidationError(str(exc)) from None


class SeriesPlannerForm(PlanningForm):
    """The series' options, named as the API's fields."""

    first_date = DateField(_l("First date"), validators=[InputRequired(_l("Give the first date."))])
    occurrences = IntegerField(
        _l("Occurrences"),
        validators=[
            InputRequired(_l("Give the number of occurrences.")),
            NumberRange(
                1, MAX_OCCURRENCES, _l("From 1 to %(most)s occurrences.", most=MAX_OCCURRENCES)
            ),
        ],
        default=6,
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_OCCURRENCES},
    )
    interval_days = IntegerField(
        _l("Every (days)"),
        validators=[
            InputRequired(_l("Give the days between occurrences.")),
            NumberRange(
                1, MAX_INTERVAL_DAYS, _l("From 1 to %(most)s days.", most=MAX_INTERVAL_DAYS)
            ),
        ],
        default=7,
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_INTERVAL_DAYS},
    )
    timezone = StringField(
        _l("Series' time zone"),
        validators=[_known_zone],
        render_kw={"list": "zone-names", "autocomplete": "off", "spellcheck": "false"},
    )
    local_time = TimeField(
        _l("Keep the series at (for the DST preview)"),
        validators=[Optional()],
    )
    # Tells a submitted form (unticked boxes send nothing) from a first visit.
    planned = HiddenField(default="1")


class RotationBookForm(FlaskForm):
    """Booking the planned rotation: what the series is called and where it meets.

    ``starts`` holds the UTC starts the organiser confirmed; the plan is made again when
    booking, and a plan that came out otherwise (someone's hours or holidays changed
    meanwhile) is shown to confirm again rather than booked unseen.
    """

    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the series a title."))])
    provider = SelectField(
        _l("Video provider"),
        choices=[SelectChoice(name, PROVIDER_LABELS[name]) for name in PROVIDERS],
    )
    join_url = StringField(
        _l("Meeting link (for “A link I give”)"),
        render_kw={"type": "url", "spellcheck": "false"},
    )
    allow_conflicts = BooleanField(_l("Book even if a chair or speaker is busy then"))
    starts = HiddenField()
    # "confirm" shows the dates to book; "book" books them.
    step = HiddenField(default="confirm")


# --- what the tables show ------------------------------------------------------------------


@dataclass(frozen=True)
class SiteColumn:
    key: str
    name: str
    country: str | None


@dataclass(frozen=True)
class SiteCell:
    local: dt.datetime  # the site's wall-clock start
    category: str
    cost: int
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class OccurrenceRow:
    local: dt.datetime  # wall-clock start in the series' zone
    start: dt.datetime  # UTC
    feasible: bool
    cells: tuple[SiteCell, ...]  # in the order of the site columns


@dataclass(frozen=True)
class ClockChange:
    zone: str
    local_before: dt.datetime  # the zone's wall clock just before the change, and after
    local_after: dt.datetime
    minutes: int  # forward (more than 0) or back


@dataclass(frozen=True)
class ShiftRun:
    """Consecutive occurrences at which a site's local time moved by the same amount."""

    first: dt.datetime  # the series' wall-clock start of the first and last occurrence
    last: dt.datetime
    count: int
    local: dt.datetime  # the site's wall-clock start at the first of them
    minutes: int
    changes: tuple[ClockChange, ...] = ()  # the clock changes that moved it


@dataclass(frozen=True)
class DstRow:
    name: str
    timezone: str
    first: dt.datetime  # the site's wall-clock start at the first occurrence
    runs: tuple[ShiftRun, ...]


def _local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def rotation_tables(plan: dict[str, Any]) -> tuple[list[SiteColumn], list[OccurrenceRow]]:
    """The rotation answer as a column per site (heaviest burden first), a row per date."""
    columns = [SiteColumn(s["site"], s["name"], s["country"]) for s in plan["sites"]]
    rows = []
    for occurrence in plan["occurrences"]:
        by_site = {row["site"]: row for row in occurrence["sites"]}
        rows.append(
            OccurrenceRow(
                local=_local(occurrence["local_start"]),
                start=times.parse_instant(occurrence["start"]),
                feasible=occurrence["feasible"],
                cells=tuple(
                    SiteCell(
                        _local(by_site[c.key]["local_start"]),
                        by_site[c.key]["category"],
                        by_site[c.key]["cost"],
                        tuple(by_site[c.key]["categories"]),
                    )
                    for c in columns
                ),
            )
        )
    return columns, rows


def shift_runs(stretches: list[dict[str, Any]]) -> tuple[ShiftRun, ...]:
    """A site's stretches of moved occurrences, with the clock changes behind each."""
    return tuple(
        ShiftRun(
            first=_local(stretch["first"]["anchor_local_start"]),
            last=_local(stretch["last"]["anchor_local_start"]),
            count=stretch["occurrences"],
            local=_local(stretch["first"]["local_start"]),
            minutes=stretch["shift_minutes"],
            changes=tuple(
                ClockChange(
                    zone=change["zone"],
                    local_before=_local(change["local_before"]),
                    local_after=_local(change["local_after"]),
                    minutes=change["minutes"],
                )
                for change in stretch["clock_changes"]
            ),
        )
        for stretch in stretches
    )


def dst_rows(preview: dict[str, Any]) -> list[DstRow]:
    """The preview answer as a row per site (the sites that move most first)."""
    return [
        DstRow(
            name=site["name"],
            timezone=site["timezone"],
            first=_local(site["first_local_start"]),
            runs=shift_runs(site["stretches"]),
        )
        for site in preview["sites"]
    ]


# --- the page ------------------------------------------------------------------------------


def _show(form: SeriesPlannerForm, exc: ValidationFailed) -> None:
    show_errors(form, {FIELD_OF.get(name, name): problem for name, problem in exc.fields.items()})


def _plan(
    organiser: Organiser, event: Event, form: SeriesPlannerForm
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The rotation and the DST preview for the form's options; None where refused."""
    request_body = {
        "event_id": event.id,
        "duration_minutes": form.duration_minutes.data,
        "first_date": form.first_date.data.isoformat(),
        "occurrences": form.occurrences.data,
        "interval_days": form.interval_days.data,
        "timezone": (form.timezone.data or "").strip() or None,
        "step_minutes": form.step_minutes.data,
        "skip_weekends": bool(form.skip_weekends.data),
        "skip_holidays": bool(form.skip_holidays.data),
    }
    body = validated(schemas.RotationRequest, request_body, form)
    if body is None:
        return None, None
    try:
        plan = series_planning.rotation(organiser, **body.model_dump())
    except ValidationFailed as exc:
        _show(form, exc)
        return None, None

    # The preview keeps one local time: the one asked for, else the best fixed time,
    # else the rotation's first.
    if form.local_time.data is not None:
        keep = form.local_time.data.strftime("%H:%M")
    elif plan["fixed"] is not None:
        keep = plan["fixed"]["local_time"]
    else:
        keep = plan["occurrences"][0]["local_start"][11:16]
    preview_body = {
        "event_id": event.id,
        "local_start": f"{form.first_date.data.isoformat()}T{keep}",
        "timezone": plan["timezone"],
        "duration_minutes": form.duration_minutes.data,
        "rrule": f"FREQ=DAILY;INTERVAL={form.interval_days.data};COUNT={form.occurrences.data}",
    }
    preview_request = validated(schemas.DstPreviewRequest, preview_body, form)
    preview = None
    if preview_request is not None:
        try:
            preview = series_planning.dst_preview(organiser, **preview_request.model_dump())
        except ValidationFailed as exc:
            _show(form, exc)
    return plan, preview


@bp.get("/events/<int:event_id>/series-planner")
@login_required
def series_planner(event_id: int):
    organiser = current_user._get_current_object()
    event = services.get_event_for(organiser, event_id)
    submitted = bool(request.args.get("planned"))
    if submitted:
        form = SeriesPlannerForm(request.args)
    else:
        form = SeriesPlannerForm(formdata=None)
        next_week = times.to_local(now_utc(), event.timezone).date() + dt.timedelta(days=7)
        form.first_date.data = next_week
        form.timezone.data = event.timezone

    plan = preview = None
    status = 200
    if submitted:
        if form.validate():
            plan, preview = _plan(organiser, event, form)
        if form.errors or form.form_errors:
            status = 422

    columns: list[SiteColumn] = []
    rows: list[OccurrenceRow] = []
    fixed_totals: dict[str, int] = {}
    if plan is not None:
        columns, rows = rotation_tables(plan)
        if plan["fixed"] is not None:
            fixed_totals = {s["site"]: s["total"] for s in plan["fixed"]["sites"]}
    shifts: list[DstRow] = []
    preview_start = None
    if preview is not None:
        shifts = dst_rows(preview)
        preview_start = times.parse_instant(preview["start"])
    return (
        render_template(
            "planner/series.html",
            event=event,
            organiser=organiser,
            form=form,
            plan=plan,
            columns=columns,
            rows=rows,
            fixed_totals=fixed_totals,
            preview=preview,
            preview_start=preview_start,
            shifts=shifts,
            plan_options=plan_options(form),
            category_labels=CATEGORY_LABELS,
            facts_label=facts_label,
        ),
        status,
    )


# --- booking the rotation ------------------------------------------------------------------


@dataclass(frozen=True)
class BookedDate:
    start: dt.datetime  # the rotation's start, UTC
    rule_start: dt.datetime | None  # the rule's start of that date, where the rotation moves it
    feasible: bool
    rule_local: dt.datetime | None = None  # that start on the series' wall clock


def _starts_text(starts: list[dt.datetime]) -> str:
    return " ".join(times.format_instant(start) for start in starts)


def _book(
    organiser: Organiser,
    event: Event,
    planner: SeriesPlannerForm,
    form: RotationBookForm,
    starts: list[dt.datetime],
    timezone: str,
) -> tuple[Any, dict[str, Any] | None]:
    """Book the confirmed rotation: the session, or None with the problems on the form.

    A clash comes back as the conflict's details, as booking one session shows it.
    """
    join_url = (form.join_url.data or "").strip() or None
    try:
        session = rotation_booking.book_rotation(
            event,
            actor=organiser,
            title=form.title.data.strip(),
            starts=starts,
            timezone=timezone,
            interval_days=planner.interval_days.data,
            duration_minutes=planner.duration_minutes.data,
            provider=form.provider.data,
            join_url=join_url,
            allow_conflicts=bool(form.allow_conflicts.data),
        )
    except Conflict as exc:
        db.session.rollback()
        form.form_errors.append(exc.message)
        return None, exc.details
    except ValidationFailed as exc:
        db.session.rollback()
        show_errors(form, exc.fields)
        if not exc.fields:
            form.form_errors.append(exc.message)
        return None, None
    db.session.commit()
    return session, None


@bp.post("/events/<int:event_id>/series-planner/book")
@login_required
def book_rotation(event_id: int):
    """Confirm the planned rotation's dates, then book them as one series."""
    organiser = current_user._get_current_object()
    event = services.get_event_for(organiser, event_id)
    planner = SeriesPlannerForm(request.form)
    form = RotationBookForm()
    confirming = form.step.data != "book"
    if confirming:
        form.title.data = form.title.data or event.title
        form.provider.data = form.provider.data or event.default_provider
    valid = form.validate_on_submit()
    plan = None
    # The dates are shown again whatever else is wrong with the form, but never planned
    # for a request that did not come from the page.
    if not form.csrf_token.errors and planner.validate():
        plan, _preview = _plan(organiser, event, planner)
    if plan is None:
        if planner.errors or planner.form_errors:
            form.form_errors.append(_("The plan's options were refused: plan the series again."))
        return _confirm_page(organiser, event, planner, form, None, None, status=422)

    starts = [times.parse_instant(o["start"]) for o in plan["occurrences"]]
    conflict = None
    status = 200
    if not confirming and valid:
        if form.starts.data != _starts_text(starts):
            form.form_errors.append(
                _(
                    "The rotation came out otherwise than the dates you confirmed (someone's "
                    "hours or holidays changed meanwhile): check its dates again."
                )
            )
            status = 409
        else:
            session, conflict = _book(organiser, event, planner, form, starts, plan["timezone"])
            if session is not None:
                flash(
                    ngettext(
                        "“%(title)s” is booked as one series of %(num)d dates; "
                        "invitations go out once the meeting is open.",
                        "“%(title)s” is booked as one series of %(num)d dates; "
                        "invitations go out once the meeting is open.",
                        len(starts),
                        title=session.title,
                    ),
                    "ok",
                )
                return redirect(url_for("web.session_page", session_id=session.id), 303)
            status = 409 if conflict else 422
    elif not confirming:
        status = 422
    form.starts.data = _starts_text(starts)
    return _confirm_page(organiser, event, planner, form, plan, conflict, status=status)


def _confirm_page(
    organiser: Organiser,
    event: Event,
    planner: SeriesPlannerForm,
    form: RotationBookForm,
    plan: dict[str, Any] | None,
    conflict: dict[str, Any] | None,
    *,
    status: int,
):
    series = None
    dates: list[BookedDate] = []
    if plan is not None:
        starts = [times.parse_instant(o["start"]) for o in plan["occurrences"]]
        try:
            series = rotation_booking.series_for(
                starts, timezone=plan["timezone"], interval_days=planner.interval_days.data
            )
        except ValidationFailed as exc:
            form.form_errors.append(exc.message)
        moved = dict((start, rule) for rule, start in series.moved) if series else {}
        dates = [
            BookedDate(
                start,
                moved.get(start),
                o["feasible"],
                times.to_local(moved[start], plan["timezone"]) if start in moved else None,
            )
            for start, o in zip(starts, plan["occurrences"], strict=True)
        ]
    if conflict is not None:
        # The clashes' times as instants, written for the reader on the page.
        conflict = {
            **conflict,
            "conflicts": [
                {
                    **clash,
                    "start": times.parse_instant(clash["start"]),
                    "end": times.parse_instant(clash["end"]),
                }
                for clash in conflict.get("conflicts", [])
            ],
        }
    form.step.data = "book"
    return (
        render_template(
            "planner/series_book.html",
            event=event,
            organiser=organiser,
            planner=planner,
            form=form,
            plan=plan,
            series=series,
            dates=dates,
            conflict=conflict,
            back_url=_planner_url(event, planner),
            plan_options=plan_options(planner),
        ),
        status,
    )


def plan_options(planner: SeriesPlannerForm) -> dict[str, str]:
    """The planner's options as its query string has them, to plan the same rotation again."""
    options = {}
    for field in planner:
        if isinstance(field, BooleanField):
            if field.data:
                options[field.name] = "y"
        elif isinstance(field, SelectField):
            options[field.name] = "" if field.data is None else str(field.data)
        else:
            options[field.name] = field._value()
    return options


def _planner_url(event: Event, planner: SeriesPlannerForm) -> str:
    """The series planner with the same options, to plan again from the confirmation."""
    return url_for("web.series_planner", event_id=event.id, **plan_options(planner))
