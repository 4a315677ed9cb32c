"""Timetable imports and terms as the API: import a term's courses, follow its invitations."""

from __future__ import annotations

import datetime as dt
from typing import Any
from typing import Literal

import sqlalchemy as sa
from flask import current_app
from flask import request
from pydantic import Field
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.exceptions import UnsupportedMediaType

from forum.api import bp
from forum.api.schemas import Out
from forum.api.schemas import Schema
from forum.api.util import current_organiser
from forum.api.util import paginate
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.core.times import format_instant
from forum.extensions import db
from forum.i18n import _
from forum.timetables import importer
from forum.timetables import sending
from forum.timetables.calendar import last_day
from forum.timetables.models import Term
from forum.timetables.models import TimetableImport

# The term's parameters, as query or form fields beside a CSV file.
TERM_FIELDS = (
    "name",
    "first_day",
    "weeks",
    "timezone",
    "country",
    "subdivision",
    "skip_holidays",
    "provider",
    "rate_per_minute",
)


# --- schemas (the request's for the document; the importer reads the file itself) ----------


class TermIn(Schema):
    name: str = Field(min_length=1, max_length=200, description="unique among your terms")
    first_day: dt.date = Field(description="week 1 starts on this day")
    weeks: int = Field(ge=1, le=60)
    timezone: str = Field(description="IANA zone the meeting times are written in")
    country: str = Field(description="ISO 3166-1 alpha-2: whose public holidays apply")
    subdivision: str | None = None
    skip_holidays: bool = Field(True, description="leave out the holiday periods as EXDATEs")
    provider: Literal["jitsi"] = "jitsi"
    rate_per_minute: int | None = Field(
        None, ge=1, le=100_000, description="invitations sent per minute at most"
    )


class MeetingIn(Schema):
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    start: str = Field(description="HH:MM in the term's zone", pattern=r"^\d{1,2}:\d{2}$")
    minutes: int = Field(ge=1, le=importer.MAX_MINUTES)
    weeks: str = Field(description='the weeks taught: "1-16", "1-8,10-16", "2,4,6"')


class CourseIn(Schema):
    code: str = Field(min_length=1, max_length=50, description="unique in the term")
    title: str = Field(min_length=1, max_length=300)
    teachers: list[str] = Field(default_factory=list, description="emails (invited as chair)")
    students: list[str] = Field(default_factory=list, description="emails (as participant)")
    meetings: list[MeetingIn] = Field(min_length=1)


class TimetableIn(Schema):
    """A term and its courses (or a CSV file, one weekly meeting a line:
    course_code,title,teachers,weekday,start,minutes,weeks,students)."""

    term: TermIn | None = Field(
        default=None, description="the term; its fields may also be given in the query"
    )
    courses: list[CourseIn] = Field(min_length=1)


class ExcludedDateOut(Out):
    date: dt.date
    name: str


class TermOut(Out):
    id: int
    name: str
    first_day: dt.date
    last_day: dt.date
    weeks: int
    timezone: str
    country: str
    subdivision: str | None
    skip_holidays: bool
    excluded_dates: list[ExcludedDateOut] = Field(
        description="the days left out of every course for public holidays"
    )
    courses: int
    created_at: str


class TimetableImportOut(Out):
    id: int
    term_id: int
    status: Literal["sending", "done", "failed"]
    courses: int
    sessions: int
    invitations_total: int
    invitations_sent: int
    progress: float = Field(ge=0, le=1, description="share of the invitations sent")
    rate_per_minute: int
    error: str | None
    created_at: str
    finished_at: str | None
    term: TermOut


class TimetableCheckOut(Out):
    dry_run: Literal[True]
    courses: int
    sessions: int
    invitations_total: int
    excluded_dates: list[ExcludedDateOut]


# --- serialising -----------------------------------------------------------------------------


def term_out(term: Term, *, courses: int | None = None) -> dict[str, Any]:
    from forum.events.models import Event

    if courses is None:
        courses = db.session.scalar(
            sa.select(sa.func.count(Event.id)).where(Event.term_id == term.id)
        )
    return TermOut(
        id=term.id,
        name=term.name,
        first_day=term.first_day,
        last_day=last_day(term.first_day, term.weeks),
        weeks=term.weeks,
        timezone=term.timezone,
        country=term.country,
        subdivision=term.subdivision,
        skip_holidays=term.skip_holidays,
        excluded_dates=term.excluded_dates or [],
        courses=courses or 0,
        created_at=format_instant(term.created_at),
    ).model_dump(mode="json")


