"""Time input and output rules: IANA zones, instants in UTC, local times with DST gaps and folds.

Every layer (API, web forms, CLI) turns what a person typed into an instant here, so the
same input gives the same instant and the same error everywhere.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from functools import lru_cache
from importlib import resources
from pathlib import Path

from flask_babel import gettext as _

from forum.core.errors import ValidationFailed

UTC = dt.UTC
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# ISO 8601 date-time as people and programs write it: a "T" or a space between date and
# time, seconds and fractions optional, then an offset, "Z", or nothing.
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
    r"(?P<offset>Z|z|[+-]\d{2}(:?\d{2})?)?$"
)


class InvalidTime(ValueError):
    """A value that is not a zone, an instant or a local time in the expected form."""


@lru_cache(maxsize=1024)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def get_zone(name: object) -> zoneinfo.ZoneInfo:
    """The IANA zone called ``name``; abbreviations and fixed offsets are refused.

    "UTC" is accepted; otherwise a name must be an Area/Location zone ("Europe/London"),
    not a legacy abbreviation ("EST", "GMT", "CET") nor a fixed offset ("Etc/GMT+5"),
    which would not follow the place's daylight-saving rules.
    """
    if not isinstance(name, str) or not name:
        raise InvalidTime(_("must be an IANA time zone name such as Europe/London"))
    if name in ("UTC", "Etc/UTC"):
        return _zone(name)
    if name in _known_zones() and "/" in name and not name.startswith("Etc/"):
        return _zone(name)
    if name in _known_zones():
        raise InvalidTime(
            _(
                "%(name)s is an abbreviation or a fixed offset; "
                "use a place's IANA zone such as Europe/London",
                name=repr(name),
            )
        )
    raise InvalidTime(
        _("unknown time zone %(name)s: use an IANA name such as Asia/Shanghai", name=repr(name))
    )


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _tz_source(name: str) -> str:
    """A file of the IANA tz database, from the tzdata package the zones come from, else
    from the system's zoneinfo directory."""
    try:
        return resources.files("tzdata.zoneinfo").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        for directory in zoneinfo.TZPATH:
            path = Path(directory) / name
            if path.is_file():
                return path.read_text(encoding="utf-8")
    raise FileNotFoundError(f"no {name} in the tzdata package nor in {zoneinfo.TZPATH}")


@lru_cache(maxsize=1)
def _canonical_zones() -> frozenset[str]:
    """The places' zones as the tz database lists them for each country (zone.tab and
    zone1970.tab), and UTC: none of the old names kept only as links (US/Pacific,
    Asia/Calcutta, Africa/Asmera), which ``available_timezones()`` lists too."""
    names = {"UTC"}
    for table in ("zone.tab", "zone1970.tab"):
        for line in _tz_source(table).splitlines():
            if line and not line.startswith("#"):
                names.add(line.split("\t")[2])
    return frozenset(names & _known_zones())


@lru_cache(maxsize=1)
def _zone_links() -> dict[str, str]:
    """Each link name of the tz database and the zone it names ("L target alias" lines)."""
    links = {}
    for line in _tz_source("tzdata.zi").splitlines():
        if line.startswith("L "):
            _kind, target, alias = line.split()
            links[alias] = target
    return links


@lru_cache(maxsize=1)
def _current_names() -> dict[str, str]:
    """Each old zone name and the one current name it stands for, where there is one.

    The tz database links an old name to the zone it now shares rules with, which can be
    several countries' zone (Africa/Asmera to Africa/Nairobi, which Africa/Asmara and
    Africa/Kampala link to as well): such a name is left as it is, still accepted.
    """
    canonical = _canonical_zones()
    links = _zone_links()
    names_of: dict[str, set[str]] = {}
    for alias, target in links.items():
        if alias in canonical:
            names_of.setdefault(target, set()).add(alias)
    return {
        alias: target
        for alias, target in links.items()
        if alias not in canonical and target in canonical and not names_of.get(target)
    }


