"""Timetable import: a term's weekly courses from a CSV or JSON file, checked, written at once.

An import is all or nothing, as the directory's (forum.directory.bulk): every row is read
and checked (its fields, the people it names, the term's calendar) before anything is
written, and one bad row refuses the file with the list of every problem, by row and field.

A course is an Event of kind "series" in the term, with its teachers (role "chair") and
students ("participant"); each weekly meeting is one recurring EventSession anchored in the
term's zone, whose EXDATEs leave out the weeks not taught and the term's holiday periods.
A term of a whole university (4,437 courses, 200,000 invitations) is written with one
executemany per table, and the ids read back in one query each: the number of statements
does not grow with the rows. The invitation emails then go out in batches at the term's
rate (forum.timetables.sending).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pytz
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from forum.accounts.models import Organiser
from forum.core import text
from forum.core.errors import Conflict
from forum.core.errors import ForumError
from forum.core.errors import ValidationFailed
from forum.core.times import InvalidTime
from forum.core.times import check_zone_name
from forum.core.times import resolve_local
from forum.db import now_utc
from forum.db import one_of
from forum.directory.bulk import MalformedFile
from forum.directory.bulk import Problem
from forum.directory.bulk import SourceRow
from forum.directory.bulk import check_header
from forum.directory.bulk import decode_csv
from forum.directory.models import Person
from forum.events.models import DEFAULT_REMINDER_MINUTES
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import VideoMeeting
from forum.extensions import db
from forum.i18n import _
from forum.i18n import ngettext
from forum.timetables import calendar
from forum.timetables.models import Term
from forum.timetables.models import TimetableImport

CSV = "text/csv"
JSON = "application/json"
MEDIA_TYPES = (CSV, JSON)
CSV_COLUMNS = (
    "course_code",
    "title",
    "teachers",
    "weekday",
    "start",
    "minutes",
    "weeks",
    "students",
)
REQUIRED_COLUMNS = ("course_code", "title", "weekday", "start", "minutes", "weeks")
# A whole university's term as CSV (4,437 courses, 40,000 students in ~5 courses each,
# written out as emails) is about 8 MB.
MAX_TIMETABLE_BYTES = 64 * 1024 * 1024
MAX_MEETINGS = 50_000
MAX_MINUTES = 12 * 60
# Providers a term's courses can meet on: they need no host account per meeting, so
# thousands of weekly series can be opened at once.
TERM_PROVIDERS = ("jitsi",)
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class TimetableTooLarge(ForumError):
    status = 413
    code = "payload_too_large"


# --- the term -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermParams:
    """What a term is: its name, first day, length, zone, and whose holidays it leaves out."""

    name: str
    first_day: dt.date
    weeks: int
    timezone: str
    country: str
    subdivision: str | None = None
    skip_holidays: bool = True
    provider: str = "jitsi"
    rate_per_minute: int | None = None

    @property
    def last_day(self) -> dt.date:
        return calendar.last_day(self.first_day, self.weeks)


def term_params(values: Mapping[str, Any]) -> TermParams:
    """The term's parameters from a JSON object, a query string or a form (text values).

    422 naming every field that is missing or wrong.
    """
    problems: dict[str, str] = {}
    try:
        name = text.clean_line(str(values.get("name") or ""))
    except text.UncleanText as exc:
        name = ""
        problems["name"] = str(exc)
    if "name" in problems:
        pass
    elif not name:
        problems["name"] = _("required: the term's name, e.g. Spring 2020")
    elif len(name) > 200:
        problems["name"] = _("at most 200 characters")
    first_day = None
    raw_day = values.get("first_day")
    if raw_day in (None, ""):
        problems["first_day"] = _("required: the term's first day, e.g. 2020-02-17")
    elif isinstance(raw_day, dt.date):
        first_day = raw_day
    else:
        try:
            if not _DATE.match(str(raw_day).strip()):
                raise ValueError
            first_day = dt.date.fromisoformat(str(raw_day).strip())
        except ValueError:
            problems["first_day"] = _("must be a date such as 2020-02-17")
    weeks = _whole(values.get("weeks"), "weeks", 1, 60, problems, required=True)
    timezone = ""
    raw_zone = values.get("timezone")
    if not raw_zone:
        problems["timezone"] = _("required: the term's zone, e.g. Asia/Shanghai")
    else:
        try:
            timezone = check_zone_name(str(raw_zone).strip())
        except InvalidTime as exc:
            problems["timezone"] = str(exc)
    country = str(values.get("country") or "").strip().upper()
    if not country:
        problems["country"] = _(
            "required: the ISO 3166-1 alpha-2 code whose holidays apply, e.g. CN"
        )
    elif country not in pytz.country_names:
        problems["country"] = _("must be an ISO 3166-1 alpha-2 country code in capitals, e.g. CN")
    subdivision = str(values.get("subdivision") or "").strip().upper() or None
    if subdivision is not None and not re.match(r"^[A-Z0-9]{1,3}$", subdivision):
        problems["subdivision"] = _(
            "1 to 3 capital letters or digits (an ISO 3166-2 subdivision code)"
        )
    skip_holidays = _flag(values.get("skip_holidays", True), "skip_holidays", problems)
    provider = str(values.get("provider") or "jitsi").strip().lower()
    if provider not in TERM_PROVIDERS:
        problems["provider"] = _(
            "a term's courses meet on %(providers)s (no host account per meeting); "
            "book other providers' meetings course by course",
            providers=", ".join(TERM_PROVIDERS),
        )
    rate = _whole(values.get("rate_per_minute"), "rate_per_minute", 1, 100_000, problems)
    if problems:
        raise ValidationFailed(problems)
    assert first_day is not None and weeks is not None
    return TermParams(
        name=name,
        first_day=first_day,
        weeks=weeks,
        timezone=timezone,
        country=country,
        subdivision=subdivision,
        skip_holidays=skip_holidays,
        provider=provider,
        rate_per_minute=rate,
    )


def _whole(
    value: Any, name: str, low: int, high: int, problems: dict[str, str], *, required: bool = False
) -> int | None:
    if value is None or value == "":
        if required:
            problems[name] = _("required")
        return None
    if isinstance(value, bool):
        problems[name] = _("must be a whole number")
        return None
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        problems[name] = _("must be a whole number")
        return None
    if not low <= number <= high:
        problems[name] = _("must be from %(low)s to %(high)s", low=low, high=high)
        return None
    return number


def _flag(value: Any, name: str, problems: dict[str, str]) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    problems[name] = _("must be true or false")
    return True


# --- reading the file ---------------------------------------------------------------------------


def media_type_for_filename(filename: str) -> str:
    """JSON for a ``.json`` file, CSV for anything else."""
    return JSON if filename.lower().endswith(".json") else CSV


@dataclass
class TimetableFile:
    """A file as read: its rows (a CSV line or a JSON course each), and the JSON's term."""

    position_name: str
    rows: list[SourceRow]
    term: dict[str, Any] = field(default_factory=dict)


