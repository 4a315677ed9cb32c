"""What a slot means for each site: who shares a clock, their local times, facts and costs.

A *site* is a row of every explanation and of the planner's grid: the people of one
institution who share a zone and hours (most institutions are one site; a Beijing office
of a New York university is a second one), or one person of no institution. Everything a
site's people have in common (local times, hour class, working calendar) is the same for
all of them, so a site's facts in a slot are theirs, plus "busy" when one of them is.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from forum.core import times
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import country_name as localised_country
from forum.i18n import format_datetime_pattern
from forum.i18n import ngettext
from forum.scheduling import engine
from forum.scheduling.model import BIT
from forum.scheduling.model import BUSY
from forum.scheduling.model import CATEGORIES
from forum.scheduling.model import DEFAULT_COSTS
from forum.scheduling.model import WORKING
from forum.scheduling.model import Participant
from forum.scheduling.model import RankedSlot
from forum.scheduling.model import facts_of
from forum.scheduling.model import mask_of
from forum.scheduling.model import reference_weekday

# The weekday as the API's answers give it (a field machines read, in every language).
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NO_COUNTRY = _l("No institution")
# How many sites the summary names per situation before it says "and N more", and how
# many worst-off sites a slot names.
NAMED_PER_SITUATION = 3
NAMED_WORST_OFF = 5
EXPLAIN_MODES = ("sites", "people", "none")
WALL_EPOCH = dt.datetime(1970, 1, 1)


class Labels(Mapping[str, str]):
    """Labels of machine values, each read in the reader's language when looked up (so
    that ``labels[name]``, ``labels.get(name)`` and joining them give plain text)."""

    def __init__(self, labels: Mapping[str, Any]) -> None:
        self._labels = dict(labels)

    def __getitem__(self, key: str) -> str:
        return str(self._labels[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)


# The facts of a slot as the summary names them ("night and weekend for ...").
PHRASES = Labels(
    {
        "busy": _l("someone busy"),
        "blackout": _l("blackout dates"),
        "holiday": _l("public holiday"),
        "night": _l("night"),
        "weekend": _l("weekend"),
        "early": _l("early"),
        "late": _l("late"),
    }
)


# The facts of an hour, in the words the pages use ("night, weekend").
CATEGORY_LABELS = Labels(
    {
        "working": _l("working hours"),
        "early": _l("early"),
        "late": _l("late"),
        "night": _l("night"),
        "weekend": _l("weekend"),
        "holiday": _l("public holiday"),
        "blackout": _l("closed (blackout)"),
        "busy": _l("someone busy"),
    }
)


def name_of_country(code: str | None) -> str:
    """A country's name in the reader's language ("No institution" for no country)."""
    if not code:
        return str(NO_COUNTRY)
    return localised_country(code)


def and_list(items: Sequence[str]) -> str:
    """Words joined as the summary joins facts: "night and weekend"."""
    text = items[0] if items else ""
    for item in items[1:]:
        text = _("%(first)s and %(second)s", first=text, second=item)
    return text


def comma_list(items: Sequence[str]) -> str:
    """Items joined by commas, as the reader's language writes a list: "A, B, C"."""
    text = items[0] if items else ""
    for item in items[1:]:
        text = _("%(list)s, %(item)s", list=text, item=item)
    return text


def name_list(names: Sequence[str], shown: int) -> str:
    """The first ``shown`` names, then how many more: "A, B, C and 2 more"."""
    text = comma_list(names[:shown])
    if len(names) > shown:
        more = len(names) - shown
        text = ngettext(
            "%(names)s and %(num)d more", "%(names)s and %(num)d more", more, names=text
        )
    return text


@dataclass(frozen=True)
class Site:
    index: int
    institution_id: int | None
    person_id: int | None  # for someone of no institution
    name: str  # the institution's, or the person's
    label: str  # the name, and the zone and head count when the institution has several sites
    country: str | None
    country_name: str
    timezone: str
    people: int

    def out(self) -> dict[str, Any]:
        return {
            "site": self.index,
            "label": self.label,
            "name": self.name,
            "institution_id": self.institution_id,
            "person_id": self.person_id,
            "country": self.country,
            "timezone": self.timezone,
            "people": self.people,
        }


def _count(people: int) -> str:
    return ngettext("%(num)d person", "%(num)d people", people)


def _hours_text(participant: Participant) -> str:
    weekday = reference_weekday(participant.working_hours, frozenset())
    if weekday is None:
        return _("no working hours")
    ranges = participant.working_hours[weekday]
    return ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in ranges)


