"""The booking form's preview: every date of a session or series before it is booked.

For each date: each invited site's local time and what that hour is for them (the slot
search's own facts: working hours, early, late, night, weekend, public holiday), the
clashes with the invitees' other sessions (the booking's own conflict check), and the
dates whose local time the clocks skip or repeat. Where a site's hour moves with a clock
change, the date it moves from is said inline. Nothing is written: the people, their
sessions and calendars are only read, in a number of queries that does not grow with the
dates or the sites.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from forum.accounts.models import Organiser
from forum.core import times
from forum.core.recurrence import MAX_OCCURRENCES
from forum.core.recurrence import invalid_local_times
from forum.core.recurrence import local_dates
from forum.core.recurrence import occurrences
from forum.events import services
from forum.events.conflicts import find_clashes
from forum.events.explanations import CATEGORY_LABELS
from forum.events.explanations import by_site
from forum.events.explanations import site_groups
from forum.events.models import ROLE_LABELS
from forum.events.models import Event
from forum.events.models import EventSession
from forum.events.models import SessionOverride
from forum.events.occurrences import Change
from forum.events.occurrences import meeting_times
from forum.events.planning import home_zones
from forum.events.planning import load_members
from forum.events.planning import participants_for
from forum.extensions import db
from forum.i18n import _
from forum.i18n import format_date_text
from forum.i18n import format_time_text
from forum.i18n import ngettext
from forum.i18n import zone_text
from forum.scheduling import dst
from forum.scheduling import engine
from forum.scheduling.model import MAX_WINDOW
from forum.scheduling.model import STEPS
from forum.scheduling.model import SearchOptions

Interval = tuple[dt.datetime, dt.datetime]
ZERO = dt.timedelta(0)


@dataclass(frozen=True)
class SiteHour:
    """One invited site at one date: its wall-clock start and what that hour is there."""

    name: str
    timezone: str
    local: dt.datetime  # naive, the site's wall clock
    categories: tuple[str, ...]  # the most serious first, ("working",) when nothing else

    @property
    def label(self) -> str:
        """The facts in the planner's words: "night, weekend"."""
        return ", ".join(str(CATEGORY_LABELS.get(name, name)) for name in self.categories)

    @property
    def category(self) -> str:
        return self.categories[0]


@dataclass(frozen=True)
class DateRow:
    """One date of the series, with what the organiser should look at before booking."""

    number: int
    start: dt.datetime  # UTC
    local: dt.datetime  # the series' wall clock
    sites: tuple[SiteHour, ...]
    moves: tuple[str, ...]  # sites whose hour moves from this date, in words
    clashes: tuple[str, ...]
    holidays: tuple[str, ...]  # the sites for which it is a public holiday
    clock_problem: str | None  # the local time does not exist, or happens twice

    @property
    def flagged(self) -> bool:
        return bool(self.clashes or self.holidays or self.clock_problem)


@dataclass(frozen=True)
class Preview:
    """Every date of the series (one for a one-off), and the sites in column order."""

    timezone: str
    rows: tuple[DateRow, ...]
    site_names: tuple[tuple[str, str], ...]  # (name, zone) of each site, in column order

    @property
    def flagged(self) -> int:
        return sum(1 for row in self.rows if row.flagged)


