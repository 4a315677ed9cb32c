"""The planner page: every site's hours across the window as a grid, and the ranked slots.

The search is a GET (it writes nothing), so a plan can be bookmarked and shared; booking
a slot posts to the booking form's endpoint.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

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
from forum.events.explanations import CATEGORY_LABELS
from forum.events.explanations import comma_list
from forum.events.explanations import name_list
from forum.events.variety import chosen_groups
from forum.events.variety import situation
from forum.events.variety import slot_groups
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import format_datetime_pattern
from forum.i18n import format_time_text
from forum.i18n import ngettext
from forum.scheduling.model import CATEGORIES
from forum.scheduling.model import STEPS
from forum.web import bp
from forum.web.events import PROVIDER_LABELS
from forum.web.forms import show_errors

HOUR = dt.timedelta(hours=1)
MAX_DAYS = 28
# The search's form fields are named as the API's, so its messages land next to them.
FIELD_OF = {"window_start": "start", "window_end": "days"}


class PlanningForm(FlaskForm):
    """What the planner and the series planner both ask, read from the query string."""

    class Meta:
        csrf = False  # a GET that writes nothing

    duration_minutes = IntegerField(
        _l("Length (minutes)"),
        validators=[
            InputRequired(_l("Give the length in minutes.")),
            NumberRange(
                1,
                MAX_SESSION_MINUTES,
                _l("From 1 to %(most)s minutes.", most=MAX_SESSION_MINUTES),
            ),
        ],
        default=60,
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_SESSION_MINUTES},
    )
    step_minutes = SelectField(
        _l("Start times every"),
        choices=[SelectChoice(str(step), _l("%(num)s min", num=step)) for step in STEPS],
        coerce=int,
        default=30,
    )
    skip_weekends = BooleanField(_l("Never at a weekend for anyone"))
    skip_holidays = BooleanField(_l("Never on a public holiday"), default=True)


class PlannerForm(PlanningForm):
    """The search's window and zone."""

    start = DateField(_l("From"), validators=[InputRequired(_l("Give the first day."))])
    days = IntegerField(
        _l("Days"),
        validators=[
            InputRequired(_l("Give the number of days.")),
            NumberRange(1, MAX_DAYS, _l("From 1 to %(most)s days.", most=MAX_DAYS)),
        ],
        default=7,
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_DAYS},
    )
    timezone = StringField(
        _l("Dates and grid in zone"),
        render_kw={"list": "zone-names", "autocomplete": "off", "spellcheck": "false"},
    )
    # Tells a submitted form (unticked boxes send nothing) from a first visit.
    searched = HiddenField(default="1")


# The search is asked for more slots than are shown, so that neighbours of one good time
# can make way for the next different one.
SLOTS_SHOWN = 10
SLOTS_SEARCHED = 50
# The per-hour counts are drawn as bars of this many steps (CSS classes lv0..lv8).
COUNT_LEVELS = 8
DAYS_OFF = frozenset({"weekend", "holiday"})


def facts_label(facts: tuple[str, ...] | list[str]) -> str:
    """Every fact of a slot in words, the most serious first: "night, weekend"."""
    return comma_list([CATEGORY_LABELS.get(fact, fact) for fact in facts])


def cell_classes(category: str, facts: tuple[str, ...]) -> str:
    """A cell's classes: its most serious fact (k-night), and "off" when a day off (weekend
    or holiday) lies under another colour, so that a weekend night reads as a night that
    is also a day off, never as a lighter weekend."""
    if category not in DAYS_OFF and DAYS_OFF.intersection(facts):
        return f"k-{category} off"
    return f"k-{category}"


# --- the overview: every site's week at a glance ------------------------------------------


@dataclass(frozen=True)
class Run:
    """Neighbouring hours of one overview row in the same situation: one table cell."""

    classes: str
    first: int  # column of its first hour
    span: int
    title: str


