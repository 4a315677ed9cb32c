"""Slot search over the directory: people and events in, ranked slots with explanations out."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from forum.accounts.models import Organiser
from forum.core import times
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.db import driver_rows
from forum.db import one_of
from forum.directory.models import Blackout
from forum.directory.models import BusyInterval
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events import explanations
from forum.events.explanations import SiteTime
from forum.events.explanations import by_site
from forum.events.explanations import site_facts
from forum.events.explanations import site_groups
from forum.events.explanations import site_times
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.services import get_event_for
from forum.extensions import db
from forum.i18n import _
from forum.scheduling import engine
from forum.scheduling.model import DEFAULT_COSTS
from forum.scheduling.model import EPOCH
from forum.scheduling.model import MAX_COST
from forum.scheduling.model import MAX_WINDOW
from forum.scheduling.model import STEPS
from forum.scheduling.model import Participant
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import WeekHours
from forum.scheduling.model import check_costs
from forum.scheduling.model import epoch_minute
from forum.scheduling.model import parse_hours

MAX_DURATION_MINUTES = 24 * 60
MAX_LIMIT = 50
MAX_WEIGHT = 10
# The engine answers 1,000 people in tens of milliseconds; this bound keeps one request
# (and the id lists sent to the database) to a size a single call can serve.
MAX_PARTICIPANTS = 5000
FIRST_YEAR, LAST_YEAR = 1900, 2999
# Clock changes make a window of whole local days up to this much longer than its days.
DST_SLACK = dt.timedelta(hours=3)

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
            raise times.InvalidTime(_("%(value)s is not a valid date", value=repr(value))) from None
    else:
        try:
            bound = times.parse_instant(value)
        except times.InvalidTime:
            raise times.InvalidTime(
                _(
                    "must be a date such as 2027-03-01 (midnight in `timezone`) "
                    "or an instant with an offset or Z such as 2027-03-01T08:00:00Z"
                )
            ) from None
    # Far years overflow datetime once shifted by a zone; nobody meets outside these.
    if not FIRST_YEAR <= bound.year <= LAST_YEAR:
        raise times.InvalidTime(
            _("must be between the years %(first)s and %(last)s", first=FIRST_YEAR, last=LAST_YEAR)
        )
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
        raise ValidationFailed({"window_end": _("must be after window_start")})
    limit = MAX_WINDOW
    if not isinstance(window_end, dt.datetime):
        # 90 local days across a fall-back change last 90 days and an hour; the engine
        # counts exact days, so such a window loses its last local hour instead.
        limit += DST_SLACK
    if end - start > limit:
        raise ValidationFailed(
            {"window_end": _("the window must be at most %(days)s days", days=MAX_WINDOW.days)}
        )
    end = min(end, start + MAX_WINDOW)
    if end - start < duration:
        raise ValidationFailed(
            {"window_end": _("the window is shorter than duration_minutes: no slot fits in it")}
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
        fields["duration_minutes"] = _(
            "must be from 1 to %(most)s (24 hours)", most=MAX_DURATION_MINUTES
        )
    if step_minutes not in STEPS:
        fields["step_minutes"] = _(
            "must be one of %(choices)s", choices=", ".join(str(s) for s in STEPS)
        )
    if not 1 <= limit <= MAX_LIMIT:
        fields["limit"] = _("must be from 1 to %(most)s", most=MAX_LIMIT)
    for person_id, weight in weights.items():
        if not 1 <= weight <= MAX_WEIGHT:
            fields[f"weights.{person_id}"] = _("must be from 1 to %(most)s", most=MAX_WEIGHT)
    for institution_id, hours in site_hours.items():
        if len(hours) != 2 or not 0 <= hours[0] < hours[1] <= 24:
            fields[f"site_hours.{institution_id}"] = _(
                "must be [earliest, latest] local hours from 0 to 24, earliest before latest"
            )
    if fields:
        raise ValidationFailed(fields)


def _cost_problems(costs: Mapping[str, int]) -> dict[str, str]:
    """What is wrong with a cost table (model.check_costs), in the reader's language."""
    wrong = {}
    for field in check_costs(costs):
        if field.partition(".")[2] not in DEFAULT_COSTS:
            wrong[field] = _("unknown; the costs are %(names)s", names=", ".join(DEFAULT_COSTS))
        else:
            wrong[field] = _("must be a whole number from 0 to %(most)s", most=MAX_COST)
    return wrong


