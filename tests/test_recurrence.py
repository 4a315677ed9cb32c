"""Recurring sessions keep their anchor zone's wall-clock time across DST changes."""

from __future__ import annotations

import datetime as dt
import itertools

from forum.core.recurrence import occurrences


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_a_beijing_series_is_fixed_in_utc_and_moves_for_ann_arbor():
    # 21:00 in Beijing is 13:00 UTC every week (China has no DST); Ann Arbor sees 08:00
    # before 8 March 2020 (EST) and 09:00 after (EDT).
    starts = [
        s
        for s, _ in occurrences(
            start=utc(2020, 2, 26, 13),
            end=utc(2020, 2, 26, 14),
            timezone="Asia/Shanghai",
            rrule="FREQ=WEEKLY;COUNT=4",
        )
    ]
    assert starts == [
        utc(2020, 2, 26, 13),
        utc(2020, 3, 4, 13),
        utc(2020, 3, 11, 13),
        utc(2020, 3, 18, 13),
    ]


def test_a_detroit_series_keeps_9am_local_across_the_us_change():
    # 09:00 EST = 14:00 UTC; from 8 March 2020, 09:00 EDT = 13:00 UTC.
    starts = [
        s
        for s, _ in occurrences(
            start=utc(2020, 3, 2, 14),
            end=utc(2020, 3, 2, 15),
            timezone="America/Detroit",
            rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=3",
        )
    ]
    assert starts == [utc(2020, 3, 2, 14), utc(2020, 3, 9, 13), utc(2020, 3, 16, 13)]


def test_a_london_series_keeps_its_hour_across_the_european_change():
    # 10:00 GMT = 10:00 UTC; from 29 March 2020, 10:00 BST = 09:00 UTC.
    starts = [
        s
        for s, _ in occurrences(
            start=utc(2020, 3, 22, 10),
            end=utc(2020, 3, 22, 11),
            timezone="Europe/London",
            rrule="FREQ=WEEKLY;COUNT=2",
        )
    ]
    assert starts == [utc(2020, 3, 22, 10), utc(2020, 3, 29, 9)]


def test_an_occurrence_in_the_gap_uses_the_offset_before_it():
    # Daily at 02:30 in Detroit: on 8 March 2020 02:30 does not exist; RFC 5545 reads it
    # with the offset before the gap (EST), which is 03:30 EDT = 07:30 UTC.
    starts = [
        s
        for s, _ in occurrences(
            start=utc(2020, 3, 7, 7, 30),
            end=utc(2020, 3, 7, 8, 30),
            timezone="America/Detroit",
            rrule="FREQ=DAILY;COUNT=3",
        )
    ]
    assert starts == [utc(2020, 3, 7, 7, 30), utc(2020, 3, 8, 7, 30), utc(2020, 3, 9, 6, 30)]


def test_excluded_dates_and_past_occurrences_are_skipped():
    series = dict(
        start=utc(2027, 3, 1, 8),
        end=utc(2027, 3, 1, 9),
        timezone="Australia/Sydney",
        rrule="FREQ=WEEKLY;COUNT=5",
        exdates=["2027-03-08T08:00:00Z"],
    )
    all_starts = [s for s, _ in occurrences(**series)]
    assert utc(2027, 3, 8, 8) not in all_starts
    assert len(all_starts) == 4
    later = [s for s, _ in occurrences(**series, after=utc(2027, 3, 16))]
    assert later == all_starts[2:]


def test_an_endless_rule_stops_at_the_limit():
    endless = occurrences(
        start=utc(2027, 1, 4, 1),
        end=utc(2027, 1, 4, 2),
        timezone="Pacific/Auckland",
        rrule="FREQ=DAILY",
        limit=10,
    )
    assert len(list(itertools.islice(endless, 50))) == 10


def test_a_one_off_session_is_its_own_single_occurrence():
    one = dict(start=utc(2027, 1, 4, 1), end=utc(2027, 1, 4, 2), timezone="UTC", rrule=None)
    assert list(occurrences(**one)) == [(utc(2027, 1, 4, 1), utc(2027, 1, 4, 2))]
    assert list(occurrences(**one, after=utc(2027, 1, 4, 2))) == []
