"""Checks for every calendar file and e-mail the product emits.

``check_calendar(data, method=...)`` and ``check_email(raw, method=...)`` assert the wire
format (UTF-8, CRLF, 75-octet folding on character boundaries), METHOD, one VTIMEZONE per
TZID, a clean parse, and that independent implementations compute the same UTC starts:

* ``icalendar`` alone: the file's VTIMEZONEs turned into tzinfos with ``Timezone.to_tz()``
  (not zoneinfo), each series expanded with dateutil's rrule;
* ``vobject``: its own VTIMEZONE handling and ``getrruleset()``;
* ``recurring-ical-events`` on top of icalendar (which resolves IANA TZIDs through zoneinfo);
* then the vendored multi-parser harness ``tests/tools/icalcheck`` (ical.js, libical,
  icalendar, vobject, byte-level lint), built by ``make icalcheck``.

Occurrences are compared as strings: ``2025-03-10T14:00:00Z`` for a date-time with a zone
or in UTC, ``2025-03-10`` for an all-day date, ``2025-03-10T10:00:00`` for a floating time
(the harness's formats). Per file: sorted, all VEVENTs merged, RRULE/RDATE expanded, EXDATE
removed, RECURRENCE-ID overrides applied; an override that matches no instance is ignored
(by icalendar and vobject here; recurring-ical-events shows it as an extra event, so such a
file fails the cross-check).

Cancelled instances: an override with ``STATUS:CANCELLED`` whose series master is in the
file and not cancelled itself removes that instance (it does not take place). A master with
``STATUS:CANCELLED`` (a whole series or event cancelled, as in ``METHOD:CANCEL``) and an
override without its master in the file (iTIP cancel of one instance) keep their starts:
they name what is cancelled. The harness's validators keep every cancelled instance, so for
a file with removed instances icalcheck is given the starts with them kept (computed here
with icalendar alone) as ``--expect-utc``.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from collections.abc import Iterable
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from pathlib import Path
from typing import Any

import icalendar
import recurring_ical_events
import vobject
import vobject.icalendar
from dateutil.rrule import rruleset
from dateutil.rrule import rrulestr

from tests.conftest import missing_service

ICALCHECK_DIR = Path(__file__).resolve().parent / "tools" / "icalcheck"
ICALCHECK = ICALCHECK_DIR / "icalcheck"
ICALCHECK_MISSING = "icalcheck (make icalcheck: needs libical-dev and npm)"

PARSERS = ("icalendar", "vobject", "recurring-ical-events")
MAX_LINE_OCTETS = 75
# Instances generated per series at most, whatever the rule (a guard against endless loops).
_HARD_CAP = 10_000
_TZID_PARAM = re.compile(r';TZID=("[^"]*"|[^;:]*)', re.IGNORECASE)


# --- formatting -------------------------------------------------------------------------


def _fmt(value: date | datetime | tuple) -> str:
    """The harness's occurrence format: UTC ``…Z``, floating without Z, all-day date."""
    if isinstance(value, tuple):  # RDATE;VALUE=PERIOD: the start counts
        value = value[0]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.strftime("%Y-%m-%dT%H:%M:%S")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _cancelled(status: Any) -> bool:
    return status is not None and str(status).strip().upper() == "CANCELLED"


# --- (a) icalendar alone, VTIMEZONE -> Timezone.to_tz(), dateutil rrule ------------------


class _Series:
    """One UID: its master (if in the file) and its overrides, as plain values."""

    def __init__(self) -> None:
        self.master: dict[str, Any] | None = None
        self.overrides: list[dict[str, Any]] = []


