"""Slot search over the directory: people and events in, ranked slots with explanations out."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytz
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from forum.accounts.models import Organiser
from forum.core import times
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.directory.models import BusyInterval
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.services import get_event_for
from forum.extensions import db
from forum.scheduling import engine
from forum.scheduling.model import CATEGORIES
from forum.scheduling.model import EPOCH
from forum.scheduling.model import MAX_WINDOW
from forum.scheduling.model import STEPS
from forum.scheduling.model import WORKING
from forum.scheduling.model import Participant
from forum.scheduling.model import Placement
from forum.scheduling.model import RankedSlot
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import busy_minutes
from forum.scheduling.model import parse_hours

MAX_DURATION_MINUTES = 24 * 60
MAX_LIMIT = 50
MAX_WEIGHT = 10
# The engine answers 1,000 people in tens of milliseconds; this bound keeps one request
# (and the id lists sent to the database) to a size a single call can serve.
MAX_PARTICIPANTS = 5000
FIRST_YEAR, LAST_YEAR = 1900, 2999
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Clock changes make a window of whole local days up to this much longer than its days.
DST_SLACK = dt.timedelta(hours=3)
# How many institutions the summary names per category before it says "and N more".
NAMED_PER_CATEGORY = 3
SUMMARY_PHRASES = {
    "busy": "someone busy at",
    "holiday": "public holiday for",
    "blackout": "blackout dates for",
    "weekend": "weekend for",
    "night": "night for",
    "early": "early for",
    "late": "late for",
}
SEVERITY = {name: index for index, name in enumerate(CATEGORIES)}

WindowBound = dt.date | dt.datetime


# --- input -------------------------------------------------------------------------------


def window_bound(value: object) -> WindowBound:
    """A window edge as typed: a date ("2027-03-01") or an instant with an offset or Z."""
    bound: WindowBound
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        bound = value.astimezone(times.UTC)
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        bound = value
    elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            bound = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise times.InvalidTime(f"{value!r} is not a valid date") from None
    else:
        try:
            bound = times.parse_instant(value)
        except times.InvalidTime:
            raise times.InvalidTime(
                "must be a date such as 2027-03-01 (midnight in `timezone`) "
                "or an instant with an offset or Z such as 2027-03-01T08:00:00Z"
            ) from None
    # Far years overflow datetime once shifted by a zone; nobody meets outside these.
    if not FIRST_YEAR <= bound.year <= LAST_YEAR:
        raise times.InvalidTime(f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")
    return bound


def local_midnight(day: dt.date, zone_name: str) -> dt.datetime:
    """The instant a local day begins.

    Where the clocks skip midnight itself (Havana, Santiago, Beirut have done so) the day
    begins when they land; fold=0 reads the missing time with the old offset, which is
    that instant. Where midnight happens twice, fold=0 is the first.
    """
    zone = times.get_zone(zone_name)
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).replace(fold=0).astimezone(times.UTC)


def _ceil_minute(instant: dt.datetime) -> dt.datetime:
    floored = instant.replace(second=0, microsecond=0)
    return floored if floored == instant else floored + dt.timedelta(minutes=1)


def search_window(
    window_start: WindowBound, window_end: WindowBound, zone_name: str, duration: dt.timedelta
) -> tuple[dt.datetime, dt.datetime]:
    """The window as UTC instants on whole minutes; a date as window_end includes that day."""
    start = (
        window_start
        if isinstance(window_start, dt.datetime)
        else local_midnight(window_start, zone_name)
    )
    if isinstance(window_end, dt.datetime):
        end = window_end
    else:
        end = local_midnight(window_end + dt.timedelta(days=1), zone_name)
    # Slots start on whole minutes from the window's start and must end inside it.
    start, end = _ceil_minute(start), end.replace(second=0, microsecond=0)
    if end <= start:
        raise ValidationFailed({"window_end": "must be after window_start"})
    limit = MAX_WINDOW
    if not isinstance(window_end, dt.datetime):
        # 90 local days across a fall-back change last 90 days and an hour; the engine
        # counts exact days, so such a window loses its last local hour instead.
        limit += DST_SLACK
    if end - start > limit:
        raise ValidationFailed({"window_end": f"the window must be at most {MAX_WINDOW.days} days"})
    end = min(end, start + MAX_WINDOW)
    if end - start < duration:
        raise ValidationFailed(
            {"window_end": "the window is shorter than duration_minutes: no slot fits in it"}
        )
    return start, end


def _check_numbers(
    *,
    duration_minutes: int,
    step_minutes: int,
    limit: int,
    weights: Mapping[int, int],
    site_hours: Mapping[int, Sequence[int]],
) -> None:
    fields: dict[str, str] = {}
    if not 1 <= duration_minutes <= MAX_DURATION_MINUTES:
        fields["duration_minutes"] = f"must be from 1 to {MAX_DURATION_MINUTES} (24 hours)"
    if step_minutes not in STEPS:
        fields["step_minutes"] = f"must be one of {', '.join(str(s) for s in STEPS)}"
    if not 1 <= limit <= MAX_LIMIT:
        fields["limit"] = f"must be from 1 to {MAX_LIMIT}"
    for person_id, weight in weights.items():
        if not 1 <= weight <= MAX_WEIGHT:
            fields[f"weights.{person_id}"] = f"must be from 1 to {MAX_WEIGHT}"
    for institution_id, hours in site_hours.items():
        if len(hours) != 2 or not 0 <= hours[0] < hours[1] <= 24:
            fields[f"site_hours.{institution_id}"] = (
                "must be [earliest, latest] local hours from 0 to 24, earliest before latest"
            )
    if fields:
        raise ValidationFailed(fields)


# --- people ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchPeople:
    """Who a search must fit: the people, which of them are required, and the event if any."""

    people: list[Person]
    required_ids: set[int]
    event: Event | None


def load_people(person_ids: Iterable[int]) -> dict[int, Person]:
    """People by id with their institution and its blackouts, in a fixed number of queries."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    rows = db.session.scalars(
        sa.select(Person)
        .where(Person.id.in_(ids))
        .options(selectinload(Person.institution).selectinload(Institution.blackouts))
    )
    return {person.id: person for person in rows}


