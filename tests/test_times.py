"""Time input rules: IANA zones only, instants in UTC, DST gaps and folds in several zones."""

from __future__ import annotations

import datetime as dt

import pytest

from forum.core import times
from forum.core.errors import ValidationFailed


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# Local 09:00 the day before and the day after each zone's 2020 clock change, with the UTC
# offsets written out by hand from the published rules.
NINE_AM_AROUND_2020_CHANGES = [
    # China has had no DST since 1991: +08:00 all year.
    ("Asia/Shanghai", "2020-03-07T09:00", utc(2020, 3, 7, 1, 0)),
    ("Asia/Shanghai", "2020-03-09T09:00", utc(2020, 3, 9, 1, 0)),
    # US: EST -05:00 until 8 March 2020, EDT -04:00 until 1 November 2020.
    ("America/Detroit", "2020-03-07T09:00", utc(2020, 3, 7, 14, 0)),
    ("America/Detroit", "2020-03-09T09:00", utc(2020, 3, 9, 13, 0)),
    ("America/Detroit", "2020-10-31T09:00", utc(2020, 10, 31, 13, 0)),
    ("America/Detroit", "2020-11-02T09:00", utc(2020, 11, 2, 14, 0)),
    # UK: GMT +00:00 until 29 March 2020, BST +01:00 until 25 October 2020.
    ("Europe/London", "2020-03-28T09:00", utc(2020, 3, 28, 9, 0)),
    ("Europe/London", "2020-03-30T09:00", utc(2020, 3, 30, 8, 0)),
    ("Europe/London", "2020-10-24T09:00", utc(2020, 10, 24, 8, 0)),
    ("Europe/London", "2020-10-26T09:00", utc(2020, 10, 26, 9, 0)),
    # New South Wales: AEDT +11:00 until 5 April 2020, AEST +10:00 until 4 October 2020.
    ("Australia/Sydney", "2020-04-04T09:00", utc(2020, 4, 3, 22, 0)),
    ("Australia/Sydney", "2020-04-06T09:00", utc(2020, 4, 5, 23, 0)),
    ("Australia/Sydney", "2020-10-03T09:00", utc(2020, 10, 2, 23, 0)),
    ("Australia/Sydney", "2020-10-05T09:00", utc(2020, 10, 4, 22, 0)),
    # New Zealand, across the date line: NZDT +13:00 until 5 April, NZST +12:00 until
    # 27 September 2020. Local Monday morning is still Sunday in UTC.
    ("Pacific/Auckland", "2020-04-04T09:00", utc(2020, 4, 3, 20, 0)),
    ("Pacific/Auckland", "2020-04-06T09:00", utc(2020, 4, 5, 21, 0)),
    ("Pacific/Auckland", "2020-09-26T09:00", utc(2020, 9, 25, 21, 0)),
    ("Pacific/Auckland", "2020-09-28T09:00", utc(2020, 9, 27, 20, 0)),
]


@pytest.mark.parametrize(("zone", "local", "expected"), NINE_AM_AROUND_2020_CHANGES)
def test_local_time_resolves_to_the_right_instant(zone, local, expected):
    instant = times.resolve_local(times.parse_local(local), zone)
    assert instant == expected
    assert instant.tzinfo is dt.UTC
    # And back: the wall-clock time is kept.
    assert times.format_local(times.to_local(instant, zone)) == local + ":00"


GAPS = [
    ("America/Detroit", "2020-03-08T02:30", "02:00", "03:00", "2020-03-08T07:00:00Z"),
    ("Europe/London", "2020-03-29T01:30", "01:00", "02:00", "2020-03-29T01:00:00Z"),
    ("Australia/Sydney", "2020-10-04T02:30", "02:00", "03:00", "2020-10-03T16:00:00Z"),
    ("Pacific/Auckland", "2020-09-27T02:30", "02:00", "03:00", "2020-09-26T14:00:00Z"),
]


@pytest.mark.parametrize(("zone", "local", "gap_from", "gap_to", "transition"), GAPS)
def test_a_time_in_the_spring_forward_gap_is_refused(zone, local, gap_from, gap_to, transition):
    with pytest.raises(ValidationFailed) as caught:
        times.resolve_local(times.parse_local(local), zone, fold=0)
    error = caught.value
    assert error.code == "nonexistent_local_time"
    assert error.status == 422
    assert set(error.details["fields"]) == {"local_start"}
    assert error.details["gap_start"].endswith(gap_from + ":00")
    assert error.details["gap_end"].endswith(gap_to + ":00")
    assert error.details["transition"] == transition
    assert f"from {gap_from} to {gap_to}" in error.message


