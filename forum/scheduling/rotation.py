"""Fair rotation: start times for a series so that no institution carries the bad hours alone.

Each occurrence may start at a different time of day. Among the good candidates of each
date the plan minimises the largest cumulative burden any institution carries, then the
total, and reports every institution's burden per occurrence and in all, beside the best
single fixed time for comparison.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import replace

import numpy as np

from forum.core.times import get_zone
from forum.scheduling import engine
from forum.scheduling.model import Participant
from forum.scheduling.model import Placement
from forum.scheduling.model import SearchOptions

MAX_OCCURRENCES = 52


@dataclass(frozen=True)
class Site:
    """Who carries a burden: an institution, or a person without one."""

    key: str
    name: str
    country: str | None


def site_of(participant: Participant) -> Site:
    if participant.institution_id is not None:
        return Site(
            f"institution:{participant.institution_id}",
            participant.institution_name or f"institution {participant.institution_id}",
            participant.country,
        )
    return Site(
        f"person:{participant.person_id}", f"person {participant.person_id}", participant.country
    )


@dataclass(frozen=True)
class Candidate:
    start: dt.datetime
    local_time: dt.time  # in the anchor zone
    burden: tuple[int, ...]  # per site, in the plan's site order
    feasible: bool
    placements: tuple[Placement, ...] = ()


@dataclass(frozen=True)
class RotationPlan:
    sites: tuple[Site, ...]
    chosen: tuple[Candidate, ...]  # one per occurrence
    totals: tuple[int, ...]  # per site
    fixed: tuple[Candidate, ...] | None  # the best single time of day, if one exists
    fixed_totals: tuple[int, ...] | None

    @property
    def max_burden(self) -> int:
        return max(self.totals, default=0)

    @property
    def total_burden(self) -> int:
        return sum(self.totals)

    @property
    def fixed_max_burden(self) -> int | None:
        return max(self.fixed_totals, default=0) if self.fixed_totals is not None else None

    @property
    def fixed_total_burden(self) -> int | None:
        return sum(self.fixed_totals) if self.fixed_totals is not None else None


def _day_window(date: dt.date, zone_name: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC span of a local date (23 or 25 hours on a clock-change day)."""
    zone = get_zone(zone_name)
    start = dt.datetime.combine(date, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start, end.astimezone(dt.UTC)


def _candidates(
    participants: list[Participant],
    site_index: np.ndarray,
    n_sites: int,
    date: dt.date,
    anchor: str,
    options: SearchOptions,
    busy: engine.BusyTable | None,
) -> tuple[list[Candidate], engine.SearchResult]:
    """Every start on the date (the feasible ones when there are), with each site's burden.

    All of the day's starts stay candidates, not only the best-ranked: the start that
    spares one region is often a poor one by itself, and only the rotation shows its use.
    """
    window_start, window_end = _day_window(date, anchor)
    # Starts on this local date; the meeting itself may run into the next.
    search = replace(
        options,
        window_start=window_start,
        window_end=window_end + options.duration,
        limit=10_000,
    )
    result = engine.find_slots(participants, search, busy=busy)
    cost = result.costs()  # people x slots
    burden = np.zeros((n_sites, cost.shape[1]), dtype=np.int64)
    np.maximum.at(burden, site_index, cost)
    zone = get_zone(anchor)
    found = [
        Candidate(
            start=slot.start,
            local_time=slot.start.astimezone(zone).time(),
            burden=tuple(int(x) for x in burden[:, rank]),
            feasible=slot.feasible,
        )
        for rank, slot in enumerate(result.slots)
        if slot.start < window_end
    ]
    feasible = [c for c in found if c.feasible]
    return (feasible or found), result


def _score(totals: np.ndarray) -> tuple[int, int, int]:
    """The largest burden, then the total, then how unevenly the rest is shared (the sum
    of squares): of two plans with the same worst and total, the one where fewer sites
    carry near the worst."""
    return int(totals.max(initial=0)), int(totals.sum()), int((totals * totals).sum())


def _improve(burden: list[np.ndarray], choice: list[int]) -> list[int]:
    """Change one occurrence at a time while that lowers (max, total); stop when none does."""
    totals = sum(b[c] for b, c in zip(burden, choice, strict=True))
    best = _score(totals)
    improved = True
    while improved:
        improved = False
        for i, options in enumerate(burden):
            trial = totals - options[choice[i]] + options  # every candidate of occurrence i
            maxima, sums = trial.max(axis=1), trial.sum(axis=1)
            squares = (trial * trial).sum(axis=1)
            pick = int(np.lexsort((squares, sums, maxima))[0])
            if (int(maxima[pick]), int(sums[pick]), int(squares[pick])) < best:
                totals = trial[pick]
                choice[i] = pick
                best = _score(totals)
                improved = True
    return choice


def _greedy(burden: list[np.ndarray], order: list[int]) -> list[int]:
    """Occurrences one at a time, each at the candidate that keeps the running max lowest."""
    totals = np.zeros(burden[0].shape[1], dtype=np.int64)
    choice = [0] * len(burden)
    for i in order:
        trial = totals + burden[i]
        pick = int(np.lexsort((trial.sum(axis=1), trial.max(axis=1)))[0])
        choice[i] = pick
        totals = trial[pick]
    return choice


def plan_rotation(
    participants: list[Participant],
    *,
    dates: list[dt.date],
    anchor_timezone: str,
    options: SearchOptions,
    busy: engine.BusyTable | None = None,
) -> RotationPlan:
    """Start times for the occurrences on ``dates`` (local dates in ``anchor_timezone``).

    ``options`` gives the duration, step and rules; its window is ignored. ``busy`` adds
    busy times to the participants' own (engine.find_slots).
    """
    if not 1 <= len(dates) <= MAX_OCCURRENCES:
        raise ValueError(f"a rotation has 1 to {MAX_OCCURRENCES} occurrences")
    if not participants:
        raise ValueError("a rotation needs participants")
    sites = list(dict.fromkeys(site_of(p) for p in participants))
    position = {site.key: i for i, site in enumerate(sites)}
    site_index = np.asarray([position[site_of(p).key] for p in participants], dtype=np.int64)
    searched = [
        _candidates(participants, site_index, len(sites), d, anchor_timezone, options, busy)
        for d in dates
    ]
    per_date = [cands for cands, _ in searched]
    burden = [np.asarray([c.burden for c in cands], dtype=np.int64) for cands in per_date]

    # The best single time of day kept on every date, if there is one.
    common = set.intersection(*({c.local_time for c in cands} for cands in per_date))
    fixed_choice = None
    if common:

        def fixed_score(time: dt.time) -> tuple[int, int, dt.time]:
            picks = [
                next(j for j, c in enumerate(cands) if c.local_time == time) for cands in per_date
            ]
            return (*_score(sum(b[j] for b, j in zip(burden, picks, strict=True))), time)

        best_time = min(common, key=fixed_score)
        fixed_choice = [
            next(j for j, c in enumerate(cands) if c.local_time == best_time) for cands in per_date
        ]

    starts = [
        _greedy(burden, list(range(len(dates)))),
        _greedy(burden, list(reversed(range(len(dates))))),
    ]
    if fixed_choice is not None:
        starts.append(list(fixed_choice))
    plans = [_improve(burden, choice) for choice in starts]
    choice = min(
        plans,
        key=lambda ch: (
            *_score(sum(b[j] for b, j in zip(burden, ch, strict=True))),
            [per_date[i][j].start for i, j in enumerate(ch)],
        ),
    )

    def explained(picks: list[int]) -> tuple[Candidate, ...]:
        out = []
        for i, j in enumerate(picks):
            candidate = per_date[i][j]
            result = searched[i][1]
            rank = next(r for r, slot in enumerate(result.slots) if slot.start == candidate.start)
            out.append(replace(candidate, placements=tuple(result.placements(rank))))
        return tuple(out)

    chosen = explained(choice)
    totals = tuple(int(x) for x in sum(np.asarray(c.burden) for c in chosen))
    fixed = fixed_totals = None
    if fixed_choice is not None:
        fixed = explained(fixed_choice)
        fixed_totals = tuple(int(x) for x in sum(np.asarray(c.burden) for c in fixed))
    return RotationPlan(tuple(sites), chosen, totals, fixed, fixed_totals)