def busy_in_window(
    person_ids: Iterable[int], start: dt.datetime, end: dt.datetime
) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """Each person's busy intervals that overlap [start, end), in one query."""
    ids = sorted(set(person_ids))
    found: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    if not ids:
        return found
    rows = db.session.execute(
        sa.select(BusyInterval.person_id, BusyInterval.start, BusyInterval.end).where(
            BusyInterval.person_id.in_(ids), BusyInterval.end > start, BusyInterval.start < end
        )
    )
    for person_id, busy_start, busy_end in rows:
        found[person_id].append((_aware(busy_start), _aware(busy_end)))
    return found


def _aware(instant: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; every stored instant is UTC.
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=times.UTC)


def zone_for(timezone: str | None, event: Event | None) -> str:
    """The zone a request's dates are read in: its own, else the event's home zone, else UTC."""
    zone_name = timezone or (event.timezone if event is not None else "UTC")
    try:
        times.get_zone(zone_name)
    except times.InvalidTime as exc:
        raise ValidationFailed({"timezone": str(exc)}) from None
    return zone_name


def people_for_search(
    actor: Organiser | None,
    *,
    person_ids: Sequence[int] = (),
    institution_ids: Sequence[int] = (),
    optional_person_ids: Sequence[int] = (),
    event_id: int | None = None,
) -> SearchPeople:
    """Resolve the ids of a search request to people, each required or optional.

    The event's participants come with their own required flag; ``person_ids`` and every
    person of ``institution_ids`` are required; ``optional_person_ids`` makes people
    optional, even those an event or an institution brought in as required. Unknown ids
    are refused naming their place in the request (``person_ids.2``); an event the
    organiser cannot see is a 404.
    """
    event = None
    required: dict[int, bool] = {}
    if event_id is not None:
        if actor is None:
            raise NotFound(f"no event with id {event_id}")
        event = get_event_for(actor, event_id)
        rows = db.session.execute(
            sa.select(EventParticipant.person_id, EventParticipant.required).where(
                EventParticipant.event_id == event.id
            )
        )
        required.update({person_id: flag for person_id, flag in rows})

    if institution_ids:
        _check_ids(Institution, "institution", "institution_ids", institution_ids)
        members = db.session.execute(
            sa.select(Person.id, Person.institution_id).where(
                Person.institution_id.in_(set(institution_ids))
            )
        ).all()
        with_people = {institution_id for _, institution_id in members}
        for index, institution_id in enumerate(institution_ids):
            if institution_id not in with_people:
                raise ValidationFailed(
                    {f"institution_ids.{index}": f"institution {institution_id} has no people"}
                )
        required.update((person_id, True) for person_id, _ in members)

    explicit = set(person_ids)
    for index, person_id in enumerate(optional_person_ids):
        if person_id in explicit:
            raise ValidationFailed(
                {f"optional_person_ids.{index}": f"person {person_id} is also in person_ids"}
            )
    required.update((person_id, True) for person_id in person_ids)
    required.update((person_id, False) for person_id in optional_person_ids)

    if not required:
        where = " (the event has no participants)" if event is not None else ""
        raise ValidationFailed(
            {
                "person_ids": "the search has nobody to fit: give person_ids, institution_ids, "
                f"optional_person_ids or an event_id with participants{where}"
            }
        )
    if len(required) > MAX_PARTICIPANTS:
        raise ValidationFailed(
            {"person_ids": f"the search has {len(required)} people; at most {MAX_PARTICIPANTS}"}
        )
    people = load_people(required)
    for field, ids in (("person_ids", person_ids), ("optional_person_ids", optional_person_ids)):
        for index, person_id in enumerate(ids):
            if person_id not in people:
                raise ValidationFailed({f"{field}.{index}": f"no person with id {person_id}"})
    return SearchPeople(
        people=[people[person_id] for person_id in sorted(people)],
        required_ids={person_id for person_id, is_required in required.items() if is_required},
        event=event,
    )


