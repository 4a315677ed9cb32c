"""The calendar checks of tests/calendars.py pass good files and catch broken ones."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tests import calendars
from tests.calendars import check_calendar
from tests.calendars import check_email
from tests.calendars import run_icalcheck
from tests.calendars import utc_starts

DATA = Path(__file__).parent / "data" / "ics"
DETROIT = ZoneInfo("America/Detroit")
# recurring_detroit.ics: weekly Monday 10:00 Detroit, COUNT=6 across the 2025-03-09 DST
# change, EXDATE 03-17, the 03-24 instance moved to 11:00.
DETROIT_STARTS = [
    "2025-02-24T15:00:00Z",
    "2025-03-03T15:00:00Z",
    "2025-03-10T14:00:00Z",
    "2025-03-24T15:00:00Z",
    "2025-03-31T14:00:00Z",
]


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def with_override(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` with one text replaced in the moved 03-24 instance (the last VEVENT)."""
    head, sep, override = data.rpartition(b"BEGIN:VEVENT\r\n")
    assert sep and override.count(old) >= 1
    return head + sep + override.replace(old, new, 1)


def generated_with_add_missing_timezones() -> bytes:
    """A weekly Detroit series written the way icalendar makes it easy: the VTIMEZONE comes
    from ``Calendar.add_missing_timezones()``, with every transition in one RDATE list."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Example University//Conference Invites 1.0//EN")
    cal.add("version", "2.0")
    cal.add("method", "REQUEST")
    event = icalendar.Event()
    event.add("uid", "weekly-bilateral-43@conf.example.edu")
    event.add("dtstamp", datetime(2025, 2, 20, 12, 0, tzinfo=UTC))
    event.add("sequence", 0)
    event.add("dtstart", datetime(2025, 2, 24, 10, 0, tzinfo=DETROIT))
    event.add("dtend", datetime(2025, 2, 24, 11, 0, tzinfo=DETROIT))
    event.add("rrule", {"freq": "weekly", "byday": "MO", "count": 6})
    event.add("exdate", datetime(2025, 3, 17, 10, 0, tzinfo=DETROIT))
    event.add("summary", "Weekly bilateral call (generated)")
    organizer = icalendar.vCalAddress("mailto:forum@example.edu")
    organizer.params["cn"] = icalendar.vText("Forum Office, Example University")
    event.add("organizer", organizer)
    attendee = icalendar.vCalAddress("mailto:pat@wayne.example")
    attendee.params.update(
        {"cn": icalendar.vText("Pat Doe"), "role": "REQ-PARTICIPANT", "rsvp": "TRUE"}
    )
    event.add("attendee", attendee)
    cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


GENERATED_STARTS = [  # no override in this one: 03-24 stays at 10:00 EDT
    "2025-02-24T15:00:00Z",
    "2025-03-03T15:00:00Z",
    "2025-03-10T14:00:00Z",
    "2025-03-24T14:00:00Z",
    "2025-03-31T14:00:00Z",
]


# --- good files pass --------------------------------------------------------------------


def test_good_request_passes() -> None:
    check_calendar(
        sample("good_request.ics"), method="REQUEST", expect_utc=["2025-04-02T14:00:00Z"]
    )


def test_recurring_series_across_dst_with_exdate_and_override_passes() -> None:
    data = sample("recurring_detroit.ics")
    assert utc_starts(data) == {name: DETROIT_STARTS for name in calendars.PARSERS}
    check_calendar(data, method="REQUEST", expect_utc=DETROIT_STARTS)
    check_calendar(data, method="REQUEST", expect_utc=DETROIT_STARTS[:2])  # a prefix
    check_calendar(data, method="REQUEST")  # agreement alone


def as_feed(data: bytes) -> bytes:
    """``data`` without METHOD, ORGANIZER and ATTENDEE: a subscription feed."""
    return re.sub(rb"(METHOD|ORGANIZER|ATTENDEE)[:;][^\r]*\r\n( [^\r]*\r\n)*", b"", data)


def test_cancelled_override_removes_its_instance_in_every_parser() -> None:
    # In a feed (iTIP forbids STATUS:CANCELLED in a REQUEST: libical and the lint refuse it).
    data = with_override(
        as_feed(sample("recurring_detroit.ics")), b"SUMMARY:", b"STATUS:CANCELLED\r\nSUMMARY:"
    )
    expected = [t for t in DETROIT_STARTS if t != "2025-03-24T15:00:00Z"]
    assert utc_starts(data) == {name: expected for name in calendars.PARSERS}
    # icalcheck's validators keep the cancelled instance; it is given the starts with it.
    check_calendar(data, method=None, expect_utc=expected)


def test_cancelled_series_keeps_its_starts() -> None:
    """METHOD:CANCEL names what it cancels: a cancelled master keeps its instances."""
    data = sample("recurring_detroit.ics").replace(b"METHOD:REQUEST", b"METHOD:CANCEL")
    data = data.replace(b"SEQUENCE:2\r\n", b"SEQUENCE:3\r\nSTATUS:CANCELLED\r\n")
    assert utc_starts(data)["recurring-ical-events"] == DETROIT_STARTS
    check_calendar(data, method="CANCEL", expect_utc=DETROIT_STARTS)


def test_unbounded_series_stops_at_count() -> None:
    data = sample("recurring_detroit.ics").replace(b";COUNT=6", b"")
    starts = utc_starts(data, count=12)
    assert {len(v) for v in starts.values()} == {12}
    assert len({tuple(v) for v in starts.values()}) == 1
    assert starts["vobject"][:5] == DETROIT_STARTS[:3] + [
        "2025-03-24T15:00:00Z",
        "2025-03-31T14:00:00Z",
    ]
    check_calendar(data, method="REQUEST", count=12)


def test_splitting_the_rdate_list_fixes_the_generated_vtimezone() -> None:
    cal = icalendar.Calendar.from_ical(generated_with_add_missing_timezones())
    for observance in cal.walk("STANDARD") + cal.walk("DAYLIGHT"):
        if "RDATE" in observance:
            dates = [d.dt for rdate in [observance.pop("RDATE")] for d in rdate.dts]
            for value in dates:
                observance.add("RDATE", value)
    check_calendar(cal.to_ical(), method="REQUEST", expect_utc=GENERATED_STARTS)


# --- broken files fail ------------------------------------------------------------------


def test_missing_vtimezone_fails() -> None:
    with pytest.raises(AssertionError, match=r"without a VTIMEZONE.*America/New_York"):
        check_calendar(
            sample("missing_vtimezone.ics"), method="REQUEST", expect_utc=["2025-04-02T14:00:00Z"]
        )


def test_bare_lf_fails() -> None:
    data = sample("good_request.ics").replace(b"\r\n", b"\n")
    with pytest.raises(AssertionError, match="bare LF"):
        check_calendar(data, method="REQUEST")


def test_line_over_75_octets_fails() -> None:
    data = sample("good_request.ics").replace(
        b"https://vide\r\n o.example", b"https://video.example"
    )
    with pytest.raises(AssertionError, match=r"line 35 has 112 octets \(max 75\)"):
        check_calendar(data, method="REQUEST")


def test_fold_inside_a_utf8_character_fails() -> None:
    data = sample("good_request.ics")
    # Move the fold of the first folded line with a non-ASCII character into the character.
    line = next(m for m in re.finditer(rb"[^\r\n]*[\x80-\xff][^\r\n]*\r\n ", data))
    index = data.index(b"\xc3", line.start())
    broken = data[: index + 1] + b"\r\n " + data[index + 1 :]
    with pytest.raises(AssertionError, match="fold splits a character"):
        check_calendar(broken, method="REQUEST")


def test_method_must_match() -> None:
    data = sample("good_request.ics")
    with pytest.raises(AssertionError, match="must carry no METHOD"):
        check_calendar(data, method=None)
    with pytest.raises(AssertionError, match="expected CANCEL"):
        check_calendar(data, method="CANCEL")


def test_wrong_expectation_fails_and_shows_both_lists() -> None:
    wrong = [*DETROIT_STARTS[:3], "2025-03-24T14:00:00Z"]
    with pytest.raises(AssertionError, match=r"expected : .*\n  computed : "):
        check_calendar(sample("recurring_detroit.ics"), method="REQUEST", expect_utc=wrong)


def test_comma_rdate_vtimezone_fails_the_cross_check() -> None:
    data = generated_with_add_missing_timezones()
    assert b"RDATE:19740106T030000,19750427T030000," in data
    starts = utc_starts(data)
    # Measured: icalendar alone (dateutil's tzical on the VTIMEZONE) and r-i-e (zoneinfo)
    # are right; vobject puts every instance after the DST change one hour late.
    assert starts["icalendar"] == GENERATED_STARTS
    assert starts["recurring-ical-events"] == GENERATED_STARTS
    assert starts["vobject"] == [
        "2025-02-24T15:00:00Z",
        "2025-03-03T15:00:00Z",
        "2025-03-10T15:00:00Z",
        "2025-03-24T15:00:00Z",
        "2025-03-31T15:00:00Z",
    ]
    with pytest.raises(AssertionError, match=r"(?s)disagree.*index 2.*vobject\s+: 2025-03-10T15"):
        check_calendar(data, method="REQUEST", expect_utc=GENERATED_STARTS)
    # The harness finds it too, through ical.js and its own vobject run.
    with pytest.raises(AssertionError, match=r"FAIL\s+cross-check(?s:.*)ical\.js/vobject"):
        run_icalcheck(data, method="REQUEST", options=["--occurrences", "5"])


def test_override_matching_no_instance_fails_the_cross_check() -> None:
    data = with_override(
        sample("recurring_detroit.ics"),
        b"RECURRENCE-ID;TZID=America/Detroit:20250324T100000",
        b"RECURRENCE-ID;TZID=America/Detroit:20250324T090000",
    )
    with pytest.raises(AssertionError, match=r"disagree(?s:.*)recurring-ical-events"):
        check_calendar(data, method="REQUEST")


def test_icalcheck_catches_what_the_python_parsers_accept() -> None:
    """A REQUEST without ATTENDEE parses everywhere; libical's RFC 5546 tables refuse it."""
    data = re.sub(rb"ATTENDEE[^\r]*\r\n( [^\r]*\r\n)*", b"", sample("good_request.ics"))
    assert b"ATTENDEE" not in data
    assert utc_starts(data)["vobject"] == ["2025-04-02T14:00:00Z"]
    with pytest.raises(AssertionError, match=r"FAIL\s+libical"):
        check_calendar(data, method="REQUEST")


