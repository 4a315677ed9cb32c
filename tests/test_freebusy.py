"""Free/busy import: reading .ics files, fetching ICS URLs from a real loopback server, the API."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import shutil
import ssl
import subprocess
import sys
import threading
import time
import zoneinfo
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from forum.core.errors import ValidationFailed
from forum.directory.freebusy import address_refusal
from forum.directory.freebusy import checked_session
from forum.directory.freebusy import fetch_ics
from forum.directory.freebusy import parse_busy
from forum.directory.models import BusyInterval
from forum.extensions import db
from tests.conftest import missing_service
from tests.helpers import assert_error

PEOPLE = "/api/v1/people"
UTC = dt.UTC
MIB = 1024 * 1024


def at(text: str) -> dt.datetime:
    """An aware UTC instant from "2020-03-09T13:00"."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def ics(*lines: str) -> bytes:
    """A VCALENDAR around ``lines``, with the CRLF line ends RFC 5545 asks for."""
    body = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//forum tests//EN", *lines, "END:VCALENDAR"]
    return ("\r\n".join(body) + "\r\n").encode()


def event(*lines: str) -> tuple[str, ...]:
    return ("BEGIN:VEVENT", *lines, "END:VEVENT")


def stamp(instant: dt.datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- reading .ics files ------------------------------------------------------------------

MARCH_2020 = {"window_start": at("2020-02-20T00:00"), "window_end": at("2020-04-01T00:00")}

DETROIT_VTIMEZONE = (
    "BEGIN:VTIMEZONE",
    "TZID:America/Detroit",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:-0500",
    "TZOFFSETTO:-0400",
    "TZNAME:EDT",
    "DTSTART:19700308T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:-0400",
    "TZOFFSETTO:-0500",
    "TZNAME:EST",
    "DTSTART:19701101T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
)

# Mondays 09:00-10:00 in Ann Arbor from 24 February 2020; the US clocks go forward on
# Sunday 8 March. 2 March is cancelled by EXDATE; 16 March moves to Tuesday 17 at 14:00.
WEEKLY_IN_DETROIT = (
    *event(
        "UID:lab-meeting@umich.example.edu",
        "SUMMARY:Lab meeting",
        "DTSTART;TZID=America/Detroit:20200224T090000",
        "DTEND;TZID=America/Detroit:20200224T100000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=5",
        "EXDATE;TZID=America/Detroit:20200302T090000",
    ),
    *event(
        "UID:lab-meeting@umich.example.edu",
        "RECURRENCE-ID;TZID=America/Detroit:20200316T090000",
        "SUMMARY:Lab meeting (moved)",
        "DTSTART;TZID=America/Detroit:20200317T140000",
        "DTEND;TZID=America/Detroit:20200317T150000",
    ),
)


@pytest.mark.parametrize(
    "vtimezone", [DETROIT_VTIMEZONE, ()], ids=["with-vtimezone", "iana-tzid-only"]
)
def test_weekly_series_keeps_its_local_hour_across_dst_with_exdate_and_moved_occurrence(
    vtimezone,
):
    busy = parse_busy(ics(*vtimezone, *WEEKLY_IN_DETROIT), timezone="Asia/Shanghai", **MARCH_2020)

    assert busy == [
        (at("2020-02-24T14:00"), at("2020-02-24T15:00")),  # 09:00 EST (UTC-5)
        # 2 March: EXDATE
        (at("2020-03-09T13:00"), at("2020-03-09T14:00")),  # 09:00 EDT (UTC-4): an hour earlier
        # 16 March moved to Tuesday 17 March 14:00 EDT
        (at("2020-03-17T18:00"), at("2020-03-17T19:00")),
        (at("2020-03-23T13:00"), at("2020-03-23T14:00")),
    ]


def test_google_export_times_are_read_in_its_x_wr_timezone():
    # Google writes UTC instants and means the wall-clock time in X-WR-TIMEZONE: the
    # series stays at 09:00 in Detroit after the DST change, not at 14:00 UTC.
    google = ics(
        "X-WR-CALNAME:Busy",
        "X-WR-TIMEZONE:America/Detroit",
        *event(
            "UID:abc123@google.com",
            "DTSTART:20200302T140000Z",
            "DTEND:20200302T150000Z",
            "RRULE:FREQ=WEEKLY;COUNT=3",
        ),
    )

    busy = parse_busy(google, timezone="UTC", **MARCH_2020)

    assert busy == [
        (at("2020-03-02T14:00"), at("2020-03-02T15:00")),
        (at("2020-03-09T13:00"), at("2020-03-09T14:00")),
        (at("2020-03-16T13:00"), at("2020-03-16T14:00")),
    ]


@pytest.mark.parametrize(
    ("timezone", "start", "end"),
    [
        ("Asia/Shanghai", "2020-03-09T16:00", "2020-03-10T16:00"),
        ("America/Detroit", "2020-03-10T04:00", "2020-03-11T04:00"),
        ("Pacific/Kiritimati", "2020-03-09T10:00", "2020-03-10T10:00"),
        ("Pacific/Pago_Pago", "2020-03-10T11:00", "2020-03-11T11:00"),
    ],
)
@pytest.mark.parametrize("dtend", [("DTEND;VALUE=DATE:20200311",), ()], ids=["dtend", "no-dtend"])
def test_all_day_event_covers_the_local_day_of_the_person(timezone, start, end, dtend):
    calendar = ics(*event("UID:holiday", "DTSTART;VALUE=DATE:20200310", *dtend))

    assert parse_busy(calendar, timezone=timezone, **MARCH_2020) == [(at(start), at(end))]


def test_floating_time_is_read_in_the_persons_zone():
    calendar = ics(*event("UID:f", "DTSTART:20200310T090000", "DTEND:20200310T100000"))

    busy = parse_busy(calendar, timezone="Asia/Shanghai", **MARCH_2020)

    assert busy == [(at("2020-03-10T01:00"), at("2020-03-10T02:00"))]


def test_transparent_and_cancelled_events_are_not_busy():
    calendar = ics(
        *event(
            "UID:free", "DTSTART:20200303T100000Z", "DTEND:20200303T110000Z", "TRANSP:TRANSPARENT"
        ),
        *event("UID:off", "DTSTART:20200304T100000Z", "DTEND:20200304T110000Z", "STATUS:CANCELLED"),
        *event(
            "UID:daily",
            "DTSTART:20200305T100000Z",
            "DTEND:20200305T110000Z",
            "RRULE:FREQ=DAILY;COUNT=3",
        ),
        # One occurrence of the daily series is cancelled on its own.
        *event(
            "UID:daily",
            "RECURRENCE-ID:20200306T100000Z",
            "DTSTART:20200306T100000Z",
            "DTEND:20200306T110000Z",
            "STATUS:CANCELLED",
        ),
        *event("UID:busy", "DTSTART:20200310T100000Z", "DTEND:20200310T110000Z", "TRANSP:OPAQUE"),
    )

    busy = parse_busy(calendar, timezone="UTC", **MARCH_2020)

    assert busy == [
        (at("2020-03-05T10:00"), at("2020-03-05T11:00")),
        (at("2020-03-07T10:00"), at("2020-03-07T11:00")),
        (at("2020-03-10T10:00"), at("2020-03-10T11:00")),
    ]


def test_vfreebusy_periods_are_busy_except_free_ones():
    calendar = ics(
        "BEGIN:VFREEBUSY",
        "UID:fb@example.org",
        "DTSTART:20200301T000000Z",
        "DTEND:20200401T000000Z",
        "FREEBUSY;FBTYPE=BUSY:20200302T090000Z/20200302T100000Z,20200303T090000Z/PT90M",
        "FREEBUSY;FBTYPE=FREE:20200304T090000Z/20200304T100000Z",
        "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20200305T090000Z/20200305T100000Z",
        "FREEBUSY:20200306T090000Z/20200306T100000Z",
        "END:VFREEBUSY",
    )

    busy = parse_busy(calendar, timezone="UTC", **MARCH_2020)

    assert busy == [
        (at("2020-03-02T09:00"), at("2020-03-02T10:00")),
        (at("2020-03-03T09:00"), at("2020-03-03T10:30")),
        (at("2020-03-05T09:00"), at("2020-03-05T10:00")),
        (at("2020-03-06T09:00"), at("2020-03-06T10:00")),
    ]


def test_overlapping_times_are_merged_and_clipped_to_the_window():
    calendar = ics(
        *event("UID:a", "DTSTART:20200310T090000Z", "DTEND:20200310T110000Z"),
        *event("UID:b", "DTSTART:20200310T100000Z", "DTEND:20200310T120000Z"),
        *event("UID:c", "DTSTART:20200310T120000Z", "DTEND:20200310T130000Z"),
        *event("UID:early", "DTSTART:20200219T000000Z", "DTEND:20200221T000000Z"),
        *event("UID:outside", "DTSTART:20200501T000000Z", "DTEND:20200502T000000Z"),
    )

    busy = parse_busy(calendar, timezone="UTC", **MARCH_2020)

    assert busy == [
        (at("2020-02-20T00:00"), at("2020-02-21T00:00")),
        (at("2020-03-10T09:00"), at("2020-03-10T13:00")),
    ]


GARBAGE = {
    "empty": b"",
    "text": b"hello, this is not a calendar",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
    "html": b"<!doctype html><html><body>Sign in to see this calendar</body></html>",
    "no-end": b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20200310T090000Z\r\n",
    "bad-line": b"BEGIN:VCALENDAR\r\nthis line has no colon\r\nEND:VCALENDAR\r\n",
    "bad-date": ics(*event("UID:x", "DTSTART:tomorrow", "DTEND:20200310T100000Z")),
    "no-dtstart": ics(*event("UID:x", "DTEND:20200310T100000Z")),
    "bad-period": ics("BEGIN:VFREEBUSY", "FREEBUSY:soon", "END:VFREEBUSY"),
    "bad-x-wr-timezone": ics("X-WR-TIMEZONE:Mars/Olympus_Mons"),
    "secondly": ics(*event("UID:x", "DTSTART:20200310T090000Z", "RRULE:FREQ=SECONDLY")),
    # dateutil never returns from this one.
    "interval-zero": ics(
        "X-WR-TIMEZONE:Asia/Shanghai",
        *event(
            "UID:x", "DTSTART:20200310T090000Z", "DURATION:PT1H", "RRULE:FREQ=WEEKLY;INTERVAL=0"
        ),
    ),
    "byminute": ics(*event("UID:x", "DTSTART:20200310T090000Z", "RRULE:FREQ=DAILY;BYMINUTE=0,1,2")),
}


@pytest.mark.parametrize("body", GARBAGE.values(), ids=GARBAGE.keys())
@pytest.mark.parametrize("field", ["ics", "ics_url"])
def test_unreadable_input_names_the_field(body, field):
    with pytest.raises(ValidationFailed) as caught:
        parse_busy(body, timezone="UTC", field=field, **MARCH_2020)

    assert set(caught.value.fields) == {field}
    assert caught.value.fields[field]


def test_number_of_busy_times_is_capped():
    daily = ics(*event("UID:x", "DTSTART:20200301T090000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY"))

    assert len(parse_busy(daily, timezone="UTC", max_intervals=31, **MARCH_2020)) == 31
    with pytest.raises(ValidationFailed, match="more than 30 busy times"):
        parse_busy(daily, timezone="UTC", max_intervals=30, **MARCH_2020)


def test_reading_time_is_capped():
    many = ics(
        *(
            line
            for n in range(50)
            for line in event(f"UID:{n}", "DTSTART:20200301T090000Z", "RRULE:FREQ=DAILY")
        )
    )

    with pytest.raises(ValidationFailed, match="takes longer than"):
        parse_busy(many, timezone="UTC", max_seconds=0.000001, **MARCH_2020)


# Lines calendar programs write, some of them wrong, for the fuzz test below.
EVENT_LINES = [
    "UID:a",
    "UID:b",
    "DTSTART:20200310T090000Z",
    "DTSTART;VALUE=DATE:20200310",
    "DTSTART:20200310T090000",
    "DTSTART;TZID=America/Detroit:20200308T023000",  # in the spring-forward gap
    "DTSTART;TZID=America/Detroit:20201101T013000",  # twice on the fall-back day
    "DTSTART;TZID=Nowhere/Zone:20200310T090000",
    "DTSTART:99991231T235959Z",
    "DTSTART:garbage",
    "DTEND:20200310T100000Z",
    "DTEND;VALUE=DATE:20200312",
    "DTEND:20200301T000000Z",
    "DURATION:PT1H",
    "DURATION:P9999W",
    "DURATION:-PT1H",
    "RRULE:FREQ=WEEKLY;COUNT=5",
    "RRULE:FREQ=DAILY;UNTIL=20200320T000000Z",
    "RRULE:FREQ=DAILY;UNTIL=20200320",
    "RRULE:FREQ=MONTHLY;BYDAY=-1FR",
    "RRULE:FREQ=YEARLY;BYMONTH=13",
    "RRULE:FREQ=HOURLY",
    "RRULE:FREQ=DAILY;BYHOUR=1,2",
    "RRULE:FREQ=WEEKLY;BYDAY=XX",
    "RRULE:FREQ=DAILY;COUNT=0",
    "RRULE:FREQ=WEEKLY;INTERVAL=0",
    "EXDATE:20200317T090000Z",
    "EXDATE;VALUE=DATE:20200317",
    "EXDATE:bad",
    "RDATE:20200325T090000Z",
    "RDATE;VALUE=PERIOD:20200326T090000Z/PT2H",
    "RECURRENCE-ID:20200317T090000Z",
    "RECURRENCE-ID;RANGE=THISANDFUTURE:20200317T090000Z",
    "TRANSP:TRANSPARENT",
    "STATUS:CANCELLED",
    "STATUS:TENTATIVE",
]
FREEBUSY_LINES = [
    "FREEBUSY:20200302T090000Z/20200302T100000Z",
    "FREEBUSY;FBTYPE=FREE:20200302T090000Z/PT1H",
    "FREEBUSY:20200302T090000Z/20200301T100000Z",
    "FREEBUSY:20200302T090000/PT1H",
    "FREEBUSY:nonsense",
]
CALENDAR_LINES = ["X-WR-TIMEZONE:Asia/Shanghai", "X-WR-TIMEZONE:Bad/Zone", "CALSCALE:JULIAN"]


@st.composite
def messy_calendars(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.sampled_from(CALENDAR_LINES), max_size=1))
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            lines += event(*draw(st.lists(st.sampled_from(EVENT_LINES), max_size=6)))
        else:
            body = draw(st.lists(st.sampled_from(FREEBUSY_LINES), max_size=3))
            lines += ["BEGIN:VFREEBUSY", *body, "END:VFREEBUSY"]
    return ics(*lines)