def _check_ids(model: type, what: str, field: str, ids: Sequence[int]) -> None:
    known = set(db.session.scalars(sa.select(model.id).where(model.id.in_(set(ids)))))
    for index, row_id in enumerate(ids):
        if row_id not in known:
            raise ValidationFailed({f"{field}.{index}": f"no {what} with id {row_id}"})


def participants_for(
    people: Sequence[Person],
    *,
    required_ids: set[int],
    weights: Mapping[int, int],
    site_hours: Mapping[int, tuple[int, int]],
    busy: Mapping[int, Sequence[tuple[dt.datetime, dt.datetime]]] | None = None,
) -> list[Participant]:
    """The engine's view of each person: zone, hours, holidays, blackouts, busy times.

    ``busy`` holds each person's busy intervals (see busy_in_window); without it, the
    person's own BusyInterval rows are used. ``site_hours`` bounds the local hours of
    everyone at an institution.
    """
    participants = []
    parsed: dict[str, Any] = {}

    def hours_of(value: dict[str, Any]) -> Any:
        # People mostly share the default hours: parse each distinct set once.
        key = repr(sorted(value.items()))
        if key not in parsed:
            parsed[key] = parse_hours(value)
        return parsed[key]

    for person in people:
        institution = person.institution
        if busy is None:
            intervals = [(_aware(b.start), _aware(b.end)) for b in person.busy]
        else:
            intervals = list(busy.get(person.id, ()))
        earliest, latest = site_hours.get(person.institution_id, (0, 24))  # type: ignore[arg-type]
        participants.append(
            Participant(
                person_id=person.id,
                timezone=person.timezone,
                working_hours=hours_of(person.working_hours),
                acceptable_hours=hours_of(person.acceptable_hours),
                country=institution.country if institution else None,
                subdivision=institution.subdivision if institution else None,
                institution_id=institution.id if institution else None,
                institution_name=institution.name if institution else "",
                blackouts=tuple((b.start_date, b.end_date) for b in institution.blackouts)
                if institution
                else (),
                busy=busy_minutes(intervals),
                required=person.id in required_ids,
                weight=weights.get(person.id, 1),
                earliest_hour=earliest,
                latest_hour=latest,
            )
        )
    return participants


# --- the search --------------------------------------------------------------------------


def search_scope(
    actor: Organiser | None,
    *,
    window_start: WindowBound,
    window_end: WindowBound,
    duration: dt.timedelta,
    person_ids: Sequence[int] = (),
    institution_ids: Sequence[int] = (),
    optional_person_ids: Sequence[int] = (),
    event_id: int | None = None,
    timezone: str | None = None,
) -> tuple[SearchPeople, str, dt.datetime, dt.datetime]:
    """Who a search (or the planner's grid) is about, the zone its dates are read in, and
    its window as UTC instants; refused input raises ValidationFailed naming the field.

    The window's edges may also be given as text, as ``window_bound`` reads it.
    """
    bounds = {"window_start": window_start, "window_end": window_end}
    for name, value in bounds.items():
        try:
            bounds[name] = window_bound(value)
        except times.InvalidTime as exc:
            raise ValidationFailed({name: str(exc)}) from None
    found = people_for_search(
        actor,
        person_ids=person_ids,
        institution_ids=institution_ids,
        optional_person_ids=optional_person_ids,
        event_id=event_id,
    )
    zone_name = zone_for(timezone, found.event)
    start, end = search_window(bounds["window_start"], bounds["window_end"], zone_name, duration)
    return found, zone_name, start, end