def test_without_icalcheck_the_python_checks_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calendars, "icalcheck_built", lambda: False)
    bare_lf = sample("good_request.ics").replace(b"\r\n", b"\n")
    with pytest.raises(AssertionError, match="bare LF"):
        check_calendar(bare_lf, method="REQUEST")
    with pytest.raises((pytest.skip.Exception, pytest.fail.Exception), match="make icalcheck"):
        check_calendar(sample("good_request.ics"), method="REQUEST")


# --- e-mails ----------------------------------------------------------------------------


def test_imip_email_passes() -> None:
    parts = check_email(
        sample("imip_request.eml"), method="REQUEST", expect_utc=["2025-04-02T14:00:00Z"]
    )
    assert len(parts) == 2  # the inline text/calendar part and the invite.ics attachment
    assert all(part.startswith(b"BEGIN:VCALENDAR\r\n") for part in parts)


def test_email_without_method_parameter_fails() -> None:
    raw = sample("imip_request.eml").replace(
        b'Content-Type: text/calendar; method="REQUEST"; charset="UTF-8"',
        b'Content-Type: text/calendar; charset="UTF-8"',
    )
    with pytest.raises(AssertionError, match="no method= parameter"):
        check_email(raw, method="REQUEST")


def test_email_without_charset_or_with_another_method_fails() -> None:
    raw = sample("imip_request.eml")
    no_charset = raw.replace(b'; charset="UTF-8"', b"")
    with pytest.raises(AssertionError, match="no charset"):
        check_email(no_charset, method="REQUEST")
    with pytest.raises(AssertionError, match="method=REQUEST, expected CANCEL"):
        check_email(raw, method="CANCEL")