def read_timetable(data: bytes, media_type: str) -> TimetableFile:
    """The rows of a CSV or JSON timetable; faults of the whole file raise at once."""
    if len(data) > MAX_TIMETABLE_BYTES:
        raise TimetableTooLarge(
            _(
                "the file is larger than %(max_bytes)s bytes, the most one import takes",
                max_bytes=MAX_TIMETABLE_BYTES,
            )
        )
    if not data.strip():
        raise ValidationFailed(
            {
                "file": _(
                    "is empty: give a CSV header line (%(header)s) and a line per meeting, "
                    "or a JSON object with term and courses",
                    header=",".join(CSV_COLUMNS),
                )
            }
        )
    if media_type == JSON:
        found = _read_json(data)
    elif media_type == CSV:
        found = _read_csv(data)
    else:
        raise ValueError(f"unknown media type {media_type!r}")
    if not found.rows:
        raise ValidationFailed({"file": _("holds no courses")})
    return found


def _read_csv(data: bytes) -> TimetableFile:
    content = decode_csv(data)
    header_line = content.partition("\n")[0]
    # Semicolon-separated when the header is (spreadsheets where the comma is decimal).
    delimiter = "\t" if "\t" in header_line and "," not in header_line else ","
    if ";" in header_line and "," not in header_line and "\t" not in header_line:
        delimiter = ";"
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)
    rows: list[SourceRow] = []
    columns: list[str] | None = None
    line = 1
    try:
        for cells in reader:
            if columns is None:
                columns = check_header(cells, expected=CSV_COLUMNS, required=REQUIRED_COLUMNS)
            elif any(cell.strip() for cell in cells):
                raw = dict(zip(columns, (cell.strip() for cell in cells), strict=False))
                row = SourceRow(line, dict(raw), raw=raw)
                if len(cells) > len(columns):
                    row.problems.append(
                        Problem(
                            line,
                            "row",
                            _(
                                "has %(cells)s cells, the header %(columns)s",
                                cells=len(cells),
                                columns=len(columns),
                            ),
                        )
                    )
                rows.append(row)
                if len(rows) > MAX_MEETINGS:
                    raise _too_many()
            line = reader.line_num + 1
    except csv.Error as exc:
        raise MalformedFile(
            _(
                "line %(line)s: the file is not valid CSV: %(reason)s",
                line=reader.line_num,
                reason=exc,
            ),
            code="malformed_csv",
        ) from None
    return TimetableFile("line", rows)


