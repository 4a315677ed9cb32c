"""The planner page: every site's hours across the window as a grid, and the ranked slots.

The search is a GET (it writes nothing), so a plan can be bookmarked and shared; booking
a slot posts to the booking form's endpoint.
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
from markupsafe import Markup
from wtforms import BooleanField
from wtforms import DateField
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import SelectField
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired
from wtforms.validators import NumberRange

from forum.api.schemas import MAX_SESSION_MINUTES
from forum.core import times
from forum.core.errors import ValidationFailed
from forum.db import now_utc
from forum.events import planning
from forum.events import services
from forum.scheduling.model import CATEGORIES
from forum.scheduling.model import STEPS
from forum.web import bp
from forum.web.events import PROVIDER_LABELS
from forum.web.forms import show_errors

HOUR = dt.timedelta(hours=1)
MAX_DAYS = 28
CATEGORY_LABELS = {
    "working": "working hours",
    "early": "early",
    "late": "late",
    "night": "night",
    "weekend": "weekend",
    "holiday": "public holiday",
    "blackout": "closed (blackout)",
    "busy": "someone busy",
}
# The search's form fields are named as the API's, so its messages land next to them.
FIELD_OF = {"window_start": "start", "window_end": "days"}


class PlanningForm(FlaskForm):
    """What the planner and the series planner both ask, read from the query string."""

    class Meta:
        csrf = False  # a GET that writes nothing

    duration_minutes = IntegerField(
        "Length (minutes)",
        validators=[
            InputRequired("Give the length in minutes."),
            NumberRange(1, MAX_SESSION_MINUTES, f"From 1 to {MAX_SESSION_MINUTES} minutes."),
        ],
        default=60,
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_SESSION_MINUTES},
    )
    step_minutes = SelectField(
        "Start times every",
        choices=[SelectChoice(str(step), f"{step} min") for step in STEPS],
        coerce=int,
        default=30,
    )
    skip_weekends = BooleanField("Never at a weekend for anyone")
    skip_holidays = BooleanField("Never on a public holiday", default=True)


class PlannerForm(PlanningForm):
    """The search's window and zone."""

    start = DateField("From", validators=[InputRequired("Give the first day.")])
    days = IntegerField(
        "Days",
        validators=[
            InputRequired("Give the number of days."),
            NumberRange(1, MAX_DAYS, f"From 1 to {MAX_DAYS} days."),
        ],
        default=7,
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_DAYS},
    )
    timezone = StringField(
        "Dates and grid in zone",
        render_kw={"list": "zone-names", "autocomplete": "off", "spellcheck": "false"},
    )
    # Tells a submitted form (unticked boxes send nothing) from a first visit.
    searched = HiddenField(default="1")


@dataclass(frozen=True)
class SlotView:
    rank: int
    slot: dict[str, Any]
    start: dt.datetime
    end: dt.datetime
    columns: tuple[int, ...]  # grid columns the slot covers

    @property
    def columns_attr(self) -> str:
        return " ".join(str(c) for c in self.columns)


def _columns(
    hours: tuple[planning.GridHour, ...], start: dt.datetime, end: dt.datetime
) -> tuple[int, ...]:
    return tuple(
        i for i, hour in enumerate(hours) if hour.start < end and hour.start + HOUR > start
    )


DAYS_OFF = frozenset({"weekend", "holiday"})


def facts_label(facts: tuple[str, ...] | list[str]) -> str:
    """Every fact of a slot in words, the most serious first: "night, weekend"."""
    return ", ".join(CATEGORY_LABELS.get(fact, fact) for fact in facts)


