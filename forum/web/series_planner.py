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

from flask import render_template
from flask import request
from flask_login import current_user
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import StringField
from wtforms import TimeField
from wtforms.validators import InputRequired
from wtforms.validators import NumberRange
from wtforms.validators import Optional
from wtforms.validators import ValidationError

from forum.accounts.models import Organiser
from forum.api import schemas
from forum.core import times
from forum.core.errors import ValidationFailed
from forum.db import now_utc
from forum.events import series_planning
from forum.events import services
from forum.events.models import Event
from forum.scheduling.rotation import MAX_OCCURRENCES
from forum.web import bp
from forum.web.forms import show_errors
from forum.web.forms import validated
from forum.web.planner import CATEGORY_LABELS
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

    first_date = DateField("First date", validators=[InputRequired("Give the first date.")])
    occurrences = IntegerField(
        "Occurrences",
        validators=[
            InputRequired("Give the number of occurrences."),
            NumberRange(1, MAX_OCCURRENCES, f"From 1 to {MAX_OCCURRENCES} occurrences."),
        ],
        default=6,
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_OCCURRENCES},
    )
    interval_days = IntegerField(
        "Every (days)",
        validators=[
            InputRequired("Give the days between occurrences."),
            NumberRange(1, MAX_INTERVAL_DAYS, f"From 1 to {MAX_INTERVAL_DAYS} days."),
        ],
        default=7,
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_INTERVAL_DAYS},
    )
    timezone = StringField(
        "Series' time zone",
        validators=[_known_zone],
        render_kw={"list": "zone-names", "autocomplete": "off", "spellcheck": "false"},
    )
    local_time = TimeField(
        "Keep the series at (for the DST preview)",
        validators=[Optional()],
    )
    # Tells a submitted form (unticked boxes send nothing) from a first visit.
    planned = HiddenField(default="1")


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
    minutes: int

    @property
    def direction(self) -> str:
        return "forward" if self.minutes > 0 else "back"


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
            category_labels=CATEGORY_LABELS,
            facts_label=facts_label,
        ),
        status,
    )