@settings(max_examples=150, deadline=None)
@given(
    calendar=messy_calendars(),
    timezone=st.sampled_from(["UTC", "Asia/Shanghai", "America/Detroit", "Pacific/Kiritimati"]),
)
def test_any_calendar_gives_clean_intervals_or_a_422(calendar, timezone):
    try:
        busy = parse_busy(calendar, timezone=timezone, **MARCH_2020)
    except ValidationFailed as exc:
        assert set(exc.fields) == {"ics"}
        return

    for start, end in busy:
        assert start.utcoffset() == dt.timedelta(0)
        assert MARCH_2020["window_start"] <= start < end <= MARCH_2020["window_end"]
    for (_, end), (next_start, _) in zip(busy, busy[1:], strict=False):
        assert end < next_start


# --- which addresses may be fetched ------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "refused", "refused_when_allowed"),
    [
        ("93.184.215.14", False, False),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", False, False),
        ("10.0.0.1", True, False),
        ("172.16.5.4", True, False),
        ("192.168.1.1", True, False),
        ("100.64.0.1", True, False),  # carrier-grade NAT
        ("127.0.0.1", True, False),
        ("::1", True, False),
        ("fd12:3456::1", True, False),
        ("::ffff:127.0.0.1", True, False),  # IPv4-mapped
        ("::ffff:10.0.0.1", True, False),
        ("2002:7f00:1::1", True, False),  # 6to4 around 127.0.0.1
        ("64:ff9b::a9fe:a9fe", True, True),  # NAT64 around 169.254.169.254
        ("169.254.169.254", True, True),
        ("fe80::1", True, True),
        ("::ffff:169.254.169.254", True, True),
        ("224.0.0.1", True, True),
        ("ff02::1", True, True),
        ("0.0.0.0", True, True),  # noqa: S104  (connecting to it reaches this machine)
        ("0.1.2.3", True, True),
        ("::", True, True),
        ("240.0.0.1", True, True),
        ("255.255.255.255", True, True),
    ],
)
def test_address_refusal(address, refused, refused_when_allowed):
    ip = ipaddress.ip_address(address)

    assert bool(address_refusal(ip, allow_private=False)) is refused
    assert bool(address_refusal(ip, allow_private=True)) is refused_when_allowed