def import_out(timetable_import: TimetableImport) -> dict[str, Any]:
    total = timetable_import.invitations_total
    return TimetableImportOut(
        id=timetable_import.id,
        term_id=timetable_import.term_id,
        status=timetable_import.status,  # type: ignore[arg-type]
        courses=timetable_import.courses,
        sessions=timetable_import.sessions,
        invitations_total=total,
        invitations_sent=timetable_import.invitations_sent,
        progress=round(timetable_import.invitations_sent / total, 4) if total else 1.0,
        rate_per_minute=timetable_import.rate_per_minute,
        error=timetable_import.error,
        created_at=format_instant(timetable_import.created_at),
        finished_at=(
            format_instant(timetable_import.finished_at) if timetable_import.finished_at else None
        ),
        term=term_out(timetable_import.term),
    ).model_dump(mode="json")


def check_out(plan: importer.TimetablePlan) -> dict[str, Any]:
    from forum.timetables.calendar import excluded_dates

    sessions = sum(len(course.meetings) for course in plan.courses.values())
    invitations = sum(
        len(course.meetings) * len(set(course.teachers) | set(course.students))
        for course in plan.courses.values()
    )
    return TimetableCheckOut(
        dry_run=True,
        courses=len(plan.courses),
        sessions=sessions,
        invitations_total=invitations,
        excluded_dates=excluded_dates(plan.periods),
    ).model_dump(mode="json")


# --- routes ----------------------------------------------------------------------------------


def _file_and_fields() -> tuple[bytes, str, dict[str, Any]]:
    """The file and its media type, and the term's fields given beside it."""
    fields: dict[str, Any] = {
        name: request.args[name] for name in TERM_FIELDS if request.args.get(name) is not None
    }
    too_large = importer.TimetableTooLarge(
        _(
            "the file is larger than %(max_bytes)s bytes, the most one import takes",
            max_bytes=importer.MAX_TIMETABLE_BYTES,
        )
    )
    if (request.content_length or 0) > importer.MAX_TIMETABLE_BYTES:
        raise too_large
    # A term's timetable is larger than other request bodies (FORUM_MAX_REQUEST_BYTES).
    request.max_content_length = importer.MAX_TIMETABLE_BYTES
    media_type = request.mimetype
    try:
        if media_type == "multipart/form-data":
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                raise ValidationFailed({"file": _("required: the timetable, a CSV or JSON file")})
            fields.update(
                {name: request.form[name] for name in TERM_FIELDS if request.form.get(name)}
            )
            return upload.read(), importer.media_type_for_filename(upload.filename), fields
        if media_type not in importer.MEDIA_TYPES:
            raise UnsupportedMediaType(
                _(
                    "send the timetable as application/json, text/csv (UTF-8) or a "
                    "multipart/form-data file, not %(media_type)s",
                    media_type=media_type or "-",
                )
            )
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(
                _("send the file as UTF-8, not %(charset)s", charset=charset)
            )
        return request.get_data(cache=False), media_type, fields
    except RequestEntityTooLarge:
        raise too_large from None


@bp.post("/timetables/import")
def import_timetable():
    data, media_type, fields = _file_and_fields()
    dry_run = str(request.args.get("dry_run", "")).lower() in ("1", "true", "yes")
    result = importer.import_timetable(
        data,
        media_type,
        organiser=current_organiser(),
        term=fields,
        default_rate=current_app.config.get("FORUM_TIMETABLE_INVITES_PER_MINUTE", 600),
        dry_run=dry_run,
    )
    if isinstance(result, importer.TimetablePlan):
        return check_out(result)
    db.session.commit()
    timetable_import = result.timetable_import
    db.session.refresh(timetable_import)
    return import_out(timetable_import), 201


@bp.get("/timetable-imports/<int:import_id>")
def get_timetable_import(import_id: int):
    return import_out(sending.get_import(import_id, organiser=current_organiser()))


@bp.post("/timetable-imports/<int:import_id>/resume")
def resume_timetable_import(import_id: int):
    timetable_import = sending.get_import(import_id, organiser=current_organiser())
    sending.resume(timetable_import)
    db.session.commit()
    return import_out(timetable_import)


def _visible_terms() -> sa.Select:
    """The organiser's own terms (as events, a term is its owner's alone)."""
    return sa.select(Term).where(Term.owner_id == current_organiser().id).order_by(Term.id)


@bp.get("/terms")
def list_terms():
    return paginate(_visible_terms(), lambda terms: [term_out(term) for term in terms])


@bp.get("/terms/<int:term_id>")
def get_term(term_id: int):
    term = db.session.scalar(_visible_terms().where(Term.id == term_id))
    if term is None:
        raise NotFound(_("no term with id %(id)s", id=term_id))
    return term_out(term)
