"""Booking through HTTP for a chair who already has 1,000 sessions, beside a plain conflict check.

    python -m benchmarks.bench_booking                   # 1,000 sessions, on SQLite and
                                                         # PostgreSQL (a minute or so)
    python -m benchmarks.bench_booking --quick           # 100 sessions: a smoke test
    python -m benchmarks.bench_booking --backend sqlite  # one database only
    python -m benchmarks.bench_booking --runs 40         # timed bookings of each kind (20)

Each database is fresh, built by the migrations (SQLite in a temporary folder; a PostgreSQL
database created for the run and dropped after it, on the server of --postgres-url or
FORUM_TEST_POSTGRES_URL), and the app is served in a process of its own on loopback
(benchmarks/http_server.py). One chair has 1,000 sessions over two years, written in bulk:
four in five one-offs of an hour, the others weekly series of 4 to 40 dates, a few of them
without end. The server queues its jobs (meeting, emails) on Redis at FORUM_BENCH_REDIS_URL,
as in production, in a queue of its own deleted afterwards. Over a kept-alive connection
each timed run books, through ``POST /api/v1/events/{id}/sessions``, a one-off for that
chair at a free hour in the middle of those two years (and, in turn, the same for a chair
with no session, the cost of a booking alone), then a weekly series of 26; every booking
must answer 201 (no clash), and one more at a taken hour must answer 409.

The baseline, in the same run and on the same database: the plain check a reader would
write for one booking, in process: load every session of the chair, expand each with
dateutil in its zone (within the same bounds: at most 1,000 dates, ten years), and compare
every date with the new one. It must find the same clashes (none at the free hours, the
taken one at the taken hour). The exit status is 1 when the answers differ or, on the full
input, when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
import requests
import sqlalchemy as sa
from dateutil.rrule import rrulestr
from flask import Flask
from flask_migrate import upgrade

from benchmarks import http_server
from benchmarks import report
from benchmarks.bench_search import POSTGRES_URL
from benchmarks.bench_search import database
from forum import create_app
from forum.accounts.services import create_organiser
from forum.accounts.services import issue_token
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.services import create_event
from forum.extensions import db

BACKENDS = ("sqlite", "postgresql")
REDIS_URL = os.environ.get("FORUM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TARGET_SESSIONS = 1000
TARGET_MEDIAN_MS = 100.0
TIMEOUT = 300
WARM_UP = 2
FIRST_DAY = dt.datetime(2027, 1, 4, tzinfo=dt.UTC)
DAYS = 2 * 364
# The chair's sessions start on the hour from 06:00 to 17:00 UTC; the timed bookings take
# hours nothing else does (20:00 to 23:00 UTC), so that every one of them is free.
BUSY_HOURS = range(6, 18)
FREE_HOURS = (20, 21, 22, 23)
SLOTS_A_DAY = 2 * len(FREE_HOURS)
# The timed one-offs from the middle of the two years, the series 200 days later (a week of
# free slots holds 56 weekly series), the plain check's hours before the middle.
ONE_OFF_DAY, SERIES_DAY, PLAIN_DAY = DAYS // 2, DAYS // 2 + 200, DAYS // 2 - 30
MAX_RUNS = 7 * SLOTS_A_DAY - WARM_UP
ZONES = ("Asia/Shanghai", "America/Detroit", "Europe/London", "Australia/Sydney")
HOUR = dt.timedelta(hours=1)
MAX_OCCURRENCES = 1000
HORIZON = dt.timedelta(days=3653)


# --- the chair's sessions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    token: str
    event_id: int
    chair_id: int
    newcomer_id: int  # a chair with no session yet, for the cost of a booking alone
    sessions: int
    series: int
    taken: dt.datetime  # the start of one of the chair's one-offs


def session_rows(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` sessions over two years: one in five a weekly series, 1 in 10 of those
    without end."""
    rows = []
    for number in range(count):
        start = FIRST_DAY + dt.timedelta(days=rng.randrange(DAYS), hours=rng.choice(BUSY_HOURS))
        rrule = None
        if number % 5 == 0:
            rrule = "FREQ=WEEKLY" if number % 50 == 0 else f"FREQ=WEEKLY;COUNT={rng.randint(4, 40)}"
        rows.append(
            {
                "title": f"Session {number}",
                "start": start,
                "end": start + HOUR,
                "timezone": rng.choice(ZONES),
                "rrule": rrule,
                "exdates": [],
                "ical_uid": f"bench-{number}@forum",
            }
        )
    return rows


