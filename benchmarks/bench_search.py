"""Slot search through HTTP (SPEC section 13): the API with its database, beside the reference.

    python -m benchmarks.bench_search                   # 1,000 people, 18 zones, 30 days, on
                                                        # SQLite and PostgreSQL (minutes: the
                                                        # reference alone takes one or two)
    python -m benchmarks.bench_search --quick           # 200 people, 7 days: a smoke test
    python -m benchmarks.bench_search --backend sqlite  # one database only
    python -m benchmarks.bench_search --no-explain      # send no `explain`: the default answer
    python -m benchmarks.bench_search --profile         # also where one request spends its time

The input is the engine benchmark's (benchmarks/inputs.py), loaded in bulk into a fresh
database built by the migrations (SQLite in a temporary folder; a PostgreSQL database created
for the run and dropped after it, on the server of --postgres-url or FORUM_TEST_POSTGRES_URL).
The people are an event's participants; an organiser's API token asks
``POST /api/v1/scheduling/search`` for that event's best slots, over a kept-alive connection
to a threaded HTTP server on loopback in a process of its own (benchmarks/http_server.py),
once for each ``explain`` ("sites": per-site explanations, "people": every participant).
The reference (``reference.find_slots``) runs on the same input in the same run; both must
give the same slots. The exit status is 1 when they differ or, on the full input, when a
target is missed.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from benchmarks import http_server
from benchmarks import inputs
from benchmarks import report
from forum import create_app
from forum.accounts.services import create_organiser
from forum.accounts.services import issue_token
from forum.directory.models import Blackout
from forum.directory.models import BusyInterval
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events.models import EventParticipant
from forum.events.services import create_event
from forum.extensions import db
from forum.scheduling import reference
from forum.scheduling.model import EPOCH
from forum.scheduling.model import Participant
from forum.scheduling.model import RankedSlot
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import WeekHours

WINDOW_START = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
BACKENDS = ("sqlite", "postgresql")
MODES = ("sites", "people")
TARGET_MEDIAN_MS = {"sites": 100.0, "people": 300.0}
TARGET_SITES_KB = 100.0
TARGET_SPEED_UP = 100.0
WARM_UP = 2
SEARCH_PATH = "/api/v1/scheduling/search"
POSTGRES_URL = os.environ.get(
    "FORUM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Fields of a slot in the answer that the reference's RankedSlot also holds.
SLOT_FIELDS = ("end", "required_available", "required_total", "worst_cost", "total_cost")


# --- the database ----------------------------------------------------------------------------


@contextmanager
def database(backend: str, folder: str, postgres_url: str) -> Iterator[str]:
    """The URL of an empty database for one run; a PostgreSQL one is dropped afterwards."""
    if backend == "sqlite":
        yield "sqlite:///" + str(Path(folder) / "forum.sqlite3")
        return
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"forum_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise SystemExit(f"PostgreSQL at {postgres_url} is not reachable: {exc.orig}") from None
    try:
        yield sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def hours_text(week: WeekHours) -> dict[str, list[list[str]]]:
    """Engine hours as a person's stored hours: {"mon": [["09:00", "18:00"]], ...}."""
    return {
        day: [[_clock(start), _clock(end)] for start, end in ranges]
        for day, ranges in zip(WEEKDAYS, week, strict=True)
    }


@dataclass(frozen=True)
class Loaded:
    """What a benchmark database holds, and how to ask it."""

    token: str
    event_id: int
    people: int
    institutions: int
    busy: int
    seconds: float