@dataclass(frozen=True)
class OverviewRow:
    """Sites whose situation is the same in every hour of the window, as one row."""

    sites: tuple[planning.GridSite, ...]
    runs: tuple[Run, ...]

    @property
    def cells(self) -> Markup:
        """The row's cells, built here: a Jinja loop over every run of every row costs
        more than working them out."""
        return Markup("").join(
            Markup('<td class="{}" colspan="{}" data-first="{}" title="{}"></td>').format(
                run.classes, run.span, run.first, run.title
            )
            for run in self.runs
        )

    @property
    def label(self) -> str:
        """The sites' names: all of one or two, else the first two and how many more."""
        names = [site.name for site in self.sites]
        if len(names) <= 2:
            return " · ".join(names)
        return name_list(names, 2)

    @property
    def names(self) -> str:
        return "; ".join(site.label for site in self.sites)

    @property
    def zones(self) -> str:
        return ", ".join(dict.fromkeys(site.timezone for site in self.sites))


@dataclass(frozen=True)
class HourCount:
    """How many sites are in working hours and at night in one column."""

    working: int
    night: int
    working_level: int
    night_level: int
    title: str


def _hour_text(hour: planning.GridHour) -> str:
    """The weekday and time of a column: "Wed 09:00"."""
    return format_datetime_pattern(hour.local, "EEE HH:mm")


def overview_rows(grid: planning.Grid) -> list[OverviewRow]:
    """The grid's sites grouped by their situation hour by hour (the cell's category and
    whether a day off lies under it), a row per group, its hours as runs.

    Rows go from east to west (by the first site's UTC offset at the window's start), so
    that the working days make a staircase rather than a scatter.
    """
    groups: dict[tuple[str, ...], list[planning.GridSite]] = {}
    for country in grid.countries:
        for site in country.sites:
            key = tuple(
                cell_classes(category, facts)
                for category, facts in zip(site.cells, site.facts, strict=True)
            )
            groups.setdefault(key, []).append(site)
    rows = []
    for key, sites in groups.items():
        runs: list[Run] = []
        first = 0
        for column in range(1, len(key) + 1):
            if column == len(key) or key[column] != key[first]:
                category = sites[0].cells[first]
                facts = sites[0].facts[first]
                end = grid.hours[column - 1].local + HOUR
                title = _(
                    "%(start)s–%(end)s: %(facts)s",
                    start=_hour_text(grid.hours[first]),
                    end=format_time_text(end),
                    facts=facts_label(facts if len(facts) > 1 else (category,)),
                )
                runs.append(Run(key[first], first, column - first, title))
                first = column
        rows.append(OverviewRow(tuple(sorted(sites, key=lambda s: s.label)), tuple(runs)))

    first = grid.hours[0].start

    def east_to_west(row: OverviewRow) -> tuple[dt.timedelta, str]:
        offset = first.astimezone(ZoneInfo(row.sites[0].timezone)).utcoffset()
        return (-(offset or dt.timedelta()), row.label)

    rows.sort(key=east_to_west)
    return rows


def hour_counts(grid: planning.Grid) -> list[HourCount]:
    """Per column, the sites in working hours and the sites at night (a night on a day off
    counts as a night)."""
    sites = [site for country in grid.countries for site in country.sites]
    total = max(len(sites), 1)
    counts = []
    for column, hour in enumerate(grid.hours):
        working = sum(1 for site in sites if site.cells[column] == "working")
        night = sum(1 for site in sites if "night" in site.facts[column])
        counts.append(
            HourCount(
                working=working,
                night=night,
                working_level=round(COUNT_LEVELS * working / total),
                night_level=round(COUNT_LEVELS * night / total),
                title=ngettext(
                    "%(hour)s: %(working)d of %(num)d sites in working hours, %(night)d at night",
                    "%(hour)s: %(working)d of %(num)d sites in working hours, %(night)d at night",
                    len(sites),
                    hour=_hour_text(hour),
                    working=working,
                    night=night,
                ),
            )
        )
    return counts


def count_cells(grid: planning.Grid, counts: list[HourCount], kind: str) -> Markup:
    """One row of the per-hour counts (``kind`` "working" or "night"), a bar per hour with
    the number for screen readers and in data-working / data-night."""
    cells = []
    for hour, count in zip(grid.hours, counts, strict=True):
        number = getattr(count, kind)
        level = getattr(count, f"{kind}_level")
        classes = f"lv{level} day-start" if hour.first_of_day else f"lv{level}"
        cells.append(
            Markup(
                '<td class="{}" data-{}="{}" title="{}">'
                '<span class="visually-hidden">{}</span></td>'
            ).format(classes, kind, number, count.title, number)
        )
    return Markup("").join(cells)