def _too_many() -> ValidationFailed:
    return ValidationFailed(
        {
            "rows": _(
                "at most %(max_rows)s meetings per import: split the term into several files",
                max_rows=MAX_MEETINGS,
            )
        }
    )


def _read_json(data: bytes) -> TimetableFile:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise MalformedFile(
            _("the file is not valid JSON: %(reason)s", reason=exc), code="malformed_json"
        ) from None
    example = '{"term": {...}, "courses": [{"code": ..., "title": ..., "meetings": [...]}]}'
    if isinstance(document, dict) and "courses" not in document:
        raise ValidationFailed({"courses": _("required")})
    if not isinstance(document, dict) or not isinstance(document.get("courses"), list):
        raise ValidationFailed(
            {"courses": _("the file must be a JSON object such as %(example)s", example=example)}
        )
    term = document.get("term") or {}
    if not isinstance(term, dict):
        raise ValidationFailed({"term": _("must be an object")})
    rows = []
    for index, item in enumerate(document["courses"]):
        row = SourceRow(index, dict(item) if isinstance(item, dict) else {}, raw=item)
        row.aliases = {"course_code": "code"}
        if not isinstance(item, dict):
            row.problems.append(Problem(index, "row", _("must be a JSON object")))
        else:
            unknown = sorted(set(item) - {"code", "title", "teachers", "students", "meetings"})
            for name in unknown:
                row.problems.append(Problem(index, name, _("unknown field")))
        rows.append(row)
    if sum(len(row.values.get("meetings") or []) for row in rows) > MAX_MEETINGS:
        raise _too_many()
    return TimetableFile("index", rows, term)


# --- checking -----------------------------------------------------------------------------------


@dataclass
class Meeting:
    """One weekly meeting of a course, checked: where it came from and its recurring plan."""

    row: SourceRow
    prefix: str
    weekday: int
    start: dt.time
    minutes: int
    weeks: list[int]
    plan: calendar.WeeklyPlan


@dataclass
class Course:
    code: str
    title: str
    row: SourceRow
    teachers: dict[int, str] = field(default_factory=dict)
    students: dict[int, str] = field(default_factory=dict)
    meetings: list[Meeting] = field(default_factory=list)
    # Everyone invited, by person id: teachers "chair", students "participant".
    roles: dict[int, str] = field(default_factory=dict)