def load(app: Flask, count: int) -> Loaded:
    """An organiser with a token, an event, and a chair with ``count`` sessions, in bulk."""
    rng = random.Random(20270104)
    rows = session_rows(count, rng)
    with app.app_context():
        organiser = create_organiser(
            email="olga@example.org", name="Olga Organiser", timezone="Asia/Shanghai"
        )
        token = issue_token(organiser, name="benchmark")
        event = create_event(actor=organiser, title="Exchange", kind="exchange", timezone="UTC")
        institution = Institution(
            name="University of Michigan", country="US", timezone="America/Detroit"
        )
        chair = Person(
            name="Jane Smith",
            email="jsmith@umich.example.org",
            institution=institution,
            timezone="America/Detroit",
        )
        newcomer = Person(
            name="Li Wei",
            email="li.wei@umich.example.org",
            institution=institution,
            timezone="America/Detroit",
        )
        db.session.add_all([institution, chair, newcomer])
        db.session.flush()
        for row in rows:
            row["event_id"] = event.id
        ids = db.session.scalars(sa.insert(EventSession).returning(EventSession.id), rows).all()
        db.session.execute(
            sa.insert(Invitation),
            [{"session_id": i, "person_id": chair.id, "role": "chair"} for i in ids],
        )
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        taken = next(row["start"] for row in rows if row["rrule"] is None)
        loaded = Loaded(
            token=token,
            event_id=event.id,
            chair_id=chair.id,
            newcomer_id=newcomer.id,
            sessions=len(rows),
            series=sum(1 for row in rows if row["rrule"]),
            taken=taken,
        )
        db.engine.dispose()
    return loaded


# --- the plain check ---------------------------------------------------------------------------


def plain_clashes(person_id: int, start: dt.datetime, end: dt.datetime) -> list[int]:
    """The ids of the person's sessions with a date overlapping [start, end): every session
    loaded, every series expanded with dateutil in its zone, every date compared."""
    from zoneinfo import ZoneInfo

    sessions = db.session.scalars(
        sa.select(EventSession)
        .join(Invitation, Invitation.session_id == EventSession.id)
        .where(Invitation.person_id == person_id, EventSession.status != "cancelled")
    ).all()
    found = []
    for session in sessions:
        first, duration = session.start, session.end - session.start
        if session.rrule:
            zone = ZoneInfo(session.timezone)
            local = first.astimezone(zone).replace(tzinfo=None)
            rule = rrulestr(session.rrule, dtstart=local)
            dates = []
            for number, date in enumerate(rule):
                instant = date.replace(tzinfo=zone).astimezone(dt.UTC)
                if number >= MAX_OCCURRENCES or instant >= first + HORIZON:
                    break
                dates.append(instant)
        else:
            dates = [first]
        if any(date < end and start < date + duration for date in dates):
            found.append(session.id)
    return found


# --- serving and booking -----------------------------------------------------------------------


@contextmanager
def queued_jobs() -> Iterator[None]:
    """The server queues its jobs on Redis instead of running them inside the request: a
    queue of its own, that no worker reads, deleted afterwards."""
    queue = f"bench-booking-{uuid.uuid4().hex[:12]}"
    saved = {name: os.environ.get(name) for name in ("CELERY_BROKER_URL", "FORUM_JOBS_QUEUE")}
    os.environ.update(CELERY_BROKER_URL=REDIS_URL, FORUM_JOBS_QUEUE=queue)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        client = redis.Redis.from_url(REDIS_URL)
        client.delete(queue, f"_kombu.binding.{queue}")
        client.close()


@dataclass
class Measured:
    backend: str
    one_off: list[float]
    newcomer: list[float]
    series: list[float]
    plain: list[float]
    agreed: bool
    problems: list[str]