def site_groups(
    participants: Sequence[Participant],
    names: Mapping[int, str],
    home_zones: Mapping[int, str] | None = None,
    profile: np.ndarray | None = None,
) -> tuple[list[Site], np.ndarray]:
    """The sites of a search, in the order explanations list them (by country, then name,
    the institution's own zone first, then the others), and each participant's site
    number. ``names`` gives each person's name, ``home_zones`` each institution's zone,
    ``profile`` each participant's profile number if known (engine.profile_index)."""
    home_zones = home_zones or {}
    if profile is None:
        profile = engine.profile_index(list(participants))
    keys: dict[tuple[int | None, int], list[int]] = defaultdict(list)
    for row, p in enumerate(participants):
        if p.institution_id is not None:
            keys[(p.institution_id, int(profile[row]))].append(row)
        else:
            keys[(None, -p.person_id)].append(row)
    per_institution: dict[int, list[tuple[int | None, int]]] = defaultdict(list)
    for key in keys:
        if key[0] is not None:
            per_institution[key[0]].append(key)

    drafts = []
    for key, rows in keys.items():
        first = participants[rows[0]]
        institution_id = key[0]
        if institution_id is None:
            name = (
                names[first.person_id]
                if first.person_id in names
                else _("person %(id)s", id=first.person_id)
            )
            label = name
        else:
            name = first.institution_name or _("institution %(id)s", id=institution_id)
            label = name
            siblings = per_institution[institution_id]
            if len(siblings) > 1:
                label = f"{name} · {first.timezone} · {_count(len(rows))}"
                same_zone = [
                    k for k in siblings if participants[keys[k][0]].timezone == first.timezone
                ]
                if len(same_zone) > 1:
                    label += " · " + _("hours %(hours)s", hours=_hours_text(first))
        country = first.country if institution_id is not None else None
        drafts.append((key, rows, name, label, country, name_of_country(country), first))
    drafts.sort(
        key=lambda d: (
            d[4] is None,  # people of no institution last
            d[5],
            d[2],
            d[0][0] or 0,
            d[6].timezone != home_zones.get(d[0][0] or 0),
            d[6].timezone,
            -len(d[1]),
            min(d[1]),
        )
    )
    sites = []
    site_of = np.zeros(len(participants), dtype=np.int64)
    for index, (key, rows, name, label, country, country_name, first) in enumerate(drafts):
        site_of[rows] = index
        sites.append(
            Site(
                index=index,
                institution_id=key[0],
                person_id=first.person_id if key[0] is None else None,
                name=name,
                label=label,
                country=country,
                country_name=country_name,
                timezone=first.timezone,
                people=len(rows),
            )
        )
    return sites, site_of


@dataclass(frozen=True)
class SiteFacts:
    """Each site in each returned slot (sites x slots)."""

    masks: np.ndarray  # the facts of the site's people, busy if one of them is
    costs: np.ndarray  # the highest cost among its people
    busy: np.ndarray  # how many of its people are busy
    first_row: np.ndarray  # a participant row of each site (they share local times)