@dataclass
class TimetablePlan:
    """A checked file: the courses to write, or the problems of each row."""

    params: TermParams
    position_name: str
    rows: list[SourceRow]
    courses: dict[str, Course]
    periods: list[calendar.HolidayPeriod]
    term: Term | None

    @property
    def problems(self) -> list[Problem]:
        return [problem for row in self.rows for problem in row.problems]

    @property
    def bad_rows(self) -> int:
        return sum(1 for row in self.rows if row.problems)


class TimetableRefused(ValidationFailed):
    """Some rows are not valid: nothing was written; ``details["rows"]`` lists every problem."""

    def __init__(self, plan: TimetablePlan) -> None:
        problems = plan.problems
        bad, total = plan.bad_rows, len(plan.rows)
        first = problems[0]
        super().__init__(
            {
                "rows": ngettext(
                    "%(num)d of %(total)d rows is not valid: nothing was imported",
                    "%(num)d of %(total)d rows are not valid: nothing was imported",
                    bad,
                    total=total,
                )
            },
            message=ngettext(
                "nothing was imported: %(num)d of %(total)d rows is not valid "
                "(first: %(where)s %(position)s, %(field)s: %(message)s)",
                "nothing was imported: %(num)d of %(total)d rows are not valid "
                "(first: %(where)s %(position)s, %(field)s: %(message)s)",
                bad,
                total=total,
                where=_("line") if plan.position_name == "line" else _("index"),
                position=first.position,
                field=first.field,
                message=first.message,
            ),
            details={
                "rows": [problem.as_dict(plan.position_name) for problem in problems],
                "bad_rows": bad,
                "total_rows": total,
            },
        )
        self.plan = plan