def _cells(site: planning.GridSite, highlighted: frozenset[int]) -> Markup:
    """A site's row of cells, built here: 40 sites by 168 hours is 6,720 cells, and a
    Jinja loop over them costs more than the search. Only category names, hour numbers
    and their labels go in, and they are escaped all the same.

    A cell is coloured by its most serious fact; a day off (weekend or holiday) under
    another colour (a weekend night) is marked as well, and every fact is in its title.
    """
    cells = []
    for index, (category, facts, hour) in enumerate(
        zip(site.cells, site.facts, site.local_hours, strict=True)
    ):
        classes = f"k-{category}"
        if category not in DAYS_OFF and DAYS_OFF.intersection(facts):
            classes += " off"
        if index in highlighted:
            classes += " hl"
        if len(facts) > 1:
            cells.append(
                Markup('<td class="{}" title="{}">{}</td>').format(
                    classes, facts_label(facts), hour
                )
            )
        else:
            cells.append(Markup('<td class="{}">{}</td>').format(classes, hour))
    return Markup("").join(cells)


def _day_spans(hours: tuple[planning.GridHour, ...]) -> list[tuple[dt.datetime, int]]:
    """(local start of the day, number of columns) for the header's day row."""
    spans: list[list[Any]] = []
    for hour in hours:
        if hour.first_of_day or not spans:
            spans.append([hour.local, 0])
        spans[-1][1] += 1
    return [(local, count) for local, count in spans]


@bp.get("/events/<int:event_id>/planner")
@login_required
def planner(event_id: int):
    organiser = current_user._get_current_object()
    event = services.get_event_for(organiser, event_id)
    form = PlannerForm(request.args)
    submitted = bool(request.args.get("searched"))
    if not submitted:
        form = PlannerForm(formdata=None)
        tomorrow = times.to_local(now_utc(), event.timezone).date() + dt.timedelta(days=1)
        form.start.data = tomorrow
        form.timezone.data = event.timezone
        form.step_minutes.data = 30
    zone_name = (form.timezone.data or "").strip() or event.timezone

    result = grid = None
    slots: list[SlotView] = []
    selected: SlotView | None = None
    status = 200
    # A first visit searches at once with the defaults: tomorrow and the six days after.
    has_people = bool(event.participants)
    if has_people and (not submitted or form.validate()):
        window = {
            "window_start": form.start.data,
            "window_end": form.start.data + dt.timedelta(days=form.days.data - 1),
            "timezone": zone_name,
            "event_id": event.id,
            "skip_weekends": bool(form.skip_weekends.data),
            "skip_holidays": bool(form.skip_holidays.data),
        }
        try:
            result = planning.search(
                organiser,
                duration_minutes=form.duration_minutes.data,
                step_minutes=form.step_minutes.data,
                limit=10,
                **window,
            )
            grid = planning.planner_grid(organiser, **window)
        except ValidationFailed as exc:
            show_errors(form, {FIELD_OF.get(k, k): v for k, v in exc.fields.items()})
            result = grid = None
            status = 422
    elif has_people and submitted:
        status = 422

    if result is not None and grid is not None:
        for rank, slot in enumerate(result["slots"], start=1):
            start, end = times.parse_instant(slot["start"]), times.parse_instant(slot["end"])
            slots.append(SlotView(rank, slot, start, end, _columns(grid.hours, start, end)))
        chosen = request.args.get("slot", "")
        selected = next((s for s in slots if str(s.rank) == chosen), None)

    highlighted = frozenset(selected.columns) if selected else frozenset()
    return render_template(
        "planner/planner.html",
        organiser=organiser,
        event=event,
        form=form,
        result=result,
        grid=grid,
        rows=(
            [
                (country, [(site, _cells(site, highlighted)) for site in country.sites])
                for country in grid.countries
            ]
            if grid
            else []
        ),
        day_spans=_day_spans(grid.hours) if grid else [],
        slots=slots,
        selected=selected,
        highlighted=highlighted,
        categories=CATEGORIES,
        category_labels=CATEGORY_LABELS,
        provider_labels=PROVIDER_LABELS,
        zone_name=zone_name,
        has_people=has_people,
    ), status
