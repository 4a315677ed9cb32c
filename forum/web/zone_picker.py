"""The zone picker's choices: each current zone name with its city and its offset now.

The zone fields are text inputs with a datalist (templates/events/zones.html), searchable
as one types and usable without JavaScript; old names typed in are still accepted.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from forum.core import times
from forum.db import now_utc
from forum.i18n import current_locale
from forum.i18n import zone_place
from forum.web import bp


@lru_cache(maxsize=12)
def _choices_at(hour: dt.datetime, locale: str) -> tuple[tuple[str, str], ...]:
    if locale == "en":
        return tuple((name, times.zone_label(name, hour)) for name in times.usable_zone_names())
    # The city in the reader's language ("東京 - UTC+09:00"), the offset as everywhere.
    return tuple(
        (name, f"{zone_place(name, locale=locale)} - {_offset_text(name, hour)}")
        for name in times.usable_zone_names()
    )


def _offset_text(name: str, hour: dt.datetime) -> str:
    """ "UTC+09:00", as the English label ends."""
    return times.zone_label(name, hour).rsplit(" - ", 1)[-1]


@bp.app_template_global("zone_choices")
def zone_choices() -> tuple[tuple[str, str], ...]:
    """(name, "City - UTC+hh:mm") for every zone offered, the offsets as of the start of
    this hour, the city in the reader's language: made once an hour per language, and
    wrong only within the hour a zone's clocks change."""
    now = now_utc()
    return _choices_at(now.replace(minute=0, second=0, microsecond=0), current_locale())