def _emails(value: Any) -> list[str] | None:
    """A list of addresses from "a@x; b@y" or ["a@x", "b@y"]; None if neither."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[;,\s]+", value) if part.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    return None


@dataclass
class _Entry:
    """One meeting as the file gives it, with the course fields of its row."""

    row: SourceRow
    prefix: str
    code: Any
    title: Any
    teachers: Any
    students: Any
    meeting: dict[str, Any]


def _entries(position_name: str, rows: list[SourceRow]) -> list[_Entry]:
    entries = []
    for row in rows:
        if row.problems and not isinstance(row.raw, dict):
            continue
        values = row.values
        if position_name == "line":
            meetings = [values]
            prefixes = [""]
            code = values.get("course_code")
        else:
            code = values.get("code")
            raw_meetings = values.get("meetings")
            if not isinstance(raw_meetings, list) or not raw_meetings:
                row.refuse("meetings", _("required: a list of weekly meetings"))
                meetings, prefixes = [], []
            else:
                meetings = raw_meetings
                prefixes = [f"meetings.{i}." for i in range(len(raw_meetings))]
        for prefix, meeting in zip(prefixes, meetings, strict=True):
            if not isinstance(meeting, dict):
                row.refuse(prefix.rstrip("."), _("must be a JSON object"))
                continue
            entries.append(
                _Entry(
                    row,
                    prefix,
                    code,
                    values.get("title"),
                    values.get("teachers"),
                    values.get("students"),
                    meeting,
                )
            )
        if position_name == "index" and not meetings:
            # A course with no meeting still has its own fields checked.
            entries.append(
                _Entry(
                    row,
                    "",
                    code,
                    values.get("title"),
                    values.get("teachers"),
                    values.get("students"),
                    {},
                )
            )
    return entries


def _people_by_email(emails: Iterable[str]) -> dict[str, int]:
    """Person ids by lowercased email, for those that exist (one query per 10,000)."""
    wanted = sorted(set(emails))
    found: dict[str, int] = {}
    lower = sa.func.lower(Person.email, type_=sa.String())
    for start in range(0, len(wanted), 10_000):
        chunk = wanted[start : start + 10_000]
        for person_id, email in db.session.execute(
            sa.select(Person.id, lower).where(one_of(lower, chunk, db.engine.dialect))
        ):
            found[email] = person_id
    return found


def _start_time(value: Any) -> dt.time | None:
    match = _TIME.match(str(value)) if isinstance(value, str | int) else None
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return dt.time(hour, minute)


def plan_timetable(
    params: TermParams, timetable: TimetableFile, *, owner: Organiser
) -> TimetablePlan:
    """Check every row of ``timetable`` for a term of ``owner``; nothing is written."""
    term = db.session.scalar(
        sa.select(Term).where(Term.owner_id == owner.id, Term.name == params.name)
    )
    if term is not None:
        _check_same_term(term, params)
    periods = (
        calendar.holiday_periods(
            params.country, params.subdivision, params.first_day, params.last_day
        )
        if params.skip_holidays
        else []
    )
    rows = timetable.rows
    entries = _entries(timetable.position_name, rows)
    for row in rows:
        for name in ("teachers", "students"):
            if _emails(row.values.get(name)) is None:
                row.refuse(name, _("must be a list of email addresses"))
    people = _people_by_email(
        email.lower()
        for row in rows
        for name in ("teachers", "students")
        for email in (_emails(row.values.get(name)) or [])
    )
    existing_codes: set[str] = set()
    if term is not None:
        existing_codes = set(
            db.session.scalars(sa.select(Event.course_code).where(Event.term_id == term.id))
        )
    courses: dict[str, Course] = {}
    for entry in entries:
        course = _check_course(entry, courses, people, existing_codes, timetable.position_name)
        meeting = _check_meeting(entry, params, periods)
        if course is not None and meeting is not None and not entry.row.problems:
            course.meetings.append(meeting)
    return TimetablePlan(params, timetable.position_name, rows, courses, periods, term)


def _check_same_term(term: Term, params: TermParams) -> None:
    """A term given again (to add courses) must be the same term."""
    stored = {
        "first_day": term.first_day,
        "weeks": term.weeks,
        "timezone": term.timezone,
        "country": term.country,
        "subdivision": term.subdivision,
        "skip_holidays": term.skip_holidays,
    }
    problems = {
        name: _(
            "the term %(term)s exists with %(name)s %(value)s: give the same, or another name",
            term=term.name,
            name=name,
            value=str(value) if value is not None else "-",
        )
        for name, value in stored.items()
        if getattr(params, name) != value
    }
    if problems:
        raise ValidationFailed(problems)


def _check_course(
    entry: _Entry,
    courses: dict[str, Course],
    people: dict[str, int],
    existing_codes: set[str],
    position_name: str,
) -> Course | None:
    row = entry.row
    code = _clean(row, "course_code", entry.code)
    if code is None:
        if not row.has_problem("course_code"):
            row.refuse("course_code", _("required: the course's code, e.g. MATH101"))
    else:
        if len(code) > 50:
            row.refuse("course_code", _("at most 50 characters"))
            code = None
        elif code in existing_codes:
            row.refuse("course_code", _("%(code)s is already a course of this term", code=code))
            code = None
    title = _clean(row, "title", entry.title)
    if title is None:
        if not row.has_problem("title"):
            row.refuse("title", _("required: the course's title"))
    elif len(title) > 300:
        row.refuse("title", _("at most 300 characters"))
        title = None
    teachers = _known(row, "teachers", entry.teachers, people)
    students = _known(row, "students", entry.students, people)
    if code is None:
        return None
    course = courses.get(code)
    if course is not None and position_name == "index" and course.row is not row:
        # In JSON a course is one object: its meetings are listed in it.
        row.refuse(
            "course_code",
            _("%(code)s is also given at index %(index)s", code=code, index=course.row.position),
        )
        return None
    if course is None:
        if title is None:
            return None
        course = courses[code] = Course(code, title, row)
    elif title is not None and title != course.title:
        row.refuse(
            "title",
            _(
                "%(title)s differs from the title %(first)s given to %(code)s at %(where)s",
                title=repr(title),
                first=repr(course.title),
                code=code,
                where=_("line %(line)s", line=course.row.position),
            ),
        )
    for person_id, email in teachers.items():
        course.teachers.setdefault(person_id, email)
    for person_id, email in students.items():
        course.students.setdefault(person_id, email)
    return course


def _clean(row: SourceRow, name: str, value: Any) -> str | None:
    """A one-line text field as stored (forum.core.text), None if empty or refused."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        row.refuse(name, _("must be text"))
        return None
    try:
        return text.clean_line(value) or None
    except text.UncleanText as exc:
        row.refuse(name, str(exc))
        return None


