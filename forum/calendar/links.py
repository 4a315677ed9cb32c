"""Add-to-calendar links for Google Calendar and Outlook on the web, and webcal:// links."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

UTC = dt.UTC
# Long descriptions make links that some browsers and mail clients cut: keep them short.
MAX_DETAILS = 1000


def _utc_compact(instant: dt.datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def google_calendar_url(
    *,
    title: str,
    start: dt.datetime,
    end: dt.datetime,
    details: str = "",
    location: str = "",
    rrule: str | None = None,
    timezone: str | None = None,
) -> str:
    """Google Calendar's "create event" template link.

    A series is passed with its RRULE and, through ``ctz``, the zone whose wall-clock
    time it keeps (the times themselves are in UTC).
    """
    params = {
        "action": "TEMPLATE",
        "text": title,
        "dates": f"{_utc_compact(start)}/{_utc_compact(end)}",
        "details": details[:MAX_DETAILS],
        "location": location,
    }
    if rrule:
        params["recur"] = "RRULE:" + rrule.removeprefix("RRULE:")
        if timezone:
            params["ctz"] = timezone
    return "https://calendar.google.com/calendar/render?" + urlencode(params)


def outlook_calendar_url(
    *, title: str, start: dt.datetime, end: dt.datetime, details: str = "", location: str = ""
) -> str:
    """Outlook on the web's compose link (one date: it takes no recurrence rule)."""
    params = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": title,
        "startdt": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "enddt": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "body": details[:MAX_DETAILS],
        "location": location,
    }
    return "https://outlook.office.com/calendar/0/deeplink/compose?" + urlencode(params)


def webcal_url(https_url: str) -> str:
    """The same URL with the webcal scheme, which opens the calendar app to subscribe."""
    scheme, _, rest = https_url.partition("://")
    return f"webcal://{rest}" if scheme in ("http", "https") else https_url