def search(
    actor: Organiser | None,
    *,
    duration_minutes: int,
    window_start: WindowBound,
    window_end: WindowBound,
    person_ids: Sequence[int] = (),
    institution_ids: Sequence[int] = (),
    optional_person_ids: Sequence[int] = (),
    event_id: int | None = None,
    timezone: str | None = None,
    step_minutes: int = 30,
    limit: int = 10,
    skip_weekends: bool = False,
    skip_holidays: bool = True,
    weights: Mapping[int, int] | None = None,
    site_hours: Mapping[int, Sequence[int]] | None = None,
) -> dict[str, Any]:
    """Ranked slots with explanations, as SPEC section 10 describes the answer.

    Dates in the window are local days in ``timezone`` (default: the event's home zone,
    else UTC). Nothing is written.
    """
    weights = dict(weights or {})
    site_hours = dict(site_hours or {})
    _check_numbers(
        duration_minutes=duration_minutes,
        step_minutes=step_minutes,
        limit=limit,
        weights=weights,
        site_hours=site_hours,
    )
    duration = dt.timedelta(minutes=duration_minutes)
    found, zone_name, start, end = search_scope(
        actor,
        window_start=window_start,
        window_end=window_end,
        duration=duration,
        person_ids=person_ids,
        institution_ids=institution_ids,
        optional_person_ids=optional_person_ids,
        event_id=event_id,
        timezone=timezone,
    )

    person_ids_found = {person.id for person in found.people}
    for person_id in weights:
        if person_id not in person_ids_found:
            raise ValidationFailed({f"weights.{person_id}": "not one of the people searched"})
    institutions = {
        person.institution.id: person.institution
        for person in found.people
        if person.institution is not None
    }
    for institution_id in site_hours:
        if institution_id not in institutions:
            raise ValidationFailed(
                {f"site_hours.{institution_id}": "no one searched belongs to this institution"}
            )

    participants = participants_for(
        found.people,
        required_ids=found.required_ids,
        weights=weights,
        site_hours={key: (value[0], value[1]) for key, value in site_hours.items()},
        busy=busy_in_window(person_ids_found, start, end),
    )
    options = SearchOptions(
        duration=duration,
        window_start=start,
        window_end=end,
        step_minutes=step_minutes,
        limit=limit,
        skip_weekends=skip_weekends,
        skip_holidays=skip_holidays,
    )
    result = engine.find_slots(participants, options)
    people = {person.id: person for person in found.people}
    return {
        "slots": [
            _slot_out(slot, result.placements(rank), people, institutions)
            for rank, slot in enumerate(result.slots)
        ],
        "window_start": times.format_instant(start),
        "window_end": times.format_instant(end),
        "timezone": zone_name,
        "step_minutes": step_minutes,
        "duration_minutes": duration_minutes,
    }


# --- explanations ------------------------------------------------------------------------


def _worst(items: Iterable[tuple[int, str]]) -> tuple[int, str]:
    """The highest (cost, category), the more serious category first on equal cost."""
    return max(items, key=lambda item: (item[0], -SEVERITY[item[1]]))


def _local(instant: dt.datetime, zone_name: str) -> tuple[dt.datetime, str]:
    local = times.to_local(instant, zone_name)
    return local, WEEKDAY_NAMES[local.weekday()]