def _known(row: SourceRow, name: str, value: Any, people: dict[str, int]) -> dict[int, str]:
    emails = _emails(value)
    if emails is None:
        return {}
    found: dict[int, str] = {}
    unknown = []
    for email in emails:
        person_id = people.get(email.lower())
        if person_id is None:
            unknown.append(email)
        else:
            found[person_id] = email
    if unknown:
        row.refuse(
            name,
            ngettext(
                "no person in the directory has the email %(emails)s",
                "no person in the directory has the emails %(emails)s",
                len(unknown),
                emails=", ".join(unknown),
            ),
        )
    return found


def _check_meeting(
    entry: _Entry, params: TermParams, periods: list[calendar.HolidayPeriod]
) -> Meeting | None:
    if not entry.meeting:
        return None
    row, prefix, values = entry.row, entry.prefix, entry.meeting
    ok = True
    weekday = None
    try:
        weekday = calendar.parse_weekday(values.get("weekday", ""))
    except ValueError:
        row.refuse(prefix + "weekday", _("must be one of mon, tue, wed, thu, fri, sat, sun"))
        ok = False
    start = _start_time(values.get("start"))
    if start is None:
        row.refuse(prefix + "start", _("must be a time of day as HH:MM, e.g. 08:00 or 13:30"))
        ok = False
    minutes = None
    problems: dict[str, str] = {}
    minutes = _whole(values.get("minutes"), "minutes", 1, MAX_MINUTES, problems, required=True)
    if "minutes" in problems:
        row.refuse(prefix + "minutes", problems["minutes"])
        ok = False
    weeks: list[int] = []
    raw_weeks = values.get("weeks")
    try:
        if raw_weeks is None or raw_weeks == "":
            raise ValueError(_("required: the weeks it is taught in, e.g. 1-16"))
        weeks = calendar.parse_weeks(raw_weeks, term_weeks=params.weeks)
    except ValueError as exc:
        row.refuse(prefix + "weeks", str(exc))
        ok = False
    if not ok:
        return None
    assert weekday is not None and start is not None and minutes is not None
    try:
        plan = calendar.weekly_plan(
            first_day=params.first_day,
            weekday=weekday,
            weeks=weeks,
            start=start,
            minutes=minutes,
            timezone=params.timezone,
            periods=periods,
        )
    except ValueError as exc:
        row.refuse(prefix + "weeks", str(exc))
        return None
    for day in plan.dates:
        if calendar.local_time_problem(day, start, params.timezone) is None:
            continue
        try:
            resolve_local(dt.datetime.combine(day, start), params.timezone, field="start")
        except ValidationFailed as exc:
            row.refuse(prefix + "start", exc.message)
            return None
    return Meeting(row, prefix, weekday, start, minutes, weeks, plan)


# --- writing ------------------------------------------------------------------------------------


@dataclass
class ImportOutcome:
    """What an import wrote."""

    term: Term
    timetable_import: TimetableImport
    session_ids: list[int]
    person_ids: set[int]