# --- people ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteInfo:
    """An institution as a search needs it: where it is, its holidays and blackouts."""

    id: int
    name: str
    country: str
    subdivision: str | None
    timezone: str
    blackouts: tuple[tuple[dt.date, dt.date], ...] = ()


@dataclass(frozen=True)
class Member:
    """A person as a search needs it: zone, hours (parsed) and institution."""

    id: int
    name: str
    timezone: str
    working_hours: WeekHours
    acceptable_hours: WeekHours
    institution: SiteInfo | None

    @property
    def institution_id(self) -> int | None:
        return self.institution.id if self.institution is not None else None


@dataclass(frozen=True)
class SearchPeople:
    """Who a search must fit: the people, which of them are required, and the event if any."""

    people: list[Member]
    required_ids: set[int]
    event: Event | None


# Hours as stored (JSON text) to hours as the engine reads them: people mostly share a few
# sets of hours, and each is parsed once per process, not once per person and search.
_PARSED_HOURS: dict[str, WeekHours] = {}
_PARSED_HOURS_MAX = 10_000


def _hours(text: str | dict[str, Any]) -> WeekHours:
    key = text if isinstance(text, str) else json.dumps(text, sort_keys=True)
    parsed = _PARSED_HOURS.get(key)
    if parsed is None:
        if len(_PARSED_HOURS) >= _PARSED_HOURS_MAX:
            _PARSED_HOURS.clear()
        value = json.loads(text) if isinstance(text, str) else text
        parsed = _PARSED_HOURS[key] = parse_hours(value)
    return parsed