def load(app: Flask, participants: list[Participant]) -> Loaded:
    """The participants as rows, inserted in bulk: their institutions, hours, busy times, and
    an event (home zone UTC) with all of them as participants, owned by an organiser who has
    an API token.

    An institution holds the people of one ``institution_id`` in one zone and country: the
    inputs put people of several zones under one id, and a person's country (so holidays
    and weekends) comes from their institution.
    """
    started = time.perf_counter()
    sites: dict[tuple[Any, ...], int] = {}
    institution_rows: list[dict[str, Any]] = []
    blackout_rows: list[dict[str, Any]] = []
    person_rows: list[dict[str, Any]] = []
    participant_rows: list[dict[str, Any]] = []
    busy_rows: list[dict[str, Any]] = []
    for number, who in enumerate(participants, start=1):
        if (who.weight, who.earliest_hour, who.latest_hour) != (1, 0, 24):
            raise ValueError("weights and site hours belong to the request, not the database")
        key = (who.institution_id, who.timezone, who.country, who.subdivision, who.blackouts)
        if key not in sites:
            sites[key] = len(sites) + 1
            city = who.timezone.rsplit("/", 1)[-1].replace("_", " ")
            institution_rows.append(
                {
                    "id": sites[key],
                    "name": f"University {who.institution_id} of {city}",
                    "short_name": f"U{who.institution_id} {city}"[:50],
                    "country": who.country or "",
                    "timezone": who.timezone,
                    "subdivision": who.subdivision,
                }
            )
            blackout_rows.extend(
                {"institution_id": sites[key], "start_date": first, "end_date": last}
                for first, last in who.blackouts
            )
        person_rows.append(
            {
                "id": number,
                "name": f"Person {number}",
                "email": f"person{number}@u{sites[key]}.example.edu",
                "institution_id": sites[key],
                "timezone": who.timezone,
                "working_hours": hours_text(who.working_hours),
                "acceptable_hours": hours_text(who.acceptable_hours),
            }
        )
        participant_rows.append(
            {"person_id": number, "role": "participant", "required": who.required}
        )
        busy_rows.extend(
            {
                "person_id": number,
                "start": EPOCH + dt.timedelta(minutes=first),
                "end": EPOCH + dt.timedelta(minutes=last),
            }
            for first, last in who.busy
        )

    with app.app_context():
        organiser = create_organiser(
            email="olga@example.org", name="Olga Organiser", timezone="Asia/Shanghai"
        )
        token = issue_token(organiser, name="benchmark")
        event = create_event(actor=organiser, title="Global forum", kind="forum", timezone="UTC")
        for row in participant_rows:
            row["event_id"] = event.id
        for model, rows in (
            (Institution, institution_rows),
            (Blackout, blackout_rows),
            (Person, person_rows),
            (BusyInterval, busy_rows),
            (EventParticipant, participant_rows),
        ):
            if rows:
                db.session.execute(sa.insert(model), rows)
        db.session.commit()
        event_id = event.id
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        db.engine.dispose()
    return Loaded(
        token=token,
        event_id=event_id,
        people=len(person_rows),
        institutions=len(institution_rows),
        busy=len(busy_rows),
        seconds=time.perf_counter() - started,
    )


# --- serving and asking ----------------------------------------------------------------------


def search_body(event_id: int, options: SearchOptions, explain: str | None) -> dict[str, Any]:
    """The request for the options' search: the window as whole UTC days, the last included."""
    first, last = options.window_start, options.window_end - dt.timedelta(days=1)
    if first.time() != dt.time(0) or last.time() != dt.time(0):
        raise ValueError("the benchmark's window must be whole UTC days")
    body: dict[str, Any] = {
        "event_id": event_id,
        "window_start": first.date().isoformat(),
        "window_end": last.date().isoformat(),
        "timezone": "UTC",
        "duration_minutes": options.duration // dt.timedelta(minutes=1),
        "step_minutes": options.step_minutes,
        "limit": options.limit,
        "skip_weekends": options.skip_weekends,
        "skip_holidays": options.skip_holidays,
    }
    if explain is not None:
        body["explain"] = explain
    return body


@dataclass(frozen=True)
class Measured:
    """One kind of request on one database: its timings, and the last answer with its size
    in bytes and the queries it took."""

    backend: str
    mode: str | None
    timings: list[float]
    size: int
    queries: int
    answer: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.backend}: {'explain=' + self.mode if self.mode else 'no explain'}"

    @property
    def median_ms(self) -> float:
        return statistics.median(self.timings) * 1000


def _check(response: requests.Response, body: dict[str, Any]) -> None:
    if response.status_code == 200:
        return
    hint = ""
    if "explain" in body and "explain" in response.text:
        hint = "\nthe API does not take `explain`: run with --no-explain"
    raise SystemExit(
        f"POST {SEARCH_PATH} answered {response.status_code}: {response.text[:1000]}{hint}"
    )


def measure(
    session: requests.Session, url: str, body: dict[str, Any], runs: int
) -> tuple[list[float], requests.Response]:
    """Warm up, then time ``runs`` requests until their whole body has arrived: the
    timings and the last answer."""
    for _ in range(WARM_UP):
        _check(session.post(url, json=body, timeout=120), body)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = session.post(url, json=body, timeout=120)
        timings.append(time.perf_counter() - started)
        _check(response, body)
    return timings, response


