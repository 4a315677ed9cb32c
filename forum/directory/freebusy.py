"""Free/busy from iCalendar: busy intervals read from .ics files, and .ics files fetched from URLs.

Nothing here touches the database; ``forum.directory.imports`` stores what it returns.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
import socket
import time
import zoneinfo
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import icalendar
import recurring_ical_events
import requests
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
import urllib3.util.connection
import x_wr_timezone
from requests.adapters import HTTPAdapter

from forum.core.errors import ValidationFailed
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import ngettext

UTC = dt.UTC
Interval = tuple[dt.datetime, dt.datetime]

# More busy intervals than this in one import is not a person's calendar but a generated
# file (or an attack on the slot engine, which reads every interval).
MAX_INTERVALS = 10_000
# Expanding recurrences is CPU work driven by the file's author; this bounds it (checked
# between series and occurrences, so one series may overrun it by a few seconds).
MAX_PARSE_SECONDS = 5.0
MAX_REDIRECTS = 3
# dateutil walks a rule from its DTSTART one period at a time and cannot be interrupted:
# a FREQ=SECONDLY rule, or BYHOUR/BYMINUTE/BYSECOND lists that act like one, takes
# minutes for a single event. Calendar programs never write them for busy times.
_SUPPORTED_FREQUENCIES = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
_SUB_DAILY_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")
_CHUNK_BYTES = 64 * 1024
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "forum-freebusy/1 (+calendar import)"


# --- reading iCalendar -------------------------------------------------------------------


def parse_busy(
    ics_bytes: bytes,
    *,
    window_start: dt.datetime,
    window_end: dt.datetime,
    timezone: str,
    field: str = "ics",
    max_intervals: int = MAX_INTERVALS,
    max_seconds: float = MAX_PARSE_SECONDS,
) -> list[Interval]:
    """The busy times of an iCalendar file inside the window, as merged, sorted UTC intervals.

    Busy means: opaque, not cancelled VEVENT occurrences (recurrences expanded with their
    EXDATEs and moved occurrences) and VFREEBUSY periods other than FBTYPE=FREE. Dates
    (all-day events) and floating times are read in ``timezone``, the person's zone, as
    are TZIDs nobody defines; Google's X-WR-TIMEZONE is applied first. Unreadable input
    raises ValidationFailed naming ``field``.
    """
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("the window must be aware datetimes")
    window_start, window_end = window_start.astimezone(UTC), window_end.astimezone(UTC)
    zone = zoneinfo.ZoneInfo(timezone)
    deadline = time.monotonic() + max_seconds

    def check_time() -> None:
        if time.monotonic() > deadline:
            raise ValidationFailed(
                {
                    field: _(
                        "takes longer than %(seconds)s seconds to read: too many recurring events",
                        seconds=format(max_seconds, "g"),
                    )
                }
            )

    found: list[Interval] = []
    for calendar in _read_calendars(ics_bytes, field):
        calendar = _standard(calendar, field)
        periods = _busy_periods(calendar, zone, window_start, window_end, field, check_time)
        for start, end in periods:
            start, end = max(start, window_start), min(end, window_end)
            if end <= start:
                continue
            found.append((start, end))
            if len(found) > max_intervals:
                raise ValidationFailed(
                    {
                        field: _(
                            "holds more than %(count)s busy times between %(start)s and "
                            "%(end)s; import a calendar of busy times only",
                            count=format(max_intervals, ","),
                            start=window_start.date().isoformat(),
                            end=window_end.date().isoformat(),
                        )
                    }
                )
    return merge_intervals(found)


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted intervals with overlapping and touching ones joined."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _reason(exc: BaseException) -> str:
    """A library's error message, short and printable, to show beside ours."""
    text = re.sub(r"\s+", " ", str(exc)).strip()
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text[:200] + ("..." if len(text) > 200 else "")


def _read_calendars(ics_bytes: bytes, field: str) -> list[icalendar.Calendar]:
    # RFC 5545 section 3.1.4 says UTF-8; a stray byte in a description should not cost
    # the person their whole calendar, so bad bytes become U+FFFD.
    text = ics_bytes.decode("utf-8-sig", errors="replace")
    if "BEGIN:VCALENDAR" not in text.upper():
        raise ValidationFailed(
            {field: _("is not an iCalendar file: it has no BEGIN:VCALENDAR ... END:VCALENDAR")}
        )
    try:
        components = icalendar.Calendar.from_ical(text, multiple=True)
    # icalendar raises ValueError subclasses for bad lines, and occasionally other
    # errors on input it was never meant to see; either way the file is unreadable.
    except Exception as exc:
        raise ValidationFailed(
            {field: _("is not a valid iCalendar file: %(reason)s", reason=_reason(exc))}
        ) from None
    calendars = [c for c in components if c.name == "VCALENDAR"]
    if not calendars:
        raise ValidationFailed(
            {
                field: _(
                    "is not an iCalendar file: its VCALENDAR is not complete "
                    "(END:VCALENDAR missing?)"
                )
            }
        )
    return calendars


