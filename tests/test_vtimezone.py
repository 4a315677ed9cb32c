"""VTIMEZONEs, parsed back by icalendar and vobject, give zoneinfo's offsets."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from collections.abc import Iterable

import dateutil.rrule
import icalendar
import pytest
import vobject

from forum.calendar.vtimezone import vtimezone

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)
SECOND = dt.timedelta(seconds=1)

ZONES = [
    "Asia/Shanghai",
    "America/Detroit",
    "Europe/London",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
    "Pacific/Apia",  # dropped DST in 2021
    "Asia/Tehran",  # dropped DST in 2022
    "America/Sao_Paulo",  # dropped DST in 2019
    "Africa/Casablanca",  # Ramadan changes
    "Asia/Jerusalem",  # Friday before the last Sunday of March
    "Australia/Lord_Howe",  # 30-minute DST
    "America/St_Johns",  # -03:30
    "Europe/Dublin",  # negative DST in tzdata
    "Antarctica/Troll",  # 2-hour DST
    "Asia/Qatar",
    "Asia/Gaza",  # Ramadan changes listed to 2086, then a yearly rule
    "America/Nuuk",  # Saturday 23:00 before the last Sunday of March
    "America/Santiago",  # Sunday after the first Saturday
]
# (first year, last year); None: a series with no end, checked up to CHECK_OPEN_UNTIL.
RANGES = [(2019, 2021), (2020, 2030), (2026, None)]
CHECK_OPEN_UNTIL = 2060


def bounds(first: int, last: int | None) -> tuple[dt.datetime, dt.datetime | None]:
    end = None if last is None else dt.datetime(last, 12, 31, 23, 59, tzinfo=UTC)
    return dt.datetime(first, 1, 1, tzinfo=UTC), end


def as_calendar(timezone: icalendar.Timezone) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//forum//tests//EN")
    calendar.add("VERSION", "2.0")
    calendar.add_component(timezone)
    return calendar.to_ical()


def parse_icalendar(data: bytes) -> dt.tzinfo:
    (timezone,) = icalendar.Calendar.from_ical(data).walk("VTIMEZONE")
    # lookup_tzid=False: by default icalendar returns zoneinfo's zone for a known TZID,
    # which would test nothing.
    return timezone.to_tz(lookup_tzid=False)


def parse_vobject(data: bytes) -> dt.tzinfo:
    (calendar,) = vobject.readComponents(data.decode())
    return calendar.vtimezone.gettzinfo()


PARSERS: dict[str, Callable[[bytes], dt.tzinfo]] = {
    "icalendar": parse_icalendar,
    "vobject": parse_vobject,
}


def offset(zone: dt.tzinfo, instant: dt.datetime) -> dt.timedelta | None:
    return instant.astimezone(zone).utcoffset()


def transitions(zone: zoneinfo.ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """zoneinfo's changes of UTC offset from `start` to `end`, to the second.

    Found independently of the code under test: daily probes, then a bisection.
    """
    found = []
    lo, hi = int(start.timestamp()), int(end.timestamp())
    at = lo
    while at < hi:
        probe = min(at + 86_400, hi)
        before = offset(zone, dt.datetime.fromtimestamp(at, UTC))
        if offset(zone, dt.datetime.fromtimestamp(probe, UTC)) == before:
            at = probe
            continue
        same, changed = at, probe
        while changed - same > 1:
            middle = (same + changed) // 2
            if offset(zone, dt.datetime.fromtimestamp(middle, UTC)) == before:
                same = middle
            else:
                changed = middle
        found.append(dt.datetime.fromtimestamp(changed, UTC))
        at = changed
    return found


def standard_offset(parsed: dt.tzinfo, zone: zoneinfo.ZoneInfo, instant: dt.datetime):
    local = instant.astimezone(zone).replace(tzinfo=parsed)  # keeps zoneinfo's fold
    return local.utcoffset() - local.dst()


def checkpoints(
    parsed: dt.tzinfo,
    zone: zoneinfo.ZoneInfo,
    start: dt.datetime,
    end: dt.datetime,
    every: dt.timedelta,
) -> list[tuple[dt.datetime, bool]]:
    """(instant, whether to check it from UTC too): each transition's edges, and samples.

    dateutil's fromutc (under astimezone) is the algorithm of Python's tzinfo docs, which
    assumes one standard offset (utcoffset - dst): next to a change of it (Asia/Almaty's
    +06 to +05 in 2024, America/Nuuk's -03 to -02 in 2023) it is an hour off, whatever
    the VTIMEZONE says. There the wall-clock check alone applies.
    """
    checked = []
    for change in transitions(zone, start, end):
        steady = standard_offset(parsed, zone, change - SECOND) == standard_offset(
            parsed, zone, change
        )
        checked += [(edge, steady) for edge in (change - HOUR, change - SECOND, change)]
        checked.append((change + HOUR, steady))
    sample = start
    while sample <= end:
        checked.append((sample, True))
        sample += every
    return [(instant, from_utc) for instant, from_utc in checked if start <= instant <= end]


def mismatches(
    parsed: dt.tzinfo, zone: zoneinfo.ZoneInfo, checked: Iterable[tuple[dt.datetime, bool]]
) -> list[tuple[str, str, dt.timedelta | None, dt.timedelta | None]]:
    """Where `parsed` and zoneinfo disagree on the UTC offset.

    Checked by wall-clock time (with zoneinfo's fold), as a client reads a DTSTART with a
    TZID, and from the UTC instant.
    """
    wrong = []
    for instant, from_utc in checked:
        local = instant.astimezone(zone)
        expected = local.utcoffset()
        by_wall = local.replace(tzinfo=parsed).utcoffset()
        if by_wall != expected:
            wrong.append((instant.isoformat(), "wall", expected, by_wall))
        if from_utc and offset(parsed, instant) != expected:
            wrong.append((instant.isoformat(), "utc", expected, offset(parsed, instant)))
    return wrong


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(("first", "last"), RANGES)
@pytest.mark.parametrize("tzid", ZONES)
def test_parsed_offsets_match_zoneinfo(tzid: str, first: int, last: int | None, parser: str):
    start, end = bounds(first, last)
    data = as_calendar(vtimezone(tzid, start, end))
    parsed = PARSERS[parser](data)
    zone = zoneinfo.ZoneInfo(tzid)
    check_end = end or dt.datetime(CHECK_OPEN_UNTIL, 12, 31, 23, 59, tzinfo=UTC)
    checked = checkpoints(parsed, zone, start, check_end, dt.timedelta(days=13, hours=5))
    assert mismatches(parsed, zone, checked) == []


@pytest.mark.parametrize(("first", "last"), RANGES)
@pytest.mark.parametrize("tzid", ZONES)
def test_shape(tzid: str, first: int, last: int | None):
    start, end = bounds(first, last)
    timezone = vtimezone(tzid, start, end)
    assert timezone["TZID"] == tzid
    observances = timezone.subcomponents
    assert observances
    assert {o.name for o in observances} <= {"STANDARD", "DAYLIGHT"}
    # The first onset (DTSTART read in TZOFFSETFROM) is no later than the range's start.
    onsets = [o.DTSTART.replace(tzinfo=UTC) - o["TZOFFSETFROM"].td for o in observances]
    assert min(onsets) <= start
    for observance in observances:
        assert observance.DTSTART.tzinfo is None
        assert "TZNAME" in observance
    # RDATE lists with several values are read as their first value only by ical.js and
    # vobject: never more than one value a line.
    lines = as_calendar(timezone).decode().replace("\r\n ", "").splitlines()
    assert [line for line in lines if line.startswith("RDATE") and "," in line] == []


def test_no_transitions_one_standard_observance():
    for tzid in ("Asia/Shanghai", "Asia/Tokyo", "Asia/Qatar", "Asia/Kolkata"):
        timezone = vtimezone(tzid, *bounds(2026, None))
        (observance,) = timezone.subcomponents
        assert observance.name == "STANDARD"
        assert observance["TZOFFSETFROM"].td == observance["TZOFFSETTO"].td
        expected = zoneinfo.ZoneInfo(tzid).utcoffset(dt.datetime(2026, 6, 1))
        assert observance["TZOFFSETTO"].td == expected
        assert "RRULE" not in observance


def rrules(timezone: icalendar.Timezone) -> list[tuple[str, str]]:
    """(kind, RRULE) of every observance: a KeyError if one has no RRULE."""
    return sorted((o.name, o["RRULE"].to_ical().decode()) for o in timezone.subcomponents)


def test_open_ended_zones_with_yearly_rules_get_rrules():
    assert rrules(vtimezone("America/Detroit", *bounds(2026, None))) == [
        ("DAYLIGHT", "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"),
        ("STANDARD", "FREQ=YEARLY;BYMONTH=11;BYDAY=1SU"),
    ]
    assert rrules(vtimezone("Europe/London", *bounds(2026, None))) == [
        ("DAYLIGHT", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"),
        ("STANDARD", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"),
    ]
    assert rrules(vtimezone("Australia/Sydney", *bounds(2026, None))) == [
        ("DAYLIGHT", "FREQ=YEARLY;BYMONTH=10;BYDAY=1SU"),
        ("STANDARD", "FREQ=YEARLY;BYMONTH=4;BYDAY=1SU"),
    ]


def test_irregular_zone_stays_right_past_the_horizon():
    """Asia/Gaza's Ramadan-bound changes are explicit up to 2087, then its yearly rule."""
    start, end = dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2100, 1, 1, tzinfo=UTC)
    zone = zoneinfo.ZoneInfo("Asia/Gaza")
    parsed = parse_icalendar(as_calendar(vtimezone("Asia/Gaza", start, None)))
    checked = checkpoints(parsed, zone, start, end, dt.timedelta(days=29))
    assert mismatches(parsed, zone, checked) == []


def onsets(timezone: icalendar.Timezone, until: dt.datetime) -> set[tuple]:
    """(kind, local start, offset from, offset to) of every onset up to `until`."""
    found = set()
    for observance in timezone.subcomponents:
        starts = [observance.DTSTART]
        if "RRULE" in observance:
            rule = observance["RRULE"].to_ical().decode()
            starts = dateutil.rrule.rrulestr(rule, dtstart=observance.DTSTART).between(
                observance.DTSTART, until, inc=True
            )
        found |= {
            (observance.name, start, observance["TZOFFSETFROM"].td, observance["TZOFFSETTO"].td)
            for start in starts
        }
    return found


def test_detroit_2020():
    timezone = vtimezone(
        "America/Detroit",
        dt.datetime(2020, 1, 1, tzinfo=zoneinfo.ZoneInfo("America/Detroit")),
        dt.datetime(2020, 12, 31, tzinfo=zoneinfo.ZoneInfo("America/Detroit")),
    )
    found = onsets(timezone, dt.datetime(2021, 1, 1))
    assert ("DAYLIGHT", dt.datetime(2020, 3, 8, 2), -5 * HOUR, -4 * HOUR) in found
    assert ("STANDARD", dt.datetime(2020, 11, 1, 2), -4 * HOUR, -5 * HOUR) in found
    assert {o["TZNAME"] for o in timezone.subcomponents} == {"EST", "EDT"}


def test_jerusalem_friday_before_last_sunday():
    timezone = vtimezone("Asia/Jerusalem", *bounds(2026, None))
    assert rrules(timezone) == [
        ("DAYLIGHT", "FREQ=YEARLY;BYMONTH=3;BYDAY=FR;BYMONTHDAY=23,24,25,26,27,28,29"),
        ("STANDARD", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"),
    ]


def test_callers_get_their_own_copy():
    span = bounds(2026, None)
    first = vtimezone("Asia/Jerusalem", *span)
    expected = first.to_ical()
    for observance in first.subcomponents:
        observance["RRULE"].get("BYMONTHDAY", []).append(30)
        observance["RRULE"]["BYMONTH"] = [4]
    first.subcomponents.pop()
    first["TZID"] = "Changed"
    assert vtimezone("Asia/Jerusalem", *span).to_ical() == expected


def test_rejects_naive_and_reversed_ranges():
    with pytest.raises(ValueError, match="aware"):
        vtimezone("Europe/London", dt.datetime(2026, 1, 1), None)
    with pytest.raises(ValueError, match="before"):
        vtimezone("Europe/London", *reversed(bounds(2026, 2027)))  # type: ignore[arg-type]
    with pytest.raises(zoneinfo.ZoneInfoNotFoundError):
        vtimezone("Mars/Olympus_Mons", *bounds(2026, None))


def test_all_zones_2024_to_2028():
    """Every zone, with icalendar's parser: daily instants and the edges of transitions.

    Zones that are aliases give the same observances, which are checked once.
    """
    start, end = dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2028, 12, 31, tzinfo=UTC)
    seen: set[bytes] = set()
    failures = {}
    for tzid in sorted(zoneinfo.available_timezones()):
        timezone = vtimezone(tzid, start, end)
        body = b"".join(o.to_ical() for o in timezone.subcomponents)
        if body in seen:
            continue
        seen.add(body)
        zone = zoneinfo.ZoneInfo(tzid)
        parsed = parse_icalendar(as_calendar(timezone))
        checked = checkpoints(parsed, zone, start, end, dt.timedelta(days=1, hours=1))
        wrong = mismatches(parsed, zone, checked)
        if wrong:
            failures[tzid] = wrong[:3]
    assert failures == {}