def _expand(
    series: dict[str, _Series],
    count: int,
    *,
    drop_cancelled: bool,
    rule_set: Callable[[dict[str, Any]], Iterable[date | datetime]],
) -> list[str]:
    """Merge the series' instances with overrides; ``rule_set(master)`` gives the iterable."""
    starts: list[str] = []
    for s in series.values():
        if s.master is None:  # standalone override(s): an iTIP message about one instance
            starts.extend(_fmt(o["start"]) for o in s.overrides)
            continue
        master = s.master
        rids = {_fmt(o["rid"]) for o in s.overrides}
        last_rid = max(rids, default="")
        need = count + len(s.overrides) + 1
        instances: dict[str, str] = {}
        for i, start in enumerate(rule_set(master)):
            key = _fmt(start)
            instances[key] = key
            if (i + 1 >= need and key > last_rid) or i >= _HARD_CAP:
                break
        for o in s.overrides:
            key = _fmt(o["rid"])
            if key not in instances:
                continue  # matches no instance: ignored (see the module docstring)
            if drop_cancelled and o["cancelled"] and not master["cancelled"]:
                del instances[key]
            else:
                instances[key] = _fmt(o["start"])
        starts.extend(instances.values())
    return sorted(starts)[:count]


def _icalendar_starts(data: bytes, count: int, *, drop_cancelled: bool = True) -> list[str]:
    cal = icalendar.Calendar.from_ical(data)
    zones = {str(vtz["TZID"]): vtz.to_tz(lookup_tzid=False) for vtz in cal.walk("VTIMEZONE")}

    def local(value: Any, params: Any) -> Any:
        tzid = params.get("TZID") if params is not None else None
        if isinstance(value, tuple):
            value = value[0]
        if isinstance(value, datetime) and tzid:
            if tzid not in zones:
                raise ValueError(f"TZID={tzid} has no VTIMEZONE in the file")
            return value.replace(tzinfo=zones[tzid])
        return value

    def values(component: Any, name: str) -> list[Any]:
        out = []
        for prop in _as_list(component.get(name)):
            for item in getattr(prop, "dts", [prop]):
                out.append(local(item.dt, prop.params))
        return out

    series: dict[str, _Series] = {}
    for ev in cal.walk("VEVENT"):
        if "DTSTART" not in ev:
            continue
        entry = {
            "start": local(ev["DTSTART"].dt, ev["DTSTART"].params),
            "cancelled": _cancelled(ev.get("STATUS")),
            "component": ev,
        }
        s = series.setdefault(str(ev.get("UID")), _Series())
        if "RECURRENCE-ID" in ev:
            entry["rid"] = values(ev, "RECURRENCE-ID")[0]
            s.overrides.append(entry)
        else:
            s.master = entry

    def rule_set(master: dict[str, Any]) -> Iterable[date | datetime]:
        ev, start = master["component"], master["start"]
        all_day = not isinstance(start, datetime)

        def as_dt(value: Any) -> datetime:
            return datetime.combine(value, time()) if not isinstance(value, datetime) else value

        base = as_dt(start)
        rs = rruleset()
        rs.rdate(base)  # DTSTART is always the first instance (RFC 5545 3.8.5.3)
        for rule in _as_list(ev.get("RRULE")):
            rs.rrule(rrulestr(rule.to_ical().decode(), dtstart=base))
        for value in values(ev, "RDATE"):
            rs.rdate(as_dt(value))
        for value in values(ev, "EXDATE"):
            rs.exdate(as_dt(value))
        for value in rs:
            yield value.date() if all_day else value

    return _expand(series, count, drop_cancelled=drop_cancelled, rule_set=rule_set)


# --- (b) vobject ------------------------------------------------------------------------

# vobject keeps one process-wide TZID -> tzinfo map and registers a VTIMEZONE only when its
# TZID is not registered yet (and a TZID without VTIMEZONE as its pytz zone): the first file
# parsed in a test run would decide the zone of every later file with the same TZID. It is
# reset around each parse so that vobject reads each file's own VTIMEZONEs.
_VOBJECT_TZIDS: dict[str, Any] = vars(vobject.icalendar)["__tzidMap"]
_VOBJECT_TZIDS_AT_IMPORT = dict(_VOBJECT_TZIDS)


def _reset_vobject_zones() -> None:
    _VOBJECT_TZIDS.clear()
    _VOBJECT_TZIDS.update(_VOBJECT_TZIDS_AT_IMPORT)


