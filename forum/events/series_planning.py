"""Planning a series: fair rotation of its start times, and who sees it move with DST."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from forum.accounts.models import Organiser
from forum.core import times
from forum.core.errors import ValidationFailed
from forum.events.explanations import WEEKDAY_NAMES
from forum.events.planning import busy_in_window
from forum.events.planning import local_midnight
from forum.events.planning import participants_for
from forum.events.planning import people_for_search
from forum.events.planning import zone_for
from forum.i18n import _
from forum.scheduling import dst
from forum.scheduling.model import CATEGORIES
from forum.scheduling.model import SearchOptions
from forum.scheduling.rotation import MAX_OCCURRENCES
from forum.scheduling.rotation import Candidate
from forum.scheduling.rotation import RotationPlan
from forum.scheduling.rotation import Site
from forum.scheduling.rotation import plan_rotation
from forum.scheduling.rotation import site_of

SEVERITY = {name: index for index, name in enumerate(CATEGORIES)}


def _local(instant: dt.datetime, zone_name: str) -> dict[str, str]:
    local = times.to_local(instant, zone_name)
    return {"local_start": times.format_local(local), "weekday": WEEKDAY_NAMES[local.weekday()]}


def rotation(
    actor: Organiser | None,
    *,
    duration_minutes: int,
    first_date: dt.date,
    occurrences: int,
    interval_days: int = 7,
    timezone: str | None = None,
    step_minutes: int = 30,
    skip_weekends: bool = False,
    skip_holidays: bool = True,
    weights: Mapping[int, int] | None = None,
    site_hours: Mapping[int, Sequence[int]] | None = None,
    **selection: Any,
) -> dict[str, Any]:
    """Start times for ``occurrences`` meetings every ``interval_days`` from ``first_date``
    (local dates in ``timezone``) sharing the bad hours as evenly as possible."""
    if not 1 <= occurrences <= MAX_OCCURRENCES:
        raise ValidationFailed(
            {"occurrences": _("must be from 1 to %(most)s", most=MAX_OCCURRENCES)}
        )
    # person_ids, institution_ids, optional_person_ids, event_id: see people_for_search.
    found = people_for_search(actor, **selection)
    zone_name = zone_for(timezone, found.event)
    dates = [first_date + dt.timedelta(days=interval_days * k) for k in range(occurrences)]
    duration = dt.timedelta(minutes=duration_minutes)
    # Busy times from the first local midnight to a day past the last meeting.
    start = local_midnight(dates[0], zone_name) - dt.timedelta(days=1)
    end = local_midnight(dates[-1], zone_name) + dt.timedelta(days=2) + duration
    participants = participants_for(
        found.people,
        required_ids=found.required_ids,
        weights=dict(weights or {}),
        site_hours={key: (value[0], value[1]) for key, value in (site_hours or {}).items()},
    )
    options = SearchOptions(
        duration=duration,
        window_start=start,
        window_end=end,
        step_minutes=step_minutes,
        skip_weekends=skip_weekends,
        skip_holidays=skip_holidays,
    )
    plan = plan_rotation(
        participants,
        dates=dates,
        anchor_timezone=zone_name,
        options=options,
        busy=busy_in_window({p.id for p in found.people}, start, end),
    )
    return _rotation_out(plan, zone_name, duration_minutes)


def _site_name(site: Site) -> str:
    """The site's name; the engine's stand-in for someone of no institution (or an
    institution with no name) in the reader's language."""
    kind, _sep, number = site.key.partition(":")
    if kind == "person":
        return _("person %(id)s", id=number)
    if site.name == f"institution {number}":
        return _("institution %(id)s", id=number)
    return site.name


def _site_rows(candidate: Candidate, plan: RotationPlan) -> list[dict[str, Any]]:
    """Each site's burden in one occurrence: its cost, worst category and local time."""
    worst: dict[str, tuple[int, int, Any]] = {}
    for placement in candidate.placements:
        key = site_of(placement.participant).key
        rank = (placement.cost, -SEVERITY[placement.category])
        if key not in worst or rank > worst[key][:2]:
            worst[key] = (*rank, placement)
    rows = []
    for index, site in enumerate(plan.sites):
        placement = worst[site.key][2]
        rows.append(
            {
                "site": site.key,
                "name": _site_name(site),
                "country": site.country,
                "cost": candidate.burden[index],
                "category": placement.category,
                "categories": list(placement.categories),
                "local_start": times.format_local(placement.local_start),
                "weekday": WEEKDAY_NAMES[placement.local_start.weekday()],
            }
        )
    return rows


