"""Invites, event calendars and personal feeds as iCalendar, from plain data.

The rules (reference: RFC 5545, 5546, 6047, 7986 and the client quirks they answer):
- one UID per session forever; SEQUENCE from the database; DTSTAMP the time of writing;
- a one-off session is written in UTC; a series with TZID of its anchor zone and a VTIMEZONE
  in the same file, so clients keep its wall-clock time across DST; UNTIL in UTC; EXDATE
  and RECURRENCE-ID written exactly like DTSTART (same zone);
- scheduling messages (REQUEST, CANCEL) carry ORGANIZER and the one ATTENDEE they are for;
  PUBLISH carries ORGANIZER only; feeds and downloads carry neither, and no METHOD;
- the join link goes in LOCATION, URL, CONFERENCE and DESCRIPTION: no client shows all of
  them. The host's start link never comes here: these structures have no field for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace

from icalendar import Calendar
from icalendar import Event
from icalendar import vCalAddress
from icalendar import vDuration
from icalendar import vRecur
from icalendar import vText
from icalendar import vUri
from icalendar.parser import Parameters

from forum.calendar.vtimezone import vtimezone
from forum.calendar.writer import to_bytes
from forum.calendar.writer import without_controls
from forum.core import text
from forum.core.times import get_zone
from forum.i18n import _

PRODID = "-//forum//Video conferences between universities//EN"
UTC = dt.UTC

# ROLE for each invitation role (RFC 5545 section 3.2.16).
ICAL_ROLES = {
    "chair": "CHAIR",
    "speaker": "REQ-PARTICIPANT",
    "participant": "REQ-PARTICIPANT",
    "observer": "NON-PARTICIPANT",
    "interpreter": "REQ-PARTICIPANT",
}
PARTSTATS = {
    "needs-action": "NEEDS-ACTION",
    "accepted": "ACCEPTED",
    "declined": "DECLINED",
    "tentative": "TENTATIVE",
}


@dataclass(frozen=True)
class Person:
    email: str
    name: str


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str
    role: str  # an invitation role: chair, speaker, participant, observer, interpreter
    required: bool
    rsvp: str  # needs-action, accepted, declined, tentative


@dataclass(frozen=True)
class Override:
    """One occurrence moved (new start and end) or cancelled, by its original start."""

    recurrence_id: dt.datetime
    start: dt.datetime
    end: dt.datetime
    sequence: int
    cancelled: bool = False
    summary: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class SessionEntry:
    """Everything a calendar says about one session (a one-off or a whole series)."""

    uid: str
    sequence: int
    summary: str
    description: str
    start: dt.datetime
    end: dt.datetime
    timezone: str
    rrule: str | None = None
    exdates: tuple[dt.datetime, ...] = ()
    overrides: tuple[Override, ...] = ()
    cancelled: bool = False
    join_url: str | None = None
    page_url: str | None = None
    created: dt.datetime | None = None
    last_modified: dt.datetime | None = None
    organizer: Person | None = None
    sent_by: str | None = None
    attendees: tuple[Attendee, ...] = field(default=())
    # A hold on a time not booked yet (an open poll's option): STATUS:TENTATIVE.
    tentative: bool = False

    @property
    def recurring(self) -> bool:
        return bool(self.rrule)


def _text(value: str) -> str:
    # Line breaks inside SUMMARY, LOCATION or names would be escaped by icalendar anyway;
    # for these single-line fields a line break is turned into a space so no client shows
    # a broken title, and control characters (rows older than forum.core.text) go.
    # DESCRIPTION keeps its line breaks (escaped \n).
    return text.scrub_line(value)


def _clean_entry(entry: SessionEntry) -> SessionEntry:
    """The entry with descriptions fit for a file: LF line breaks, no control characters."""
    description = text.scrub_text(entry.description)
    overrides = tuple(
        replace(o, description=text.scrub_text(o.description))
        if o.description and text.scrub_text(o.description) is not o.description
        else o
        for o in entry.overrides
    )
    if description is entry.description and overrides == entry.overrides:
        return entry  # the usual case: nothing to copy
    return replace(entry, description=description, overrides=overrides)


class _Parameters(Parameters):
    r"""Parameters whose CN is quoted when it holds a backslash, as well as the usual ``,;:``.

    RFC 5545 gives a backslash no meaning in a parameter value, but icalendar's parser reads
    ``CN=\;CUTYPE=...`` as an escaped ";" and loses the parameters after it; quoted, every
    parser reads the name.
    """

    quote_also = {**Parameters.quote_also, "CN": Parameters.quote_also["CN"] + "\\"}


def _cal_address(person: Person, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params = _Parameters(address.params)
    address.params["CN"] = _text(person.name)
    for key, value in params.items():
        address.params[key.replace("_", "-").upper()] = value
    return address


class _Writer:
    """Puts times in the right form for one series: UTC for a one-off, TZID for a series."""

    def __init__(self, entry: SessionEntry) -> None:
        self.zone_name = entry.timezone if entry.recurring else None
        self.zone = get_zone(entry.timezone) if entry.recurring else None

    def time(self, instant: dt.datetime) -> dt.datetime:
        if self.zone is None:
            return instant.astimezone(UTC)
        return instant.astimezone(self.zone)

    def add_time(self, event: Event, name: str, instant: dt.datetime) -> None:
        event.add(name, self.time(instant))
        if self.zone_name is not None:
            # icalendar names the zone after the tzinfo's key: make it the IANA name. A
            # property added again (a second EXDATE) makes the value a list of them.
            added = event[name]
            (added[-1] if isinstance(added, list) else added).params["TZID"] = self.zone_name


def _rrule(entry: SessionEntry) -> vRecur:
    rule = vRecur.from_ical(entry.rrule.removeprefix("RRULE:"))  # type: ignore[union-attr]
    if "UNTIL" in rule:
        # RFC 5545 section 3.3.10: with a DTSTART in a zone, UNTIL must be in UTC. The
        # organiser's UNTIL is read in the anchor zone (a date meaning its midnight), as
        # forum.core.recurrence expands it, and written as that instant in UTC.
        until = rule["UNTIL"][0]
        if not isinstance(until, dt.datetime):
            until = dt.datetime.combine(until, dt.time())
        if until.tzinfo is None:
            until = until.replace(tzinfo=get_zone(entry.timezone))
        rule["UNTIL"] = [until.astimezone(UTC)]
    return rule


def _common(
    event: Event,
    entry: SessionEntry,
    *,
    stamp: dt.datetime,
    scheduling: bool,
    organizer: bool,
) -> None:
    event.add("uid", entry.uid)
    event.add("dtstamp", stamp)
    if entry.created:
        event.add("created", entry.created.astimezone(UTC))
    if entry.last_modified:
        event.add("last-modified", entry.last_modified.astimezone(UTC))
    if entry.join_url:
        event.add("location", _text(entry.join_url))
    url = entry.join_url or entry.page_url
    if url:
        event.add("url", vUri(_text(url)))
    if entry.join_url:
        conference = vUri(_text(entry.join_url))
        conference.params["VALUE"] = "URI"
        conference.params["FEATURE"] = "VIDEO,AUDIO"
        # In the language being rendered: the reader's, for an invitation or a feed.
        conference.params["LABEL"] = _("Join the video call")
        event.add("conference", conference)
    if organizer and entry.organizer is not None:
        params = {"SENT-BY": f"mailto:{entry.sent_by}"} if entry.sent_by else {}
        event.add("organizer", _cal_address(entry.organizer, **params))
    if scheduling:
        for attendee in entry.attendees:
            event.add(
                "attendee",
                _cal_address(
                    Person(attendee.email, attendee.name),
                    CUTYPE="INDIVIDUAL",
                    ROLE=ICAL_ROLES[attendee.role]
                    if attendee.required or attendee.role in ("chair", "observer")
                    else "OPT-PARTICIPANT",
                    PARTSTAT=PARTSTATS[attendee.rsvp],
                    RSVP="TRUE",
                ),
            )


def _master(entry: SessionEntry, *, stamp: dt.datetime, scheduling: bool, organizer: bool) -> Event:
    writer = _Writer(entry)
    event = Event()
    event.add("summary", _text(entry.summary))
    writer.add_time(event, "dtstart", entry.start)
    writer.add_time(event, "dtend", entry.end)
    if entry.recurring:
        event.add("rrule", _rrule(entry))
        excluded = sorted(
            {*entry.exdates, *(o.recurrence_id for o in entry.overrides if o.cancelled)}
        )
        for instant in excluded:
            writer.add_time(event, "exdate", instant)
    event.add("sequence", entry.sequence)
    event.add(
        "status",
        "CANCELLED" if entry.cancelled else "TENTATIVE" if entry.tentative else "CONFIRMED",
    )
    event.add("transp", "OPAQUE")
    event.add("description", entry.description)
    _common(event, entry, stamp=stamp, scheduling=scheduling, organizer=organizer)
    return event


def _override(
    entry: SessionEntry,
    override: Override,
    *,
    stamp: dt.datetime,
    scheduling: bool,
    organizer: bool,
) -> Event:
    writer = _Writer(entry)
    event = Event()
    event.add("summary", _text(override.summary or entry.summary))
    writer.add_time(event, "recurrence-id", override.recurrence_id)
    writer.add_time(event, "dtstart", override.start)
    writer.add_time(event, "dtend", override.end)
    # RFC 5546 and Outlook: an occurrence's SEQUENCE must not be lower than the series'.
    event.add("sequence", max(override.sequence, entry.sequence))
    event.add("status", "CANCELLED" if override.cancelled or entry.cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("description", override.description or entry.description)
    _common(event, entry, stamp=stamp, scheduling=scheduling, organizer=organizer)
    return event


def _span(entries: Iterable[SessionEntry]) -> dict[str, tuple[dt.datetime, dt.datetime | None]]:
    """Per anchor zone of the series: from their first start to their end (None: no end).

    Only a rule with UNTIL has an end known without expanding it; COUNT and endless rules
    get a VTIMEZONE that is right for every future date.
    """
    spans: dict[str, tuple[dt.datetime, dt.datetime | None]] = {}
    for entry in entries:
        if not entry.recurring:
            continue
        first = min([entry.start, *(o.start for o in entry.overrides)])
        rule = _rrule(entry)
        last: dt.datetime | None = None
        if "UNTIL" in rule:
            last = max(
                [rule["UNTIL"][0] + (entry.end - entry.start)] + [o.end for o in entry.overrides]
            )
        if entry.timezone in spans:
            known_first, known_last = spans[entry.timezone]
            first = min(first, known_first)
            last = None if known_last is None or last is None else max(last, known_last)
        spans[entry.timezone] = (first, last)
    return spans


def _calendar(
    components: list[Event],
    entries: Iterable[SessionEntry],
    *,
    method: str | None,
    name: str | None = None,
    description: str | None = None,
    refresh: dt.timedelta | None = None,
) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    # icalendar writes NAME and the X-WR- properties as unknown values, unescaped: as
    # TEXT (RFC 7986 section 5.1), a name keeps its "," ";" and "\\" (RFC 5545 3.3.11).
    if name:
        calendar.add("name", vText(_text(name)))
        calendar.add("x-wr-calname", vText(_text(name)))
    if description:
        calendar.add("x-wr-caldesc", vText(_text(description)))
    if refresh:
        calendar.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
        # Microsoft's equivalent; icalendar does not know its type, so say it is a duration.
        calendar.add("x-published-ttl", vDuration(refresh))
    for zone_name, (first, last) in sorted(_span(entries).items()):
        calendar.add_component(vtimezone(zone_name, first, last))
    for component in components:
        calendar.add_component(component)
    return calendar


def session_components(
    entry: SessionEntry, *, stamp: dt.datetime, scheduling: bool, organizer: bool
) -> list[Event]:
    """The master and its moved occurrences (cancelled ones are EXDATEs in the master)."""
    components = [_master(entry, stamp=stamp, scheduling=scheduling, organizer=organizer)]
    if entry.recurring:
        for override in entry.overrides:
            if not override.cancelled:
                components.append(
                    _override(
                        entry, override, stamp=stamp, scheduling=scheduling, organizer=organizer
                    )
                )
    return components


def invite(entry: SessionEntry, *, method: str, stamp: dt.datetime) -> bytes:
    """An iTIP message for one invitee (RFC 5546): REQUEST or CANCEL of the whole session.

    ``entry.attendees`` should hold that invitee alone: each person gets their own
    message, so nobody sees the whole list of addresses.
    """
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"an invite is a REQUEST or a CANCEL, not {method}")
    if method == "CANCEL" and not entry.cancelled:
        entry = replace(entry, cancelled=True)
    entry = _clean_entry(entry)
    components = session_components(entry, stamp=stamp, scheduling=True, organizer=True)
    return without_controls(to_bytes(_calendar(components, [entry], method=method)))


def occurrence_message(
    entry: SessionEntry, recurrence_id: dt.datetime, *, method: str, stamp: dt.datetime
) -> bytes:
    """An iTIP message about one occurrence: its override alone (moved) or its CANCEL."""
    override = next((o for o in entry.overrides if o.recurrence_id == recurrence_id), None)
    if override is None:
        raise ValueError("no override for this occurrence")
    if method == "CANCEL" and not override.cancelled:
        raise ValueError("a CANCEL is for a cancelled occurrence")
    entry = _clean_entry(entry)
    override = next(o for o in entry.overrides if o.recurrence_id == recurrence_id)
    component = _override(entry, override, stamp=stamp, scheduling=True, organizer=True)
    return without_controls(to_bytes(_calendar([component], [entry], method=method)))


def calendar_file(
    entries: list[SessionEntry],
    *,
    stamp: dt.datetime,
    method: str | None = None,
    name: str | None = None,
    description: str | None = None,
    refresh: dt.timedelta | None = None,
) -> bytes:
    """A calendar of whole sessions: PUBLISH (with ORGANIZER) or a feed (no METHOD, nobody)."""
    publish = method == "PUBLISH"
    entries = [_clean_entry(entry) for entry in entries]
    components: list[Event] = []
    for entry in entries:
        components.extend(
            session_components(entry, stamp=stamp, scheduling=False, organizer=publish)
        )
    calendar = _calendar(
        components, entries, method=method, name=name, description=description, refresh=refresh
    )
    return without_controls(to_bytes(calendar))
