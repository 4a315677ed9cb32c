"""Calendar files at secret links: session downloads, event calendars and personal feeds.

Feeds are fetched again and again by calendar apps and services (Google every few hours,
Outlook by X-PUBLISHED-TTL): they answer conditional requests with 304, and an unchanged
feed is served from the copy built before, kept in the cache every app process shares
(forum.events.feedcache).
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from flask import Blueprint
from flask import Response
from flask import request

from forum.core.times import InvalidTime
from forum.core.times import get_zone
from forum.events import calendars
from forum.events.calendars import BuiltCalendar
from forum.events.feedcache import Head
from forum.security import count_polled_link
from forum.security import refuse_link

bp = Blueprint("calendar", __name__)

CALENDAR_TYPE = "text/calendar; charset=utf-8"


def _not_modified(built: BuiltCalendar | Head) -> bool:
    # RFC 9110 section 13.1.2: If-None-Match wins over If-Modified-Since when both are sent.
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or built.etag in tags
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            return False
        return built.last_modified.replace(microsecond=0) <= since
    return False


def _conditional() -> bool:
    return "If-None-Match" in request.headers or "If-Modified-Since" in request.headers


def _validators(built: BuiltCalendar | Head) -> dict[str, str]:
    return {
        "ETag": built.etag,
        "Last-Modified": built.http_date,
        # Secret per-person URLs: no shared cache may keep them; clients revalidate.
        "Cache-Control": "private, no-cache",
    }


def calendar_response(built: BuiltCalendar, filename: str) -> Response:
    headers = _validators(built)
    if _not_modified(built):
        return Response(status=304, headers=headers)
    headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return Response(built.body, headers=headers, content_type=CALENDAR_TYPE)


# The feed and event calendar routes are what calendar apps poll all day: a conditional
# request whose ETag still matches is answered from the cache's validators alone (the
# token's signature checked, no database, no body read); a warm 200 reads the body from
# the cache. Only a miss reads the database.


@bp.get("/ical/feeds/<token>.ics")
def personal_feed(token: str) -> Response:
    count_polled_link()
    link = calendars.feed_link(token)
    if link is None:
        refuse_link()
    person_id, version = link
    if _conditional():
        head = calendars.feed_head(person_id)
        if head is not None and head.version == version and _not_modified(head):
            return Response(status=304, headers=_validators(head))
    built = calendars.feed_for_link(person_id, version)
    if built is None:
        refuse_link()
    return calendar_response(built, "forum.ics")


@bp.get("/ical/events/<int:event_id>.ics")
def event_calendar(event_id: int) -> Response:
    count_polled_link()
    if not calendars.event_link(event_id, request.args.get("token", "")):
        refuse_link()
    if _conditional():
        head = calendars.event_head(event_id)
        if head is not None and _not_modified(head):
            return Response(status=304, headers=_validators(head))
    built = calendars.event_calendar_of(event_id)
    if built is None:
        refuse_link()
    return calendar_response(built, f"event-{event_id}.ics")


@bp.get("/ical/sessions/<uid>.ics")
def session_file(uid: str) -> Response:
    session = calendars.session_for_file(uid, request.args.get("token", ""))
    if session is None:
        refuse_link()
    zone = request.args.get("tz")
    body = calendars.session_file(session, viewer_zone=zone if _known_zone(zone) else None)
    return Response(
        body,
        content_type=CALENDAR_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="session-{session.id}.ics"',
            "Cache-Control": "private, no-cache",
        },
    )


def _known_zone(name: str | None) -> bool:
    try:
        get_zone(name)
    except InvalidTime:
        return False
    return True