def _site_hours(
    participants: list, sites: list, site_of: np.ndarray, intervals: list[Interval]
) -> list[tuple[SiteHour, ...]]:
    """Every site at every date, by the slot search's own rules (engine.slot_masks).

    The dates are read in windows of up to the engine's 90 days, each date a slot of the
    window, so that a series of hundreds of dates costs a few searches, not one each.
    A window's slots are a step apart from its first date (the coarsest step that keeps
    every date on the grid); a date off even the finest grid opens a window of its own.
    """
    duration = intervals[0][1] - intervals[0][0]
    step = dt.timedelta(minutes=STEPS[0])
    order, first_rows = by_site(site_of)
    windows: list[list[int]] = []
    for index, (start, _end) in enumerate(intervals):
        if windows:
            first = intervals[windows[-1][0]][0]
            if start + duration - first <= MAX_WINDOW and (start - first) % step == ZERO:
                windows[-1].append(index)
                continue
        windows.append([index])
    found: list[tuple[SiteHour, ...]] = [()] * len(intervals)
    for window in windows:
        first = intervals[window[0]][0]
        offsets = [intervals[index][0] - first for index in window]
        # The coarsest step that still has a slot at every date: fewer slots to judge.
        minutes = max(m for m in STEPS if all(o % dt.timedelta(minutes=m) == ZERO for o in offsets))
        step = dt.timedelta(minutes=minutes)
        options = SearchOptions(
            duration=duration,
            window_start=first,
            window_end=intervals[window[-1]][0] + duration,
            step_minutes=minutes,
        )
        _slots, masks = engine.slot_masks(participants, options)
        facts = engine.fact_lists(options)
        columns = [offset // step for offset in offsets]
        by_site_masks = np.bitwise_or.reduceat(masks[order][:, columns], first_rows, axis=0)
        for column, index in enumerate(window):
            start = intervals[index][0]
            found[index] = tuple(
                SiteHour(
                    site.label,
                    site.timezone,
                    times.to_local(start, site.timezone),
                    facts[int(by_site_masks[site.index, column])],
                )
                for site in sites
            )
    return found


def _hour_moves(
    sites: list, starts: list[dt.datetime], duration: dt.timedelta, timezone: str, rrule: str
) -> dict[int, list[str]]:
    """By date number: the sites whose local hour differs from the first date's from then
    on, or comes back to it, with the clock change behind it (scheduling.dst)."""
    index_of = {start: index for index, start in enumerate(starts)}
    previews = dst.dst_preview(
        [(str(site.index), site.label, site.timezone) for site in sites],
        start=starts[0],
        duration=duration,
        timezone=timezone,
        rrule=rrule,
        limit=MAX_OCCURRENCES,
    )
    moves: dict[int, list[str]] = defaultdict(list)
    for site in previews:
        usual = format_time_text(site.first_local)
        moved_from = {index_of.get(stretch.first.start) for stretch in site.stretches}
        for stretch in site.stretches:
            index = index_of.get(stretch.first.start)
            if index is None:
                continue
            moves[index].append(_moved_text(site, stretch, usual))
            after = index_of.get(stretch.last.start, -1) + 1
            # Back to the usual hour, unless another move starts right there.
            if stretch.ended_by and 0 < after < len(starts) and after not in moved_from:
                back = times.to_local(starts[after], site.timezone)
                moves[after].append(_back_text(site, back, usual, stretch.ended_by))
    return moves


def _moved_text(site, stretch, usual: str) -> str:
    """ "Site: from <date> the session starts at 09:00 (zone), 1 hour later than the usual
    08:00: clocks in <zone> go forward on <date>." """
    values = {
        "site": site.name,
        "date": format_date_text(stretch.first.site_local),
        "time": format_time_text(stretch.first.site_local),
        "zone": zone_text(site.timezone),
        "duration": _minutes(abs(stretch.minutes)),
        "usual": usual,
    }
    reasons = _because(stretch.changes)
    if stretch.minutes > 0:
        if reasons:
            return _(
                "%(site)s: from %(date)s the session starts at %(time)s (%(zone)s), "
                "%(duration)s later than the usual %(usual)s: %(reasons)s.",
                reasons=reasons,
                **values,
            )
        return _(
            "%(site)s: from %(date)s the session starts at %(time)s (%(zone)s), "
            "%(duration)s later than the usual %(usual)s.",
            **values,
        )
    if reasons:
        return _(
            "%(site)s: from %(date)s the session starts at %(time)s (%(zone)s), "
            "%(duration)s earlier than the usual %(usual)s: %(reasons)s.",
            reasons=reasons,
            **values,
        )
    return _(
        "%(site)s: from %(date)s the session starts at %(time)s (%(zone)s), "
        "%(duration)s earlier than the usual %(usual)s.",
        **values,
    )


def _back_text(site, back: dt.datetime, usual: str, changes: tuple) -> str:
    """ "Site: from <date> the session starts at its usual 08:00 (zone) again: clocks ..." """
    values = {
        "site": site.name,
        "date": format_date_text(back),
        "usual": usual,
        "zone": zone_text(site.timezone),
    }
    reasons = _because(changes)
    if reasons:
        return _(
            "%(site)s: from %(date)s the session starts at its usual %(usual)s (%(zone)s) "
            "again: %(reasons)s.",
            reasons=reasons,
            **values,
        )
    return _(
        "%(site)s: from %(date)s the session starts at its usual %(usual)s (%(zone)s) again.",
        **values,
    )


def _minutes(count: int) -> str:
    if count % 60 == 0:
        return ngettext("%(num)d hour", "%(num)d hours", count // 60)
    return ngettext("%(num)d minute", "%(num)d minutes", count)


def _because(changes: tuple[dst.ClockChange, ...]) -> str:
    """The clock changes behind a move, as one clause: "clocks in X go forward on <date>"."""
    said = [
        _(
            "clocks in %(zone)s go forward on %(date)s",
            zone=change.zone,
            date=format_date_text(change.local_before),
        )
        if change.minutes > 0
        else _(
            "clocks in %(zone)s go back on %(date)s",
            zone=change.zone,
            date=format_date_text(change.local_before),
        )
        for change in changes
    ]
    if not said:
        return ""
    text = said[0]
    for more in said[1:]:
        text = _("%(first)s and %(second)s", first=text, second=more)
    return text


def _clock_problems(
    dates: list[dt.datetime], timezone: str, leave_out: bool
) -> dict[dt.datetime, str]:
    """By instant (as the series reads it): why a date's local time is a problem, in words."""
    found = {}
    for date in invalid_local_times(dates, timezone):
        time = format_time_text(date.local)
        if date.code == "nonexistent_local_time":
            gap_start = format_time_text(dt.datetime.fromisoformat(str(date.details["gap_start"])))
            gap_end = format_time_text(dt.datetime.fromisoformat(str(date.details["gap_end"])))
            if leave_out:
                text = _(
                    "%(time)s does not exist in %(zone)s that day: clocks jump from "
                    "%(gap_start)s to %(gap_end)s; this date is left out.",
                    time=time,
                    zone=timezone,
                    gap_start=gap_start,
                    gap_end=gap_end,
                )
            else:
                text = _(
                    "%(time)s does not exist in %(zone)s that day: clocks jump from "
                    "%(gap_start)s to %(gap_end)s; tick “Leave out…” to book the series "
                    "without it.",
                    time=time,
                    zone=timezone,
                    gap_start=gap_start,
                    gap_end=gap_end,
                )
        elif leave_out:
            text = _(
                "%(time)s happens twice in %(zone)s that day: clocks go back; this date is "
                "left out.",
                time=time,
                zone=timezone,
            )
        else:
            text = _(
                "%(time)s happens twice in %(zone)s that day: clocks go back; tick "
                "“Leave out…” to book the series without it.",
                time=time,
                zone=timezone,
            )
        found[date.instant] = text
    return found


def _meetings(
    sessions: list[EventSession], after: dt.datetime, before: dt.datetime
) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """Every meeting of these sessions between ``after`` and ``before``, moved and
    cancelled occurrences applied, by session id; their overrides read in one query."""
    changes: dict[int, dict[dt.datetime, Change]] = defaultdict(dict)
    rows = db.session.execute(
        sa.select(
            SessionOverride.session_id,
            SessionOverride.recurrence_id,
            SessionOverride.start,
            SessionOverride.end,
            SessionOverride.cancelled,
        ).where(SessionOverride.session_id.in_(sorted({s.id for s in sessions})))
    )
    for session_id, recurrence_id, start, end, cancelled in rows:
        changes[session_id][recurrence_id] = Change(start, end, cancelled)
    return {
        session.id: list(
            meeting_times(
                start=session.start,
                end=session.end,
                timezone=session.timezone,
                rrule=session.rrule,
                exdates=session.exdates,
                changes=changes[session.id],
                after=after,
                before=before,
            )
        )
        for session in sessions
    }


def _clash_texts(
    actor: Organiser, clashes: list, intervals: list[tuple[dt.datetime, dt.datetime]]
) -> dict[int, list[str]]:
    """By date number: who is already in another session then. Another organiser's session
    is not named, as in the booking's refusal.

    The conflict check names each clashing person and session once, at their first clash;
    the preview marks every date that clashes, so those sessions' meetings over the whole
    series are read as well.
    """
    if not clashes:
        return {}
    event_ids = {clash.other.event_id for clash in clashes}
    visible = set(
        db.session.scalars(
            services.visible_events(actor)
            .with_only_columns(Event.id)
            .where(Event.id.in_(event_ids))
        )
    )
    others = list({clash.other.id: clash.other for clash in clashes}.values())
    meetings = _meetings(others, intervals[0][0], max(end for _, end in intervals))
    # The series' dates do not overlap one another: in start order, their ends are too.
    starts = [start for start, _ in intervals]
    found: dict[int, list[str]] = defaultdict(list)
    for clash in clashes:
        for meeting_start, meeting_end in meetings[clash.other.id]:
            index = max(bisect.bisect_right(starts, meeting_start) - 1, 0)
            while index < len(intervals) and intervals[index][0] < meeting_end:
                if meeting_start < intervals[index][1]:
                    found[index].append(
                        _clash_text(
                            clash, clash.other.event_id in visible, meeting_start, meeting_end
                        )
                    )
                index += 1
    return found


def _clash_text(clash, visible: bool, start: dt.datetime, end: dt.datetime) -> str:
    """Who is already where then; another organiser's session is not named."""
    values = {
        "person": clash.person.name,
        "role": str(ROLE_LABELS.get(clash.role, clash.role or "")),
        "other_role": str(ROLE_LABELS.get(clash.other_role, clash.other_role or "")),
        "start": format_time_text(start),
        "end": format_time_text(end),
    }
    if visible:
        return _(
            "%(person)s (%(role)s) is already %(other_role)s in “%(title)s” from %(start)s to "
            "%(end)s UTC",
            title=clash.other.title,
            **values,
        )
    return _(
        "%(person)s (%(role)s) is already %(other_role)s in a session from %(start)s to "
        "%(end)s UTC",
        **values,
    )


def build_preview(
    actor: Organiser,
    *,
    start: dt.datetime,
    end: dt.datetime,
    timezone: str,
    rrule: str | None,
    roles: dict[int, str],
    leave_out: bool,
) -> Preview:
    """Every date of the session (a one-off has one) as its invitees will live it.

    ``roles`` are the invitees ({person_id: role}); ``leave_out`` says whether the dates
    whose local time does not exist or happens twice are to be left out of the series.
    The rule must have passed the booking's own checks (recurrence.check_series).
    """
    intervals = list(
        occurrences(start=start, end=end, timezone=timezone, rrule=rrule, limit=MAX_OCCURRENCES)
    )
    problems = {}
    if rrule:
        dates = list(local_dates(rrule, times.to_local(start, timezone)))
        problems = _clock_problems(dates[1:], timezone, leave_out)

    members = load_members(roles)
    people = [members[person_id] for person_id in sorted(members)]
    participants = participants_for(people, required_ids=set(), weights={}, site_hours={})
    sites, site_of = (
        site_groups(participants, {p.id: p.name for p in people}, home_zones(people))
        if participants
        else ([], None)
    )
    starts = [s for s, _ in intervals]
    moves = _hour_moves(sites, starts, end - start, timezone, rrule) if rrule and sites else {}
    clashes = _clash_texts(actor, find_clashes(intervals, roles), intervals) if roles else {}

    site_hours = _site_hours(participants, sites, site_of, intervals) if participants else []
    rows = []
    for index, (occurrence_start, _end) in enumerate(intervals):
        hours = site_hours[index] if site_hours else ()
        rows.append(
            DateRow(
                number=index + 1,
                start=occurrence_start,
                local=times.to_local(occurrence_start, timezone),
                sites=hours,
                moves=tuple(moves.get(index, ())),
                clashes=tuple(clashes.get(index, ())),
                holidays=tuple(h.name for h in hours if "holiday" in h.categories),
                clock_problem=problems.get(occurrence_start),
            )
        )
    return Preview(
        timezone=timezone,
        rows=tuple(rows),
        site_names=tuple((site.label, site.timezone) for site in sites),
    )