def _slot_out(
    slot: RankedSlot,
    placements: list[Placement],
    people: Mapping[int, Person],
    institutions: Mapping[int, Institution],
) -> dict[str, Any]:
    participants = []
    for placement in placements:
        who = placement.participant
        person = people[who.person_id]
        participants.append(
            {
                "person_id": who.person_id,
                "name": person.name,
                "institution_id": who.institution_id,
                "country": who.country,
                "timezone": who.timezone,
                "local_start": times.format_local(placement.local_start),
                "local_end": times.format_local(placement.local_end),
                "weekday": WEEKDAY_NAMES[placement.local_start.weekday()],
                "category": placement.category,
                "cost": placement.cost,
                "required": who.required,
                "available": placement.available,
            }
        )
    participants.sort(
        key=lambda p: (
            p["country"] or "",
            institutions[p["institution_id"]].name if p["institution_id"] else "",
            p["name"],
            p["person_id"],
        )
    )

    sites = site_times(slot.start, slot.end, placements, people, institutions)
    institution_rows = [
        {
            "institution_id": site.institution_id,
            "name": site.name,
            "country": site.country,
            "people": site.people,
            "worst_category": site.category,
            "worst_cost": site.cost,
            "local_start": times.format_local(site.local_start),
            "local_end": times.format_local(site.local_end),
            "weekday": site.weekday,
        }
        for site in sites
        if site.institution_id is not None
    ]
    countries = [
        {
            "country": group.country,
            "name": group.name,
            "institutions": len(group.sites),
            "people": sum(site.people for site in group.sites),
            "worst_category": group.category,
            "worst_cost": group.cost,
        }
        for group in country_groups(sites)
        if group.country is not None
    ]
    summary_sites = [
        (site.name, site.category, site.cost, site.weekday, times.format_local(site.local_start))
        for site in sites
    ]
    unaffiliated = any(site.institution_id is None for site in sites)
    return {
        "start": times.format_instant(slot.start),
        "end": times.format_instant(slot.end),
        "required_available": slot.required_available,
        "required_total": slot.required_total,
        "feasible": slot.feasible,
        "worst_cost": slot.worst_cost,
        "total_cost": slot.total_cost,
        "participants": participants,
        "institutions": institution_rows,
        "countries": countries,
        "summary": summarise(summary_sites, noun="institutions" if not unaffiliated else "sites"),
    }


@dataclass(frozen=True)
class SiteTime:
    """One site in a slot: an institution (its people's worst situation), or a person of none.

    ``local_start`` and ``local_end`` are naive wall-clock times in ``timezone``.
    """

    name: str
    country: str | None
    timezone: str
    local_start: dt.datetime
    local_end: dt.datetime
    category: str
    cost: int
    people: int
    institution_id: int | None = None
    person_id: int | None = None

    @property
    def weekday(self) -> str:
        return WEEKDAY_NAMES[self.local_start.weekday()]

    @property
    def end_weekday(self) -> str:
        return WEEKDAY_NAMES[self.local_end.weekday()]


def site_times(
    start: dt.datetime,
    end: dt.datetime,
    placements: Iterable[Placement],
    people: Mapping[int, Person],
    institutions: Mapping[int, Institution],
) -> list[SiteTime]:
    """The slot at each institution (most affected first), then for each person of none.

    An institution's times are read in its own zone; its category is the worst of its
    people's (they may keep other hours, or live elsewhere).
    """
    by_institution: dict[int, list[Placement]] = defaultdict(list)
    unaffiliated: list[SiteTime] = []
    for placement in placements:
        who = placement.participant
        if who.institution_id is not None:
            by_institution[who.institution_id].append(placement)
            continue
        unaffiliated.append(
            SiteTime(
                name=people[who.person_id].name,
                country=None,
                timezone=who.timezone,
                local_start=placement.local_start,
                local_end=placement.local_end,
                category=placement.category,
                cost=placement.cost,
                people=1,
                person_id=who.person_id,
            )
        )
    found = []
    for institution_id, members in by_institution.items():
        institution = institutions[institution_id]
        worst_cost, worst_category = _worst((m.cost, m.category) for m in members)
        found.append(
            SiteTime(
                name=institution.name,
                country=institution.country,
                timezone=institution.timezone,
                local_start=_local(start, institution.timezone)[0],
                local_end=_local(end, institution.timezone)[0],
                category=worst_category,
                cost=worst_cost,
                people=len(members),
                institution_id=institution_id,
            )
        )
    found.sort(key=lambda site: (-site.cost, site.name, site.institution_id))
    return found + unaffiliated


@dataclass(frozen=True)
class CountryGroup:
    """The sites of one country (``country`` None: people of no institution)."""

    country: str | None
    name: str
    category: str
    cost: int
    sites: list[SiteTime]