def _vobject_starts(data: bytes, count: int) -> list[str]:
    _reset_vobject_zones()
    try:
        components = list(vobject.readComponents(data.decode("utf-8")))
        if len(components) != 1:
            raise ValueError(f"expected one VCALENDAR, vobject read {len(components)}")
        cal = components[0]
        series: dict[str, _Series] = {}
        for ev in cal.contents.get("vevent", []):
            if "dtstart" not in ev.contents:
                continue
            status = ev.status.value if "status" in ev.contents else None
            entry = {"start": ev.dtstart.value, "cancelled": _cancelled(status), "component": ev}
            s = series.setdefault(str(ev.uid.value if "uid" in ev.contents else None), _Series())
            if "recurrence-id" in ev.contents:
                entry["rid"] = ev.recurrence_id.value
                s.overrides.append(entry)
            else:
                s.master = entry

        def rule_set(master: dict[str, Any]) -> Iterable[date | datetime]:
            ev, start = master["component"], master["start"]
            rs = ev.getrruleset(addRDate=True)
            if rs is None:
                yield start
                return
            all_day = not isinstance(start, datetime)
            for value in rs:  # dateutil expands DATE series as midnight datetimes
                yield value.date() if all_day and isinstance(value, datetime) else value

        return _expand(series, count, drop_cancelled=True, rule_set=rule_set)
    finally:
        _reset_vobject_zones()


# --- (c) recurring-ical-events ----------------------------------------------------------


def _rie_starts(data: bytes, count: int) -> list[str]:
    cal = icalendar.Calendar.from_ical(data)
    events = list(cal.walk("VEVENT"))
    live_masters = {
        str(ev.get("UID"))
        for ev in events
        if "RECURRENCE-ID" not in ev and not _cancelled(ev.get("STATUS"))
    }
    # all() yields in start order; the cancelled overrides dropped below may take places.
    limit = count + sum("RECURRENCE-ID" in ev for ev in events) + 50
    query = recurring_ical_events.of(cal, skip_bad_series=False)
    starts = []
    for occurrence in itertools.islice(query.all(), limit):
        if "DTSTART" not in occurrence:
            continue
        if _cancelled(occurrence.get("STATUS")) and str(occurrence.get("UID")) in live_masters:
            continue  # a cancelled instance of a live series
        starts.append(_fmt(occurrence["DTSTART"].dt))
    return sorted(starts)[:count]


# --- public API -------------------------------------------------------------------------


def _table(results: dict[str, Any]) -> str:
    width = max(len(name) for name in results)
    return "\n".join(f"  {name:<{width}} : {value}" for name, value in results.items())


def utc_starts(data: bytes, *, count: int = 60) -> dict[str, list[str]]:
    """The first ``count`` occurrence starts of ``data``, per parser (see the module doc).

    Keys: ``"icalendar"``, ``"vobject"``, ``"recurring-ical-events"``. A parser that raises
    fails the call with an AssertionError that shows what every parser said.
    """
    computations = {
        "icalendar": _icalendar_starts,
        "vobject": _vobject_starts,
        "recurring-ical-events": _rie_starts,
    }
    results: dict[str, Any] = {}
    failed = False
    for name, compute in computations.items():
        try:
            results[name] = compute(data, count)
        except Exception as exc:  # every parser's failure is reported together
            results[name] = f"raised {type(exc).__name__}: {exc}"
            failed = True
    if failed:
        raise AssertionError("a parser could not expand the calendar:\n" + _table(results))
    return results


def _wire_problems(data: bytes) -> list[str]:
    problems = []
    if data.startswith(b"\xef\xbb\xbf"):
        problems.append("starts with a UTF-8 BOM")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"not valid UTF-8: {exc}")
    bare_lf = len(re.findall(rb"(?<!\r)\n", data))
    bare_cr = len(re.findall(rb"\r(?!\n)", data))
    if bare_lf:
        problems.append(f"{bare_lf} line(s) end with a bare LF (CRLF required)")
    if bare_cr:
        problems.append(f"{bare_cr} bare CR(s)")
    if data and not data.endswith(b"\r\n"):
        problems.append("the last line is not terminated by CRLF")
    lines = re.split(rb"\r?\n", data.removesuffix(b"\r\n").removesuffix(b"\n"))
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_LINE_OCTETS:
            problems.append(
                f"line {number} has {len(line)} octets (max {MAX_LINE_OCTETS}): {line!r}"
            )
        if not line:
            problems.append(f"line {number} is empty")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(
                f"line {number} is not valid UTF-8 on its own: a fold splits a character: {line!r}"
            )
    return problems


