"""Sessions as calendars: invites, event calendars, personal feeds, and their secret links.

Builds the plain entries ``forum.calendar.ical`` writes, with descriptions that give every
time in the reader's zone, the event's home zone and UTC. Feeds and event calendars are
cached per process and rebuilt only when a revision they depend on has moved.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from forum.calendar import ical
from forum.calendar.links import webcal_url
from forum.core import signing
from forum.core import text
from forum.core.times import get_zone
from forum.db import now_utc
from forum.directory.models import Person
from forum.events.models import Event
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import VideoMeeting
from forum.events.occurrences import exdate_times
from forum.events.occurrences import session_occurrences
from forum.extensions import db
from forum.i18n import _
from forum.i18n import current_locale
from forum.i18n import format_date_text
from forum.i18n import format_datetime_text
from forum.i18n import format_time_text
from forum.i18n import in_locale
from forum.i18n import ngettext
from forum.i18n import pgettext
from forum.i18n import zone_text

UTC = dt.UTC
FEED_REFRESH = dt.timedelta(hours=1)
# The event's own description goes into each session's, up to this many characters.
MAX_EVENT_TEXT = 1000
# How far ahead a series' description follows the reader's local time for clock changes.
LOCAL_TIME_LOOKAHEAD = dt.timedelta(days=366)


# --- secret links ----------------------------------------------------------------------------


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _url(path: str) -> str:
    return current_app.config["FORUM_BASE_URL"] + path


def page_url(path: str) -> str:
    """The absolute address of one of the product's pages (``path`` from the root)."""
    return _url(path)


def agenda_token(person: Person) -> str:
    return signing.sign(_secret(), "agenda", f"{person.id}-{person.link_version}")


def feed_token(person: Person) -> str:
    return signing.sign(_secret(), "feed", f"{person.id}-{person.link_version}")


def rsvp_token(invitation: Invitation) -> str:
    return signing.sign(_secret(), "rsvp", str(invitation.id))


def event_calendar_token(event: Event) -> str:
    return signing.sign(_secret(), "event-calendar", str(event.id))


def session_file_token(session: EventSession) -> str:
    return signing.sign(_secret(), "session-file", str(session.id))


def agenda_url(person: Person) -> str:
    return _url(f"/p/{agenda_token(person)}")


def feed_url(person: Person) -> str:
    return _url(f"/ical/feeds/{feed_token(person)}.ics")


def rsvp_url(invitation: Invitation, answer: str | None = None) -> str:
    url = _url(f"/rsvp/{rsvp_token(invitation)}")
    return f"{url}?answer={answer}" if answer else url


def event_calendar_url(event: Event) -> str:
    return _url(f"/ical/events/{event.id}.ics?token={event_calendar_token(event)}")


def session_file_url(session: EventSession) -> str:
    return _url(f"/ical/sessions/{session.ical_uid}.ics?token={session_file_token(session)}")


def subscribe_url(person: Person) -> str:
    return webcal_url(feed_url(person))


def _person_from(purpose: str, token: str) -> Person | None:
    value = signing.unsign(_secret(), purpose, token)
    if value is None:
        return None
    person_id, _sep, version = value.partition("-")
    person = db.session.get(Person, int(person_id))
    if person is None or str(person.link_version) != version:
        return None
    return person


def person_for_agenda(token: str) -> Person | None:
    return _person_from("agenda", token)


def person_for_feed(token: str) -> Person | None:
    return _person_from("feed", token)


def invitation_for_rsvp(token: str) -> Invitation | None:
    value = signing.unsign(_secret(), "rsvp", token)
    return None if value is None else db.session.get(Invitation, int(value))


def event_for_calendar(event_id: int, token: str) -> Event | None:
    if signing.unsign(_secret(), "event-calendar", token) != str(event_id):
        return None
    return db.session.get(Event, event_id)


def session_for_file(uid: str, token: str) -> EventSession | None:
    value = signing.unsign(_secret(), "session-file", token)
    if value is None:
        return None
    session = db.session.get(EventSession, int(value))
    return session if session is not None and session.ical_uid == uid else None


# --- what a reader sees ----------------------------------------------------------------------


def _zones(*names: str | None) -> list[str]:
    seen: list[str] = []
    for name in (*names, "UTC"):
        if name and name not in seen:
            seen.append(name)
    return seen