def country_groups(sites: Iterable[SiteTime]) -> list[CountryGroup]:
    """Sites by country, the most affected country first; people of no institution last."""
    by_country: dict[str | None, list[SiteTime]] = defaultdict(list)
    for site in sites:
        by_country[site.country].append(site)
    groups = []
    for country, members in by_country.items():
        worst_cost, worst_category = _worst((site.cost, site.category) for site in members)
        name = pytz.country_names.get(country, country) if country else "No institution"
        groups.append(CountryGroup(country, name, worst_category, worst_cost, members))
    groups.sort(key=lambda group: (group.country is None, -group.cost, group.name))
    return groups


def sites_at(people: Sequence[Person], start: dt.datetime, end: dt.datetime) -> list[SiteTime]:
    """Where a booked time falls for each invitee's site: local times, working or not.

    The same rules as the slot search (working hours, weekends, public holidays,
    blackouts), for one slot; people's other engagements are not looked at. ``people``
    come with their institution and its blackouts loaded (see load_people).
    """
    if not people:
        return []
    participants = participants_for(
        people, required_ids={p.id for p in people}, weights={}, site_hours={}, busy={}
    )
    options = SearchOptions(
        duration=end - start,
        window_start=start,
        window_end=end,
        step_minutes=STEPS[0],
        limit=1,
    )
    result = engine.find_slots(participants, options)
    if not result.slots:
        return []
    institutions = {p.institution.id: p.institution for p in people if p.institution is not None}
    return site_times(start, end, result.placements(0), {p.id: p for p in people}, institutions)


def summarise(sites: Sequence[tuple[str, str, int, str, str]], *, noun: str) -> str:
    """One sentence on who pays: "Working hours for 31 of 40 institutions; late for ...".

    ``sites`` holds (name, worst category, worst cost, weekday, local start) per site.
    """
    working = sum(1 for _, category, *_ in sites if category == WORKING)
    if len(sites) == 1 and working:
        return f"Working hours for {sites[0][0]}."
    if working == len(sites):
        return f"Working hours for all {len(sites)} {noun}."
    counted = noun if len(sites) > 1 else noun.removesuffix("s")
    parts = [f"Working hours for {working} of {len(sites)} {counted}"]
    for category, phrase in SUMMARY_PHRASES.items():
        members = sorted(
            (site for site in sites if site[1] == category), key=lambda s: (-s[2], s[0])
        )
        if not members:
            continue
        named = [f"{name} ({weekday} {local[11:16]})" for name, _, _, weekday, local in members]
        shown = ", ".join(named[:NAMED_PER_CATEGORY])
        if len(named) > NAMED_PER_CATEGORY:
            shown += f" and {len(named) - NAMED_PER_CATEGORY} more"
        parts.append(f"{phrase} {shown}")
    return "; ".join(parts) + "."


# --- the planner's grid ------------------------------------------------------------------

HOUR = dt.timedelta(hours=1)
# The group of the people searched who belong to no institution (and so to no country).
NO_COUNTRY = "No institution"


@dataclass(frozen=True)
class GridHour:
    """One column of the grid: an hour that starts on the UTC hour."""

    start: dt.datetime  # aware UTC
    # Naive wall-clock time in the grid's zone; at :30 or :45 offsets (Asia/Kolkata,
    # Asia/Kathmandu) it reads 05:30 or 05:45, not a whole hour.
    local: dt.datetime
    first_of_day: bool  # the first column, or the first of a new local day in the grid's zone


@dataclass(frozen=True)
class GridSite:
    """One row: an institution (or a person without one) and its category in each hour."""

    institution_id: int | None
    name: str
    timezone: str
    people: int
    cells: tuple[str, ...]  # one of CATEGORIES per column
    # The site's wall-clock hour at each column's start, floored: 19:00 UTC is 00:30 in
    # Kolkata, shown as hour 0.
    local_hours: tuple[int, ...]


@dataclass(frozen=True)
class GridCountry:
    code: str | None  # ISO country code; None for people without an institution
    name: str
    sites: tuple[GridSite, ...]  # sorted by name


@dataclass(frozen=True)
class Grid:
    """Sites by hours over a window, each cell the worst situation of the site's people."""

    timezone: str
    hours: tuple[GridHour, ...]
    countries: tuple[GridCountry, ...]  # sorted by name

    def site_count(self) -> int:
        return sum(len(country.sites) for country in self.countries)


