"""The teachers-abroad page of a term, for its organiser: who teaches at a bad hour of their
own, when, and the nearest weekly time that would spare them; with the CSV to download."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint
from flask import Response
from flask import render_template
from flask import request
from flask_login import current_user
from flask_login import login_required

from forum.accounts.models import Organiser
from forum.events.explanations import CATEGORY_LABELS
from forum.i18n import country_name
from forum.i18n import format_date_text
from forum.i18n import format_datetime_pattern
from forum.i18n import zone_text
from forum.timetables import abroad

bp = Blueprint("term_reports", __name__)

PER_PAGE = 50
# Any Monday: a weekday's name is written from a date that falls on it.
_MONDAY = dt.date(2020, 2, 17)


def _organiser() -> Organiser:
    return current_user._get_current_object()


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) >= 1 else 1


def weekday_name(code: str) -> str:
    """ "Tue" in the reader's language ("周二", "火", "mar.")."""
    day = _MONDAY + dt.timedelta(days=abroad.WEEKDAYS.index(code))
    return format_datetime_pattern(dt.datetime.combine(day, dt.time(0)), "EEE")


def run_text(run: abroad.LocalRun) -> str:
    """One local time of a teacher: "Mon 21:00–22:40", the weekday in the reader's language."""
    return f"{weekday_name(run.weekday)} {run.start:%H:%M}–{run.end:%H:%M}"


@bp.app_template_filter("abroad_weekday")
def _weekday_filter(code: str) -> str:
    return weekday_name(code)


@bp.get("/terms/<int:term_id>/teachers-abroad")
@login_required
def teachers_abroad(term_id: int):
    organiser = _organiser()
    term = abroad.get_term_for(organiser, term_id)
    page = _page_number()
    report = abroad.teachers_abroad(term, page=page, per_page=PER_PAGE)
    pages = max((report.total + PER_PAGE - 1) // PER_PAGE, 1)
    return render_template(
        "timetables/abroad.html",
        organiser=organiser,
        term=term,
        report=report,
        page=page,
        pages=pages,
        labels=CATEGORY_LABELS,
        run_text=run_text,
        country_name=country_name,
        zone_text=zone_text,
        format_date_text=format_date_text,
        no_suggestion_text=abroad.no_suggestion_text,
    )


@bp.get("/terms/<int:term_id>/teachers-abroad.csv")
@login_required
def teachers_abroad_csv(term_id: int):
    term = abroad.get_term_for(_organiser(), term_id)
    report = abroad.teachers_abroad(term)
    return Response(
        abroad.csv_text(report).encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="term-{term.id}-teachers-abroad.csv"',
        },
    )