def time_range(start: dt.datetime, end: dt.datetime, zone_name: str) -> str:
    """'Tue 02 Mar 2027 21:00–22:00 (Beijing, Asia/Shanghai)', with the end's date when it
    differs, in the reader's language."""
    zone = get_zone(zone_name)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_end.date() == local_start.date():
        until = format_time_text(local_end)
    else:
        until = format_datetime_text(local_end)
    return f"{format_datetime_text(local_start)}–{until} ({zone_text(zone_name)})"


def time_lines(start: dt.datetime, end: dt.datetime, *zone_names: str | None) -> list[str]:
    """The meeting's time in each zone given (reader's first), the home zone, then UTC."""
    return [time_range(start, end, name) for name in _zones(*zone_names)]


_DAY_NUMBERS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
# How a list of weekdays is written ("Mon, Wed"; "周一、周三").
_LIST_SEPARATORS = {"zh-Hans": "、", "ja": "、", "ar": "، "}


def _every(freq: str, interval: int) -> str:
    """'Every week', 'Every 2 weeks'. An interval of one has words of its own: languages with
    one plural form (Chinese, Japanese) say "every week" (每周) with no number."""
    if interval == 1:
        singles = {
            "DAILY": pgettext("interval of one", "Every day"),
            "WEEKLY": pgettext("interval of one", "Every week"),
            "MONTHLY": pgettext("interval of one", "Every month"),
            "YEARLY": pgettext("interval of one", "Every year"),
        }
        return singles.get(freq) or pgettext("interval of one", "Every time")
    if freq == "DAILY":
        return ngettext("Every day", "Every %(num)d days", interval)
    if freq == "WEEKLY":
        return ngettext("Every week", "Every %(num)d weeks", interval)
    if freq == "MONTHLY":
        return ngettext("Every month", "Every %(num)d months", interval)
    if freq == "YEARLY":
        return ngettext("Every year", "Every %(num)d years", interval)
    return ngettext("Every time", "Every %(num)d times", interval)


def _day_names(byday: str) -> str:
    """'Mon, Wed' in the reader's language, for BYDAY=MO,WE (a position such as 1MO is
    named by its weekday)."""
    from babel.dates import get_day_names

    locale = current_locale()
    # Japanese abbreviates a weekday to one character ("月"): the whole name reads better.
    width = "wide" if locale == "ja" else "abbreviated"
    names = get_day_names(width, locale=locale.replace("-", "_"))
    days = [
        str(names[_DAY_NUMBERS[d[-2:]]]) if d[-2:] in _DAY_NUMBERS else d for d in byday.split(",")
    ]
    return _LIST_SEPARATORS.get(locale, ", ").join(days)


def describe_rule(rrule: str, anchor: str, start: dt.datetime) -> str:
    """'Every week on Tue, 10 times, at 21:00 Asia/Shanghai time' for people to read."""
    parts = dict(
        part.split("=", 1) for part in rrule.removeprefix("RRULE:").split(";") if "=" in part
    )
    interval = int(parts.get("INTERVAL", "1") or 1)
    every = _every(parts.get("FREQ", ""), interval)
    limit = None
    if "UNTIL" in parts:
        until = parts["UNTIL"]
        date = f"{until[0:4]}-{until[4:6]}-{until[6:8]}"
    if "COUNT" in parts:
        count = ngettext("%(num)d time", "%(num)d times", int(parts["COUNT"]))
        if "UNTIL" in parts:
            limit = _("%(count)s, until %(date)s", count=count, date=date)
        else:
            limit = count
    elif "UNTIL" in parts:
        limit = _("until %(date)s", date=date)
    time = format_time_text(start.astimezone(get_zone(anchor)))
    if "BYDAY" in parts:
        days = _day_names(parts["BYDAY"])
        if limit is None:
            return _(
                "%(every)s on %(days)s, at %(time)s %(zone)s time",
                every=every,
                days=days,
                time=time,
                zone=anchor,
            )
        return _(
            "%(every)s on %(days)s, %(limit)s, at %(time)s %(zone)s time",
            every=every,
            days=days,
            limit=limit,
            time=time,
            zone=anchor,
        )
    if limit is None:
        return _("%(every)s, at %(time)s %(zone)s time", every=every, time=time, zone=anchor)
    return _(
        "%(every)s, %(limit)s, at %(time)s %(zone)s time",
        every=every,
        limit=limit,
        time=time,
        zone=anchor,
    )