def by_site(site_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Participant rows ordered by site, and where each site's run begins: the arguments
    of numpy's ``reduceat`` for a value per site (sites numbered 0..n-1, none empty)."""
    order = np.argsort(site_of, kind="stable")
    return order, np.flatnonzero(np.concatenate(([True], np.diff(site_of[order]) != 0)))


def site_facts(result: engine.SearchResult, site_of: np.ndarray, n_sites: int) -> SiteFacts:
    order, starts = by_site(site_of)
    if len(starts) != n_sites:
        raise ValueError("every site needs at least one participant")
    masks = result.masks[order]
    return SiteFacts(
        masks=np.bitwise_or.reduceat(masks, starts, axis=0),
        costs=np.maximum.reduceat(result.costs()[order], starts, axis=0),
        busy=np.add.reduceat((masks & BIT[BUSY] != 0).astype(np.int64), starts, axis=0),
        first_row=order[starts],
    )


@dataclass(frozen=True)
class SiteTime:
    """One site in one slot. ``local_start``/``local_end`` are naive wall-clock times."""

    site: Site
    local_start: dt.datetime
    local_end: dt.datetime
    category: str
    categories: tuple[str, ...]
    cost: int
    busy: int

    # The fields pages read as a site's own.
    @property
    def name(self) -> str:
        return self.site.label

    @property
    def country(self) -> str | None:
        return self.site.country

    @property
    def timezone(self) -> str:
        return self.site.timezone

    @property
    def people(self) -> int:
        return self.site.people

    @property
    def weekday(self) -> str:
        return WEEKDAY_NAMES[self.local_start.weekday()]

    def out(self) -> dict[str, Any]:
        return {
            "site": self.site.index,
            "local_start": times.format_local(self.local_start),
            "local_end": times.format_local(self.local_end),
            "weekday": self.weekday,
            "categories": list(self.categories),
            "worst_cost": self.cost,
            "busy": self.busy,
        }


def _wall(minutes: int) -> dt.datetime:
    return WALL_EPOCH + dt.timedelta(minutes=minutes)


def site_times(
    result: engine.SearchResult, sites: Sequence[Site], facts: SiteFacts, rank: int
) -> list[SiteTime]:
    """Every site in the slot at ``rank``, in the sites' order."""
    names = engine.category_names(result.options)
    facts_table = engine.fact_lists(result.options)
    found = []
    for site in sites:
        row = facts.first_row[site.index]
        mask = int(facts.masks[site.index, rank])
        found.append(
            SiteTime(
                site=site,
                local_start=_wall(int(result.local_start[row, rank])),
                local_end=_wall(int(result.local_end[row, rank])),
                category=names[mask],
                categories=facts_table[mask],
                cost=int(facts.costs[site.index, rank]),
                busy=int(facts.busy[site.index, rank]),
            )
        )
    return found


@dataclass(frozen=True)
class CountryGroup:
    """The sites of one country (``country`` None: people of no institution)."""

    country: str | None
    name: str
    category: str
    categories: tuple[str, ...]
    cost: int
    sites: list[SiteTime]

    def out(self) -> dict[str, Any]:
        """The country in one slot (its name and head count are in the answer's countries)."""
        return {
            "country": self.country,
            "categories": list(self.categories),
            "worst_cost": self.cost,
        }


def _union(categories: Iterable[tuple[str, ...]], costs: Mapping[str, int]) -> tuple[str, ...]:
    return facts_of(mask_of([name for facts in categories for name in facts]), costs)


def country_groups(
    sites: Iterable[SiteTime], costs: Mapping[str, int] = DEFAULT_COSTS
) -> list[CountryGroup]:
    """Sites by country, the most affected country first; people of no institution last.

    A country's category is its costliest site's; its categories, every fact that holds
    at one of its sites.
    """
    by_country: dict[str | None, list[SiteTime]] = defaultdict(list)
    for site in sites:
        by_country[site.country].append(site)
    groups = []
    for country, members in by_country.items():
        worst = max(members, key=lambda s: (s.cost, -CATEGORIES.index(s.category)))
        groups.append(
            CountryGroup(
                country=country,
                name=members[0].site.country_name,
                category=worst.category,
                categories=_union((s.categories for s in members), costs),
                cost=worst.cost,
                sites=sorted(members, key=lambda s: (-s.cost, s.name)),
            )
        )
    groups.sort(key=lambda group: (group.country is None, -group.cost, group.name))
    return groups


def summarise(sites: Sequence[SiteTime]) -> str:
    """One sentence on who pays: "Working hours for 31 of 40 sites; night and weekend for
    University of Auckland (Sat 04:15); ..."."""
    working = [s for s in sites if s.categories == (WORKING,)]
    if len(sites) == 1 and working:
        return _("Working hours for %(site)s.", site=sites[0].name)
    if len(working) == len(sites):
        return ngettext(
            "Working hours for all %(num)d site.",
            "Working hours for all %(num)d sites.",
            len(sites),
        )
    text = ngettext(
        "Working hours for %(working)d of %(num)d site",
        "Working hours for %(working)d of %(num)d sites",
        len(sites),
        working=len(working),
    )
    situations: dict[tuple[str, ...], list[SiteTime]] = defaultdict(list)
    for site in sites:
        if site.categories != (WORKING,):
            situations[site.categories].append(site)
    ordered = sorted(situations.items(), key=lambda item: -max(s.cost for s in item[1]))
    for facts, members in ordered:
        members.sort(key=lambda s: (-s.cost, s.name))
        named = [
            _(
                "%(site)s (%(time)s)",
                site=s.name,
                time=format_datetime_pattern(s.local_start, "EEE HH:mm"),
            )
            for s in members
        ]
        shown = name_list(named, NAMED_PER_SITUATION)
        phrase = and_list([PHRASES[name] for name in facts])
        if facts[0] == BUSY:
            clause = _("%(facts)s at %(sites)s", facts=phrase, sites=shown)
        else:
            clause = _("%(facts)s for %(sites)s", facts=phrase, sites=shown)
        text = _("%(summary)s; %(clause)s", summary=text, clause=clause)
    return _("%(summary)s.", summary=text)


def worst_off(sites: Sequence[SiteTime]) -> list[int]:
    """The sites that pay the most in a slot (none when every site is in working hours)."""
    top = max((s.cost for s in sites), default=0)
    if top <= 0:
        return []
    return [s.site.index for s in sites if s.cost == top][:NAMED_WORST_OFF]


def slot_scores(slot: RankedSlot) -> dict[str, Any]:
    return {
        "start": times.format_instant(slot.start),
        "end": times.format_instant(slot.end),
        "required_available": slot.required_available,
        "required_total": slot.required_total,
        "feasible": slot.feasible,
        "worst_cost": slot.worst_cost,
        "total_cost": slot.total_cost,
    }


def explain(
    result: engine.SearchResult,
    names: Mapping[int, str],
    home_zones: Mapping[int, str],
    *,
    mode: str,
) -> dict[str, Any]:
    """The slots of a search with as much explanation as ``mode`` asks.

    ``"none"``: the scores; ``"sites"``: also every site's (and country's) local times,
    facts, cost and head count, the worst-off sites and a summary; ``"people"``: also every
    participant. The sites themselves are listed once, beside the slots.
    """
    if mode not in EXPLAIN_MODES:
        raise ValueError(f"explain must be one of {', '.join(EXPLAIN_MODES)}")
    slots = [slot_scores(slot) for slot in result.slots]
    if mode == "none":
        return {"slots": slots}
    sites, site_of = site_groups(result.participants, names, home_zones, result.profile_of)
    facts = site_facts(result, site_of, len(sites)) if result.participants else None
    people_rows = _people_rows(result, names, site_of) if mode == "people" else None
    for rank, out in enumerate(slots):
        rows = site_times(result, sites, facts, rank) if facts is not None else []
        out["summary"] = summarise(rows)
        out["worst_off"] = worst_off(rows)
        out["institutions"] = [row.out() for row in rows]
        out["countries"] = [
            group.out()
            for group in country_groups(rows, result.options.costs)
            if group.country is not None
        ]
        if people_rows is not None:
            out["participants"] = people_rows(rank)
    return {
        "slots": slots,
        "sites": [site.out() for site in sites],
        "countries": _countries(sites),
    }


def _countries(sites: Sequence[Site]) -> list[dict[str, Any]]:
    """Each country of the sites: its name, institutions and people."""
    found: dict[str, dict[str, Any]] = {}
    for site in sites:
        if site.country is None:
            continue
        row = found.setdefault(
            site.country,
            {
                "country": site.country,
                "name": site.country_name,
                "institutions": set(),
                "people": 0,
            },
        )
        row["institutions"].add(site.institution_id)
        row["people"] += site.people
    for row in found.values():
        row["institutions"] = len(row["institutions"])
    return sorted(found.values(), key=lambda row: row["name"])


def _people_rows(result: engine.SearchResult, names: Mapping[int, str], site_of: np.ndarray) -> Any:
    """A function of a rank: every participant in that slot, by country, site and name."""
    participants = result.participants
    category_names = engine.category_names(result.options)
    facts_table = engine.fact_lists(result.options)
    costs = result.costs()
    available = result.available()
    order = sorted(
        range(len(participants)),
        key=lambda row: (
            int(site_of[row]),
            names.get(participants[row].person_id, ""),
            participants[row].person_id,
        ),
    )
    formatted: dict[int, str] = {}

    def local(minutes: int) -> str:
        text = formatted.get(minutes)
        if text is None:
            text = formatted[minutes] = times.format_local(_wall(minutes))
        return text

    def rows(rank: int) -> list[dict[str, Any]]:
        found = []
        for row in order:
            who = participants[row]
            mask = int(result.masks[row, rank])
            start = int(result.local_start[row, rank])
            found.append(
                {
                    "person_id": who.person_id,
                    "name": names.get(who.person_id, ""),
                    "site": int(site_of[row]),
                    "institution_id": who.institution_id,
                    "country": who.country,
                    "timezone": who.timezone,
                    "local_start": local(start),
                    "local_end": local(int(result.local_end[row, rank])),
                    "weekday": WEEKDAY_NAMES[(start // 1440 + 3) % 7],
                    "category": category_names[mask],
                    "categories": list(facts_table[mask]),
                    "cost": int(costs[row, rank]),
                    "required": who.required,
                    "available": bool(available[row, rank]),
                }
            )
        return found

    return rows
