"""What an organiser reads of a poll: people by options, answers beside the engine's view.

For each option the engine says, as for a search, where the time falls for each person
(working, early, late, night, weekend, holiday, blackout, busy) and for each site; the
answers say what people know that no calendar holds.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from dataclasses import field

from forum.directory.models import Person
from forum.events import explanations
from forum.events import planning
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import ngettext
from forum.polls.models import Poll
from forum.polls.models import PollInvitee
from forum.polls.models import PollOption
from forum.polls.services import votes_of
from forum.scheduling import engine
from forum.scheduling.model import MAX_WINDOW
from forum.scheduling.model import STEPS
from forum.scheduling.model import Placement
from forum.scheduling.model import SearchOptions

NO_COUNTRY = _l("No institution")


@dataclass
class OptionRow:
    option: PollOption
    counts: Counter
    # Every required person answered yes or if need be.
    suits_every_required: bool
    sites: list[explanations.SiteTime]
    not_answered: int


@dataclass
class PersonRow:
    invitee: PollInvitee
    answers: dict[int, str | None]
    placements: dict[int, Placement]

    @property
    def person(self) -> Person:
        return self.invitee.person


@dataclass
class Group:
    """The people of one institution (or of none), under their country."""

    country: str | None
    country_name: str
    institution: str
    people: list[PersonRow] = field(default_factory=list)


@dataclass
class Matrix:
    poll: Poll
    options: list[OptionRow]
    groups: list[Group]
    not_answered: list[PollInvitee]
    everyone_required_answered: bool
    suiting: list[OptionRow]

    @property
    def people(self) -> list[PersonRow]:
        return [row for group in self.groups for row in group.people]

    @property
    def best(self) -> OptionRow | None:
        """The option most people can come to: suiting every required person first, then
        the most yes, the fewest no, the earliest."""
        if not self.options:
            return None
        return min(
            self.options,
            key=lambda row: (
                not row.suits_every_required,
                -(row.counts["yes"] + row.counts["if_need_be"]),
                -row.counts["yes"],
                row.option.start,
            ),
        )

    def summary(self) -> str:
        """The state of the answers in a sentence or two, as the page and API say it."""
        required = [i for i in self.poll.invitees if i.required]
        waiting = [i for i in required if i.answered_at is None]
        parts = []
        if not required:
            parts.append(_("Nobody is required."))
        elif waiting:
            parts.append(
                ngettext(
                    "%(waiting)d of %(num)d required person has not answered yet.",
                    "%(waiting)d of %(num)d required people have not answered yet.",
                    len(required),
                    waiting=len(waiting),
                )
            )
        else:
            parts.append(_("Everyone required has answered."))
        if self.suiting:
            count = len(self.suiting)
            parts.append(
                ngettext(
                    "%(num)d option suits every required person so far.",
                    "%(num)d options suit every required person so far.",
                    count,
                )
                if waiting
                else ngettext(
                    "%(num)d option suits every required person.",
                    "%(num)d options suit every required person.",
                    count,
                )
            )
        elif required:
            parts.append(
                _("No option suits every required person so far.")
                if waiting
                else _(
                    "No option suits every required person: offer other times, or choose "
                    "the option with the most answers."
                )
            )
        return " ".join(parts)


def _common_step(starts: list[dt.datetime]) -> int | None:
    """The longest of the engine's steps that lands on every start from the first (on
    whole minutes), or None."""
    first = starts[0]
    if first.second or first.microsecond:
        return None
    offsets = [(start - first) // dt.timedelta(minutes=1) for start in starts]
    if any((start - first) % dt.timedelta(minutes=1) for start in starts):
        return None
    return next(
        (step for step in sorted(STEPS, reverse=True) if all(o % step == 0 for o in offsets)),
        None,
    )


def _searches(poll: Poll) -> list[tuple[SearchOptions, list[PollOption]]]:
    """The engine's searches that place every option: one over the poll's whole span when
    the options share a step (the engine's own slots, times on the hour...), each option
    on its own otherwise."""
    options = sorted(poll.options, key=lambda o: o.start)
    duration = poll.duration
    step = _common_step([o.start for o in options])
    span_end = options[-1].start + duration
    if step is not None and span_end - options[0].start <= MAX_WINDOW:
        count = (options[-1].start - options[0].start) // dt.timedelta(minutes=step) + 1
        whole = SearchOptions(
            duration=duration,
            window_start=options[0].start,
            window_end=span_end,
            step_minutes=step,
            limit=count,
            skip_holidays=False,
        )
        return [(whole, options)]
    return [
        (
            SearchOptions(
                duration=duration,
                window_start=o.start,
                window_end=o.start + duration,
                step_minutes=STEPS[0],
                limit=1,
                skip_holidays=False,
            ),
            [o],
        )
        for o in options
    ]


def _engine_view(
    poll: Poll, people: list[Person]
) -> tuple[dict[int, dict[int, Placement]], dict[int, list[explanations.SiteTime]]]:
    """Each person's placement and each site's time, per option id."""
    members = planning.load_members(p.id for p in people)
    if not members or not poll.options:
        return {}, {}
    found = [members[person_id] for person_id in sorted(members)]
    required = {i.person_id for i in poll.invitees if i.required}
    participants = planning.participants_for(
        found, required_ids=required, weights={}, site_hours={}
    )
    names = {p.id: p.name for p in found}
    sites, site_of = explanations.site_groups(participants, names, planning.home_zones(found))
    first = min(o.start for o in poll.options)
    last = max(o.end for o in poll.options)
    busy = planning.busy_in_window(members, first, last)
    placements: dict[int, dict[int, Placement]] = {}
    site_rows: dict[int, list[explanations.SiteTime]] = {}
    for options, wanted in _searches(poll):
        result = engine.find_slots(participants, options, busy=busy)
        facts = explanations.site_facts(result, site_of, len(sites))
        rank_of = {slot.start: rank for rank, slot in enumerate(result.slots)}
        for option in wanted:
            rank = rank_of.get(option.start)
            if rank is None:
                continue
            placements[option.id] = {p.participant.person_id: p for p in result.placements(rank)}
            site_rows[option.id] = explanations.site_times(result, sites, facts, rank)
    return placements, site_rows


def matrix(poll: Poll) -> Matrix:
    """The poll's people (by country, then institution) by its options."""
    invitees = list(poll.invitees)
    votes = votes_of(poll)
    placements, site_rows = _engine_view(poll, [i.person for i in invitees])
    required = [i for i in invitees if i.required]

    rows = []
    for option in poll.options:
        answers = [votes.get((option.id, i.person_id)) for i in invitees]
        counts = Counter(a for a in answers if a is not None)
        suits = bool(required) and all(
            votes.get((option.id, i.person_id)) in ("yes", "if_need_be") for i in required
        )
        rows.append(
            OptionRow(
                option=option,
                counts=counts,
                suits_every_required=suits,
                sites=site_rows.get(option.id, []),
                not_answered=sum(a is None for a in answers),
            )
        )

    groups: dict[tuple, Group] = {}
    for invitee in invitees:
        person = invitee.person
        institution = person.institution
        country = institution.country if institution else None
        key = (
            country is None,
            explanations.name_of_country(country),
            institution.name if institution else "",
        )
        group = groups.setdefault(
            key,
            Group(
                country=country,
                country_name=key[1],
                institution=institution.name if institution else str(NO_COUNTRY),
            ),
        )
        group.people.append(
            PersonRow(
                invitee=invitee,
                answers={o.id: votes.get((o.id, person.id)) for o in poll.options},
                placements={
                    option_id: found[person.id]
                    for option_id, found in placements.items()
                    if person.id in found
                },
            )
        )
    for group in groups.values():
        group.people.sort(key=lambda row: (not row.invitee.required, row.person.name.casefold()))
    return Matrix(
        poll=poll,
        options=rows,
        groups=[groups[key] for key in sorted(groups)],
        not_answered=[i for i in invitees if i.answered_at is None],
        everyone_required_answered=all(i.answered_at is not None for i in required),
        suiting=[row for row in rows if row.suits_every_required],
    )
