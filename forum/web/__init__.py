"""Server-rendered pages for organisers: the blueprint and its template filters."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint
from flask import Flask

from forum.core.times import format_instant
from forum.core.times import usable_zone_names
from forum.i18n import format_datetime_text
from forum.i18n import zone_text

bp = Blueprint("web", __name__)


def init_app(app: Flask) -> None:
    from forum.web import account  # noqa: F401
    from forum.web import apidocs  # noqa: F401
    from forum.web import calendars
    from forum.web import directory_import  # noqa: F401
    from forum.web import events  # noqa: F401
    from forum.web import inbox  # noqa: F401
    from forum.web import outbox
    from forum.web import participants  # noqa: F401
    from forum.web import planner  # noqa: F401
    from forum.web import polls  # noqa: F401
    from forum.web import providers  # noqa: F401
    from forum.web import series_planner  # noqa: F401
    from forum.web import sessions  # noqa: F401
    from forum.web import subscriptions  # noqa: F401
    from forum.web import term_reports
    from forum.web import timetables  # noqa: F401
    from forum.web import tokens  # noqa: F401
    from forum.web import views  # noqa: F401

    # Zone fields offer every IANA name (templates/events/zones.html).
    app.jinja_env.globals["zone_names"] = usable_zone_names
    app.register_blueprint(bp)
    app.register_blueprint(outbox.bp)
    app.register_blueprint(calendars.bp)
    app.register_blueprint(term_reports.bp)


# --- times -------------------------------------------------------------------------------


@bp.app_template_filter("in_zones")
def in_zones(instant: dt.datetime, *zone_names: str) -> list[str]:
    """The instant in each zone (viewer's first), then UTC, each zone once, with weekday,
    in the reader's language: "Thu 26 Mar 2020 21:00 (Beijing, Asia/Shanghai)"."""
    return [
        f"{format_datetime_text(instant, name)} ({zone_text(name)})"
        for name in dict.fromkeys((*zone_names, "UTC"))
        if name
    ]


@bp.app_template_filter("id_of")
def id_of(value: object) -> int:
    """Python's id(): templates look up what was computed per object in a dict."""
    return id(value)


@bp.app_template_filter("utc_iso")
def utc_iso(instant: dt.datetime) -> str:
    """For the ``datetime`` attribute of ``<time>``: machines read it, people read the text."""
    return format_instant(instant)