FOLDS = [
    ("America/Detroit", "2020-11-01T01:30", utc(2020, 11, 1, 5, 30), utc(2020, 11, 1, 6, 30)),
    ("Europe/London", "2020-10-25T01:30", utc(2020, 10, 25, 0, 30), utc(2020, 10, 25, 1, 30)),
    ("Australia/Sydney", "2020-04-05T02:30", utc(2020, 4, 4, 15, 30), utc(2020, 4, 4, 16, 30)),
    ("Pacific/Auckland", "2020-04-05T02:30", utc(2020, 4, 4, 13, 30), utc(2020, 4, 4, 14, 30)),
]


@pytest.mark.parametrize(("zone", "local", "first", "second"), FOLDS)
def test_a_time_that_happens_twice_needs_a_fold(zone, local, first, second):
    naive = times.parse_local(local)
    with pytest.raises(ValidationFailed) as caught:
        times.resolve_local(naive, zone)
    error = caught.value
    assert error.code == "ambiguous_local_time"
    assert error.details["instants"] == [times.format_instant(first), times.format_instant(second)]
    assert times.resolve_local(naive, zone, fold=0) == first
    assert times.resolve_local(naive, zone, fold=1) == second


def test_china_has_no_gap_on_the_us_change_day():
    local = times.parse_local("2020-03-08T02:30")
    assert times.resolve_local(local, "Asia/Shanghai") == utc(2020, 3, 7, 18, 30)


def test_the_field_name_is_the_callers():
    with pytest.raises(ValidationFailed) as caught:
        times.resolve_local(times.parse_local("2020-03-08T02:30"), "America/Detroit", field="x")
    assert set(caught.value.details["fields"]) == {"x"}


@pytest.mark.parametrize(
    "name", ["Mars/Olympus_Mons", "EST", "GMT", "CET", "Etc/GMT+5", "", " Europe/London", 8]
)
def test_zones_must_be_iana_places(name):
    with pytest.raises(times.InvalidTime):
        times.get_zone(name)


@pytest.mark.parametrize("name", ["UTC", "Asia/Shanghai", "America/Detroit", "Pacific/Auckland"])
def test_iana_zones_are_accepted(name):
    assert str(times.get_zone(name)) == name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-03-10T13:00:00Z", utc(2020, 3, 10, 13)),
        ("2020-03-10T21:00:00+08:00", utc(2020, 3, 10, 13)),
        ("2020-03-10 09:00-04:00", utc(2020, 3, 10, 13)),
        ("2020-03-10T13:00:00.250z", utc(2020, 3, 10, 13, 0, 0) + dt.timedelta(milliseconds=250)),
    ],
)
def test_instants_with_an_offset_are_read_in_utc(text, expected):
    assert times.parse_instant(text) == expected


@pytest.mark.parametrize(
    "text", ["2020-03-10T13:00:00", "2020-03-10", "tomorrow", 1583845200, "2020-02-30T10:00Z"]
)
def test_instants_without_an_offset_or_malformed_are_refused(text):
    with pytest.raises(times.InvalidTime):
        times.parse_instant(text)


def test_local_times_must_not_carry_an_offset():
    with pytest.raises(times.InvalidTime):
        times.parse_local("2020-03-10T09:00+08:00")


def test_a_viewer_sees_their_zone_the_home_zone_and_utc_with_weekdays():
    # Tuesday 21:00 in Beijing is Tuesday 09:00 in Ann Arbor (EDT) and 13:00 UTC.
    lines = times.describe_for_viewer(utc(2020, 3, 10, 13), "America/Detroit", "Asia/Shanghai")
    assert lines == [
        "Tue 10 Mar 2020 09:00 (America/Detroit)",
        "Tue 10 Mar 2020 21:00 (Asia/Shanghai)",
        "Tue 10 Mar 2020 13:00 (UTC)",
    ]


def test_a_day_that_wraps_is_shown_with_its_own_weekday():
    # Monday 20:00 UTC is already Tuesday morning in Auckland.
    lines = times.describe_for_viewer(utc(2020, 6, 1, 20), "Pacific/Auckland")
    assert lines == ["Tue 02 Jun 2020 08:00 (Pacific/Auckland)", "Mon 01 Jun 2020 20:00 (UTC)"]


@pytest.mark.parametrize(
    ("minutes", "text"), [(480, "+08:00"), (-240, "-04:00"), (345, "+05:45"), (0, "+00:00")]
)
def test_offsets_are_formatted_with_sign_hours_and_minutes(minutes, text):
    assert times.format_offset(dt.timedelta(minutes=minutes)) == text