def load_members(person_ids: Iterable[int]) -> dict[int, Member]:
    """People by id with their institution and its blackouts, in three queries that read
    only the columns a search uses."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(
            Person.id,
            Person.name,
            Person.timezone,
            sa.cast(Person.working_hours, sa.Text),
            sa.cast(Person.acceptable_hours, sa.Text),
            Person.institution_id,
        ).where(one_of(Person.id, ids, db.session.get_bind().dialect))
    ).all()
    institution_ids = {row[5] for row in rows if row[5] is not None}
    blackouts: dict[int, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    sites: dict[int, SiteInfo] = {}
    if institution_ids:
        for institution_id, first, last in db.session.execute(
            sa.select(Blackout.institution_id, Blackout.start_date, Blackout.end_date)
            .where(Blackout.institution_id.in_(institution_ids))
            .order_by(Blackout.institution_id, Blackout.start_date, Blackout.end_date)
        ):
            blackouts[institution_id].append((first, last))
        for institution_id, name, country, subdivision, zone in db.session.execute(
            sa.select(
                Institution.id,
                Institution.name,
                Institution.country,
                Institution.subdivision,
                Institution.timezone,
            ).where(Institution.id.in_(institution_ids))
        ):
            sites[institution_id] = SiteInfo(
                institution_id, name, country, subdivision, zone, tuple(blackouts[institution_id])
            )
    return {
        person_id: Member(
            person_id,
            name,
            zone,
            _hours(working),
            _hours(acceptable),
            sites.get(institution_id) if institution_id is not None else None,
        )
        for person_id, name, zone, working, acceptable, institution_id in rows
    }


def busy_in_window(
    person_ids: Iterable[int], start: dt.datetime, end: dt.datetime
) -> engine.BusyTable:
    """The busy intervals of the people that overlap [start, end), in one query, as the
    engine reads them: whole UTC minutes since 1970, widened to the minute (see
    model.busy_minutes), as stored beside them."""
    ids = sorted(set(person_ids))
    if not ids:
        return engine.BusyTable.of([])
    connection = db.session.connection()
    statement = sa.select(
        BusyInterval.person_id,
        BusyInterval.start_minute,
        BusyInterval.end_minute,
    ).where(
        one_of(BusyInterval.person_id, ids, connection.dialect),
        BusyInterval.end_minute > epoch_minute(start),
        BusyInterval.start_minute < -(-(end - EPOCH) // dt.timedelta(minutes=1)),
    )
    return engine.BusyTable.of(driver_rows(connection, statement))


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
            raise NotFound(_("no event with id %(id)s", id=event_id))
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
        with_people = {institution_id for _person, institution_id in members}
        for index, institution_id in enumerate(institution_ids):
            if institution_id not in with_people:
                raise ValidationFailed(
                    {
                        f"institution_ids.{index}": _(
                            "institution %(id)s has no people", id=institution_id
                        )
                    }
                )
        required.update((person_id, True) for person_id, _institution in members)

    explicit = set(person_ids)
    for index, person_id in enumerate(optional_person_ids):
        if person_id in explicit:
            raise ValidationFailed(
                {
                    f"optional_person_ids.{index}": _(
                        "person %(id)s is also in person_ids", id=person_id
                    )
                }
            )
    required.update((person_id, True) for person_id in person_ids)
    required.update((person_id, False) for person_id in optional_person_ids)

    if not required:
        if event is not None:
            nobody = _(
                "the search has nobody to fit: give person_ids, institution_ids, "
                "optional_person_ids or an event_id with participants "
                "(the event has no participants)"
            )
        else:
            nobody = _(
                "the search has nobody to fit: give person_ids, institution_ids, "
                "optional_person_ids or an event_id with participants"
            )
        raise ValidationFailed({"person_ids": nobody})
    if len(required) > MAX_PARTICIPANTS:
        raise ValidationFailed(
            {
                "person_ids": _(
                    "the search has %(count)s people; at most %(most)s",
                    count=len(required),
                    most=MAX_PARTICIPANTS,
                )
            }
        )
    people = load_members(required)
    for field, ids in (("person_ids", person_ids), ("optional_person_ids", optional_person_ids)):
        for index, person_id in enumerate(ids):
            if person_id not in people:
                raise ValidationFailed(
                    {f"{field}.{index}": _("no person with id %(id)s", id=person_id)}
                )
    return SearchPeople(
        people=[people[person_id] for person_id in sorted(people)],
        required_ids={person_id for person_id, is_required in required.items() if is_required},
        event=event,
    )


def _check_ids(model: type, what: str, field: str, ids: Sequence[int]) -> None:
    known = set(db.session.scalars(sa.select(model.id).where(model.id.in_(set(ids)))))
    for index, row_id in enumerate(ids):
        if row_id not in known:
            # One sentence per kind of row (only institutions are checked here).
            if what == "institution":
                message = _("no institution with id %(id)s", id=row_id)
            else:
                message = _("no person with id %(id)s", id=row_id)
            raise ValidationFailed({f"{field}.{index}": message})


def participants_for(
    people: Sequence[Member],
    *,
    required_ids: set[int],
    weights: Mapping[int, int],
    site_hours: Mapping[int, tuple[int, int]],
) -> list[Participant]:
    """The engine's view of each person: zone, hours, holidays, blackouts (their busy
    times go to the engine beside them: see busy_in_window). ``site_hours`` bounds the
    local hours of everyone at an institution.
    """
    participants = []
    for person in people:
        institution = person.institution
        earliest, latest = site_hours.get(person.institution_id, (0, 24))  # type: ignore[arg-type]
        participants.append(
            Participant(
                person_id=person.id,
                timezone=person.timezone,
                working_hours=person.working_hours,
                acceptable_hours=person.acceptable_hours,
                country=institution.country if institution else None,
                subdivision=institution.subdivision if institution else None,
                institution_id=institution.id if institution else None,
                institution_name=institution.name if institution else "",
                blackouts=institution.blackouts if institution else (),
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
    costs: Mapping[str, int] | None = None,
    explain: str = "sites",
) -> dict[str, Any]:
    """Ranked slots with explanations, as SPEC section 10 describes the answer.

    Dates in the window are local days in ``timezone`` (default: the event's home zone,
    else UTC). ``costs`` replaces some of the default costs (model.DEFAULT_COSTS);
    ``explain`` says how much to explain (explanations.explain). Nothing is written.
    """
    weights = dict(weights or {})
    site_hours = dict(site_hours or {})
    costs = dict(costs or {})
    _check_numbers(
        duration_minutes=duration_minutes,
        step_minutes=step_minutes,
        limit=limit,
        weights=weights,
        site_hours=site_hours,
    )
    wrong = _cost_problems(costs)
    if explain not in explanations.EXPLAIN_MODES:
        wrong["explain"] = _(
            "must be one of %(choices)s", choices=", ".join(explanations.EXPLAIN_MODES)
        )
    if wrong:
        raise ValidationFailed(wrong)
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
            raise ValidationFailed({f"weights.{person_id}": _("not one of the people searched")})
    institution_ids_found = {person.institution_id for person in found.people}
    for institution_id in site_hours:
        if institution_id not in institution_ids_found:
            raise ValidationFailed(
                {f"site_hours.{institution_id}": _("no one searched belongs to this institution")}
            )

    participants = participants_for(
        found.people,
        required_ids=found.required_ids,
        weights=weights,
        site_hours={key: (value[0], value[1]) for key, value in site_hours.items()},
    )
    options = SearchOptions(
        duration=duration,
        window_start=start,
        window_end=end,
        step_minutes=step_minutes,
        limit=limit,
        skip_weekends=skip_weekends,
        skip_holidays=skip_holidays,
        costs=costs,
    )
    busy = busy_in_window(person_ids_found, start, end)
    result = engine.find_slots(participants, options, busy=busy)
    names = {person.id: person.name for person in found.people}
    return {
        **explanations.explain(result, names, home_zones(found.people), mode=explain),
        "window_start": times.format_instant(start),
        "window_end": times.format_instant(end),
        "timezone": zone_name,
        "step_minutes": step_minutes,
        "duration_minutes": duration_minutes,
        "explain": explain,
        "costs": dict(options.costs),
    }


def home_zones(people: Iterable[Member]) -> dict[int, str]:
    """Each institution's own zone, whose people are listed first among its sites."""
    return {p.institution.id: p.institution.timezone for p in people if p.institution}