def _python_checks(
    data: bytes, method: str | None, expect_utc: list[str] | None, count: int
) -> tuple[list[str], list[str]]:
    """Every check that needs no harness; returns (agreed starts, starts with cancelled kept)."""
    assert isinstance(data, bytes), f"calendar must be bytes, got {type(data).__name__}"
    problems = _wire_problems(data)
    assert not problems, "wire format:\n  " + "\n  ".join(problems)

    calendars = icalendar.Calendar.from_ical(data, multiple=True)
    assert len(calendars) == 1, f"expected exactly one VCALENDAR, found {len(calendars)}"
    cal = calendars[0]
    assert cal.name == "VCALENDAR", f"top-level component is {cal.name}"

    methods = [str(m) for m in _as_list(cal.get("METHOD"))]
    if method is None:
        assert not methods, f"METHOD:{','.join(methods)} present, but this must carry no METHOD"
    else:
        assert [m.upper() for m in methods] == [method.upper()], (
            f"METHOD is {methods or 'absent'}, expected {method}"
        )

    unfolded = re.sub(rb"\r\n[ \t]", b"", data).decode("utf-8")
    used = {m.strip('"') for m in _TZID_PARAM.findall(unfolded)}
    defined = {str(vtz.get("TZID")) for vtz in cal.walk("VTIMEZONE")}
    missing = sorted((used | set(cal.get_missing_tzids())) - defined)
    assert not missing, f"TZID(s) without a VTIMEZONE in the file: {missing}"

    errors = [
        f"{component.name}{'/' + prop if prop else ''}: {message}"
        for component in cal.walk()
        for prop, message in component.errors
    ]
    assert not errors, "icalendar tolerated errors while parsing:\n  " + "\n  ".join(errors)

    wanted = max(count, len(expect_utc or []))
    results = utc_starts(data, count=wanted)
    if len({tuple(v) for v in results.values()}) > 1:
        first_diff = next(
            i for i in range(wanted) if len({tuple(v[i : i + 1]) for v in results.values()}) > 1
        )
        detail = {
            name: v[first_diff] if first_diff < len(v) else "(none)" for name, v in results.items()
        }
        raise AssertionError(
            f"parsers disagree on the UTC starts (first {wanted}); first difference at "
            f"index {first_diff}:\n{_table(detail)}\nall:\n{_table(results)}"
        )
    starts = results["icalendar"]
    if expect_utc is not None:
        assert starts[: len(expect_utc)] == list(expect_utc), (
            f"starts differ from the expected ones (all three parsers agree):\n"
            f"  expected : {list(expect_utc)}\n  computed : {starts[: len(expect_utc)]}"
        )
    kept = _icalendar_starts(data, wanted, drop_cancelled=False)
    return starts, kept


def icalcheck_built() -> bool:
    return (ICALCHECK_DIR / "build" / "libical_check").exists() and (
        ICALCHECK_DIR / "node_modules" / "ical.js"
    ).is_dir()


def _icalcheck_occurrence_args(
    starts: list[str], kept: list[str], expect_utc: list[str] | None, count: int
) -> list[str]:
    if kept != starts:  # cancelled instances removed here; the harness keeps them
        n = min(count, len(kept))
        return ["--expect-utc", ",".join(kept[:n])] if n else []
    if expect_utc:
        return ["--expect-utc", ",".join(expect_utc)]
    n = min(count, len(starts))
    return ["--occurrences", str(n)] if n else []


def _report(rows: list[dict[str, Any]]) -> str:
    out = []
    for entry in rows:
        out.append(f"== {entry['file']}")
        for r in entry["results"]:
            title = f"{r['validator']} {r.get('version', '')}".strip()
            detail = r.get("detail") or ",".join(r.get("occurrences", []))
            out.append(f"{'OK  ' if r.get('ok') else 'FAIL'}  {title:<32} {detail}")
            for kind in ("error", "warning"):
                messages = r.get(kind + "s", [])
                for message in dict.fromkeys(messages):  # libical repeats itself
                    times = messages.count(message)
                    out.append(
                        f"        {kind}: {message}" + (f" ({times} times)" if times > 1 else "")
                    )
    return "\n".join(out)


