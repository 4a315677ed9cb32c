"""The zone picker's choices: each current zone name with its city and its offset now.

The zone fields are text inputs with a datalist (templates/events/zones.html), searchable
as one types and usable without JavaScript; old names typed in are still accepted.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from forum.core import times
from forum.db import now_utc
from forum.web import bp


@lru_cache(maxsize=2)
def _choices_at(hour: dt.datetime) -> tuple[tuple[str, str], ...]:
    return tuple((name, times.zone_label(name, hour)) for name in times.usable_zone_names())


@bp.app_template_global("zone_choices")
def zone_choices() -> tuple[tuple[str, str], ...]:
    """(name, "City - UTC+hh:mm") for every zone offered, the offsets as of the start of
    this hour: made once an hour, and wrong only within the hour a zone's clocks change."""
    now = now_utc()
    return _choices_at(now.replace(minute=0, second=0, microsecond=0))