def day_spans(hours: tuple[planning.GridHour, ...]) -> list[tuple[dt.date, int]]:
    """(local day in the grid's zone, number of columns) for the header's day row."""
    spans: list[list[Any]] = []
    for hour in hours:
        if hour.first_of_day or not spans:
            spans.append([hour.local.date(), 0])
        spans[-1][1] += 1
    return [(day, count) for day, count in spans]


# --- one day in detail --------------------------------------------------------------------


def _cells(site: planning.GridSite, columns: range, highlighted: frozenset[int]) -> Markup:
    """A site's cells for some columns, built here rather than in a Jinja loop (it is most
    of the page). Only category names, hour numbers and their labels go in, and they are
    escaped all the same. Every fact of a cell is in its title."""
    cells = []
    for index in columns:
        category, facts, hour = site.cells[index], site.facts[index], site.local_hours[index]
        classes = cell_classes(category, facts)
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


def day_columns(grid: planning.Grid, day: dt.date) -> range:
    """The columns of one local day in the grid's zone (empty when the day is not in it)."""
    columns = [i for i, hour in enumerate(grid.hours) if hour.local.date() == day]
    return range(columns[0], columns[-1] + 1) if columns else range(0)


def _day_asked(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


# --- the ranked slots, varied -------------------------------------------------------------


@dataclass(frozen=True)
class CostLine:
    """The sites that pay the same in a slot, for the same reasons."""

    cost: int
    facts: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class SlotView:
    rank: int  # among the slots shown
    slot: dict[str, Any]
    start: dt.datetime
    end: dt.datetime
    day: dt.date  # its local day in the grid's zone
    columns: tuple[int, ...]  # grid columns the slot covers
    similar: tuple[dt.datetime, ...]  # neighbouring starts with the same sites' situation
    reason: str
    costs: tuple[CostLine, ...]  # every site once, the costliest first

    def columns_from(self, first: int) -> str:
        """The slot's columns counted from ``first``: its place in one day's grid."""
        return " ".join(str(c - first) for c in self.columns)


def _columns(
    hours: tuple[planning.GridHour, ...], start: dt.datetime, end: dt.datetime
) -> tuple[int, ...]:
    return tuple(
        i for i, hour in enumerate(hours) if hour.start < end and hour.start + HOUR > start
    )


def reason(slot: dict[str, Any], labels: dict[int, str]) -> str:
    """One line on why the slot ranks where it does: how many sites are in working hours,
    who pays the most, and the cost in all."""
    rows = slot["institutions"]
    working = sum(1 for row in rows if row["categories"] == ["working"])
    feasible = slot["feasible"]
    available, required = slot["required_available"], slot["required_total"]
    if working == len(rows):
        if feasible:
            return ngettext(
                "working hours for all %(num)d sites.",
                "working hours for all %(num)d sites.",
                len(rows),
            )
        return ngettext(
            "%(available)d of %(required)d required can come; working hours for all %(num)d sites.",
            "%(available)d of %(required)d required can come; working hours for all %(num)d sites.",
            len(rows),
            available=available,
            required=required,
        )
    worst = max(row["worst_cost"] for row in rows)
    paying = sorted(labels[row["site"]] for row in rows if row["worst_cost"] == worst)
    values = {
        "working": working,
        "worst": worst,
        "facts": facts_label(next(r for r in rows if r["worst_cost"] == worst)["categories"]),
        "named": name_list(paying, 1),
        "total": slot["total_cost"],
    }
    if feasible:
        return ngettext(
            "working hours for %(working)d of %(num)d sites; the most any site pays is "
            "%(worst)d (%(facts)s: %(named)s); %(total)d in all.",
            "working hours for %(working)d of %(num)d sites; the most any site pays is "
            "%(worst)d (%(facts)s: %(named)s); %(total)d in all.",
            len(rows),
            **values,
        )
    return ngettext(
        "%(available)d of %(required)d required can come; working hours for %(working)d "
        "of %(num)d sites; the most any site pays is %(worst)d (%(facts)s: %(named)s); "
        "%(total)d in all.",
        "%(available)d of %(required)d required can come; working hours for %(working)d "
        "of %(num)d sites; the most any site pays is %(worst)d (%(facts)s: %(named)s); "
        "%(total)d in all.",
        len(rows),
        available=available,
        required=required,
        **values,
    )


def site_costs(slot: dict[str, Any], labels: dict[int, str]) -> tuple[CostLine, ...]:
    """What each site pays in the slot, sites alike in a line: a few lines rather than a
    row per site, for ten slots of forty sites."""
    lines: dict[tuple[int, tuple[str, ...]], list[str]] = {}
    for row in slot["institutions"]:
        key = (row["worst_cost"], tuple(row["categories"]))
        lines.setdefault(key, []).append(labels[row["site"]])
    return tuple(
        CostLine(cost, facts_label(facts), tuple(sorted(names)))
        for (cost, facts), names in sorted(lines.items(), key=lambda item: -item[0][0])
    )


def varied_slots(result: dict[str, Any], grid: planning.Grid) -> list[SlotView]:
    """The best slot of each group of near-identical ones, varied (chosen_groups). Each
    lists the other times alike for every site that are not shown: its neighbours, and
    the same hours on days not shown."""
    labels = {site["site"]: site["label"] for site in result["sites"]}
    slots = result["slots"]
    groups = slot_groups(slots)
    chosen = chosen_groups(slots, groups, SLOTS_SHOWN)
    shown = {group[0] for group in chosen}
    alike: dict[tuple[Any, ...], list[int]] = {}
    for index, slot in enumerate(slots):
        if index not in shown:
            alike.setdefault(situation(slot), []).append(index)
    views = []
    for rank, group in enumerate(chosen, start=1):
        slot = slots[group[0]]
        start, end = times.parse_instant(slot["start"]), times.parse_instant(slot["end"])
        columns = _columns(grid.hours, start, end)
        day = grid.hours[columns[0]].local.date() if columns else None
        similar = alike.get(situation(slot), [])
        views.append(
            SlotView(
                rank=rank,
                slot=slot,
                start=start,
                end=end,
                day=day,
                columns=columns,
                similar=tuple(sorted(times.parse_instant(slots[i]["start"]) for i in similar)),
                reason=reason(slot, labels),
                costs=site_costs(slot, labels),
            )
        )
    return views


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
                limit=SLOTS_SEARCHED,
                **window,
            )
            grid = planning.planner_grid(organiser, **window)
        except ValidationFailed as exc:
            show_errors(form, {FIELD_OF.get(k, k): v for k, v in exc.fields.items()})
            result = grid = None
            status = 422
    elif has_people and submitted:
        status = 422

    day = None
    columns = range(0)
    if result is not None and grid is not None:
        slots = varied_slots(result, grid)
        chosen = request.args.get("slot", "")
        selected = next((s for s in slots if str(s.rank) == chosen), None)
        day = _day_asked(request.args.get("day", ""))
        if day is None and selected is not None:
            day = selected.day
        columns = day_columns(grid, day) if day else range(0)
        if not columns:
            day = None

    highlighted = frozenset(selected.columns) if selected else frozenset()
    counts = hour_counts(grid) if grid else []
    days = day_spans(grid.hours) if grid else []
    day_index = next((i for i, (each, _span) in enumerate(days) if each == day), None)
    query = {k: v for k, v in request.args.items() if k not in ("day", "slot")}
    return render_template(
        "planner/planner.html",
        organiser=organiser,
        event=event,
        form=form,
        result=result,
        grid=grid,
        overview=overview_rows(grid) if grid else [],
        working_cells=count_cells(grid, counts, "working") if grid else "",
        night_cells=count_cells(grid, counts, "night") if grid else "",
        site_count=grid.site_count() if grid else 0,
        day_spans=days,
        day=day,
        previous_day=days[day_index - 1][0] if day_index else None,
        next_day=(
            days[day_index + 1][0] if day_index is not None and day_index + 1 < len(days) else None
        ),
        day_hours=[grid.hours[i] for i in columns] if grid else [],
        day_rows=(
            [
                (country, [(site, _cells(site, columns, highlighted)) for site in country.sites])
                for country in grid.countries
            ]
            if grid and columns
            else []
        ),
        day_start=columns.start if columns else 0,
        query=query,
        slots=slots,
        selected=selected,
        highlighted=highlighted,
        categories=CATEGORIES,
        category_labels=CATEGORY_LABELS,
        provider_labels=PROVIDER_LABELS,
        zone_name=zone_name,
        has_people=has_people,
    ), status