def run_icalcheck(
    data: bytes, *, method: str | None, options: Iterable[str] = (), suffix: str = ".ics"
) -> None:
    """Run the vendored harness on ``data`` (an .ics, or an e-mail with ``suffix=".eml"``).

    ``method`` None runs it with ``--method NONE``; ``options`` are further arguments such
    as ``["--occurrences", "5"]``. Asserts exit status 0 and shows the report otherwise.
    Skips (fails in CI) when the harness is not built.
    """
    if not icalcheck_built():
        missing_service(ICALCHECK_MISSING)
    extra = list(options)
    fd, name = tempfile.mkstemp(prefix="icalcheck-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        cmd = [sys.executable, str(ICALCHECK), name, "--json", "--method", method or "NONE"]
        proc = subprocess.run(
            cmd + extra,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "ICALCHECK_PYTHON": sys.executable},
            check=False,
        )
    finally:
        os.unlink(name)
    try:
        report = _report(json.loads(proc.stdout))
    except ValueError:
        report = proc.stdout
    args = " ".join(["icalcheck", f"FILE{suffix}", "--method", method or "NONE", *extra])
    assert proc.returncode == 0, (
        f"{args} failed (exit {proc.returncode}):\n{report}\n{proc.stderr}".rstrip()
    )


def check_calendar(
    data: bytes,
    *,
    method: str | None,
    expect_utc: list[str] | None = None,
    count: int = 60,
) -> None:
    """Assert that ``data`` is a calendar every client reads alike (see the module doc).

    ``method``: the METHOD it must carry, None for none (feeds, downloads). ``expect_utc``:
    the expected first starts (a prefix of the occurrences). Skips (fails in CI) after the
    Python checks passed if the icalcheck harness is not built.
    """
    starts, kept = _python_checks(data, method, expect_utc, count)
    run_icalcheck(
        data, method=method, options=_icalcheck_occurrence_args(starts, kept, expect_utc, count)
    )


def check_email(raw: bytes, *, method: str, expect_utc: list[str] | None = None) -> list[bytes]:
    """Assert that an iMIP e-mail carries valid calendar parts; return their bytes.

    Every text/calendar part needs ``method=`` equal to ``method`` (and to the METHOD inside)
    and a charset; every text/calendar or application/ics part passes the checks of
    check_calendar (with the same ``method``), and icalcheck passes on the whole message.
    """
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [p for p in msg.walk() if p.get_content_type() in ("text/calendar", "application/ics")]
    assert any(p.get_content_type() == "text/calendar" for p in parts), (
        "the message has no text/calendar part; parts: "
        + ", ".join(p.get_content_type() for p in msg.walk())
    )
    bodies: list[bytes] = []
    part_args: list[list[str]] = []
    count = 60
    for part in parts:
        ctype = part.get_content_type()
        if ctype == "text/calendar":
            param = part.get_param("method")
            assert param is not None, (
                f"text/calendar part has no method= parameter (expected method={method}): "
                f"Content-Type: {part['Content-Type']}"
            )
            assert str(param).upper() == method.upper(), (
                f"text/calendar part says method={param}, expected {method}"
            )
            charset = part.get_param("charset")
            assert charset is not None, (
                f"text/calendar part has no charset parameter: Content-Type: {part['Content-Type']}"
            )
            assert str(charset).lower() in ("utf-8", "utf8"), f"charset is {charset}, not UTF-8"
        body = part.get_payload(decode=True)
        assert body, f"empty {ctype} part"
        try:
            starts, kept = _python_checks(body, method, expect_utc, count)
        except AssertionError as exc:
            raise AssertionError(f"{ctype} part: {exc}") from exc
        part_args.append(_icalcheck_occurrence_args(starts, kept, expect_utc, count))
        bodies.append(body)
    # The harness validates every calendar part of the message with the same options.
    if all(args == part_args[0] for args in part_args):
        run_icalcheck(raw, method=method, options=part_args[0], suffix=".eml")
    else:  # parts with different occurrences: the message, then each part on its own
        run_icalcheck(raw, method=method, suffix=".eml")
        for body, args in zip(bodies, part_args, strict=True):
            run_icalcheck(body, method=method, options=args)
    return bodies