def local_time_changes(session: EventSession, zone_name: str) -> list[str]:
    """Where a series' local time in ``zone_name`` moves (clock changes) in its first year.

    Counted from the series' start, not from today, so the text (and the calendar files
    it goes into) only changes when the session does.
    """
    zone = get_zone(zone_name)
    changes: list[str] = []
    previous: str | None = None
    horizon = session.start + LOCAL_TIME_LOOKAHEAD
    for occurrence in session_occurrences(session, before=horizon, limit=400):
        if occurrence.moved:
            continue
        local = occurrence.start.astimezone(zone)
        clock = format_time_text(local)
        if previous is not None and clock != previous:
            changes.append(
                _(
                    "from %(date)s it is %(time)s in %(zone)s",
                    date=format_date_text(local),
                    time=clock,
                    zone=zone_name,
                )
            )
        previous = clock
    return changes


def describe(
    session: EventSession,
    *,
    viewer_zone: str | None,
    meeting: VideoMeeting | None,
    agenda: str | None = None,
) -> str:
    """The DESCRIPTION of a session for one reader (their zone first, in the language being
    rendered); never a host link."""
    event = session.event
    # Titles stay on their line even if stored before forum.core.text (a U+2028 in one
    # would otherwise become a line break once the description is written).
    lines = [text.scrub_line(session.title), text.scrub_line(event.title)]
    if event.description.strip():
        lines.append(event.description.strip()[:MAX_EVENT_TEXT])
    lines.append("")
    if session.rrule:
        lines.append(describe_rule(session.rrule, session.timezone, session.start))
        first = next(iter(session_occurrences(session, limit=1)), None)
        if first is not None:
            lines.append(_("First meeting:"))
            lines.extend(time_lines(first.start, first.end, viewer_zone, event.timezone))
        if viewer_zone and viewer_zone != session.timezone:
            lines.extend(
                _("Note: %(change)s", change=c) for c in local_time_changes(session, viewer_zone)
            )
    else:
        lines.extend(time_lines(session.start, session.end, viewer_zone, event.timezone))
    if session.status == "cancelled":
        lines += ["", _("This session is cancelled.")]
    if meeting is not None and meeting.join_url:
        lines += ["", _("Join: %(url)s", url=meeting.join_url)]
        if meeting.passcode:
            lines.append(_("Passcode: %(passcode)s", passcode=meeting.passcode))
    if agenda:
        lines += ["", _("Your agenda and answers: %(url)s", url=agenda)]
    return "\n".join(lines)


def _sent_by() -> str | None:
    return _address_of(current_app.config.get("MAIL_FROM", ""))


@functools.lru_cache(maxsize=8)
def _address_of(mail_from: str) -> str | None:
    return parseaddr(mail_from)[1] or None


def session_entry(
    session: EventSession,
    *,
    viewer_zone: str | None,
    attendee: Invitation | None = None,
    agenda: str | None = None,
) -> ical.SessionEntry:
    """The calendar entry of a session for one reader; ``attendee`` for their invite."""
    meeting = session.meeting
    join_url = meeting.join_url if meeting is not None else None
    owner = session.event.owner
    attendees: tuple[ical.Attendee, ...] = ()
    if attendee is not None:
        attendees = (
            ical.Attendee(
                email=attendee.person.email,
                name=attendee.person.name,
                role=attendee.role,
                required=attendee.required,
                rsvp=attendee.rsvp,
            ),
        )
    return ical.SessionEntry(
        uid=session.ical_uid,
        sequence=session.sequence,
        summary=session.title,
        description=describe(session, viewer_zone=viewer_zone, meeting=meeting, agenda=agenda),
        start=session.start,
        end=session.end,
        timezone=session.timezone,
        rrule=session.rrule,
        exdates=exdate_times(session),
        overrides=tuple(
            ical.Override(
                recurrence_id=o.recurrence_id,
                start=o.start,
                end=o.end,
                sequence=o.sequence,
                cancelled=o.cancelled,
                summary=o.title,
            )
            for o in session.overrides
        ),
        cancelled=session.status == "cancelled",
        join_url=join_url,
        page_url=agenda,
        created=session.created_at,
        last_modified=session.updated_at,
        organizer=ical.Person(email=owner.email, name=owner.name),
        sent_by=_sent_by(),
        attendees=attendees,
    )