def _rotation_out(plan: RotationPlan, zone_name: str, duration_minutes: int) -> dict[str, Any]:
    per_occurrence = [_site_rows(c, plan) for c in plan.chosen]
    nights: Counter[str] = Counter(
        row["site"] for rows in per_occurrence for row in rows if "night" in row["categories"]
    )
    fixed = None
    if plan.fixed is not None:
        fixed = {
            "local_time": plan.fixed[0].local_time.strftime("%H:%M"),
            "max_burden": plan.fixed_max_burden,
            "total_burden": plan.fixed_total_burden,
            "sites": [
                {"site": site.key, "name": _site_name(site), "total": plan.fixed_totals[i]}
                for i, site in enumerate(plan.sites)
            ],
        }
    return {
        "timezone": zone_name,
        "duration_minutes": duration_minutes,
        "max_burden": plan.max_burden,
        "total_burden": plan.total_burden,
        "occurrences": [
            {
                "start": times.format_instant(c.start),
                "end": times.format_instant(c.start + dt.timedelta(minutes=duration_minutes)),
                **_local(c.start, zone_name),
                "feasible": c.feasible,
                "sites": rows,
            }
            for c, rows in zip(plan.chosen, per_occurrence, strict=True)
        ],
        "sites": sorted(
            (
                {
                    "site": site.key,
                    "name": _site_name(site),
                    "country": site.country,
                    "total": plan.totals[i],
                    "per_occurrence": [c.burden[i] for c in plan.chosen],
                    "nights": nights[site.key],
                }
                for i, site in enumerate(plan.sites)
            ),
            key=lambda row: (-row["total"], row["name"]),
        ),
        "fixed": fixed,
    }


def _shift_out(shift: dst.Shift) -> dict[str, Any]:
    return {
        "start": times.format_instant(shift.start),
        "anchor_local_start": times.format_local(shift.anchor_local),
        "local_start": times.format_local(shift.site_local),
        "weekday": WEEKDAY_NAMES[shift.site_local.weekday()],
        "shift_minutes": shift.minutes,
    }


def _clock_out(change: dst.ClockChange, site_zone: str) -> dict[str, Any]:
    return {
        "zone": change.zone,
        "whose": "site" if change.zone == site_zone else "series",
        "at": times.format_instant(change.at),
        "local_before": times.format_local(change.local_before),
        "local_after": times.format_local(change.local_after),
        "weekday": WEEKDAY_NAMES[change.local_before.weekday()],
        "minutes": change.minutes,
    }


def dst_preview(
    actor: Organiser | None,
    *,
    local_start: dt.datetime,
    timezone: str,
    rrule: str,
    duration_minutes: int = 60,
    fold: int | None = None,
    **selection: Any,
) -> dict[str, Any]:
    """For a recurring local time in ``timezone``, the occurrences at which each site's own
    local time differs from the first occurrence's, before anything is booked."""
    # person_ids, institution_ids, optional_person_ids, event_id: see people_for_search.
    found = people_for_search(actor, **selection)
    start = times.resolve_local(local_start, timezone, fold=fold)
    sites: dict[tuple[str, str], tuple[str, str, str]] = {}
    for person in found.people:
        institution = person.institution
        key = f"institution:{institution.id}" if institution else f"person:{person.id}"
        name = institution.name if institution else person.name
        # People of one institution in another zone (a Beijing office) are their own row.
        sites.setdefault((key, person.timezone), (key, name, person.timezone))
    previews = dst.dst_preview(
        list(sites.values()),
        start=start,
        duration=dt.timedelta(minutes=duration_minutes),
        timezone=timezone,
        rrule=rrule,
    )
    return {
        "timezone": timezone,
        "start": times.format_instant(start),
        "rrule": rrule,
        "sites": [
            {
                "site": p.key,
                "name": p.name,
                "timezone": p.timezone,
                "first_local_start": times.format_local(p.first_local),
                "changes": [_shift_out(s) for s in p.shifts],
                "stretches": [
                    {
                        "first": _shift_out(stretch.first),
                        "last": _shift_out(stretch.last),
                        "occurrences": stretch.count,
                        "shift_minutes": stretch.minutes,
                        "clock_changes": [_clock_out(c, p.timezone) for c in stretch.changes],
                        "ended_by": [_clock_out(c, p.timezone) for c in stretch.ended_by],
                    }
                    for stretch in p.stretches
                ],
            }
            for p in sorted(previews, key=lambda p: (-len(p.shifts), p.name))
        ],
    }