def _standard(calendar: icalendar.Calendar, field: str) -> icalendar.Calendar:
    """The calendar with Google's X-WR-TIMEZONE applied (RFC 5545 has no such property).

    Google exports times in UTC and means them in X-WR-TIMEZONE: a weekly 09:00 meeting
    must stay at 09:00 local time across DST changes, not at the UTC hour of the first one.
    """
    name = calendar.get("X-WR-TIMEZONE")
    if name is not None:
        try:
            zoneinfo.ZoneInfo(str(name))
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            raise ValidationFailed(
                {field: _("has an unknown X-WR-TIMEZONE: %(zone)s", zone=repr(str(name)[:80]))}
            ) from None
    try:
        return x_wr_timezone.to_standard(calendar)
    # The conversion touches every date-time: a broken one, or one a zone shift pushes
    # past year 9999, fails here first.
    except Exception as exc:
        raise ValidationFailed(
            {field: _("could not be read: %(reason)s", reason=_reason(exc))}
        ) from None


def _to_utc(value: dt.date | dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """An iCalendar DATE or DATE-TIME as a UTC instant; dates and floating times in ``zone``."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(0))
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _describe(component: icalendar.cal.Component) -> str:
    summary = str(component.get("SUMMARY", "") or "")[:80]
    uid = str(component.get("UID", "") or "")[:80]
    if summary:
        return _("event %(summary)s", summary=repr(summary))
    return _("event with UID %(uid)s", uid=repr(uid))


# RFC 5545's frequencies finer than a day, as a sentence names them.
_FREQUENCY_WORDS = {
    "hourly": _l("hourly"),
    "minutely": _l("minutely"),
    "secondly": _l("secondly"),
}


def _check_rules(calendar: icalendar.Calendar, field: str) -> None:
    for event in calendar.walk("VEVENT"):
        rules = event.get("RRULE")
        for rule in rules if isinstance(rules, list) else [rules] if rules else []:
            frequency = [str(f).upper() for f in rule.get("FREQ", [])]
            if not frequency:
                raise ValidationFailed(
                    {field: _("%(event)s has an RRULE without FREQ", event=_describe(event))}
                )
            if frequency[0] not in _SUPPORTED_FREQUENCIES:
                word = frequency[0].lower()
                raise ValidationFailed(
                    {
                        field: _(
                            "%(event)s repeats %(frequency)s; forum imports events that "
                            "repeat at most daily",
                            event=_describe(event),
                            frequency=_FREQUENCY_WORDS.get(word, word),
                        )
                    }
                )
            # RFC 5545 section 3.3.10: INTERVAL is a positive integer; dateutil loops
            # forever on 0.
            if any(int(interval) < 1 for interval in rule.get("INTERVAL", [])):
                raise ValidationFailed(
                    {
                        field: _(
                            "%(event)s has an RRULE whose INTERVAL is not positive",
                            event=_describe(event),
                        )
                    }
                )
            if any(part in rule for part in _SUB_DAILY_PARTS):
                raise ValidationFailed(
                    {
                        field: _(
                            "%(event)s repeats several times a day "
                            "(BYHOUR, BYMINUTE or BYSECOND); forum imports events that "
                            "repeat at most daily",
                            event=_describe(event),
                        )
                    }
                )


def _is_busy(event: icalendar.cal.Component) -> bool:
    # RFC 5545 section 3.8.2.7: TRANSP defaults to OPAQUE; a transparent event
    # ("show as free") does not block time. A cancelled occurrence happens not at all.
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return False
    return str(event.get("STATUS", "")).upper() != "CANCELLED"


def _busy_periods(
    calendar: icalendar.Calendar,
    zone: zoneinfo.ZoneInfo,
    window_start: dt.datetime,
    window_end: dt.datetime,
    field: str,
    check_time: Callable[[], None],
) -> Iterator[Interval]:
    yield from _event_periods(calendar, zone, window_start, window_end, field, check_time)
    yield from _freebusy_periods(calendar, zone, field)


def _event_periods(
    calendar: icalendar.Calendar,
    zone: zoneinfo.ZoneInfo,
    window_start: dt.datetime,
    window_end: dt.datetime,
    field: str,
    check_time: Callable[[], None],
) -> Iterator[Interval]:
    # The span is given in the person's zone: recurring_ical_events compares dates and
    # floating times with it in the span's zone, which is where they are meant.
    span_start, span_end = window_start.astimezone(zone), window_end.astimezone(zone)
    uid = ""
    try:
        _check_rules(calendar, field)
        query = recurring_ical_events.CalendarQuery(calendar, components=("VEVENT",))
        for series in query.series:
            # Checked per series too: a series can cost time and yield nothing in the window.
            check_time()
            uid = str(series.uid)
            for occurrence in series.between(span_start, span_end):
                check_time()
                event = occurrence.as_component(False)
                if not _is_busy(event):
                    continue
                start, end = _to_utc(occurrence.start, zone), _to_utc(occurrence.end, zone)
                # RFC 5545 section 3.6.1: a DATE-TIME start with no end or duration
                # takes no time, so it blocks nothing.
                if end > start:
                    yield start, end
    except ValidationFailed:
        raise
    # The libraries raise ValueError subclasses (InvalidCalendar, BrokenCalendarProperty,
    # IncompleteComponent) for bad events, and AttributeError, TypeError, KeyError or
    # OverflowError on others (a DTSTART given twice, a date past year 9999). Whatever
    # the file holds, the person importing it gets a 422 naming the event.
    except Exception as exc:
        if uid:
            problem = _(
                "the event with UID %(uid)s could not be read: %(reason)s",
                uid=repr(uid),
                reason=_reason(exc),
            )
        else:
            problem = _("an event could not be read: %(reason)s", reason=_reason(exc))
        raise ValidationFailed({field: problem}) from None


def _freebusy_periods(
    calendar: icalendar.Calendar, zone: zoneinfo.ZoneInfo, field: str
) -> Iterator[Interval]:
    for component in calendar.walk("VFREEBUSY"):
        values = component.get("FREEBUSY")
        for prop in values if isinstance(values, list) else [values] if values else []:
            # RFC 5545 section 3.2.9: FBTYPE defaults to BUSY; FREE marks free time.
            if str(prop.params.get("FBTYPE", "BUSY")).upper() == "FREE":
                continue
            try:
                start, end_or_duration = prop.dt
                start_utc = _to_utc(start, zone)
                if isinstance(end_or_duration, dt.timedelta):
                    end_utc = start_utc + end_or_duration
                else:
                    end_utc = _to_utc(end_or_duration, zone)
            # As for events: any error of the library on this value means a bad period.
            except Exception as exc:
                raise ValidationFailed(
                    {
                        field: _(
                            "has a FREEBUSY period that could not be read (%(reason)s)",
                            reason=_reason(exc),
                        )
                    }
                ) from None
            if end_utc > start_utc:
                yield start_utc, end_utc


# --- which addresses may be fetched ------------------------------------------------------


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool
) -> str | None:
    """Why forum will not connect to ``address``, or None when it may.

    Link-local (cloud metadata services live at 169.254.169.254), multicast, reserved and
    unspecified addresses are never a calendar server, so they stay refused even when
    ``allow_private`` lets through private and loopback addresses (an intranet server,
    a test server).
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_refusal(embedded, allow_private=allow_private)
    if address.is_unspecified or (
        isinstance(address, ipaddress.IPv4Address) and address.packed[0] == 0
    ):
        return _("an unspecified address")
    if address.is_link_local:
        return _("a link-local address")
    if address.is_multicast:
        return _("a multicast address")
    # Before the reserved ranges: ::1 lies inside IPv6's reserved ::/8.
    if address.is_loopback:
        return None if allow_private else _("a loopback address")
    if address.is_reserved or (
        isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    ):
        return _("a reserved address")
    if allow_private:
        return None
    if address.is_private or not address.is_global:
        return _("a private address")
    return None


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a URL host names literally, or None for a host name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        pass
    # inet_aton, which the resolver uses, also reads 127.1, 2130706433 and 0x7f.0.0.1.
    if re.fullmatch(r"[0-9a-fA-FxX.]+", host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_url_host(url: str, *, allow_private: bool, field: str = "ics_url") -> None:
    """Refuse a URL whose host is a literal address forum may not fetch from.

    Host names are resolved, and checked, only when the URL is fetched: what a name
    resolves to can change at any time.
    """
    try:
        host = urlsplit(url).hostname
    except ValueError:
        raise ValidationFailed({field: _("is not a valid URL")}) from None
    if not host:
        raise ValidationFailed({field: _("must name a host, e.g. https://calendar.example.org/")})
    address = _literal_address(host)
    if address is not None:
        refusal = address_refusal(address, allow_private=allow_private)
        if refusal:
            raise ValidationFailed(
                {
                    field: _(
                        "points at %(refusal)s (%(address)s), which forum does not fetch from",
                        refusal=refusal,
                        address=address,
                    )
                }
            )


# --- fetching ----------------------------------------------------------------------------


class RefusedAddress(Exception):
    """The host of a URL is, or resolves to, an address forum may not connect to.

    ``refusal`` says what kind of address (address_refusal's words); ``address`` is the
    address a host name resolves to (None when the host is the address itself); ``proxy``:
    the host is a proxy, refused whatever its address.
    """

    def __init__(
        self,
        host: str,
        refusal: str = "",
        *,
        address: str | None = None,
        proxy: bool = False,
    ) -> None:
        if proxy:
            problem = "is a proxy, and a proxy would resolve names past the check"
        elif address is None:
            problem = f"is {refusal}"
        else:
            problem = f"resolves to {refusal} ({address})"
        super().__init__(f"{host} {problem}")
        self.host = host
        self.problem = problem
        self.refusal = refusal
        self.address = address
        self.proxy = proxy


class HostNotFound(Exception):
    """The host of a URL has no address."""


class RefusedBody(Exception):
    """The answer's body is too large or too slow to be read."""


def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses of ``host``, once every one of them is found acceptable."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise HostNotFound(host) from None
    addresses: list[str] = []
    for *_info, sockaddr in infos:
        # A scope ("fe80::1%eth0") is not part of the address to check.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        # Every address is checked, not only the first: which one answers is up to
        # the network.
        refusal = address_refusal(address, allow_private=allow_private)
        if refusal and _literal_address(host) is not None:
            raise RefusedAddress(host, refusal)
        if refusal:
            raise RefusedAddress(host, refusal, address=str(address))
        if str(sockaddr[0]) not in addresses:
            addresses.append(str(sockaddr[0]))
    return addresses


class _CheckedConnectionMixin:
    """Connects only to addresses resolved and checked at connection time.

    Resolving once and connecting to those very addresses closes the gap that a check
    followed by the usual second lookup leaves open (DNS rebinding: a name answering a
    public address to the check and 127.0.0.1 to the connection). The host name still
    serves for the Host header, SNI and certificate verification.
    """

    allow_private = False

    def _new_conn(self) -> socket.socket:
        # Replaces urllib3's HTTPConnection._new_conn, which resolves the name itself;
        # the exceptions are urllib3's, so requests reports them as usual.
        addresses = checked_addresses(self.host, self.port, allow_private=self.allow_private)
        last_error: OSError | None = None
        for address in addresses:
            try:
                return urllib3.util.connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise urllib3.exceptions.ConnectTimeoutError(
                    self, f"connecting to {self.host} timed out"
                ) from exc
            except OSError as exc:
                last_error = exc
        raise urllib3.exceptions.NewConnectionError(
            self, f"could not connect to {self.host}: {last_error}"
        )


@functools.cache
def _checked_pool_classes(allow_private: bool) -> dict[str, type]:
    """urllib3 pool classes whose connections go through _CheckedConnectionMixin."""
    mixin = type("CheckedConnection", (_CheckedConnectionMixin,), {"allow_private": allow_private})
    http = type("CheckedHTTPConnection", (mixin, urllib3.connection.HTTPConnection), {})
    https = type("CheckedHTTPSConnection", (mixin, urllib3.connection.HTTPSConnection), {})
    return {
        "http": type(
            "CheckedHTTPConnectionPool",
            (urllib3.connectionpool.HTTPConnectionPool,),
            {"ConnectionCls": http},
        ),
        "https": type(
            "CheckedHTTPSConnectionPool",
            (urllib3.connectionpool.HTTPSConnectionPool,),
            {"ConnectionCls": https},
        ),
    }


class CheckedAddressAdapter(HTTPAdapter):
    """A requests transport whose connections go only to checked addresses."""

    def __init__(self, *, allow_private: bool, **kwargs: Any) -> None:
        self.allow_private = allow_private
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _checked_pool_classes(self.allow_private)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # A proxy would resolve the host itself, past the check.
        raise RefusedAddress(proxy, proxy=True)


def checked_session(*, allow_private: bool) -> requests.Session:
    """A requests session whose connections go only to checked addresses.

    ``trust_env`` is off: ~/.netrc credentials must not go to a URL an organiser typed,
    and a proxy from the environment would be refused anyway.
    """
    session = requests.Session()
    session.trust_env = False
    adapter = CheckedAddressAdapter(allow_private=allow_private)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = _USER_AGENT
    session.headers["Accept"] = "text/calendar, */*;q=0.5"
    return session


def _fetchable_url(url: str, field: str) -> tuple[str, str]:
    """The URL to request (webcal:// as https://) and its host, or ValidationFailed."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        raise ValidationFailed(
            {field: _("is not a valid URL: %(url)s", url=repr(url[:200]))}
        ) from None
    scheme = parts.scheme.lower()
    # webcal:// is the calendar-subscription alias of http(s); the servers that hand it
    # out (iCloud, Outlook, Google) all serve it over https.
    if scheme == "webcal":
        scheme = "https"
    if scheme not in ("http", "https"):
        raise ValidationFailed({field: _("must be an http, https or webcal URL")})
    if not parts.hostname:
        raise ValidationFailed({field: _("must name a host, e.g. https://calendar.example.org/")})
    return urlunsplit((scheme, *parts[1:])), parts.hostname


def _size(count: int) -> str:
    if count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    if count % 1024 == 0:
        return f"{count // 1024} KiB"
    return _("%(count)s bytes", count=format(count, ","))


def _status_problem(host: str, response: requests.Response) -> str:
    status = f"{response.status_code} {response.reason or ''}".strip()
    if response.status_code in (401, 403):
        return _(
            "the calendar at %(host)s answered %(status)s; the calendar may be private: "
            "use its secret or public iCal address",
            host=host,
            status=status,
        )
    if response.status_code in (404, 410):
        return _(
            "the calendar at %(host)s answered %(status)s; check the address, or whether "
            "the calendar is still shared",
            host=host,
            status=status,
        )
    return _("the calendar at %(host)s answered %(status)s", host=host, status=status)


def _read_body(
    response: requests.Response, *, host: str, max_bytes: int, deadline: float, timeout: float
) -> bytes:
    too_large = _(
        "the calendar at %(host)s is larger than %(size)s", host=host, size=_size(max_bytes)
    )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise RefusedBody(too_large)
    body = bytearray()
    while True:
        # read1 returns what has arrived: a server trickling bytes cannot keep one read
        # (and so the deadline check) waiting for a whole chunk.
        chunk = response.raw.read1(_CHUNK_BYTES, decode_content=True)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise RefusedBody(too_large)
        if time.monotonic() > deadline:
            raise RefusedBody(
                _(
                    "the calendar at %(host)s took longer than %(duration)s",
                    host=host,
                    duration=_seconds(timeout),
                )
            )


def _seconds(count: float) -> str:
    # A fraction of a second reads as several ("0.5 seconds").
    number = int(count) if count == int(count) else 2
    return ngettext("%(seconds)s second", "%(seconds)s seconds", number, seconds=format(count, "g"))


def _looks_like_calendar(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].upper() == b"BEGIN:VCALENDAR"


def fetch_ics(
    url: str,
    *,
    allow_private: bool,
    timeout: float,
    max_bytes: int,
    session: requests.Session | None = None,
    field: str = "ics_url",
) -> bytes:
    """The body of the calendar at ``url``; ValidationFailed naming ``field`` otherwise.

    http, https and webcal (read as https) only; every host, including each redirect's
    (at most three), must resolve to addresses ``address_refusal`` accepts. ``timeout``
    bounds the whole fetch, not only each socket operation. ``session``, to share
    connections between fetches, must come from ``checked_session``.
    """
    owned = session is None
    session = session or checked_session(allow_private=allow_private)
    deadline = time.monotonic() + timeout
    current, host = _fetchable_url(url, field)
    origin = host
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            if not isinstance(session.get_adapter(current), CheckedAddressAdapter):
                raise TypeError("fetch_ics needs a session made by checked_session()")
            remaining = max(deadline - time.monotonic(), 0.001)
            with session.get(
                current, timeout=(remaining, remaining), allow_redirects=False, stream=True
            ) as response:
                if response.status_code in _REDIRECT_STATUSES and "Location" in response.headers:
                    current, host = _fetchable_url(
                        urljoin(current, response.headers["Location"]), field
                    )
                    continue
                if not 200 <= response.status_code < 300:
                    raise ValidationFailed({field: _status_problem(host, response)})
                body = _read_body(
                    response, host=host, max_bytes=max_bytes, deadline=deadline, timeout=timeout
                )
                kind = response.headers.get("Content-Type", "").split(";")[0].strip()
            if not _looks_like_calendar(body):
                if kind:
                    problem = _(
                        "the address at %(host)s answered with %(kind)s, not a calendar "
                        "(no BEGIN:VCALENDAR): use the calendar's iCal (.ics) address",
                        host=host,
                        kind=kind,
                    )
                else:
                    problem = _(
                        "the address at %(host)s answered with a document, not a calendar "
                        "(no BEGIN:VCALENDAR): use the calendar's iCal (.ics) address",
                        host=host,
                    )
                raise ValidationFailed({field: problem})
            return body
        raise ValidationFailed(
            {
                field: _(
                    "the calendar at %(origin)s redirects more than %(count)s times",
                    origin=origin,
                    count=MAX_REDIRECTS,
                )
            }
        )
    except (RefusedAddress, HostNotFound) as exc:
        if isinstance(exc, HostNotFound):
            problem = _host_not_found(origin, host)
        else:
            problem = _refused_fetch(origin, host, exc)
        raise ValidationFailed({field: problem}) from None
    except RefusedBody as exc:
        raise ValidationFailed({field: str(exc)}) from None
    except (requests.Timeout, urllib3.exceptions.TimeoutError):
        raise ValidationFailed(
            {
                field: _(
                    "the calendar at %(host)s did not answer within %(duration)s",
                    host=host,
                    duration=_seconds(timeout),
                )
            }
        ) from None
    except requests.exceptions.SSLError:
        raise ValidationFailed(
            {
                field: _(
                    "the secure (https) connection to %(host)s failed: its certificate "
                    "is not trusted or not issued for that name",
                    host=host,
                )
            }
        ) from None
    except requests.ConnectionError:
        raise ValidationFailed({field: _("could not connect to %(host)s", host=host)}) from None
    # The rest: broken answers (bad chunking, bad gzip). urllib3's own errors come from
    # reading response.raw, which requests does not wrap.
    except (requests.RequestException, urllib3.exceptions.HTTPError):
        raise ValidationFailed(
            {field: _("the calendar at %(host)s sent a broken answer", host=host)}
        ) from None
    finally:
        if owned:
            session.close()


def _host_not_found(origin: str, host: str) -> str:
    if host == origin:
        return _("the host %(host)s could not be found", host=host)
    return _(
        "the calendar at %(origin)s redirects to %(host)s, which could not be found",
        origin=origin,
        host=host,
    )


def _refused_fetch(origin: str, host: str, exc: RefusedAddress) -> str:
    """Why a calendar was not fetched from ``host`` (reached from ``origin``), in one sentence."""
    if host == origin:
        if exc.proxy:
            return _(
                "the host %(host)s is a proxy, and a proxy would resolve names past the "
                "check; forum does not fetch calendars from private, loopback or link-local "
                "addresses",
                host=host,
            )
        if exc.address is None:
            return _(
                "the host %(host)s is %(refusal)s; forum does not fetch calendars from "
                "private, loopback or link-local addresses",
                host=host,
                refusal=exc.refusal,
            )
        return _(
            "the host %(host)s resolves to %(refusal)s (%(address)s); forum does not fetch "
            "calendars from private, loopback or link-local addresses",
            host=host,
            refusal=exc.refusal,
            address=exc.address,
        )
    if exc.proxy:
        return _(
            "the calendar at %(origin)s redirects to %(host)s, which is a proxy, and a proxy "
            "would resolve names past the check; forum does not fetch calendars from private, "
            "loopback or link-local addresses",
            origin=origin,
            host=host,
        )
    if exc.address is None:
        return _(
            "the calendar at %(origin)s redirects to %(host)s, which is %(refusal)s; forum "
            "does not fetch calendars from private, loopback or link-local addresses",
            origin=origin,
            host=host,
            refusal=exc.refusal,
        )
    return _(
        "the calendar at %(origin)s redirects to %(host)s, which resolves to %(refusal)s "
        "(%(address)s); forum does not fetch calendars from private, loopback or link-local "
        "addresses",
        origin=origin,
        host=host,
        refusal=exc.refusal,
        address=exc.address,
    )