# --- files -------------------------------------------------------------------------------------


def _invitee_entry(invitation: Invitation):
    """The session as its invitee reads it: their zone first (call in their language)."""
    person = invitation.person
    return session_entry(
        invitation.session,
        viewer_zone=person.timezone,
        attendee=invitation,
        agenda=agenda_url(person),
    )


def invite_file(invitation: Invitation, *, method: str) -> bytes:
    """The REQUEST or CANCEL of a whole session for one invitee, in their language."""
    with in_locale(invitation.person.locale):
        return ical.invite(_invitee_entry(invitation), method=method, stamp=now_utc())


def occurrence_file(invitation: Invitation, recurrence_id: dt.datetime, *, method: str) -> bytes:
    """The REQUEST (moved) or CANCEL of one occurrence for one invitee, in their language."""
    with in_locale(invitation.person.locale):
        return ical.occurrence_message(
            _invitee_entry(invitation), recurrence_id, method=method, stamp=now_utc()
        )


def session_file(session: EventSession, *, viewer_zone: str | None = None) -> bytes:
    """A download of one session: no METHOD, no organiser or attendees (RFC 4791 style)."""
    entry = session_entry(session, viewer_zone=viewer_zone or session.event.timezone)
    return ical.calendar_file([entry], stamp=session.updated_at)


# --- cached calendars: event calendars and personal feeds ---------------------------------------


@dataclass(frozen=True)
class BuiltCalendar:
    stamp: tuple
    body: bytes
    etag: str
    last_modified: dt.datetime


class CalendarCache:
    """Built calendars by key, each with the stamp it was built from; least recently used go."""

    def __init__(self, max_entries: int = 2000, max_bytes: int = 256 * 1024 * 1024) -> None:
        self._items: OrderedDict[tuple, BuiltCalendar] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.builds = 0

    def get(self, key: tuple, stamp: tuple, build: Callable[[], tuple[bytes, dt.datetime]]):
        with self._lock:
            found = self._items.get(key)
            if found is not None and found.stamp == stamp:
                self._items.move_to_end(key)
                return found
        body, last_modified = build()
        built = BuiltCalendar(
            stamp=stamp,
            body=body,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            last_modified=last_modified,
        )
        with self._lock:
            self.builds += 1
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._items[key] = built
            self._bytes += len(body)
            while self._items and (
                len(self._items) > self.max_entries or self._bytes > self.max_bytes
            ):
                _key, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped.body)
        return built

    def drop(self, keys: Iterable[tuple]) -> None:
        """Forget the calendars at ``keys`` (the next read builds them again)."""
        with self._lock:
            for key in keys:
                old = self._items.pop(key, None)
                if old is not None:
                    self._bytes -= len(old.body)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


cache = CalendarCache()


@dataclass
class Holds:
    """Times held in a person's feed beside their sessions (open polls' candidate times):
    what they depend on, and their entries. Registered by their owner (forum.polls.wiring),
    so this module depends on none of them."""

    stamp: Callable[[Person], tuple] | None = None
    entries: Callable[..., list[ical.SessionEntry]] | None = None

    def __bool__(self) -> bool:
        return self.stamp is not None and self.entries is not None


HOLDS = Holds()

_STAMP_COLUMNS = (
    sa.func.count(Invitation.id),
    sa.func.coalesce(sa.func.sum(Invitation.id), 0),
    sa.func.coalesce(sa.func.sum(EventSession.revision), 0),
    sa.func.coalesce(sa.func.sum(Event.revision), 0),
    sa.func.coalesce(sa.func.sum(VideoMeeting.revision), 0),
    sa.func.max(EventSession.updated_at),
    sa.func.max(Event.updated_at),
    sa.func.max(VideoMeeting.updated_at),
)


def _latest(*instants: dt.datetime | None) -> dt.datetime:
    known = [i if i.tzinfo else i.replace(tzinfo=UTC) for i in instants if i is not None]
    return max(known, default=dt.datetime(2020, 1, 1, tzinfo=UTC))


