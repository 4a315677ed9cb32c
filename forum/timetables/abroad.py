"""Teachers abroad: who teaches a term's courses at an early, late, night, weekend or holiday
hour of their own, and the nearest weekly time that would spare them.

Every fact comes from the slot engine (forum.scheduling), read for each real occurrence of
the term: a teacher's hour moves when their clocks change and the term's do not (Detroit on
8 March 2020, London on 29 March, Auckland on 5 April; Beijing never). A suggestion is a
weekly time in the term's zone, as the courses are written, checked on every date the
course meets: the teacher in working hours (or within acceptable hours, ranked lower), the
students at home in working hours (any abroad no worse off than now), and no clash with the
teacher's other sessions.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace

import numpy as np
import sqlalchemy as sa

from forum.accounts.models import Organiser
from forum.core.errors import NotFound
from forum.core.recurrence import occurrences
from forum.core.times import get_zone
from forum.db import driver_rows
from forum.db import one_of
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events.conflicts import CONFLICT_ROLES
from forum.events.models import Event
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import SessionOverride
from forum.events.occurrences import Change
from forum.events.occurrences import meeting_times
from forum.events.planning import Member
from forum.events.planning import load_members
from forum.events.planning import participants_for
from forum.extensions import db
from forum.i18n import _
from forum.scheduling import engine
from forum.scheduling.model import BIT
from forum.scheduling.model import BLACKOUT
from forum.scheduling.model import DEFAULT_COSTS
from forum.scheduling.model import EARLY
from forum.scheduling.model import EPOCH
from forum.scheduling.model import HOLIDAY
from forum.scheduling.model import LATE
from forum.scheduling.model import MAX_WINDOW
from forum.scheduling.model import NIGHT
from forum.scheduling.model import WEEKEND
from forum.scheduling.model import WORKING
from forum.scheduling.model import Participant
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import category_of
from forum.scheduling.model import cost_of
from forum.scheduling.model import epoch_minute
from forum.scheduling.model import facts_of
from forum.timetables.models import Term

# What the report is about: the hour classes and day facts of SPEC section 4 that make a
# class a burden for the teacher. Busy is left out (the report reads no busy times), and
# so is an institution's blackout, which is no hour of the day.
REPORTED = (EARLY, LATE, NIGHT, WEEKEND, HOLIDAY)
REPORTED_MASK = sum(BIT[name] for name in REPORTED)
# Within working hours: none of the reported facts nor a blackout. Within acceptable
# hours: early or late at worst, on a working day of their own.
NOT_WORKING = REPORTED_MASK | BIT[BLACKOUT]
NOT_ACCEPTABLE = BIT[NIGHT] | BIT[WEEKEND] | BIT[HOLIDAY] | BIT[BLACKOUT]
LEVELS = ("working", "acceptable")
# The engine's slots are read on a grid this fine; a suggestion moves by whole steps.
GRID_MINUTES = 15
DEFAULT_STEP_MINUTES = 15
WEEK_MINUTES = 7 * 1440
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
COSTS = dict(DEFAULT_COSTS)
WALL_EPOCH = dt.datetime(1970, 1, 1)
COST_TABLE = np.asarray([cost_of(mask, COSTS) for mask in range(128)], dtype=np.int64)


# --- what the report holds ----------------------------------------------------------------


@dataclass(frozen=True)
class LocalRun:
    """The occurrences at one local weekday and time of the teacher (a time a clock change
    brought, or a date moved to)."""

    weekday: str  # the teacher's local weekday (Mon..Sun)
    start: dt.datetime  # naive, the teacher's wall clock, of the first occurrence
    end: dt.datetime
    last: dt.datetime  # naive, the teacher's wall clock, of the last occurrence
    first_start: dt.datetime  # UTC instant of the first of them
    last_start: dt.datetime
    occurrences: int


@dataclass(frozen=True)
class Suggestion:
    """A weekly time in the term's zone that spares the teacher, checked on every date."""

    weekday: str  # in the term's zone
    local_start: dt.time
    local_end: dt.time
    shift_minutes: int  # from the current weekly start, within a week: -5040..5040
    level: str  # "working" or "acceptable", the teacher's worst over the term
    runs: tuple[LocalRun, ...]
    categories: dict[str, int]  # facts still met by the teacher, occurrences each
    first_start: dt.datetime  # UTC, its first occurrence