def sites_at(person_ids: Iterable[int], start: dt.datetime, end: dt.datetime) -> list[SiteTime]:
    """Where a booked time falls for each invitee's site: local times, facts and costs.

    The same rules as the slot search (working hours, working calendars, blackouts), for
    one slot; people's other engagements are not looked at.
    """
    members = load_members(person_ids)
    if not members:
        return []
    people = [members[person_id] for person_id in sorted(members)]
    participants = participants_for(people, required_ids=set(members), weights={}, site_hours={})
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
    sites, site_of = site_groups(participants, {p.id: p.name for p in people}, home_zones(people))
    return site_times(result, sites, site_facts(result, site_of, len(sites)), 0)


# --- the planner's grid ------------------------------------------------------------------

HOUR = dt.timedelta(hours=1)


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
    """One row: a site (explanations.Site) and its situation in each hour."""

    institution_id: int | None
    name: str  # the institution's (or the person's)
    label: str  # the name, with the zone and head count when the institution has several sites
    timezone: str
    people: int
    cells: tuple[str, ...]  # the most serious fact per column (one of CATEGORIES)
    facts: tuple[tuple[str, ...], ...]  # every fact per column, most serious first
    # The site's wall-clock hour at each column's start, floored: 19:00 UTC is 00:30 in
    # Kolkata, shown as hour 0.
    local_hours: tuple[int, ...]