def _calendar_sessions(query: sa.Select) -> list[EventSession]:
    """The sessions of ``query`` in date order, with all a calendar entry reads, loaded at once."""
    return list(
        db.session.scalars(
            query.order_by(EventSession.start, EventSession.id).options(
                selectinload(EventSession.overrides),
                selectinload(EventSession.meeting),
                selectinload(EventSession.event).selectinload(Event.owner),
            )
        )
    )


def _cached_calendar(
    key: tuple,
    stamp: tuple,
    sessions: sa.Select,
    *,
    viewer_zone: str,
    modified: dt.datetime,
    agenda: str | None = None,
    holds: Callable[[], list[ical.SessionEntry]] | None = None,
    **options: str,
) -> BuiltCalendar:
    """The calendar of ``sessions`` (and of the ``holds`` built beside them) from the cache,
    built again only if ``stamp`` moved."""

    def build() -> tuple[bytes, dt.datetime]:
        entries = [
            session_entry(s, viewer_zone=viewer_zone, agenda=agenda)
            for s in _calendar_sessions(sessions)
        ]
        if holds is not None:
            entries.extend(holds())
        body = ical.calendar_file(entries, stamp=modified, refresh=FEED_REFRESH, **options)
        return body, modified

    return cache.get(key, stamp, build)


def person_feed(person: Person) -> BuiltCalendar:
    """Every session the person is invited to, for subscription (no METHOD, nobody listed),
    in the person's language.

    What the feed depends on is summed up in one query (the person's invitations, and the
    revisions of their sessions, events and meetings); an unchanged sum serves the copy
    built before.
    """
    row = db.session.execute(
        sa.select(*_STAMP_COLUMNS)
        .select_from(Invitation)
        .join(EventSession, Invitation.session_id == EventSession.id)
        .join(Event, EventSession.event_id == Event.id)
        .outerjoin(VideoMeeting, VideoMeeting.session_id == EventSession.id)
        .where(Invitation.person_id == person.id)
    ).one()
    stamp = (
        person.revision,
        person.link_version,
        person.locale,
        *row[:5],
        *(str(x) for x in row[5:]),
    )
    holds = None
    if HOLDS and current_app.config.get("FORUM_FEED_POLL_HOLDS"):
        stamp = (*stamp, *HOLDS.stamp(person))

        def holds() -> list[ical.SessionEntry]:
            return HOLDS.entries(person, viewer_zone=person.timezone)

    with in_locale(person.locale):
        return _cached_calendar(
            ("feed", person.id),
            stamp,
            sa.select(EventSession)
            .join(Invitation, Invitation.session_id == EventSession.id)
            .where(Invitation.person_id == person.id),
            viewer_zone=person.timezone,
            holds=holds,
            agenda=agenda_url(person),
            modified=_latest(person.updated_at, *row[5:]),
            name=_("forum: %(name)s", name=person.name),
            description=_("Sessions you are invited to"),
        )


def event_calendar(event: Event) -> BuiltCalendar:
    """All sessions of an event, as METHOD:PUBLISH with the organiser (RFC 5546 section 3.2.1),
    in the reader's language (one copy cached per language)."""
    row = db.session.execute(
        sa.select(
            sa.func.count(EventSession.id),
            sa.func.coalesce(sa.func.sum(EventSession.id), 0),
            sa.func.coalesce(sa.func.sum(EventSession.revision), 0),
            sa.func.coalesce(sa.func.sum(VideoMeeting.revision), 0),
            sa.func.max(EventSession.updated_at),
            sa.func.max(VideoMeeting.updated_at),
        )
        .select_from(EventSession)
        .outerjoin(VideoMeeting, VideoMeeting.session_id == EventSession.id)
        .where(EventSession.event_id == event.id)
    ).one()
    stamp = (event.revision, event.owner_id, *row[:4], *(str(x) for x in row[4:]))

    return _cached_calendar(
        ("event", event.id, current_locale()),
        stamp,
        sa.select(EventSession).where(EventSession.event_id == event.id),
        viewer_zone=event.timezone,
        modified=_latest(event.updated_at, *row[4:]),
        method="PUBLISH",
        name=event.title,
    )