@dataclass(frozen=True)
class MeetingReport:
    """One weekly meeting (session) of a course a teacher chairs."""

    session_id: int
    event_id: int
    course_code: str
    course_title: str
    weekday: str  # in the term's zone
    local_start: dt.time
    local_end: dt.time
    first_start: dt.datetime  # UTC
    duration_minutes: int
    occurrences: int
    runs: tuple[LocalRun, ...]
    categories: dict[str, int]  # each reported fact met, with how many occurrences
    worst: str
    worst_cost: int
    students: int = 0
    suggestion: Suggestion | None = None
    # Why there is none: "teacher_hours", "students_hours", "clashes", "no_better";
    # None while suggestions were not computed (or when there is one).
    no_suggestion: str | None = None
    suggested: bool = False


@dataclass
class TeacherReport:
    """A teacher abroad listed in the report, with the meetings that burden them."""

    person_id: int
    name: str
    email: str
    country: str | None
    subdivision: str | None
    institution: str | None
    timezone: str
    meetings: list[MeetingReport] = field(default_factory=list)

    @property
    def worst_cost(self) -> int:
        return max((m.worst_cost for m in self.meetings), default=0)

    @property
    def worst(self) -> str:
        return max(self.meetings, key=lambda m: m.worst_cost).worst if self.meetings else WORKING


@dataclass(frozen=True)
class AbroadReport:
    """One page of the report (or all of it), and what the whole report counts."""

    term: Term
    teachers: list[TeacherReport]  # the requested page, worst off first
    total: int  # teachers listed in the whole report
    teachers_abroad: int  # teachers abroad, listed or not
    courses: int  # courses those teachers chair


def no_suggestion_text(reason: str) -> str:
    """Why no weekly time is suggested, in the reader's language."""
    if reason == "teacher_hours":
        return _("No weekly time puts the teacher within acceptable hours on every date.")
    if reason == "students_hours":
        return _("No weekly time that suits the teacher keeps the students in working hours.")
    if reason == "clashes":
        return _(
            "Every weekly time that suits the teacher and the students clashes with another "
            "session the teacher chairs or speaks in."
        )
    return _(
        "The teacher is within acceptable hours now, and no weekly time puts them in working hours."
    )


# --- access ------------------------------------------------------------------------------


def get_term_for(organiser: Organiser, term_id: int) -> Term:
    """The organiser's own term; anyone else's is a 404 (its existence is not revealed)."""
    term = db.session.get(Term, term_id)
    if term is None or term.owner_id != organiser.id:
        raise NotFound(_("no term with id %(id)s", id=term_id))
    return term


# --- the engine on a grid of the term -----------------------------------------------------