@dataclass(frozen=True)
class GridCountry:
    code: str | None  # ISO country code; None for people without an institution
    name: str
    sites: tuple[GridSite, ...]  # as explanations.site_groups orders them


@dataclass(frozen=True)
class Grid:
    """Sites by hours over a window, each cell what holds for the site's people."""

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
    costs: Mapping[str, int] | None = None,
) -> Grid:
    """The planner's grid: a row per site, a column per hour of the window.

    The people and window are read as ``search`` reads them, and the rows are the sites of
    its explanations. Columns are the whole UTC hours inside the window: a window from
    local midnight in a zone at a :30 offset starts at its first UTC hour, half an hour
    later. Each cell holds what the search says of the site in a one-hour slot at that
    hour: its people's facts, busy if one of them is, and the most serious of them (under
    ``costs``). Nothing is written, and the statements sent to the database do not grow
    with the sites. ``skip_weekends`` and ``skip_holidays`` change no fact (only what a
    search may offer); they are taken so that the grid and the search beside it read the
    same options.
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
    wrong = _cost_problems(dict(costs or {}))
    if wrong:
        raise ValidationFailed(wrong)
    first = start.replace(minute=0)
    if first < start:
        first += HOUR
    last = end.replace(minute=0)
    if last - first < HOUR:
        raise ValidationFailed(
            {"window_end": _("the window holds no whole hour (hours start on the UTC hour)")}
        )

    people = found.people
    participants = participants_for(
        people, required_ids=found.required_ids, weights={}, site_hours={}
    )
    options = SearchOptions(
        duration=HOUR,
        window_start=first,
        window_end=last,
        step_minutes=60,
        limit=1,
        skip_weekends=skip_weekends,
        skip_holidays=skip_holidays,
        costs=dict(costs or {}),
    )
    busy = busy_in_window({person.id for person in people}, first, last)
    starts, masks = engine.slot_masks(participants, options, busy=busy)
    sites, site_of = site_groups(
        participants, {person.id: person.name for person in people}, home_zones(people)
    )
    order, boundaries = by_site(site_of)
    site_masks = np.bitwise_or.reduceat(masks[order], boundaries, axis=0)
    names = engine.category_names(options)
    facts_table = engine.fact_lists(options)

    hours_in: dict[str, tuple[int, ...]] = {}

    def hours_of(zone: str) -> tuple[int, ...]:
        if zone not in hours_in:
            hours_in[zone] = tuple(int(h) for h in engine.local_hours(zone, starts))
        return hours_in[zone]

    by_country: dict[str | None, list[GridSite]] = defaultdict(list)
    country_names: dict[str | None, str] = {}
    for site in sites:
        row = site_masks[site.index].tolist()
        country_names[site.country] = site.country_name
        by_country[site.country].append(
            GridSite(
                institution_id=site.institution_id,
                name=site.name,
                label=site.label,
                timezone=site.timezone,
                people=site.people,
                cells=tuple(names[mask] for mask in row),
                facts=tuple(facts_table[mask] for mask in row),
                local_hours=hours_of(site.timezone),
            )
        )
    countries = [
        GridCountry(code=code, name=country_names[code], sites=tuple(rows))
        for code, rows in by_country.items()
    ]
    countries.sort(key=lambda c: (c.code is None, c.name, c.code or ""))

    offsets = engine.offsets_at(zone_name, starts)
    hours = []
    for index, minute in enumerate(starts.tolist()):
        local = _wall_clock(minute + int(offsets[index]))
        new_day = index == 0 or local.date() != hours[-1].local.date()
        hours.append(
            GridHour(start=EPOCH + dt.timedelta(minutes=minute), local=local, first_of_day=new_day)
        )
    return Grid(timezone=zone_name, hours=tuple(hours), countries=tuple(countries))