def _where(path: str, line: int) -> str:
    if path == "~":
        return "built-in"
    parts = Path(path).parts
    # Our modules from the package down (forum/events/planning.py), others by their folder.
    ours = [index for index, part in enumerate(parts) if part == "forum"]
    return f"{'/'.join(parts[ours[-1] if ours else -2 :])}:{line}"


def profile(app: Flask, token: str, body: dict[str, Any], top: int = 12) -> list[str]:
    """Where one request spends its time, in process: our functions by cumulative time,
    then any function by its own time."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    client.post(SEARCH_PATH, json=body, headers=headers)
    collections: list[float] = []
    began: list[float] = []

    def timed_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began.append(time.perf_counter())
        else:
            collections.append(time.perf_counter() - began.pop())

    profiler = cProfile.Profile()
    gc.callbacks.append(timed_collection)
    started = time.perf_counter()
    profiler.enable()
    response = client.post(SEARCH_PATH, json=body, headers=headers)
    profiler.disable()
    elapsed = time.perf_counter() - started
    gc.callbacks.remove(timed_collection)
    if response.status_code != 200:
        raise SystemExit(f"POST {SEARCH_PATH} answered {response.status_code}: {response.text}")
    stats = pstats.Stats(profiler).stats
    rows = [
        (_where(path, line), name, calls, own, cumulative)
        for (path, line, name), (_, calls, own, cumulative, _) in stats.items()
    ]
    ours = sorted((row for row in rows if row[0].startswith("forum/")), key=lambda r: -r[4])
    lines = [
        f"  one request under cProfile, in process: {elapsed * 1000:.0f} ms "
        "(profiling slows it down)",
        # A collection's time shows under whichever call happened to set it off.
        f"  of which garbage collection: {sum(collections) * 1000:.0f} ms in "
        f"{len(collections)} collections",
        f"  {'cumulative':>11} {'own':>9} {'calls':>7}  our functions by cumulative time",
    ]
    for where, name, calls, own, cumulative in ours[:top]:
        lines.append(
            f"  {cumulative * 1000:8.1f} ms {own * 1000:6.1f} ms {calls:7d}  {name} ({where})"
        )
    lines.append(f"  {'cumulative':>11} {'own':>9} {'calls':>7}  any function by own time")
    for where, name, calls, own, cumulative in sorted(rows, key=lambda r: -r[3])[:top]:
        lines.append(
            f"  {cumulative * 1000:8.1f} ms {own * 1000:6.1f} ms {calls:7d}  {name} ({where})"
        )
    return lines


def run_backend(
    backend: str,
    folder: str,
    postgres_url: str,
    participants: list[Participant],
    options: SearchOptions,
    modes: tuple[str | None, ...],
    runs: int,
    with_profile: bool,
) -> tuple[Loaded, list[Measured], list[str]]:
    """Build the database, serve the app, and time each kind of request."""
    with database(backend, folder, postgres_url) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, **http_server.SETTINGS})
        with app.app_context():
            upgrade()
            db.engine.dispose()
        loaded = load(app, participants)
        measured = []
        with http_server.serving(url) as base, requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {loaded.token}"
            for mode in modes:
                body = search_body(loaded.event_id, options, mode)
                timings, response = measure(session, base + SEARCH_PATH, body, runs)
                measured.append(
                    Measured(
                        backend,
                        mode,
                        timings=timings,
                        size=len(response.content),
                        queries=int(response.headers[http_server.QUERIES_HEADER]),
                        answer=response.json(),
                    )
                )
        profiles = []
        if with_profile:
            for result in measured:
                body = search_body(loaded.event_id, options, result.mode)
                profiles.append(f"where one request spends its time, {result.label}")
                profiles.extend(profile(app, loaded.token, body))
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return loaded, measured, profiles


# --- comparing -------------------------------------------------------------------------------


def differences(answer: dict[str, Any], slots: list[RankedSlot]) -> list[str]:
    """How the answer's slots differ from the reference's: start times in order, and the
    other figures both hold when the answer carries them."""
    found = []
    ours = answer.get("slots", [])
    if len(ours) != len(slots):
        found.append(f"  {len(ours)} slots in the answer, {len(slots)} from the reference")
    for rank, (got, want) in enumerate(zip(ours, slots, strict=False), start=1):
        expected = {
            "start": want.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": want.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "required_available": want.required_available,
            "required_total": want.required_total,
            "worst_cost": want.worst_cost,
            "total_cost": want.total_cost,
        }
        keys = ["start", *(key for key in SLOT_FIELDS if key in got)]
        if any(got.get(key) != expected[key] for key in keys):
            shown = {key: got.get(key) for key in keys}
            wanted = {key: expected[key] for key in keys}
            found.append(f"  rank {rank}: answer {shown}\n          reference {wanted}")
    return found


def judged_as(answer: dict[str, Any]) -> str:
    """The ``explain`` whose targets an answer asked without one is held to: "people" when
    its slots list every participant, else "sites"."""
    return "people" if any(slot.get("participants") for slot in answer["slots"]) else "sites"


def describe(label: str, timings: list[float]) -> str:
    return report.describe(label, timings, width=34, decimals=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 people over 7 days")
    parser.add_argument(
        "--backend", choices=(*BACKENDS, "both"), default="both", help="the database (both)"
    )
    parser.add_argument("--runs", type=int, help="timed requests of each kind (20; quick: 5)")
    parser.add_argument(
        "--no-explain",
        action="store_true",
        help="send no `explain` field: time the default answer once",
    )
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        help="a PostgreSQL server where the benchmark may create and drop a database",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile one request of each kind"
    )
    args = parser.parse_args(argv)

    count, days = (200, 7) if args.quick else (1000, 30)
    runs = args.runs or (5 if args.quick else 20)
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    modes: tuple[str | None, ...] = (None,) if args.no_explain else MODES
    participants = inputs.participants(count, window_start=WINDOW_START, days=days)
    options = inputs.options(WINDOW_START, days=days)
    zones = len({p.timezone for p in participants})
    slots = len(list(reference.slot_starts(options)))
    print(
        f"Slot search through HTTP: {count} participants in {zones} zones, {days} days, "
        f"{options.step_minutes}-minute steps, 5 % busy ({slots} candidate slots, "
        f"best {options.limit}), an event's participants, on {' and '.join(backends)}"
    )

    measured: list[Measured] = []
    profiles: list[str] = []
    with tempfile.TemporaryDirectory(prefix="forum-bench-") as folder:
        for backend in backends:
            loaded, found, profiled = run_backend(
                backend,
                folder,
                args.postgres_url,
                participants,
                options,
                modes,
                runs,
                args.profile,
            )
            print(
                f"{backend}: {loaded.people} people, {loaded.institutions} institutions, "
                f"{loaded.busy} busy intervals, loaded in {loaded.seconds:.1f} s"
            )
            for result in found:
                print(describe(f"HTTP {result.label}", result.timings))
                print(
                    f"  answer {result.label}: {result.size / 1024:.1f} KB, "
                    f"{result.queries} database queries"
                )
            measured.extend(found)
            profiles.extend(profiled)

    # ZoneInfo keeps only a few zones alive by itself: holding them measures the reference
    # at its best, so the ratio is not flattered by disk reads (as the engine benchmark does).
    held_zones = [ZoneInfo(name) for name in sorted({p.timezone for p in participants})]
    started = time.perf_counter()
    expected = reference.find_slots(participants, options)
    reference_time = time.perf_counter() - started
    del held_zones
    print(describe("reference find_slots", [reference_time]))
    for line in profiles:
        print(line)

    mismatches = {result.label: differences(result.answer, expected) for result in measured}
    same = not any(mismatches.values())
    print(f"same slots from both: {'yes' if same else 'NO'}")
    if not same:
        for label, lines in mismatches.items():
            if lines:
                print(f"{label}:")
                print("\n".join(lines))
        return 1

    checks = []
    for result in measured:
        ratio = reference_time / statistics.median(result.timings)
        print(f"reference / HTTP median, {result.label}: {ratio:.0f}x")
        mode = result.mode or judged_as(result.answer)
        target = TARGET_MEDIAN_MS[mode]
        checks.append(
            (
                f"{result.label}: HTTP median <= {target:.0f} ms",
                result.median_ms <= target,
                f"{result.median_ms:.1f} ms",
            )
        )
        if mode == "sites":
            kb = result.size / 1024
            checks.append(
                (
                    f"{result.label}: answer <= {TARGET_SITES_KB:.0f} KB",
                    kb <= TARGET_SITES_KB,
                    f"{kb:.1f} KB",
                )
            )
        checks.append(
            (
                f"{result.label}: at least {TARGET_SPEED_UP:.0f}x faster than the reference",
                ratio >= TARGET_SPEED_UP,
                f"{ratio:.0f}x",
            )
        )
    return report.judge(checks, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
