"""Sessions as calendars: invites, event calendars, personal feeds, and their secret links.

Builds the plain entries ``forum.calendar.ical`` writes, with descriptions that give every
time in the reader's zone, the event's home zone and UTC. Feeds and event calendars are
cached for every app process (forum.events.feedcache) and built again only after a change
to what they show has been committed.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable
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
from forum.events import feedcache
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

# Every app process shares the calendars it builds (forum.events.feedcache), dropped after
# the commits that change them; these names stay here for the callers that know them.
BuiltCalendar = feedcache.BuiltCalendar
cache = feedcache.cache
FEED = "feed"


@dataclass
class Holds:
    """Times held in a person's feed beside their sessions (open polls' candidate times):
    their entries. Registered by their owner (forum.polls.wiring), so this module depends
    on none of them; the owner also tells forum.events.feedcache which changes drop them."""

    entries: Callable[..., list[ical.SessionEntry]] | None = None

    def __bool__(self) -> bool:
        return self.entries is not None


HOLDS = Holds()


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


def _built(body: bytes, modified: dt.datetime, version: str = "") -> BuiltCalendar:
    return BuiltCalendar(
        body=body,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        last_modified=modified.astimezone(UTC).replace(microsecond=0),
        version=version,
    )


def feed_link(token: str) -> tuple[int, str] | None:
    """The person id and link version a genuine feed token carries (its signature alone:
    whether the link is still current is the cache's or the database's to say)."""
    value = signing.unsign(_secret(), "feed", token)
    if value is None:
        return None
    person_id, _sep, version = value.partition("-")
    if not person_id.isdigit():
        return None
    return int(person_id), version


def feed_head(person_id: int) -> feedcache.Head | None:
    """The validators of the person's cached feed (no database, no body), or None."""
    return feedcache.store().head(feedcache.person(person_id), FEED)


def build_person_feed(person: Person) -> BuiltCalendar:
    """Every session the person is invited to, for subscription (no METHOD, nobody listed),
    in the person's language, built now."""
    sessions = _calendar_sessions(
        sa.select(EventSession)
        .join(Invitation, Invitation.session_id == EventSession.id)
        .where(Invitation.person_id == person.id)
    )
    agenda = agenda_url(person)
    with in_locale(person.locale):
        entries = [session_entry(s, viewer_zone=person.timezone, agenda=agenda) for s in sessions]
        if HOLDS and current_app.config.get("FORUM_FEED_POLL_HOLDS"):
            entries.extend(HOLDS.entries(person, viewer_zone=person.timezone))
        modified = _latest(
            person.updated_at,
            *(s.updated_at for s in sessions),
            *(s.event.updated_at for s in sessions),
            *(s.meeting.updated_at for s in sessions if s.meeting is not None),
        )
        body = ical.calendar_file(
            entries,
            stamp=modified,
            refresh=FEED_REFRESH,
            name=_("forum: %(name)s", name=person.name),
            description=_("Sessions you are invited to"),
        )
    return _built(body, modified, str(person.link_version))


def feed_for_link(person_id: int, version: str) -> BuiltCalendar | None:
    """The feed at a feed link (see ``feed_link``): from the cache while the link's version
    is the one it was built for, else read and built; None for a revoked or unknown link."""

    def build() -> BuiltCalendar | None:
        # Read here, after the cache has read the generation: never an object loaded before.
        person = db.session.get(Person, person_id, populate_existing=True)
        if person is None or str(person.link_version) != version:
            return None
        return build_person_feed(person)

    subject = feedcache.person(person_id)
    current = feedcache.store()
    found = current.get(subject, FEED)
    if found is not None and found.version == version:
        return found
    # Missing, or built for another version of the link (then the database says which
    # one is current: a revoked link is refused, and the cached feed stays).
    generation = current.generation(subject)
    built = build()
    if built is None:
        return None
    feedcache.cache.builds += 1
    current.put(subject, FEED, built, generation)
    return built


def person_feed(person: Person) -> BuiltCalendar:
    """The person's feed (see ``build_person_feed``), from the cache when it is there."""
    built = feed_for_link(person.id, str(person.link_version))
    if built is None:  # the person's link moved on since ``person`` was loaded
        built = build_person_feed(person)
    return built


def build_event_calendar(event: Event) -> BuiltCalendar:
    """All sessions of an event, as METHOD:PUBLISH with the organiser (RFC 5546 section
    3.2.1), in the language being rendered, built now."""
    sessions = _calendar_sessions(sa.select(EventSession).where(EventSession.event_id == event.id))
    entries = [session_entry(s, viewer_zone=event.timezone) for s in sessions]
    modified = _latest(
        event.updated_at,
        *(s.updated_at for s in sessions),
        *(s.meeting.updated_at for s in sessions if s.meeting is not None),
    )
    body = ical.calendar_file(
        entries, stamp=modified, refresh=FEED_REFRESH, method="PUBLISH", name=event.title
    )
    return _built(body, modified)


def event_link(event_id: int, token: str) -> bool:
    """Whether ``token`` is the genuine calendar token of event ``event_id`` (signature only)."""
    return signing.unsign(_secret(), "event-calendar", token) == str(event_id)


def event_head(event_id: int) -> feedcache.Head | None:
    """The validators of the event's calendar cached in the language being rendered."""
    return feedcache.store().head(feedcache.event(event_id), current_locale())


def event_calendar_of(event_id: int) -> BuiltCalendar | None:
    """The event's calendar in the language being rendered; None when there is no event."""

    def build() -> BuiltCalendar | None:
        event = db.session.get(Event, event_id, populate_existing=True)
        return None if event is None else build_event_calendar(event)

    return feedcache.cached(feedcache.event(event_id), current_locale(), build)


def event_calendar(event: Event) -> BuiltCalendar:
    """All sessions of an event, as METHOD:PUBLISH with the organiser, in the reader's
    language (one copy cached per language)."""
    return event_calendar_of(event.id) or build_event_calendar(event)
