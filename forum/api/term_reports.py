"""API v1: reports on a teaching term, for its organiser (the teachers-abroad report, as
JSON or CSV)."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint
from flask import Response
from flask import request
from pydantic import Field

from forum.api import auth
from forum.api import refuse_ids_out_of_range
from forum.api.schemas import Out
from forum.api.util import current_organiser
from forum.api.util import page_args
from forum.core.errors import ValidationFailed
from forum.core.times import format_instant
from forum.i18n import _
from forum.timetables import abroad
from forum.timetables.models import Term

# Its own blueprint under the API's prefix, with the API's token check and id bounds.
bp = Blueprint("term_reports_api", __name__, url_prefix="/api/v1")
bp.before_request(auth.require_token)
bp.url_value_preprocessor(refuse_ids_out_of_range)

FORMATS = ("json", "csv")


class AbroadTermOut(Out):
    id: int
    name: str
    timezone: str = Field(description="the home zone the courses are written in")
    country: str
    subdivision: str | None
    first_day: str
    weeks: int


class AbroadLocalTimeOut(Out):
    weekday: str = Field(description="the teacher's local weekday, Mon..Sun")
    local_start: str = Field(description="HH:MM on the teacher's clock")
    local_end: str
    # "from" is a Python keyword: the field is aliased.
    from_: str = Field(alias="from", description="the teacher's local date of the first of these")
    until: str = Field(description="the teacher's local date of the last of these")
    first_start: str = Field(description="the first of these, as a UTC instant")
    occurrences: int


class AbroadSuggestionOut(Out):
    weekday: str = Field(description="in the term's zone, Mon..Sun")
    local_start: str = Field(description="HH:MM in the term's zone")
    local_end: str
    shift_minutes: int = Field(description="from the current weekly time: later (+), earlier (-)")
    teacher_hours: Literal["working", "acceptable"] = Field(
        description="working or acceptable, on every date of the term"
    )
    local_times: list[AbroadLocalTimeOut]
    categories: dict[str, int] = Field(description="facts the teacher still meets, and how often")


class AbroadNoSuggestionOut(Out):
    code: Literal["teacher_hours", "students_hours", "clashes", "no_better"]
    message: str


class AbroadMeetingOut(Out):
    event_id: int
    session_id: int
    course_code: str
    course_title: str
    weekday: str = Field(description="in the term's zone, Mon..Sun")
    local_start: str = Field(description="HH:MM in the term's zone")
    local_end: str
    first_start: str
    duration_minutes: int
    occurrences: int
    students: int
    local_times: list[AbroadLocalTimeOut] = Field(
        description="each local time of the teacher, in turn"
    )
    categories: dict[str, int] = Field(
        description="each of early, late, night, weekend, holiday met, with its occurrences"
    )
    worst: str
    suggestion: AbroadSuggestionOut | None
    no_suggestion: AbroadNoSuggestionOut | None


class AbroadTeacherOut(Out):
    person_id: int
    name: str
    email: str
    country: str | None
    subdivision: str | None
    institution: str | None
    timezone: str
    worst: str
    meetings: list[AbroadMeetingOut]


class TeachersAbroadOut(Out):
    term: AbroadTermOut
    teachers: list[AbroadTeacherOut] = Field(description="worst off first")
    total: int = Field(description="teachers listed in the whole report")
    page: int
    per_page: int


def term_out(term: Term) -> AbroadTermOut:
    return AbroadTermOut(
        id=term.id,
        name=term.name,
        timezone=term.timezone,
        country=term.country,
        subdivision=term.subdivision,
        first_day=term.first_day.isoformat(),
        weeks=term.weeks,
    )


def _runs_out(runs: tuple[abroad.LocalRun, ...]) -> list[AbroadLocalTimeOut]:
    return [
        AbroadLocalTimeOut(
            weekday=run.weekday,
            local_start=f"{run.start:%H:%M}",
            local_end=f"{run.end:%H:%M}",
            **{"from": run.start.date().isoformat()},
            until=run.last.date().isoformat(),
            first_start=format_instant(run.first_start),
            occurrences=run.occurrences,
        )
        for run in runs
    ]


def meeting_out(meeting: abroad.MeetingReport) -> AbroadMeetingOut:
    suggestion = meeting.suggestion
    return AbroadMeetingOut(
        event_id=meeting.event_id,
        session_id=meeting.session_id,
        course_code=meeting.course_code,
        course_title=meeting.course_title,
        weekday=meeting.weekday,
        local_start=f"{meeting.local_start:%H:%M}",
        local_end=f"{meeting.local_end:%H:%M}",
        first_start=format_instant(meeting.first_start),
        duration_minutes=meeting.duration_minutes,
        occurrences=meeting.occurrences,
        students=meeting.students,
        local_times=_runs_out(meeting.runs),
        categories=meeting.categories,
        worst=meeting.worst,
        suggestion=AbroadSuggestionOut(
            weekday=suggestion.weekday,
            local_start=f"{suggestion.local_start:%H:%M}",
            local_end=f"{suggestion.local_end:%H:%M}",
            shift_minutes=suggestion.shift_minutes,
            teacher_hours=suggestion.level,
            local_times=_runs_out(suggestion.runs),
            categories=suggestion.categories,
        )
        if suggestion is not None
        else None,
        no_suggestion=AbroadNoSuggestionOut(
            code=meeting.no_suggestion,
            message=abroad.no_suggestion_text(meeting.no_suggestion),
        )
        if meeting.no_suggestion is not None
        else None,
    )


def teacher_out(teacher: abroad.TeacherReport) -> AbroadTeacherOut:
    return AbroadTeacherOut(
        person_id=teacher.person_id,
        name=teacher.name,
        email=teacher.email,
        country=teacher.country,
        subdivision=teacher.subdivision,
        institution=teacher.institution,
        timezone=teacher.timezone,
        worst=teacher.worst,
        meetings=[meeting_out(m) for m in teacher.meetings],
    )


# --- CSV -----------------------------------------------------------------------------------


def csv_response(report: abroad.AbroadReport) -> Response:
    """The whole report as a CSV download (abroad.csv_text)."""
    filename = f"term-{report.term.id}-teachers-abroad.csv"
    return Response(
        abroad.csv_text(report).encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


# --- routes --------------------------------------------------------------------------------


@bp.get("/terms/<int:term_id>/teachers-abroad")
def teachers_abroad(term_id: int):
    term = abroad.get_term_for(current_organiser(), term_id)
    wanted = request.args.get("format", "json")
    if wanted not in FORMATS:
        raise ValidationFailed({"format": _("must be json or csv")})
    if wanted == "csv":
        return csv_response(abroad.teachers_abroad(term))
    page, per_page = page_args()
    report = abroad.teachers_abroad(term, page=page, per_page=per_page)
    return TeachersAbroadOut(
        term=term_out(term),
        teachers=[teacher_out(t) for t in report.teachers],
        total=report.total,
        page=page,
        per_page=per_page,
    ).model_dump(mode="json", by_alias=True)


@bp.get("/terms/<int:term_id>/teachers-abroad.csv")
def teachers_abroad_csv(term_id: int):
    term = abroad.get_term_for(current_organiser(), term_id)
    return csv_response(abroad.teachers_abroad(term))