def _grid_masks(participants: list[Participant], t0: int, count: int, duration: int) -> np.ndarray:
    """The engine's facts (model.BIT) for each participant in ``count`` slots of
    ``duration`` minutes every GRID_MINUTES from UTC minute ``t0``; asked in windows the
    engine takes (at most 90 days), each starting on the same grid, so that the engine's
    own cache serves every course of the same length."""
    per_window = (int(MAX_WINDOW.total_seconds() // 60) - duration) // GRID_MINUTES + 1
    parts = []
    for first in range(0, count, per_window):
        n = min(per_window, count - first)
        start = t0 + first * GRID_MINUTES
        options = SearchOptions(
            duration=dt.timedelta(minutes=duration),
            window_start=EPOCH + dt.timedelta(minutes=start),
            window_end=EPOCH + dt.timedelta(minutes=start + (n - 1) * GRID_MINUTES + duration),
            step_minutes=GRID_MINUTES,
            limit=1,
        )
        _starts, masks = engine.slot_masks(participants, options)
        parts.append(masks)
    return np.concatenate(parts, axis=1)


class _Facts:
    """The engine's facts for some participants at any start within a span of the term."""

    def __init__(self, participants: list[Participant], span: tuple[int, int]) -> None:
        self.participants = participants
        self.first = span[0] // GRID_MINUTES * GRID_MINUTES
        self.last = span[1]
        self._grids: dict[tuple[int, int], np.ndarray] = {}

    def at(self, starts: np.ndarray, duration: int) -> np.ndarray:
        """Participants x starts: the facts of a meeting of ``duration`` at each UTC minute."""
        starts = np.asarray(starts, dtype=np.int64)
        found = np.zeros((len(self.participants), len(starts)), dtype=np.uint8)
        if not len(starts) or not self.participants:
            return found
        first = min(self.first, int(starts.min()) // GRID_MINUTES * GRID_MINUTES)
        last = max(self.last, int(starts.max()))
        if (first, last) != (self.first, self.last):
            # A moved occurrence outside the term: widen the span for everyone after.
            self.first, self.last, self._grids = first, last, {}
        phases = starts % GRID_MINUTES
        for phase in np.unique(phases).tolist():
            grid = self._grids.get((phase, duration))
            t0 = self.first + phase
            if grid is None:
                count = (self.last - t0) // GRID_MINUTES + 1
                grid = self._grids[(phase, duration)] = _grid_masks(
                    self.participants, t0, count, duration
                )
            chosen = phases == phase
            found[:, chosen] = grid[:, (starts[chosen] - t0) // GRID_MINUTES]
        return found


def utc_minutes(zone_name: str, wall: np.ndarray) -> np.ndarray:
    """UTC minutes of wall-clock minutes (since 1970) in a zone, read as a weekly rule reads
    a local time: a time the clocks skip or repeat with the offset before the change
    (fold=0, RFC 5545 section 3.3.5). The zone's changes are the engine's own."""
    wall = np.asarray(wall, dtype=np.int64)
    if not len(wall):
        return wall
    first, last = int(wall.min()) // 1440 - 2, int(wall.max()) // 1440 + 2
    at, offsets = engine.transitions(zone_name, first, last)
    # From which wall time each change's new offset applies: the later of the wall times the
    # change happens at on the old and the new clock. Inside a gap (02:30 on a spring-forward
    # night) and a repeated hour, the old offset still applies.
    before = np.asarray(offsets[:-1], dtype=np.int64)
    after = np.asarray(offsets[1:], dtype=np.int64)
    changes = np.asarray(at[1:], dtype=np.int64) + np.maximum(before, after)
    offset = np.asarray(offsets, dtype=np.int64)[np.searchsorted(changes, wall, side="right")]
    return wall - offset


# --- reading the term ----------------------------------------------------------------------


@dataclass
class _Session:
    id: int
    event_id: int
    course_code: str
    course_title: str
    start: dt.datetime
    end: dt.datetime
    timezone: str
    rrule: str | None
    exdates: list[str]
    # (recurrence id, start, end) of each meeting, moved ones at their new time.
    meetings: list[tuple[dt.datetime, dt.datetime, dt.datetime]] = field(default_factory=list)


def _changes_of(session_ids: Iterable[int]) -> dict[int, dict[dt.datetime, Change]]:
    ids = sorted(set(session_ids))
    found: dict[int, dict[dt.datetime, Change]] = defaultdict(dict)
    if not ids:
        return found
    for session_id, recurrence_id, start, end, cancelled in db.session.execute(
        sa.select(
            SessionOverride.session_id,
            SessionOverride.recurrence_id,
            SessionOverride.start,
            SessionOverride.end,
            SessionOverride.cancelled,
        ).where(one_of(SessionOverride.session_id, ids, db.session.get_bind().dialect))
    ):
        found[session_id][_aware(recurrence_id)] = Change(_aware(start), _aware(end), cancelled)
    return found


def _aware(instant: dt.datetime) -> dt.datetime:
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=dt.UTC)


def _meetings(session: _Session, changes: dict[dt.datetime, Change]) -> None:
    """The session's meetings with their RECURRENCE-ID; cancelled ones left out."""
    for original, end in occurrences(
        start=session.start,
        end=session.end,
        timezone=session.timezone,
        rrule=session.rrule,
        exdates=session.exdates,
    ):
        change = changes.get(original)
        if change is None:
            session.meetings.append((original, original, end))
        elif not change.cancelled:
            session.meetings.append((original, change.start, change.end))


def _same_clock(zone_a: str, zone_b: str, first: int, last: int) -> bool:
    """Whether two zones keep the same time throughout a span of days (since 1970)."""
    return zone_a == zone_b or engine.transitions(zone_a, first, last) == engine.transitions(
        zone_b, first, last
    )


def _term_span(term: Term) -> tuple[dt.date, dt.date, int, int]:
    """The term's first and last day, and its span in UTC minutes with a day either side."""
    last_day = term.first_day + dt.timedelta(days=7 * term.weeks - 1)
    zone = get_zone(term.timezone)
    start = dt.datetime.combine(term.first_day - dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(last_day + dt.timedelta(days=2), dt.time(0), tzinfo=zone)
    return term.first_day, last_day, epoch_minute(start), epoch_minute(end)


# --- the report ----------------------------------------------------------------------------


def teachers_abroad(
    term: Term,
    *,
    page: int = 1,
    per_page: int | None = None,
    step_minutes: int = DEFAULT_STEP_MINUTES,
) -> AbroadReport:
    """The term's teachers abroad whose classes fall in early, late, night, weekend or
    holiday hours of their own, worst off first, with the nearest better weekly time for
    each of their meetings on the requested page (all of them when ``per_page`` is None).

    A teacher is abroad when their institution's country is not the term's, or their zone
    does not keep the term zone's time (a teacher of no institution: their zone alone).
    Nothing is written.
    """
    first_day, last_day, span_start, span_end = _term_span(term)
    span_days = (span_start // 1440 - 1, span_end // 1440 + 1)
    rows = db.session.execute(
        sa.select(
            Invitation.person_id,
            EventSession.id,
            Event.id,
            Event.course_code,
            Event.title,
            EventSession.start,
            EventSession.end,
            EventSession.timezone,
            EventSession.rrule,
            EventSession.exdates,
            Person.timezone,
            Institution.country,
        )
        .join(EventSession, Invitation.session_id == EventSession.id)
        .join(Event, Event.id == EventSession.event_id)
        .join(Person, Person.id == Invitation.person_id)
        .outerjoin(Institution, Institution.id == Person.institution_id)
        .where(
            Event.term_id == term.id,
            Invitation.role == "chair",
            EventSession.status != "cancelled",
            # Teachers at home need no reading: same country, same zone.
            sa.or_(
                Person.timezone != term.timezone,
                Institution.country.is_(None),
                Institution.country != term.country,
            ),
        )
        .order_by(Invitation.person_id, Event.course_code, EventSession.start, EventSession.id)
    ).all()
    by_teacher: dict[int, list[_Session]] = defaultdict(list)
    sessions: dict[int, _Session] = {}
    for row in rows:
        person_id, session_id, event_id, code, title, start, end, zone, rrule, exdates = row[:10]
        person_zone, country = row[10], row[11]
        # Without an institution, a teacher is at home when their clock is the term's.
        if country in (term.country, None) and _same_clock(person_zone, term.timezone, *span_days):
            continue
        session = sessions.get(session_id)
        if session is None:
            session = sessions[session_id] = _Session(
                session_id,
                event_id,
                code or "",
                title,
                _aware(start),
                _aware(end),
                zone,
                rrule,
                list(exdates or []),
            )
        by_teacher[person_id].append(session)
    changes = _changes_of(sessions)
    for session in sessions.values():
        _meetings(session, changes.get(session.id, {}))

    members = load_members(by_teacher)
    emails = (
        dict(
            db.session.execute(
                sa.select(Person.id, Person.email).where(
                    one_of(Person.id, sorted(by_teacher), db.session.get_bind().dialect)
                )
            ).all()
        )
        if by_teacher
        else {}
    )
    teachers: list[TeacherReport] = []
    reading: dict[int, tuple[Participant, _Facts]] = {}
    for person_id, taught in by_teacher.items():
        member = members[person_id]
        participant = _participant(member)
        facts = _Facts([participant], (span_start, span_end))
        reading[person_id] = (participant, facts)
        meetings = [m for s in taught if (m := _read_meeting(s, member, facts, term)) is not None]
        if meetings:
            teachers.append(_teacher(member, emails.get(person_id, ""), meetings))
    teachers.sort(key=lambda t: (-t.worst_cost, t.name.casefold(), t.email))

    chosen = teachers if per_page is None else teachers[(page - 1) * per_page : page * per_page]
    if chosen:
        _suggest(
            chosen,
            term=term,
            sessions=sessions,
            reading=reading,
            span=(span_start, span_end),
            step=step_minutes,
        )
    return AbroadReport(
        term=term,
        teachers=chosen,
        total=len(teachers),
        teachers_abroad=len(by_teacher),
        courses=len({s.event_id for s in sessions.values()}),
    )


def _participant(member: Member, *, required: bool = True) -> Participant:
    return participants_for(
        [member], required_ids={member.id} if required else set(), weights={}, site_hours={}
    )[0]


def _teacher(member: Member, email: str, meetings: list[MeetingReport]) -> TeacherReport:
    institution = member.institution
    return TeacherReport(
        person_id=member.id,
        name=member.name,
        email=email,
        country=institution.country if institution else None,
        subdivision=institution.subdivision if institution else None,
        institution=institution.name if institution else None,
        timezone=member.timezone,
        meetings=sorted(meetings, key=lambda m: (m.course_code, m.first_start)),
    )


def _runs(starts: Sequence[dt.datetime], duration: int, zone_name: str) -> tuple[LocalRun, ...]:
    """Each distinct local weekday and time of the occurrences in ``zone_name``, with its
    first and last date and how many, in the order they first happen."""
    zone = get_zone(zone_name)
    runs: dict[tuple[int, dt.time, dt.time], LocalRun] = {}
    for start in sorted(starts):
        local = start.astimezone(zone).replace(tzinfo=None)
        end = (start + dt.timedelta(minutes=duration)).astimezone(zone).replace(tzinfo=None)
        key = (local.weekday(), local.time(), end.time())
        run = runs.get(key)
        if run is None:
            runs[key] = LocalRun(WEEKDAYS[local.weekday()], local, end, local, start, start, 1)
        else:
            runs[key] = replace(run, last=local, last_start=start, occurrences=run.occurrences + 1)
    return tuple(runs.values())


def _counts(masks: Iterable[int]) -> dict[str, int]:
    """How many occurrences meet each reported fact, most serious first."""
    found: Counter[str] = Counter()
    for mask in masks:
        if mask & REPORTED_MASK:
            found.update(facts_of(mask & REPORTED_MASK, COSTS))
    order = {name: index for index, name in enumerate(facts_of(REPORTED_MASK, COSTS))}
    return dict(sorted(found.items(), key=lambda item: order[item[0]]))


def _read_meeting(
    session: _Session, member: Member, facts: _Facts, term: Term
) -> MeetingReport | None:
    """What each occurrence of the meeting is for the teacher; None when all are fine."""
    if not session.meetings:
        return None
    starts = [start for _rid, start, _end in session.meetings]
    duration = int((session.end - session.start).total_seconds() // 60)
    # A moved occurrence may have its own length: read each at its own.
    lengths = [int((end - start).total_seconds() // 60) for _rid, start, end in session.meetings]
    masks = np.zeros(len(starts), dtype=np.int64)
    minutes = np.asarray([epoch_minute(s) for s in starts], dtype=np.int64)
    for length in set(lengths):
        chosen = np.asarray([x == length for x in lengths])
        masks[chosen] = facts.at(minutes[chosen], length)[0]
    reported = masks & REPORTED_MASK
    if not reported.any():
        return None
    worst_index = int(np.argmax(COST_TABLE[reported]))
    home = get_zone(term.timezone)
    local_start = session.start.astimezone(home)
    return MeetingReport(
        session_id=session.id,
        event_id=session.event_id,
        course_code=session.course_code,
        course_title=session.course_title,
        weekday=WEEKDAYS[local_start.weekday()],
        local_start=local_start.time().replace(tzinfo=None),
        local_end=session.end.astimezone(home).time().replace(tzinfo=None),
        first_start=starts[0],
        duration_minutes=duration,
        occurrences=len(starts),
        runs=_runs(starts, duration, member.timezone),
        categories=_counts(int(m) for m in masks),
        worst=category_of(int(reported[worst_index]), COSTS),
        worst_cost=int(COST_TABLE[reported[worst_index]]),
    )


# --- suggestions ---------------------------------------------------------------------------


def _level(masks: np.ndarray) -> np.ndarray:
    """0 working, 1 acceptable, 2 neither: the worst over the last axis (occurrences)."""
    level = np.where(masks & NOT_ACCEPTABLE, 2, np.where(masks & NOT_WORKING, 1, 0))
    return level.max(axis=-1, initial=0)


def _busy_of(
    teacher_ids: Iterable[int], span: tuple[int, int]
) -> dict[int, list[tuple[int, int, int]]]:
    """Each teacher's meetings as chair or speaker in the span: (start, end, session id)."""
    ids = sorted(set(teacher_ids))
    window_start = EPOCH + dt.timedelta(minutes=span[0])
    window_end = EPOCH + dt.timedelta(minutes=span[1] + 1440)
    rows = db.session.execute(
        sa.select(
            Invitation.person_id,
            EventSession.id,
            EventSession.start,
            EventSession.end,
            EventSession.timezone,
            EventSession.rrule,
            EventSession.exdates,
        )
        .join(EventSession, Invitation.session_id == EventSession.id)
        .where(
            one_of(Invitation.person_id, ids, db.session.get_bind().dialect),
            Invitation.role.in_(CONFLICT_ROLES),
            EventSession.status != "cancelled",
            EventSession.start < window_end,
            sa.or_(EventSession.rrule.is_not(None), EventSession.end > window_start),
        )
    ).all()
    changes = _changes_of(row[1] for row in rows if row[5])
    found: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for person_id, session_id, start, end, zone, rrule, exdates in rows:
        for meeting_start, meeting_end in meeting_times(
            start=_aware(start),
            end=_aware(end),
            timezone=zone,
            rrule=rrule,
            exdates=exdates,
            changes=changes.get(session_id, {}),
            after=window_start,
            before=window_end,
        ):
            found[person_id].append(
                (epoch_minute(meeting_start), epoch_minute(meeting_end), session_id)
            )
    return found


def _students_of(session_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = sorted(set(session_ids))
    found: dict[int, list[int]] = defaultdict(list)
    if not ids:
        return found
    connection = db.session.connection()
    # Tens of thousands of pairs of numbers: as the driver gives them.
    for session_id, person_id in driver_rows(
        connection,
        sa.select(Invitation.session_id, Invitation.person_id).where(
            one_of(Invitation.session_id, ids, connection.dialect),
            Invitation.role == "participant",
        ),
    ):
        found[session_id].append(person_id)
    return found


def _suggest(
    teachers: list[TeacherReport],
    *,
    term: Term,
    sessions: dict[int, _Session],
    reading: dict[int, tuple[Participant, _Facts]],
    span: tuple[int, int],
    step: int,
) -> None:
    """Fill in each meeting's suggestion (or why there is none)."""
    session_ids = [m.session_id for t in teachers for m in t.meetings]
    students = _students_of(session_ids)
    members = load_members({p for ids in students.values() for p in ids})
    # Students sharing a zone, hours and working calendar read alike: one of each suffices.
    profiles: dict[int, list[Participant]] = {}
    for session_id in session_ids:
        people = [members[p] for p in students.get(session_id, []) if p in members]
        participants = [_participant(m, required=False) for m in people]
        if participants:
            index = engine.profile_index(participants)
            _unique, first = np.unique(index, return_index=True)
            profiles[session_id] = [participants[i] for i in sorted(first.tolist())]
        else:
            profiles[session_id] = []
    busy = _busy_of([t.person_id for t in teachers], span)
    days = (span[0] // 1440 - 1, span[1] // 1440 + 1)
    for teacher in teachers:
        participant, facts = reading[teacher.person_id]
        for position, meeting in enumerate(teacher.meetings):
            # The engine keeps each profile's facts on the term's grid: students of many
            # courses in Beijing are read once per length of class.
            reps = profiles[meeting.session_id]
            student_facts = _Facts(reps, span)
            # Students at home must be in working hours; one abroad (a few took their
            # classes from home countries in 2020) no worse off than now, or no time would
            # ever suit a course with a student in Detroit and one in Beijing.
            at_home = np.asarray(
                [
                    p.country in (term.country, None)
                    and _same_clock(p.timezone, term.timezone, *days)
                    for p in reps
                ],
                dtype=bool,
            )
            teacher.meetings[position] = _suggestion_for(
                meeting,
                session=sessions[meeting.session_id],
                term=term,
                teacher=(participant, facts),
                students=student_facts,
                students_at_home=at_home,
                student_count=len(students.get(meeting.session_id, [])),
                busy=[b for b in busy.get(teacher.person_id, []) if b[2] != meeting.session_id],
                step=step,
            )


def _suggestion_for(
    meeting: MeetingReport,
    *,
    session: _Session,
    term: Term,
    teacher: tuple[Participant, _Facts],
    students: _Facts,
    students_at_home: np.ndarray,
    student_count: int,
    busy: list[tuple[int, int, int]],
    step: int,
) -> MeetingReport:
    """The nearest weekly time (by minutes within the week, either way) at which the
    teacher is better off on every date of the term than now, the students at home in
    working hours and those abroad no worse off, and the teacher free; ``meeting`` with it,
    or with why there is none."""
    participant, teacher_facts = teacher
    home = get_zone(term.timezone)
    duration = meeting.duration_minutes
    days = 7 * term.weeks
    excluded = {
        (dt.date.fromisoformat(item["date"]) - term.first_day).days
        for item in term.excluded_dates or []
        if isinstance(item, dict) and "date" in item
    }
    current = np.asarray([epoch_minute(s) for _rid, s, _end in session.meetings], dtype=np.int64)
    # Each meeting's own wall-clock start in the term's zone (a moved one: where it was
    # moved from), all moved by the same minutes: a weekly time moved within the week.
    originals = np.asarray(
        [
            int((rid.astimezone(home).replace(tzinfo=None) - WALL_EPOCH).total_seconds() // 60)
            for rid, _start, _end in session.meetings
        ],
        dtype=np.int64,
    )
    first_wall_day = (term.first_day - WALL_EPOCH.date()).days
    half = WEEK_MINUTES // (2 * step)
    shifts = np.asarray([k for k in range(-half, half + 1) if k], dtype=np.int64) * step
    wall = originals[None, :] + shifts[:, None]
    # A meeting moved out of the term stays in its week of the term: a Monday class of the
    # first week moved to Sunday is on that week's Sunday.
    day = wall // 1440 - first_wall_day
    wall = np.where(day < 0, wall + WEEK_MINUTES, np.where(day >= days, wall - WEEK_MINUTES, wall))
    day = wall // 1440 - first_wall_day
    valid = (day >= 0) & (day < days) & ~np.isin(day, list(excluded))
    starts = utc_minutes(term.timezone, wall.reshape(-1)).reshape(wall.shape)
    starts = np.where(valid, starts, current[None, :])  # left out: read, never counted

    shape = starts.shape
    teacher_masks = teacher_facts.at(starts.reshape(-1), duration).reshape(shape)
    teacher_masks = np.where(valid, teacher_masks, 0)
    teacher_level = _level(teacher_masks)
    now_level = int(_level(teacher_facts.at(current, duration)[0]))

    ok = (teacher_level < now_level) & valid.any(axis=1)
    reason = "teacher_hours" if now_level == 2 else "no_better"
    if ok.any() and students.participants:
        now_costs = COST_TABLE[students.at(current, duration)].max(axis=1)  # profiles
        allowed = np.where(students_at_home, 0, now_costs)
        masks = students.at(starts[ok].reshape(-1), duration)
        costs = np.where(valid[ok].reshape(-1)[None, :], COST_TABLE[masks], 0).reshape(
            len(students.participants), -1, shape[1]
        )
        fits = (costs.max(axis=2) <= allowed[:, None]).all(axis=0)
        candidates = np.flatnonzero(ok)
        ok[candidates[~fits]] = False
        if not ok.any():
            reason = "students_hours"
    if ok.any() and busy:
        busy_sorted = sorted(busy)
        busy_starts = np.asarray([b[0] for b in busy_sorted], dtype=np.int64)
        reach = np.maximum.accumulate(np.asarray([b[1] for b in busy_sorted], dtype=np.int64))
        index = np.searchsorted(busy_starts, starts + duration, side="left") - 1
        clash = (index >= 0) & (reach[np.maximum(index, 0)] > starts) & valid
        ok &= ~clash.any(axis=1)
        if not ok.any():
            reason = "clashes"
    if not ok.any():
        return replace(
            meeting, students=student_count, suggested=True, suggestion=None, no_suggestion=reason
        )

    total = np.where(valid, COST_TABLE[teacher_masks], 0).sum(axis=1)
    order = np.lexsort((shifts, total, np.abs(shifts), teacher_level))
    best = int(next(i for i in order if ok[i]))
    chosen = [int(s) for s, v in zip(starts[best], valid[best], strict=True) if v]
    chosen_masks = [int(m) for m, v in zip(teacher_masks[best], valid[best], strict=True) if v]
    instants = [EPOCH + dt.timedelta(minutes=s) for s in chosen]
    moved = session.start.astimezone(home).replace(tzinfo=None) + dt.timedelta(
        minutes=int(shifts[best])
    )
    suggestion = Suggestion(
        weekday=WEEKDAYS[moved.weekday()],
        local_start=moved.time(),
        local_end=(moved + dt.timedelta(minutes=duration)).time(),
        shift_minutes=int(shifts[best]),
        level=LEVELS[int(teacher_level[best])],
        runs=_runs(instants, duration, participant.timezone),
        categories=_counts(chosen_masks),
        first_start=instants[0],
    )
    return replace(
        meeting, students=student_count, suggested=True, suggestion=suggestion, no_suggestion=None
    )


# --- CSV -----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "teacher",
    "email",
    "institution",
    "country",
    "timezone",
    "course_code",
    "course_title",
    "weekday",
    "local_start",
    "local_end",
    "term_timezone",
    "occurrences",
    "teacher_local_times",
    "categories",
    "worst",
    "suggested_weekday",
    "suggested_start",
    "suggested_end",
    "suggested_shift_minutes",
    "suggested_teacher_hours",
    "suggested_teacher_local_times",
    "no_suggestion",
)
# A spreadsheet runs a cell that begins with one of these as a formula (OWASP, "CSV
# injection"): such a cell of text is written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def runs_text(runs: Sequence[LocalRun]) -> str:
    """Runs of local times for a machine: "Mon 20:00-21:40 from 2020-02-17 (3); ..."."""
    return "; ".join(
        f"{r.weekday} {r.start:%H:%M}-{r.end:%H:%M} from {r.start.date().isoformat()} "
        f"({r.occurrences})"
        for r in runs
    )


def csv_rows(report: AbroadReport) -> list[list[object]]:
    """One row per teacher and meeting, in the JSON's order; codes and times, not words."""
    rows: list[list[object]] = []
    for teacher in report.teachers:
        for meeting in teacher.meetings:
            suggestion = meeting.suggestion
            rows.append(
                [
                    teacher.name,
                    teacher.email,
                    teacher.institution or "",
                    teacher.country or "",
                    teacher.timezone,
                    meeting.course_code,
                    meeting.course_title,
                    meeting.weekday,
                    f"{meeting.local_start:%H:%M}",
                    f"{meeting.local_end:%H:%M}",
                    report.term.timezone,
                    meeting.occurrences,
                    runs_text(meeting.runs),
                    "; ".join(f"{name} {count}" for name, count in meeting.categories.items()),
                    meeting.worst,
                    suggestion.weekday if suggestion else "",
                    f"{suggestion.local_start:%H:%M}" if suggestion else "",
                    f"{suggestion.local_end:%H:%M}" if suggestion else "",
                    suggestion.shift_minutes if suggestion else "",
                    suggestion.level if suggestion else "",
                    runs_text(suggestion.runs) if suggestion else "",
                    no_suggestion_text(meeting.no_suggestion) if meeting.no_suggestion else "",
                ]
            )
    return rows


def csv_text(report: AbroadReport) -> str:
    """The report as CSV text, a byte order mark first: spreadsheets then read the names
    written in Chinese, Japanese or Arabic as UTF-8 (the directory import accepts one)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in csv_rows(report):
        writer.writerow([safe_cell(cell) for cell in row])
    return "\ufeff" + buffer.getvalue()