def free_slot(day: int, index: int) -> dt.datetime:
    """The ``index``-th free half hour from ``day`` days into the chair's two years: eight a
    day, 20:00 to 24:00 UTC, which none of the chair's sessions reaches."""
    moment = FIRST_DAY + dt.timedelta(days=day + index // SLOTS_A_DAY)
    return moment.replace(hour=FREE_HOURS[0]) + (index % SLOTS_A_DAY) * HOUR / 2


def run_backend(backend: str, folder: str, postgres_url: str, count: int, runs: int) -> Measured:
    with database(backend, folder, postgres_url) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, **http_server.SETTINGS})
        with app.app_context():
            upgrade()
            db.engine.dispose()
        loaded = load(app, count)
        chair = [{"person_id": loaded.chair_id, "role": "chair"}]
        path = f"/api/v1/events/{loaded.event_id}/sessions"
        problems: list[str] = []
        one_off: list[float] = []
        newcomer: list[float] = []
        series: list[float] = []
        with queued_jobs(), http_server.serving(url) as base, requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {loaded.token}"

            def post(body: dict[str, Any], expected: int) -> float:
                started = time.perf_counter()
                response = http.post(base + path, json=body, timeout=TIMEOUT)
                elapsed = time.perf_counter() - started
                if response.status_code != expected:
                    problems.append(
                        f"  {body['title']}: {response.status_code}, expected {expected}: "
                        f"{response.text[:300]}"
                    )
                return elapsed

            for kind, timings in (("one-off", one_off), ("weekly series", series)):
                for index in range(WARM_UP + runs):
                    day = ONE_OFF_DAY if kind == "one-off" else SERIES_DAY
                    body = {
                        "title": f"{kind} {index}",
                        "start": free_slot(day, index).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "duration_minutes": 30,
                        "invitees": chair,
                    }
                    if kind == "weekly series":
                        body["rrule"] = "FREQ=WEEKLY;COUNT=26"
                    elapsed = post(body, 201)
                    if index >= WARM_UP:
                        timings.append(elapsed)
                    if kind == "one-off":
                        # The same booking for a chair with no other session, in turn
                        # with the other, so that both meet the same load.
                        alone = [{"person_id": loaded.newcomer_id, "role": "chair"}]
                        elapsed = post({**body, "invitees": alone}, 201)
                        if index >= WARM_UP:
                            newcomer.append(elapsed)
            taken = {
                "title": "at a taken hour",
                "start": loaded.taken.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "duration_minutes": 30,
                "invitees": chair,
            }
            post(taken, 409)

        plain: list[float] = []
        with app.app_context():
            for run in range(runs):
                start = free_slot(PLAIN_DAY, run)
                started = time.perf_counter()
                clashes = plain_clashes(loaded.chair_id, start, start + HOUR / 2)
                plain.append(time.perf_counter() - started)
                if clashes:
                    problems.append(f"  the plain check finds clashes at {start}: {clashes}")
            if not plain_clashes(loaded.chair_id, loaded.taken, loaded.taken + HOUR / 2):
                problems.append("  the plain check finds no clash at the taken hour")
            db.session.remove()
            db.engine.dispose()
    return Measured(
        backend, one_off, newcomer, series, plain, agreed=not problems, problems=problems
    )


def describe(label: str, timings: list[float]) -> str:
    return report.describe(label, timings, width=40, decimals=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 sessions")
    parser.add_argument(
        "--backend", choices=(*BACKENDS, "both"), default="both", help="the database (both)"
    )
    parser.add_argument("--runs", type=int, help="timed bookings of each kind (20; quick: 5)")
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        help="a PostgreSQL server where the benchmark may create and drop a database",
    )
    args = parser.parse_args(argv)
    if not 1 <= (args.runs or 1) <= MAX_RUNS:
        parser.error(f"--runs must be from 1 to {MAX_RUNS}")
    count = 100 if args.quick else TARGET_SESSIONS
    runs = args.runs or (5 if args.quick else 20)
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    print(
        f"Booking through HTTP: a chair with {count:,} sessions (one in five a weekly series) "
        f"over two years, {runs} runs, beside the plain check, on {' and '.join(backends)}"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="forum-bench-") as folder:
        for backend in backends:
            result = run_backend(backend, folder, args.postgres_url, count, runs)
            results.append(result)
            print(describe(f"{backend}: POST one-off (full request)", result.one_off))
            print(describe(f"{backend}: POST weekly x 26 (full request)", result.series))
            print(describe(f"{backend}: POST one-off, chair with none", result.newcomer))
            print(describe(f"{backend}: plain check of a one-off", result.plain))
            ratio = statistics.median(result.plain) / statistics.median(result.one_off)
            print(f"{backend}: plain check / POST one-off (medians): {ratio:.1f}x")
            print(f"{backend}: same answers from both: {'yes' if result.agreed else 'NO'}")
            if result.problems:
                print("\n".join(result.problems))

    checks = []
    for result in results:
        for label, timings in (("one-off", result.one_off), ("weekly x 26", result.series)):
            median = statistics.median(timings) * 1000
            checks.append(
                (
                    f"{result.backend}: POST {label} median <= {TARGET_MEDIAN_MS:.0f} ms",
                    median <= TARGET_MEDIAN_MS,
                    f"{median:.1f} ms",
                )
            )
    judged = report.judge(checks, quick=args.quick)
    return 0 if all(r.agreed for r in results) and judged == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