def _wall_clock(minutes: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(minutes=minutes)


def planner_grid(
    actor: Organiser | None,
    *,
    window_start: WindowBound,
    window_end: WindowBound,
    person_ids: Sequence[int] = (),
    institution_ids: Sequence[int] = (),
    optional_person_ids: Sequence[int] = (),
    event_id: int | None = None,
    timezone: str | None = None,
    skip_weekends: bool = False,
    skip_holidays: bool = True,
) -> Grid:
    """The planner's grid: a row per site, a column per hour of the window.

    The people and window are read as ``search`` reads them. Columns are the whole UTC
    hours inside the window: a window from local midnight in a zone at a :30 offset
    starts at its first UTC hour, half an hour later. Each cell is the most serious
    category (busy first, in CATEGORIES order) among the site's people for that hour,
    each person's category being the one the search gives a one-hour slot. Nothing is
    written, and the statements sent to the database do not grow with the sites.
    ``skip_weekends`` changes no category (only what a search may offer); it is taken
    so that the grid and the search beside it read the same options.
    """
    found, zone_name, start, end = search_scope(
        actor,
        window_start=window_start,
        window_end=window_end,
        duration=HOUR,
        person_ids=person_ids,
        institution_ids=institution_ids,
        optional_person_ids=optional_person_ids,
        event_id=event_id,
        timezone=timezone,
    )
    first = start.replace(minute=0)
    if first < start:
        first += HOUR
    last = end.replace(minute=0)
    if last - first < HOUR:
        raise ValidationFailed(
            {"window_end": "the window holds no whole hour (hours start on the UTC hour)"}
        )

    people = found.people
    participants = participants_for(
        people,
        required_ids=found.required_ids,
        weights={},
        site_hours={},
        busy=busy_in_window({person.id for person in people}, first, last),
    )
    options = SearchOptions(
        duration=HOUR,
        window_start=first,
        window_end=last,
        step_minutes=60,
        limit=1,
        skip_weekends=skip_weekends,
        skip_holidays=skip_holidays,
    )
    starts, category = engine.slot_categories(participants, options)

    # A site is an institution, or a person who belongs to none; its first member (by
    # person id) gives its name and zone.
    first_member: dict[tuple[str, int], Person] = {}
    site_index: dict[tuple[str, int], int] = {}
    site_of = np.zeros(len(people), dtype=np.int64)
    for row, person in enumerate(people):
        key = (
            ("institution", person.institution_id) if person.institution else ("person", person.id)
        )
        first_member.setdefault(key, person)
        site_of[row] = site_index.setdefault(key, len(site_index))
    worst = np.full((len(first_member), len(starts)), len(CATEGORIES), dtype=np.int8)
    np.minimum.at(worst, site_of, category)
    members = np.bincount(site_of, minlength=len(first_member))

    hours_in: dict[str, tuple[int, ...]] = {}

    def hours_of(zone: str) -> tuple[int, ...]:
        if zone not in hours_in:
            hours_in[zone] = tuple(int(h) for h in engine.local_hours(zone, starts))
        return hours_in[zone]

    by_country: dict[str | None, list[GridSite]] = defaultdict(list)
    for index, person in enumerate(first_member.values()):
        institution = person.institution
        zone = institution.timezone if institution else person.timezone
        by_country[institution.country if institution else None].append(
            GridSite(
                institution_id=institution.id if institution else None,
                name=institution.name if institution else person.name,
                timezone=zone,
                people=int(members[index]),
                cells=tuple(CATEGORIES[code] for code in worst[index]),
                local_hours=hours_of(zone),
            )
        )
    countries = [
        GridCountry(
            code=code,
            name=pytz.country_names.get(code, code) if code else NO_COUNTRY,
            sites=tuple(sorted(sites, key=lambda s: (s.name, s.institution_id or 0))),
        )
        for code, sites in by_country.items()
    ]
    countries.sort(key=lambda c: (c.name, c.code or ""))

    offsets = engine.offsets_at(zone_name, starts)
    hours = []
    for index, minute in enumerate(starts.tolist()):
        local = _wall_clock(minute + int(offsets[index]))
        new_day = index == 0 or local.date() != hours[-1].local.date()
        hours.append(
            GridHour(start=EPOCH + dt.timedelta(minutes=minute), local=local, first_of_day=new_day)
        )
    return Grid(timezone=zone_name, hours=tuple(hours), countries=tuple(countries))