def apply_timetable(
    plan: TimetablePlan, *, owner: Organiser, rate_per_minute: int
) -> ImportOutcome:
    """Write a plan without problems (else TimetableRefused, nothing written). The caller
    commits; jobs and the feed caches' invalidation wait for that commit."""
    if plan.bad_rows:
        raise TimetableRefused(plan)
    params = plan.params
    now = now_utc()
    term = plan.term
    excluded = calendar.excluded_dates(plan.periods)
    if term is None:
        term = Term(
            name=params.name,
            owner_id=owner.id,
            timezone=params.timezone,
            country=params.country,
            subdivision=params.subdivision,
            first_day=params.first_day,
            weeks=params.weeks,
            skip_holidays=params.skip_holidays,
            excluded_dates=excluded,
            created_at=now,
        )
        db.session.add(term)
    else:
        term.excluded_dates = excluded
    try:
        db.session.flush()
        written = _write_courses(plan, term, owner, now)
    except IntegrityError:
        # Someone added the same term or course code between the check and the write.
        raise Conflict(
            _("the term changed while the file was imported; nothing was imported: send it again"),
        ) from None
    first_id, last_id, total = written.invitation_range
    timetable_import = TimetableImport(
        term_id=term.id,
        created_by_id=owner.id,
        status="sending" if total else "done",
        courses=len(plan.courses),
        sessions=len(written.session_ids),
        invitations_total=total,
        invitations_sent=0,
        first_invitation_id=first_id,
        last_invitation_id=last_id,
        sent_through_id=first_id,
        rate_per_minute=rate_per_minute,
        created_at=now,
        finished_at=None if total else now,
    )
    db.session.add(timetable_import)
    db.session.flush()
    return ImportOutcome(term, timetable_import, written.session_ids, written.person_ids)


@dataclass
class _Written:
    session_ids: list[int]
    person_ids: set[int]
    invitation_range: tuple[int, int, int]


def _insert_rows(table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) in the session's transaction: on
    PostgreSQL with COPY, several times faster than an executemany for the 200,000
    invitations of a whole term; elsewhere with one executemany."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(sa.insert(table), rows)
        return
    columns = list(rows[0])
    names = ", ".join(f'"{name}"' for name in columns)
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[name] for name in columns])
    finally:
        cursor.close()