# --- a real HTTP server on loopback ------------------------------------------------------


@dataclasses.dataclass
class Answer:
    """What the calendar server answers on one path."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    trickle: bool = False  # send the body a byte every 0.2 s
    content_length: bool = True


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # The client hanging up on a slow or huge answer is what those tests do.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class CalendarServer:
    """An HTTP(S) server on 127.0.0.1 answering what ``answers`` says for each path."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[tuple[str, str]] = []  # (path, Host header)
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str, *, host: str = "localhost", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append((handler.path, handler.headers.get("Host", "")))
        answer = self.answers.get(handler.path, Answer(b"not here", status=404))
        if answer.delay:
            self.released.wait(answer.delay)
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        if answer.content_length:
            handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        if not answer.trickle:
            handler.wfile.write(answer.body)
            return
        for byte in answer.body:
            if self.released.wait(0.2):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    def close(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[CalendarServer]:
    calendar_server = CalendarServer()
    yield calendar_server
    calendar_server.close()


@pytest.fixture
def allow_private() -> bool:
    """FORUM_ALLOW_PRIVATE_URLS; tests that fetch from the loopback server set it."""
    return False


@pytest.fixture
def app_settings(allow_private: bool) -> dict[str, Any]:
    """The private-address setting under test, and a short fetch timeout."""
    return {"FORUM_ALLOW_PRIVATE_URLS": allow_private, "FORUM_FETCH_TIMEOUT_SECONDS": 1.0}


PRIVATE_ALLOWED = pytest.mark.parametrize("allow_private", [True], ids=["private-allowed"])


def make_person(api, **fields: Any) -> dict[str, Any]:
    body = {"name": "Li Wei", "email": "li.wei@pku.example.org", "timezone": "Asia/Shanghai"}
    response = api.post(PEOPLE, json={**body, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def upload(api, person_id: int, body: bytes, content_type: str = "text/calendar"):
    return api.post(f"{PEOPLE}/{person_id}/availability/ics", data=body, content_type=content_type)


def refresh(api, person_id: int):
    return api.post(f"{PEOPLE}/{person_id}/availability/refresh")


def stored_busy(app: Flask, person_id: int) -> list[tuple[str, str, str]]:
    """The person's busy rows as (start, end, source), read from the database."""
    with app.app_context():
        rows = db.session.scalars(
            sa.select(BusyInterval)
            .where(BusyInterval.person_id == person_id)
            .order_by(BusyInterval.start)
        ).all()
        return [(iso(row.start), iso(row.end), row.source) for row in rows]


@pytest.fixture
def next_week() -> dt.datetime:
    """09:00 UTC a week from today: inside the import window, whatever today is."""
    today = dt.datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    return today + dt.timedelta(days=7)


def one_event(start: dt.datetime, hours: int = 1, uid: str = "e1") -> bytes:
    end = start + dt.timedelta(hours=hours)
    return ics(*event(f"UID:{uid}", f"DTSTART:{stamp(start)}", f"DTEND:{stamp(end)}"))


# --- uploading an .ics file --------------------------------------------------------------


def test_upload_replaces_earlier_uploads_and_keeps_manual_busy_times(api, app, next_week):
    manual = {"start": iso(next_week - dt.timedelta(days=1)), "end": iso(next_week)}
    person = make_person(api, busy=[manual])

    first = upload(api, person["id"], one_event(next_week, uid="first"))

    assert first.status_code == 200, first.get_json()
    imported = {"start": iso(next_week), "end": iso(next_week + dt.timedelta(hours=1))}
    assert first.get_json() == {**person, "busy": [manual, imported]}
    assert stored_busy(app, person["id"]) == [
        (manual["start"], manual["end"], "manual"),
        (imported["start"], imported["end"], "ics-upload"),
    ]

    later = next_week + dt.timedelta(days=2)
    second = upload(api, person["id"], one_event(later, hours=2, uid="second"))

    assert second.status_code == 200, second.get_json()
    assert stored_busy(app, person["id"]) == [
        (manual["start"], manual["end"], "manual"),
        (iso(later), iso(later + dt.timedelta(hours=2)), "ics-upload"),
    ]
    assert api.get(f"{PEOPLE}/{person['id']}").get_json() == second.get_json()


def test_entering_busy_times_by_hand_keeps_the_imported_ones(api, app, next_week):
    person = make_person(api)
    assert upload(api, person["id"], one_event(next_week)).status_code == 200
    manual = {
        "start": iso(next_week + dt.timedelta(days=1)),
        "end": iso(next_week + dt.timedelta(days=1, hours=2)),
    }

    response = api.put(f"{PEOPLE}/{person['id']}/availability", json={"busy": [manual]})

    assert response.status_code == 200, response.get_json()
    assert [source for *_, source in stored_busy(app, person["id"])] == ["ics-upload", "manual"]


def test_a_new_ics_url_drops_the_times_read_from_the_old_one(api, app, next_week):
    person = make_person(api, ics_url="https://calendar.example.org/old.ics")
    with app.app_context():
        db.session.add(
            BusyInterval(
                person_id=person["id"],
                start=next_week,
                end=next_week + dt.timedelta(hours=1),
                source="ics-url",
            )
        )
        db.session.commit()

    response = api.put(
        f"{PEOPLE}/{person['id']}/availability",
        json={"ics_url": "https://calendar.example.org/new.ics"},
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["busy"] == []
    assert stored_busy(app, person["id"]) == []


def test_upload_reads_all_day_events_in_the_persons_zone(api, next_week):
    person = make_person(api, timezone="Asia/Shanghai")
    day = next_week.date()
    calendar = ics(*event("UID:holiday", f"DTSTART;VALUE=DATE:{day:%Y%m%d}"))

    response = upload(api, person["id"], calendar)

    assert response.status_code == 200, response.get_json()
    midnight_in_shanghai = dt.datetime.combine(day, dt.time(0), zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert response.get_json()["busy"] == [
        {
            "start": iso(midnight_in_shanghai),
            "end": iso(midnight_in_shanghai + dt.timedelta(days=1)),
        }
    ]
    assert iso(midnight_in_shanghai).endswith("T16:00:00Z")


@pytest.mark.parametrize("body", GARBAGE.values(), ids=GARBAGE.keys())
def test_unreadable_upload_is_422_and_writes_nothing(api, app, row_count, next_week, body):
    earlier = next_week - dt.timedelta(hours=2)
    person = make_person(
        api, busy=[{"start": iso(earlier), "end": iso(earlier + dt.timedelta(hours=1))}]
    )
    assert upload(api, person["id"], one_event(next_week)).status_code == 200
    before = stored_busy(app, person["id"])

    response = upload(api, person["id"], body)

    assert_error(response, 422, "validation_error", "ics")
    assert stored_busy(app, person["id"]) == before
    assert row_count("busy_intervals") == len(before)


def test_upload_must_be_sent_as_text_calendar(api, next_week):
    person = make_person(api)

    response = api.post(
        f"{PEOPLE}/{person['id']}/availability/ics",
        json={"ics": one_event(next_week).decode()},
    )

    error = assert_error(response, 415, "unsupported_media_type")
    assert "text/calendar" in error["message"]


def test_upload_for_an_unknown_person_is_404(api, next_week):
    assert_error(upload(api, 999, one_event(next_week)), 404, "not_found")


# --- fetching the person's ICS URL -------------------------------------------------------


@PRIVATE_ALLOWED
def test_refresh_imports_from_the_url_and_keeps_other_sources(api, app, server, next_week):
    server.answers["/li.ics"] = Answer(
        one_event(next_week), headers={"Content-Type": "text/calendar"}
    )
    person = make_person(api, ics_url=server.url("/li.ics"))
    upload(api, person["id"], one_event(next_week + dt.timedelta(days=1), uid="uploaded"))

    response = refresh(api, person["id"])

    assert response.status_code == 200, response.get_json()
    assert [source for *_, source in stored_busy(app, person["id"])] == ["ics-url", "ics-upload"]
    # The connection goes to the address that was checked, under the URL's host name.
    assert server.requests == [("/li.ics", f"localhost:{server.port}")]

    later = next_week + dt.timedelta(days=3)
    server.answers["/li.ics"] = Answer(one_event(later))
    assert refresh(api, person["id"]).status_code == 200
    assert stored_busy(app, person["id"])[-1] == (
        iso(later),
        iso(later + dt.timedelta(hours=1)),
        "ics-url",
    )
    assert len(stored_busy(app, person["id"])) == 2


@PRIVATE_ALLOWED
def test_refresh_reads_a_google_export_in_its_x_wr_timezone(api, server, next_week):
    zone = zoneinfo.ZoneInfo("America/Detroit")
    first = dt.datetime.combine(next_week.date(), dt.time(9, 0), zone)
    server.answers["/basic.ics"] = Answer(
        ics(
            "X-WR-TIMEZONE:America/Detroit",
            *event(
                "UID:weekly@google.com",
                f"DTSTART:{stamp(first)}",
                f"DTEND:{stamp(first + dt.timedelta(hours=1))}",
                "RRULE:FREQ=WEEKLY;COUNT=12",
            ),
        )
    )
    person = make_person(api, ics_url=server.url("/basic.ics"))

    response = refresh(api, person["id"])

    assert response.status_code == 200, response.get_json()
    starts = [
        dt.datetime.fromisoformat(b["start"]).astimezone(zone) for b in response.get_json()["busy"]
    ]
    assert len(starts) == 12
    assert {start.time() for start in starts} == {dt.time(9, 0)}


def test_refresh_without_an_ics_url_is_422(api):
    person = make_person(api)

    error = assert_error(refresh(api, person["id"]), 422, "validation_error", "ics_url")
    assert "no ICS URL" in error["message"]


ANSWERS = {
    "not-found": (Answer(b"gone", status=404), "answered 404"),
    "forbidden": (Answer(b"no", status=403), "answered 403"),
    "server-error": (Answer(b"oops", status=500), "answered 500"),
    "html": (
        Answer(GARBAGE["html"], headers={"Content-Type": "text/html"}),
        "answered with text/html, not a calendar",
    ),
    "broken-calendar": (Answer(GARBAGE["bad-line"]), "is not a valid iCalendar file"),
    "huge": (Answer(b"BEGIN:VCALENDAR\r\n" + b"X" * (2 * MIB)), "larger than 2 MiB"),
    "huge-unannounced": (
        Answer(b"BEGIN:VCALENDAR\r\n" + b"X" * (2 * MIB), content_length=False),
        "larger than 2 MiB",
    ),
    "slow": (Answer(one_event(at("2020-03-10T09:00")), delay=5), "did not answer within 1 second"),
    "trickle": (Answer(b"BEGIN:VCALENDAR\r\n" * 100, trickle=True), "took longer than 1 second"),
    "redirect-to-metadata": (
        Answer(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}),
        "redirects to 169.254.169.254, which is a link-local address",
    ),
    "redirect-loop": (
        Answer(status=301, headers={"Location": "/redirect-loop"}),
        "redirects more than 3 times",
    ),
}


@PRIVATE_ALLOWED
@pytest.mark.parametrize("name", ANSWERS)
def test_refresh_refuses_what_is_not_a_usable_calendar(
    api, app, row_count, server, next_week, name
):
    answer, message = ANSWERS[name]
    path = f"/{name}"
    server.answers[path] = answer
    person = make_person(api, ics_url=server.url(path))
    assert upload(api, person["id"], one_event(next_week)).status_code == 200
    before = stored_busy(app, person["id"])
    started = time.monotonic()

    response = refresh(api, person["id"])

    error = assert_error(response, 422, "validation_error", "ics_url")
    # The message names the limit that stopped the fetch (a slow answer, a trickle: the
    # 1-second timeout, not the server's 5-second delay); how long it took is only shown.
    assert message in error["details"]["fields"]["ics_url"]
    print(f"{name}: refused in {time.monotonic() - started:.2f} s")
    assert stored_busy(app, person["id"]) == before
    assert row_count("busy_intervals") == len(before)


@PRIVATE_ALLOWED
def test_refresh_follows_a_redirect_to_an_allowed_address(api, server, next_week):
    server.answers["/old.ics"] = Answer(status=301, headers={"Location": "/new.ics"})
    server.answers["/new.ics"] = Answer(one_event(next_week))
    person = make_person(api, ics_url=server.url("/old.ics"))

    response = refresh(api, person["id"])

    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()["busy"]) == 1
    assert [path for path, _ in server.requests] == ["/old.ics", "/new.ics"]


# --- private addresses -------------------------------------------------------------------


def test_refresh_refuses_a_name_that_resolves_to_loopback(api, app, server, next_week):
    server.answers["/li.ics"] = Answer(one_event(next_week))
    person = make_person(api, ics_url=server.url("/li.ics", host="localhost"))

    response = refresh(api, person["id"])

    error = assert_error(response, 422, "validation_error", "ics_url")
    assert "localhost resolves to a loopback address (127.0.0.1)" in error["message"]
    assert server.requests == []
    assert stored_busy(app, person["id"]) == []


PRIVATE_URLS = {
    "rfc1918": "http://10.0.0.1/x.ics",
    "metadata": "http://169.254.169.254/latest/meta-data/",
    "loopback": "http://127.0.0.1:8080/x.ics",
    "ipv6-loopback": "http://[::1]/x.ics",
    "ipv4-mapped": "https://[::ffff:127.0.0.1]/x.ics",
    "decimal-loopback": "http://2130706433/x.ics",
    "short-loopback": "webcal://127.1/x.ics",
    "unspecified": "http://0.0.0.0/x.ics",
}
STILL_REFUSED = {"metadata", "unspecified"}


def save_ics_url(api, how: str, url: str):
    """Give a person ``url`` through one of the three requests that accept ics_url."""
    if how == "create":
        body = {"name": "Ana", "email": "ana@example.org", "timezone": "UTC", "ics_url": url}
        return api.post(PEOPLE, json=body)
    person = make_person(api)
    if how == "patch":
        return api.patch(f"{PEOPLE}/{person['id']}", json={"ics_url": url})
    return api.put(f"{PEOPLE}/{person['id']}/availability", json={"ics_url": url})


@pytest.mark.parametrize("how", ["create", "patch", "put"])
@pytest.mark.parametrize("url", PRIVATE_URLS.values(), ids=PRIVATE_URLS.keys())
def test_ics_url_naming_a_private_address_is_refused(api, how, url):
    response = save_ics_url(api, how, url)

    error = assert_error(response, 422, "validation_error", "ics_url")
    assert "which forum does not fetch from" in error["message"]
    # Nothing written: no new person, and the existing one keeps no URL.
    people = api.get(PEOPLE).get_json()["items"]
    assert [p["ics_url"] for p in people] == ([] if how == "create" else [None])


@PRIVATE_ALLOWED
@pytest.mark.parametrize("how", ["create", "patch", "put"])
@pytest.mark.parametrize("name", PRIVATE_URLS.keys())
def test_ics_url_naming_a_private_address_is_accepted_when_configured(api, how, name):
    response = save_ics_url(api, how, PRIVATE_URLS[name])

    if name in STILL_REFUSED:
        assert_error(response, 422, "validation_error", "ics_url")
    else:
        assert response.status_code in (200, 201), response.get_json()
        assert response.get_json()["ics_url"] == PRIVATE_URLS[name]


@pytest.mark.parametrize("url", PRIVATE_URLS.values(), ids=PRIVATE_URLS.keys())
def test_fetch_checks_literal_addresses_too(url):
    # A URL saved while the setting allowed it is checked again when fetched; the
    # refusal comes before any connection (the loopback guard would fail the test).
    with pytest.raises(ValidationFailed) as caught:
        fetch_ics(url, allow_private=False, timeout=1, max_bytes=MIB)

    assert "forum does not fetch calendars from" in caught.value.fields["ics_url"]


@pytest.mark.parametrize(
    "url",
    ["ftp://calendar.example.org/x.ics", "file:///etc/passwd", "http:///x.ics", "http://x:port/"],
)
def test_only_http_urls_are_fetched(url):
    with pytest.raises(ValidationFailed) as caught:
        fetch_ics(url, allow_private=True, timeout=1, max_bytes=MIB)

    assert set(caught.value.fields) == {"ics_url"}


# --- https -------------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test CA and two server certificates it signed: for localhost and for another name."""
    if shutil.which("openssl") is None:
        missing_service("the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=forum test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    for name in ("localhost", "calendar.example.org"):
        (folder / f"{name}.ext").write_text(
            f"subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
        )
        _openssl(
            "req",
            *ec,
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=folder,
        )
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=folder,
        )  # fmt: skip
    return folder


def tls_server(certificates: Path, name: str) -> CalendarServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates / f"{name}.pem", certificates / f"{name}.key")
    return CalendarServer(tls=context)


@pytest.mark.parametrize("scheme", ["https", "webcal"])
def test_https_verifies_the_certificate_by_host_name(certificates, next_week, scheme):
    server = tls_server(certificates, "localhost")
    server.answers["/li.ics"] = Answer(one_event(next_week))
    session = checked_session(allow_private=True)
    session.verify = str(certificates / "ca.pem")
    try:
        body = fetch_ics(
            server.url("/li.ics", scheme=scheme),
            allow_private=True,
            timeout=2,
            max_bytes=MIB,
            session=session,
        )
    finally:
        session.close()
        server.close()

    assert body == one_event(next_week)


@pytest.mark.parametrize(
    ("certificate", "trusted"),
    [("calendar.example.org", True), ("localhost", False)],
    ids=["other-name", "unknown-ca"],
)
def test_https_refuses_a_certificate_it_cannot_verify(
    certificates, next_week, certificate, trusted
):
    server = tls_server(certificates, certificate)
    server.answers["/li.ics"] = Answer(one_event(next_week))
    session = checked_session(allow_private=True)
    if trusted:
        session.verify = str(certificates / "ca.pem")
    try:
        with pytest.raises(ValidationFailed, match="secure") as caught:
            fetch_ics(
                server.url("/li.ics", scheme="https"),
                allow_private=True,
                timeout=2,
                max_bytes=MIB,
                session=session,
            )
    finally:
        session.close()
        server.close()

    assert set(caught.value.fields) == {"ics_url"}