def canonical_zone_name(name: str) -> str:
    """The current name of a zone known by an old one (US/Pacific: America/Los_Angeles),
    where it names one place's zone; any other name as it is."""
    return _current_names().get(name, name)


@lru_cache(maxsize=1)
def usable_zone_names() -> list[str]:
    """The current zone names ``get_zone`` accepts, sorted: for pickers. Old names are still
    accepted when typed, but not offered."""
    return sorted(name for name in _canonical_zones() if name == "UTC" or _is_place(name))


def _is_place(name: str) -> bool:
    return "/" in name and not name.startswith("Etc/")


def zone_label(name: str, at: dt.datetime) -> str:
    """A zone as a picker shows it: its city and its offset at ``at`` ("Qatar - UTC+03:00")."""
    city = name.rsplit("/", 1)[-1].replace("_", " ")
    return f"{city} - UTC{format_offset(_offset_at(at, get_zone(name)))}"


def check_zone_name(name: object) -> str:
    """The zone's current name if ``name`` is a usable IANA zone (an old name is accepted
    and mapped to the current one), else raise InvalidTime."""
    get_zone(name)
    return canonical_zone_name(name)  # type: ignore[arg-type]


def _parse_iso(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATETIME.match(value.strip()):
        raise InvalidTime(_("must be an ISO 8601 date-time such as 2020-03-08T14:30:00Z"))
    try:
        return dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise InvalidTime(_("%(value)s is not a valid date-time", value=repr(value))) from None


def parse_instant(value: object) -> dt.datetime:
    """An ISO 8601 instant with an offset or ``Z``, returned in UTC."""
    parsed = _parse_iso(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidTime(
            _(
                "must carry an offset or Z (e.g. 2020-03-08T14:30:00Z); "
                "for a wall-clock time give local_start and timezone instead"
            )
        )
    return parsed.astimezone(UTC)


def parse_local(value: object) -> dt.datetime:
    """An ISO 8601 local date-time without offset, returned naive."""
    parsed = _parse_iso(value)
    if parsed.tzinfo is not None:
        raise InvalidTime(_("must be a local date-time without offset, e.g. 2020-03-08T09:00"))
    return parsed


def _offset_at(instant: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.timedelta:
    return instant.astimezone(zone).utcoffset() or dt.timedelta(0)


def _transition_between(
    earlier: dt.datetime, later: dt.datetime, zone: zoneinfo.ZoneInfo
) -> dt.datetime:
    """The first instant in (earlier, later] whose UTC offset differs from ``earlier``'s."""
    before = _offset_at(earlier, zone)
    lo, hi = earlier, later
    while hi - lo > dt.timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if _offset_at(mid, zone) == before:
            lo = mid
        else:
            hi = mid
    return hi


def resolve_local(
    local: dt.datetime,
    zone_name: str,
    *,
    fold: int | None = None,
    field: str = "local_start",
) -> dt.datetime:
    """The UTC instant of wall-clock time ``local`` in ``zone_name``.

    Refuses a time that does not exist (the clocks jumped over it) with
    ``nonexistent_local_time``, and a time that exists twice (the clocks went back) with
    ``ambiguous_local_time`` listing both instants, unless ``fold`` picks one: 0 the
    earlier, 1 the later (PEP 495).
    """
    zone = get_zone(zone_name)
    local = local.replace(tzinfo=None)
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first

    round_trip = first.astimezone(zone).replace(tzinfo=None)
    if round_trip != local:
        # A gap: fold=0 read it with the old offset, fold=1 with the new one.
        earlier, later = min(first, second), max(first, second)
        transition = _transition_between(earlier, later, zone)
        gap_start = transition.astimezone(zone).replace(tzinfo=None) - (
            _offset_at(transition, zone) - _offset_at(earlier, zone)
        )
        gap_end = transition.astimezone(zone).replace(tzinfo=None)
        problem = _(
            "%(local_time)s does not exist in %(zone)s: on %(day)s clocks jump from "
            "%(gap_start)s to %(gap_end)s",
            local_time=format_local(local),
            zone=zone_name,
            day=gap_start.strftime("%Y-%m-%d"),
            gap_start=gap_start.strftime("%H:%M"),
            gap_end=gap_end.strftime("%H:%M"),
        )
        raise ValidationFailed(
            {field: problem},
            message=problem,
            code="nonexistent_local_time",
            details={
                "timezone": zone_name,
                "local_time": format_local(local),
                "gap_start": format_local(gap_start),
                "gap_end": format_local(gap_end),
                "transition": format_instant(transition),
            },
        )

    instants = sorted((first, second))
    if fold in (0, 1):
        return instants[fold]
    offsets = [format_offset(_offset_at(i, zone)) for i in instants]
    problem = _(
        "%(local_time)s happens twice in %(zone)s (clocks go back): %(first)s "
        "(UTC%(first_offset)s) or %(second)s (UTC%(second_offset)s); give fold 0 for the first "
        "or 1 for the second",
        local_time=format_local(local),
        zone=zone_name,
        first=format_instant(instants[0]),
        first_offset=offsets[0],
        second=format_instant(instants[1]),
        second_offset=offsets[1],
    )
    raise ValidationFailed(
        {field: problem},
        message=problem,
        code="ambiguous_local_time",
        details={
            "timezone": zone_name,
            "local_time": format_local(local),
            "instants": [format_instant(i) for i in instants],
            "offsets": offsets,
        },
    )


def resolve_start(
    *,
    start: dt.datetime | None,
    local_start: dt.datetime | None,
    timezone: str | None,
    fold: int | None = None,
    default_timezone: str,
) -> tuple[dt.datetime, str]:
    """The instant and anchor zone of a start given as an instant or as local time + zone."""
    if start is not None and local_start is not None:
        raise ValidationFailed(
            {"start": _("give either start (an instant) or local_start with timezone, not both")}
        )
    if start is not None:
        if start.tzinfo is None:
            raise ValidationFailed({"start": _("must carry an offset or Z")})
        return start.astimezone(UTC), timezone or default_timezone
    if local_start is None:
        raise ValidationFailed({"start": _("required (or local_start with timezone)")})
    if not timezone:
        raise ValidationFailed({"timezone": _("required with local_start")})
    if fold not in (None, 0, 1):
        raise ValidationFailed({"fold": _("must be 0 or 1")})
    return resolve_local(local_start, timezone, fold=fold), timezone


def to_local(instant: dt.datetime, zone_name: str) -> dt.datetime:
    """The naive wall-clock time of ``instant`` in ``zone_name``."""
    return instant.astimezone(get_zone(zone_name)).replace(tzinfo=None)


def format_instant(instant: dt.datetime) -> str:
    """ISO 8601 in UTC with ``Z``, to the second: 2020-03-08T07:00:00Z."""
    return instant.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_local(local: dt.datetime) -> str:
    """ISO 8601 local date-time without offset: 2020-03-08T03:00:00."""
    return local.replace(tzinfo=None, microsecond=0).isoformat()


def format_offset(offset: dt.timedelta) -> str:
    """A UTC offset as +08:00 or -04:00 (+05:45 for Kathmandu)."""
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def describe_for_viewer(instant: dt.datetime, *zone_names: str) -> list[str]:
    """The instant as "Tue 10 Mar 2020 21:00 (Asia/Shanghai)" in each distinct zone, then UTC:
    in English, for logs and commands (pages use forum.i18n's forms)."""
    seen: list[str] = []
    for name in (*zone_names, "UTC"):
        if name and name not in seen:
            seen.append(name)
    lines = []
    for name in seen:
        local = instant.astimezone(get_zone(name))
        lines.append(f"{local:%a %d %b %Y %H:%M} ({name})")
    return lines