def _write_courses(plan: TimetablePlan, term: Term, owner: Organiser, now: dt.datetime) -> _Written:
    params = plan.params
    courses = list(plan.courses.values())
    db.session.execute(
        sa.insert(Event.__table__),
        [
            {
                "title": course.title,
                "kind": "series",
                "description": "",
                "owner_id": owner.id,
                "timezone": params.timezone,
                "default_provider": params.provider,
                "status": "active",
                "reminder_minutes": list(DEFAULT_REMINDER_MINUTES),
                "term_id": term.id,
                "course_code": course.code,
                "revision": 0,
                "created_at": now,
                "updated_at": now,
            }
            for course in courses
        ],
    )
    codes = [course.code for course in courses]
    event_ids: dict[str, int] = {}
    for start in range(0, len(codes), 10_000):
        chunk = codes[start : start + 10_000]
        event_ids.update(
            (code, event_id)
            for event_id, code in db.session.execute(
                sa.select(Event.id, Event.course_code).where(
                    Event.term_id == term.id, one_of(Event.course_code, chunk, db.engine.dialect)
                )
            )
        )
    participants = []
    for course in courses:
        roles = {person_id: "chair" for person_id in course.teachers}
        for person_id in course.students:
            roles.setdefault(person_id, "participant")
        course.roles = roles
        participants.extend(
            {
                "event_id": event_ids[course.code],
                "person_id": person_id,
                "role": role,
                "required": True,
            }
            for person_id, role in roles.items()
        )
    if participants:
        _insert_rows(EventParticipant.__table__, participants)
    sessions = []
    uids: dict[str, Course] = {}
    for course in courses:
        for meeting in course.meetings:
            uid = f"{uuid.uuid4()}@forum"
            uids[uid] = course
            sessions.append(
                {
                    "event_id": event_ids[course.code],
                    "title": course.title,
                    "start": meeting.plan.start,
                    "end": meeting.plan.end,
                    "timezone": params.timezone,
                    "rrule": meeting.plan.rrule,
                    "exdates": meeting.plan.exdates,
                    "status": "scheduled",
                    "ical_uid": uid,
                    "sequence": 0,
                    "revision": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    db.session.execute(sa.insert(EventSession.__table__), sessions)
    new_events = sorted(event_ids.values())
    session_rows = db.session.execute(
        sa.select(EventSession.id, EventSession.ical_uid)
        .where(one_of(EventSession.event_id, new_events, db.engine.dialect))
        .order_by(EventSession.id)
    ).all()
    session_ids = [session_id for session_id, _uid in session_rows]
    db.session.execute(
        sa.insert(VideoMeeting.__table__),
        [
            {
                "session_id": session_id,
                "provider": params.provider,
                "status": "pending",
                "attempts": 0,
                "data": {},
                "revision": 0,
                "created_at": now,
                "updated_at": now,
            }
            for session_id in session_ids
        ],
    )
    invitations = []
    person_ids: set[int] = set()
    for session_id, uid in session_rows:
        roles = uids[uid].roles
        # Teachers first: their invites go out before the students'.
        for person_id, role in sorted(
            roles.items(), key=lambda item: (item[1] != "chair", item[0])
        ):
            invitations.append(
                {
                    "session_id": session_id,
                    "person_id": person_id,
                    "role": role,
                    "required": True,
                    "rsvp": "needs-action",
                }
            )
            person_ids.add(person_id)
    if invitations:
        _insert_rows(Invitation.__table__, invitations)
    low, high = db.session.execute(
        sa.select(sa.func.min(Invitation.id), sa.func.max(Invitation.id))
        .join(EventSession, EventSession.id == Invitation.session_id)
        .where(one_of(EventSession.event_id, new_events, db.engine.dialect))
    ).one()
    first_id = (low - 1) if low is not None else 0
    return _Written(session_ids, person_ids, (first_id, high or 0, len(invitations)))


# --- the whole import ---------------------------------------------------------------------------


def import_timetable(
    data: bytes,
    media_type: str,
    *,
    organiser: Organiser,
    term: Mapping[str, Any],
    default_rate: int,
    queue_sending: bool = True,
    dry_run: bool = False,
) -> ImportOutcome | TimetablePlan:
    """Read, check and write a timetable for ``organiser``. The caller commits.

    ``term``: the term's parameters given beside the file (a query, a form, the command's
    options); they complete and override the JSON file's own ``term``. After the commit the
    meetings are opened, the invitations start going out (unless ``queue_sending`` is
    false: the command line sends them itself) and the feeds of everyone invited are
    dropped from the caches. ``dry_run``: check only, return the plan.
    """
    timetable = read_timetable(data, media_type)
    params = term_params({**timetable.term, **{k: v for k, v in term.items() if v is not None}})
    plan = plan_timetable(params, timetable, owner=organiser)
    if plan.bad_rows:
        raise TimetableRefused(plan)
    if dry_run:
        return plan
    outcome = apply_timetable(
        plan, owner=organiser, rate_per_minute=params.rate_per_minute or default_rate
    )
    _after_import(outcome, queue_sending=queue_sending)
    return outcome


def _after_import(outcome: ImportOutcome, *, queue_sending: bool) -> None:
    """Queue what follows the commit: meetings, the first batch of invites, feed caches."""
    from forum.events.feedcache import people_changed
    from forum.jobs.queue import after_commit
    from forum.jobs.queue import enqueue

    # As booking does (forum.followups): each meeting is opened by a job after the commit.
    # Without a broker those jobs would run one by one inside this request (a term has
    # thousands); the sender then opens each meeting just before its first invitations go
    # (forum.timetables.sending), spreading the work over the sending.
    if not current_app.extensions["celery"].conf.task_always_eager:
        for session_id in outcome.session_ids:
            enqueue("forum.open_meeting", session_id)
    if queue_sending and outcome.timetable_import.status == "sending":
        enqueue("forum.send_timetable_invitations", outcome.timetable_import.id)
    people = sorted(outcome.person_ids)
    after_commit(lambda: people_changed(people))
