"""Weekly hours as people type them in a spreadsheet: ``mon-fri 09:00-18:00; sat 10:00-12:00``.

The text form is a list of entries separated by ``;``. Each entry names days, then local
ranges: ``mon-fri 09:00-12:00, 13:00-18:00``. Days are ``mon`` .. ``sun`` (any case), a span
``mon-fri`` (which may wrap: ``sun-thu``), or a list ``mon,wed,fri``; ``off`` instead of
ranges gives those days none. Days not named have no hours. The result is the JSON form
``{"mon": [["09:00", "18:00"]], ..., "sun": []}``; whether ranges are in order and do not
overlap is checked with the rest of the fields, by the same rules as the JSON form.
"""

from __future__ import annotations

import re

from forum.core.times import WEEKDAYS
from forum.i18n import _

EXAMPLE = "mon-fri 09:00-18:00; sat 10:00-12:00"
_RANGE = re.compile(r"^(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$")
_DAYS_THEN_RANGES = re.compile(r"^(\S+)\s+(.+)$")
# "mon - fri 09:00 - 12:00, 13:00 - 18:00" reads as "mon-fri 09:00-12:00,13:00-18:00".
_SPACED_PUNCTUATION = re.compile(r"\s*([,-])\s*")


class HoursSyntaxError(ValueError):
    """Text that is not in the compact form; the message says what was expected."""


def _days(spec: str) -> list[str]:
    days: list[str] = []
    for part in spec.lower().split(","):
        first, dash, last = part.partition("-")
        if first not in WEEKDAYS or (dash and last not in WEEKDAYS):
            raise HoursSyntaxError(
                _(
                    "%(part)s is not a day or a span of days: write mon, tue, ... sun, or mon-fri",
                    part=repr(part),
                )
            )
        start = WEEKDAYS.index(first)
        count = (WEEKDAYS.index(last) - start) % 7 + 1 if dash else 1
        days.extend(WEEKDAYS[(start + offset) % 7] for offset in range(count))
    return days


def _ranges(text: str) -> list[list[str]]:
    if text.strip().lower() == "off":
        return []
    ranges = []
    for part in text.replace(",", " ").split():
        match = _RANGE.match(part)
        if not match:
            raise HoursSyntaxError(
                _("%(part)s is not a range: write it as 09:00-18:00", part=repr(part))
            )
        # "9:00" is read as "09:00"; the HH:MM rule itself is checked with the other fields.
        ranges.append([value.zfill(5) for value in match.groups()])
    return ranges


def parse_hours(text: str) -> dict[str, list[list[str]]]:
    """The JSON form of ``text``; HoursSyntaxError when it is not in the compact form."""
    hours: dict[str, list[list[str]]] = {day: [] for day in WEEKDAYS}
    seen: set[str] = set()
    for entry in text.split(";"):
        entry = _SPACED_PUNCTUATION.sub(r"\1", entry.strip())
        if not entry:
            continue
        match = _DAYS_THEN_RANGES.match(entry)
        if not match:
            raise HoursSyntaxError(
                _(
                    "%(entry)s needs days and ranges, as in %(example)s (or 'sun off')",
                    entry=repr(entry),
                    example=repr(EXAMPLE),
                )
            )
        days = _days(match.group(1))
        ranges = _ranges(match.group(2))
        for day in days:
            if day in seen:
                raise HoursSyntaxError(_("%(day)s is given twice", day=day))
            seen.add(day)
            hours[day] = [list(r) for r in ranges]
    if not seen:
        raise HoursSyntaxError(_("write days and ranges, as in %(example)s", example=repr(EXAMPLE)))
    return hours


def format_hours(hours: dict[str, list[list[str]]]) -> str:
    """The compact form of ``hours``: neighbouring days with the same ranges share an entry.

    A span may wrap over the week's end, so a Sunday-to-Thursday week reads ``sun-thu``.
    """
    # (first day, last day, ranges) for each run of days with the same ranges.
    runs: list[tuple[int, int, list[list[str]]]] = []
    for index, day in enumerate(WEEKDAYS):
        ranges = hours.get(day, [])
        if runs and runs[-1][2] == ranges:
            runs[-1] = (runs[-1][0], index, ranges)
        else:
            runs.append((index, index, ranges))
    if len(runs) > 1 and runs[0][2] == runs[-1][2]:
        last = runs.pop()
        runs[0] = (last[0], runs[0][1], last[2])
    entries = []
    for first, last, ranges in runs:
        if not ranges:
            continue
        days = WEEKDAYS[first] if first == last else f"{WEEKDAYS[first]}-{WEEKDAYS[last]}"
        entries.append(f"{days} {', '.join(f'{start}-{end}' for start, end in ranges)}")
    return "; ".join(entries) or "mon-sun off"
