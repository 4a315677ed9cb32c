"""The timetable import pages: upload a term's timetable, then follow its invitations.

A file with any bad row is refused whole and its problems listed by row and field; a good
one is written at once and the organiser lands on the import's page, which shows the
invitations going out (a <progress> bar that the page refreshes itself, without JavaScript,
while they are sent).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from flask_wtf.file import FileRequired
from wtforms import BooleanField
from wtforms import StringField
from wtforms.validators import Optional

from forum.accounts.models import Organiser
from forum.core.errors import ForumError
from forum.extensions import csrf
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.timetables import importer
from forum.timetables import sending
from forum.timetables.calendar import last_day
from forum.timetables.models import Term
from forum.timetables.models import TimetableImport
from forum.web import bp
from forum.web.forms import protect_upload
from forum.web.forms import show_service_error

ONE_DAY = dt.timedelta(days=1)

# The refusal lists the first problems: enough to fix a file, without a page of 40,000.
SHOWN_PROBLEMS = 1000
# While sending, the import page reloads itself after this many seconds.
REFRESH_SECONDS = 5
MAX_FORM_BYTES = importer.MAX_TIMETABLE_BYTES + 64 * 1024


class TimetableForm(FlaskForm):
    name = StringField(_l("Term name"), render_kw={"placeholder": "Spring 2020"})
    first_day = StringField(_l("First day"), render_kw={"type": "date"})
    weeks = StringField(_l("Weeks"), render_kw={"inputmode": "numeric"})
    timezone = StringField(_l("Time zone of the timetable"))
    country = StringField(_l("Country whose holidays apply"), render_kw={"maxlength": 2})
    subdivision = StringField(_l("Subdivision (optional)"), validators=[Optional()])
    skip_holidays = BooleanField(_l("Leave out public holidays"), default=True)
    rate_per_minute = StringField(
        _l("Invitations per minute"), validators=[Optional()], render_kw={"inputmode": "numeric"}
    )
    file = FileField(
        _l("Timetable file"),
        validators=[FileRequired(_l("Choose a CSV or JSON file."))],
        render_kw={"accept": ".csv,text/csv,.json,application/json"},
    )


def _organiser() -> Organiser:
    return current_user._get_current_object()


def _imports_of(organiser: Organiser) -> list[TimetableImport]:
    query = (
        sa.select(TimetableImport)
        .join(Term, Term.id == TimetableImport.term_id)
        .order_by(TimetableImport.id.desc())
        .limit(50)
    )
    if not organiser.is_admin:
        query = query.where(Term.owner_id == organiser.id)
    return list(db.session.scalars(query))


def _page(form: TimetableForm, *, refusal: importer.TimetableRefused | None = None):
    problems = refusal.plan.problems if refusal is not None else []
    return render_template(
        "timetables/import.html",
        form=form,
        refusal=refusal,
        problems=problems[:SHOWN_PROBLEMS],
        hidden_problems=max(0, len(problems) - SHOWN_PROBLEMS),
        imports=_imports_of(_organiser()),
        columns=importer.CSV_COLUMNS,
        default_rate=current_app.config.get("FORUM_TIMETABLE_INVITES_PER_MINUTE", 600),
    )


@bp.get("/timetables/import")
@login_required
def timetable_imports():
    form = TimetableForm(formdata=None, timezone=_organiser().timezone, skip_holidays=True)
    return _page(form)


@bp.post("/timetables/import")
@csrf.exempt
@login_required
def upload_timetable():
    # Exempt from the app-wide check, which reads the form under the ordinary limits that a
    # term's timetable exceeds; checked here under this page's own.
    if not protect_upload(MAX_FORM_BYTES):
        form = TimetableForm(formdata=None)
        form.form_errors.append(_too_large())
        return _page(form), 413
    form = TimetableForm()
    if not form.validate():
        return _page(form), 422
    upload = form.file.data
    data = upload.read(importer.MAX_TIMETABLE_BYTES + 1)
    if len(data) > importer.MAX_TIMETABLE_BYTES:
        form.file.errors.append(_too_large())
        return _page(form), 413
    term = {
        "name": form.name.data,
        "first_day": form.first_day.data,
        "weeks": form.weeks.data,
        "timezone": form.timezone.data,
        "country": form.country.data,
        "subdivision": form.subdivision.data,
        "skip_holidays": bool(form.skip_holidays.data),
        "rate_per_minute": form.rate_per_minute.data,
    }
    try:
        outcome = importer.import_timetable(
            data,
            importer.media_type_for_filename(upload.filename or ""),
            organiser=_organiser(),
            term={name: value for name, value in term.items() if value not in (None, "")},
            default_rate=current_app.config.get("FORUM_TIMETABLE_INVITES_PER_MINUTE", 600),
        )
    except importer.TimetableRefused as refusal:
        db.session.rollback()
        return _page(form, refusal=refusal), 422
    except ForumError as exc:
        db.session.rollback()
        show_service_error(form, exc)
        return _page(form), 422
    assert isinstance(outcome, importer.ImportOutcome)
    db.session.commit()
    flash(
        _(
            "Imported %(courses)s courses into %(term)s; the invitations are being sent.",
            courses=outcome.timetable_import.courses,
            term=outcome.term.name,
        ),
        "info",
    )
    return redirect(url_for("web.timetable_import", import_id=outcome.timetable_import.id)), 303


def _too_large() -> str:
    return _(
        "The file is larger than %(megabytes)s MB, the most one import takes.",
        megabytes=importer.MAX_TIMETABLE_BYTES // (1024 * 1024),
    )


def _excluded_periods(term: Term) -> list[tuple[dt.date, dt.date, str]]:
    """The term's left-out dates as runs of consecutive days of one holiday: (first, last,
    name), so that a page reads "Sat 4 Apr - Mon 6 Apr 2020" rather than three lines."""
    periods: list[tuple[dt.date, dt.date, str]] = []
    for item in term.excluded_dates:
        day = dt.date.fromisoformat(item["date"])
        if periods and periods[-1][2] == item["name"] and periods[-1][1] + ONE_DAY == day:
            periods[-1] = (periods[-1][0], day, item["name"])
        else:
            periods.append((day, day, item["name"]))
    return periods


@bp.get("/timetable-imports/<int:import_id>")
@login_required
def timetable_import(import_id: int):
    timetable_import = sending.get_import(import_id, organiser=_organiser())
    term = timetable_import.term
    return render_template(
        "timetables/progress.html",
        timetable_import=timetable_import,
        term=term,
        periods=_excluded_periods(term),
        last_day=last_day(term.first_day, term.weeks),
        refresh=REFRESH_SECONDS if timetable_import.status == "sending" else None,
    )


@bp.post("/timetable-imports/<int:import_id>/resume")
@login_required
def resume_timetable_import(import_id: int):
    timetable_import = sending.get_import(import_id, organiser=_organiser())
    try:
        sending.resume(timetable_import)
    except ForumError as exc:
        flash(exc.message, "error")
    else:
        db.session.commit()
    return redirect(url_for("web.timetable_import", import_id=import_id)), 303
