"""Inputs for the slot-search benchmark: many people in many zones, some of their time busy."""

from __future__ import annotations

import datetime as dt
import random

from forum.scheduling.model import Participant
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import busy_minutes
from forum.scheduling.model import parse_hours

# 18 zones on every continent, with and without daylight saving, one across the date line.
ZONES = [
    ("Asia/Shanghai", "CN"),
    ("Asia/Tokyo", "JP"),
    ("Asia/Qatar", "QA"),
    ("America/Detroit", "US"),
    ("America/Los_Angeles", "US"),
    ("Europe/Rome", "IT"),
    ("Europe/Paris", "FR"),
    ("Europe/London", "GB"),
    ("Europe/Madrid", "ES"),
    ("Asia/Jerusalem", "IL"),
    ("Europe/Moscow", "RU"),
    ("Asia/Singapore", "SG"),
    ("Asia/Seoul", "KR"),
    ("America/Toronto", "CA"),
    ("Australia/Sydney", "AU"),
    ("Pacific/Auckland", "NZ"),
    ("Asia/Kolkata", "IN"),
    ("America/Sao_Paulo", "BR"),
]
INSTITUTIONS = 40
WORKING = parse_hours({d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})
ACCEPTABLE = parse_hours(
    {d: [["07:00", "22:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
)


def participants(
    count: int = 1000,
    *,
    busy_share: float = 0.05,
    seed: int = 2020,
    window_start: dt.datetime,
    days: int = 30,
) -> list[Participant]:
    """``count`` people at 40 institutions (as many as the forum of SPEC section 1) spread
    over the zones, each busy for ``busy_share`` of the window in one-hour blocks, 10 % of
    them optional. An institution's people share its zone."""
    rng = random.Random(seed)
    blocks = int(days * 24 * busy_share)
    people = []
    for person_id in range(count):
        institution_id = person_id % INSTITUTIONS
        zone, country = ZONES[institution_id % len(ZONES)]
        busy = []
        for _ in range(blocks):
            start = window_start + dt.timedelta(minutes=15 * rng.randrange(days * 96))
            busy.append((start, start + dt.timedelta(hours=1)))
        people.append(
            Participant(
                person_id=person_id,
                timezone=zone,
                working_hours=WORKING,
                acceptable_hours=ACCEPTABLE,
                country=country,
                institution_id=institution_id,
                busy=busy_minutes(busy),
                required=rng.random() > 0.1,
            )
        )
    return people


def options(window_start: dt.datetime, *, days: int = 30, step: int = 15) -> SearchOptions:
    return SearchOptions(
        duration=dt.timedelta(hours=1),
        window_start=window_start,
        window_end=window_start + dt.timedelta(days=days),
        step_minutes=step,
        limit=10,
    )
