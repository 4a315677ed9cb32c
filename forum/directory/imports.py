"""Importing people's busy times from their calendars: an uploaded .ics or their ICS URL."""

from __future__ import annotations

import datetime as dt

import requests

from forum.core.errors import ValidationFailed
from forum.directory.freebusy import fetch_ics
from forum.directory.freebusy import parse_busy
from forum.directory.models import BusyInterval
from forum.directory.models import Person
from forum.extensions import db
from forum.i18n import _

SOURCE_URL = "ics-url"
SOURCE_UPLOAD = "ics-upload"
IMPORT_SOURCES = (SOURCE_URL, SOURCE_UPLOAD)
# From yesterday (a meeting today in a zone behind UTC started "yesterday" in UTC) to
# about four months ahead, as far as organisers plan a series.
DAYS_BEFORE = 1
DAYS_AHEAD = 120


def default_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The import window around ``now``: from UTC midnight a day back to 120 days ahead."""
    today = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=DAYS_BEFORE), today + dt.timedelta(days=DAYS_AHEAD)


def import_busy(
    person: Person,
    ics_bytes: bytes,
    *,
    window_start: dt.datetime,
    window_end: dt.datetime,
    source: str,
    field: str = "ics",
) -> Person:
    """Replace the person's busy intervals from ``source`` with those of the calendar.

    Intervals from elsewhere (entered by hand, or the other import) stay. Nothing
    changes when the calendar cannot be read. The caller commits.
    """
    if source not in IMPORT_SOURCES:
        raise ValueError(f"unknown import source {source!r}")
    intervals = parse_busy(
        ics_bytes,
        window_start=window_start,
        window_end=window_end,
        timezone=person.timezone,
        field=field,
    )
    kept = [interval for interval in person.busy if interval.source != source]
    imported = [BusyInterval(start=start, end=end, source=source) for start, end in intervals]
    person.busy = sorted(kept + imported, key=lambda interval: interval.start)
    db.session.flush()
    return person


def refresh_from_url(
    person: Person,
    *,
    window_start: dt.datetime,
    window_end: dt.datetime,
    allow_private: bool,
    timeout: float,
    max_bytes: int,
    session: requests.Session | None = None,
) -> Person:
    """Fetch the person's ICS URL and import its busy times. The caller commits."""
    if not person.ics_url:
        raise ValidationFailed(
            {"ics_url": _("this person has no ICS URL: set one with PUT .../availability first")}
        )
    ics_bytes = fetch_ics(
        person.ics_url,
        allow_private=allow_private,
        timeout=timeout,
        max_bytes=max_bytes,
        session=session,
    )
    return import_busy(
        person,
        ics_bytes,
        window_start=window_start,
        window_end=window_end,
        source=SOURCE_URL,
        field="ics_url",
    )
