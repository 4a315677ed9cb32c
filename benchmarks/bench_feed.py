"""Personal feed benchmark (SPEC section 13): a feed of 500 sessions, served and built.

    python -m benchmarks.bench_feed           # 500 sessions (about half a minute)
    python -m benchmarks.bench_feed --quick   # 60 sessions, fewer runs: a smoke test

One process, a fresh migrated SQLite database in a temporary folder, the real routes through
Flask's test client. The first build is compared with the same calendar built and written by
``icalendar`` alone, from the same loaded sessions, in the same run; both must give the same
bytes. The exit status is 1 when the bytes differ or, on the full input, when a target is
missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from benchmarks import report
from forum import create_app
from forum.accounts.services import create_organiser
from forum.calendar import ical
from forum.calendar.writer import to_bytes
from forum.directory.models import Person
from forum.directory.services import create_person
from forum.events import calendars
from forum.events import services
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.occurrences import session_occurrences
from forum.extensions import db

TARGET_UNCHANGED_MS = 10.0
TARGET_NOT_MODIFIED_MS = 2.0
FIRST_DAY = dt.datetime(2027, 1, 4, tzinfo=dt.UTC)
READER_ZONE = "Asia/Shanghai"
SERIES_ZONES = ("America/Detroit", "Europe/London", "Australia/Sydney")
# (title, kind, home zone, description): descriptions long enough to be folded, some not ASCII.
EVENTS = [
    (
        "Global University Leaders Forum",
        "forum",
        "Asia/Shanghai",
        "Presidents and rectors on the future of research universities. " * 6,
    ),
    (
        "Sino-European Rectors' Dialogue",
        "bilateral",
        "Europe/Brussels",
        "Université, 北京大学, Ørsted.",
    ),
    ("Pacific Research Council", "series", "Australia/Sydney", ""),
    (
        "Doctoral Training Network",
        "exchange",
        "Europe/London",
        "Supervisors from twelve universities compare doctoral training.\n\nAgenda to follow.",
    ),
    ("Great Lakes Exchange", "exchange", "America/Detroit", "Student exchange coordinators."),
    ("Teaching Innovation Seminar", "series", "Asia/Tokyo", "Seminar series — open to all."),
]


# --- the database --------------------------------------------------------------------------


def build_database(app: Flask, sessions: int, seed: int = 2020) -> int:
    """One organiser, one reader in Shanghai and ``sessions`` sessions they are invited to;
    90 % one-offs over two years, the rest weekly series with a few moved or cancelled
    occurrences. Returns the reader's id."""
    rng = random.Random(seed)
    series = max(1, sessions // 10)
    one_offs = sessions - series
    with app.app_context():
        organiser = create_organiser(
            email="olga@example.org", name="Olga Organiser", timezone="Asia/Shanghai"
        )
        reader = create_person(
            name="Li Wei 李伟", email="li.wei@example.edu.cn", timezone=READER_ZONE
        )
        db.session.flush()
        events = [
            services.create_event(
                actor=organiser, title=title, kind=kind, timezone=zone, description=text
            )
            for title, kind, zone, text in EVENTS
        ]
        invitees = [{"person_id": reader.id, "role": "participant", "required": True}]
        booked: list[EventSession] = []
        for number in range(one_offs):
            start = FIRST_DAY + dt.timedelta(
                days=rng.randrange(730), hours=rng.randrange(24), minutes=rng.choice((0, 30))
            )
            booked.append(
                services.create_session(
                    events[number % len(events)],
                    actor=organiser,
                    title=f"Session {number + 1}: {rng.choice(('Panel', 'Keynote', 'Workshop'))}",
                    start=start,
                    duration_minutes=rng.choice((45, 60, 90, 120)),
                    invitees=invitees,
                    allow_conflicts=True,
                    notify=False,
                )
            )
        for number in range(series):
            zone = SERIES_ZONES[number % len(SERIES_ZONES)]
            local_start = dt.datetime(2027, 1, 4) + dt.timedelta(
                days=rng.randrange(365), hours=rng.choice((8, 9, 14, 17))
            )
            rule = f"FREQ=WEEKLY;COUNT={rng.randrange(6, 40)}"
            if number % 4 == 1:
                rule = f"FREQ=WEEKLY;INTERVAL=2;COUNT={rng.randrange(6, 20)}"
            booked.append(
                services.create_session(
                    events[number % len(events)],
                    actor=organiser,
                    title=f"Weekly call {number + 1}",
                    local_start=local_start,
                    timezone=zone,
                    duration_minutes=60,
                    rrule=rule,
                    invitees=invitees,
                    allow_conflicts=True,
                    notify=False,
                )
            )
        for number, session in enumerate(booked):
            if rng.random() < 0.9:
                session.meeting.join_url = f"https://meet.jit.si/forum-{number:04d}-{seed}"
                if rng.random() < 0.3:
                    session.meeting.passcode = f"{rng.randrange(10**6):06d}"
        db.session.flush()
        # Some series with an occurrence moved and one cancelled; a few one-offs cancelled.
        for session in booked[one_offs::6]:
            occurrences = list(session_occurrences(session, limit=4))
            moved = occurrences[1]
            services.move_occurrence(
                session,
                moved.recurrence_id,
                {"start": moved.start + dt.timedelta(hours=2), "allow_conflicts": True},
                actor=organiser,
            )
            services.cancel_occurrence(session, occurrences[3].recurrence_id)
        for session in booked[: one_offs : max(1, one_offs // 8)]:
            services.cancel_session(session)
        db.session.commit()
        return reader.id


# --- measuring -------------------------------------------------------------------------------


def timed(run: Callable[[], Any], runs: int, before: Callable[[], None] | None = None):
    """Wall-clock seconds of ``runs`` calls (``before`` untimed ahead of each), last answer."""
    timings = []
    answer = None
    for _ in range(runs):
        if before is not None:
            before()
        started = time.perf_counter()
        answer = run()
        timings.append(time.perf_counter() - started)
    return timings, answer


def describe(label: str, timings: list[float]) -> str:
    return report.describe(label, timings, width=36, decimals=2)


def median_ms(timings: list[float]) -> float:
    return statistics.median(timings) * 1000


def load_sessions(person: Person) -> list[EventSession]:
    """The person's sessions, loaded as ``person_feed`` loads them."""
    return calendars._calendar_sessions(
        sa.select(EventSession)
        .join(Invitation, Invitation.session_id == EventSession.id)
        .where(Invitation.person_id == person.id)
    )


class FeedBuilds:
    """The feed built from loaded sessions two ways: ours, and icalendar serialising alone."""

    def __init__(self, person: Person, sessions: list[EventSession], stamp: dt.datetime) -> None:
        self.person = person
        self.sessions = sessions
        self.options: dict[str, Any] = {
            "name": f"forum: {person.name}",
            "description": "Sessions you are invited to",
            "refresh": calendars.FEED_REFRESH,
        }
        self.stamp = stamp
        self.agenda = calendars.agenda_url(person)

    def entries(self) -> list[ical.SessionEntry]:
        zone = self.person.timezone
        return [
            calendars.session_entry(s, viewer_zone=zone, agenda=self.agenda) for s in self.sessions
        ]

    def calendar(self, entries: list[ical.SessionEntry]):
        components = []
        for entry in entries:
            components.extend(
                ical.session_components(entry, stamp=self.stamp, scheduling=False, organizer=False)
            )
        return ical._calendar(components, entries, method=None, **self.options)

    def ours(self) -> bytes:
        return ical.calendar_file(self.entries(), stamp=self.stamp, **self.options)

    def icalendar_alone(self) -> bytes:
        return self.calendar(self.entries()).to_ical()


def compare_builds(app: Flask, person_id: int, runs: int) -> dict[str, Any]:
    """Ours against icalendar alone, alternating, from the same loaded sessions."""
    with app.test_request_context():
        person = db.session.get(Person, person_id)
        started = time.perf_counter()
        sessions = load_sessions(person)
        load_time = time.perf_counter() - started
        calendars.cache.clear()
        served = calendars.person_feed(person)
        builds = FeedBuilds(person, sessions, served.last_modified)
        timings: dict[str, list[float]] = {"ours": [], "alone": []}
        bodies: dict[str, bytes] = {}
        order = [("ours", builds.ours), ("alone", builds.icalendar_alone)]
        for run in range(runs):
            # Alternate which goes first, so neither always gets the warmer caches.
            for name, build in order if run % 2 == 0 else order[::-1]:
                started = time.perf_counter()
                bodies[name] = build()
                timings[name].append(time.perf_counter() - started)
        # Where the time goes: the stages both share, then each serialiser on one calendar.
        entry_times, entries = timed(builds.entries, runs)
        component_times, calendar = timed(lambda: builds.calendar(entries), runs)
        writer_times, _ = timed(lambda: to_bytes(calendar), runs)
        to_ical_times, _ = timed(calendar.to_ical, runs)
        return {
            "ours": timings["ours"],
            "alone": timings["alone"],
            "same": bodies["ours"] == bodies["alone"],
            "served": bodies["ours"] == served.body,
            "size": len(bodies["ours"]),
            "components": bodies["ours"].count(b"\r\nBEGIN:VEVENT\r\n"),
            "load": load_time,
            "entries": entry_times,
            "calendar": component_times,
            "writer": writer_times,
            "to_ical": to_ical_times,
        }


def measure_requests(
    client: FlaskClient, path: str, cold_runs: int, warm_runs: int
) -> dict[str, Any]:
    def get(**headers: str):
        response = client.get(path, headers=headers)
        response.get_data()
        return response

    cold, response = timed(get, cold_runs, before=calendars.cache.clear)
    assert response.status_code == 200, response.status
    body, etag = response.get_data(), response.headers["ETag"]
    builds = calendars.cache.builds
    warm, response = timed(get, warm_runs)
    assert response.status_code == 200 and response.get_data() == body
    not_modified, response = timed(lambda: get(**{"If-None-Match": etag}), warm_runs)
    assert response.status_code == 304 and response.get_data() == b""
    return {
        "cold": cold,
        "warm": warm,
        "not_modified": not_modified,
        "rebuilt": calendars.cache.builds - builds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 sessions, fewer runs")
    parser.add_argument("--sessions", type=int, help="sessions in the feed (default 500)")
    args = parser.parse_args(argv)

    count = args.sessions or (60 if args.quick else 500)
    build_runs, cold_runs, warm_runs = (5, 5, 50) if args.quick else (21, 21, 501)
    with tempfile.TemporaryDirectory(prefix="forum-bench-") as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(Path(folder) / "forum.sqlite3"),
                "SECRET_KEY": "bench-secret-key",
                "MAIL_BACKEND": "memory",
                "TESTING": False,
            }
        )
        with app.app_context():
            upgrade()
        person_id = build_database(app, count)
        with app.app_context():
            path = urlsplit(calendars.feed_url(db.session.get(Person, person_id))).path
        client = app.test_client()
        requests = measure_requests(client, path, cold_runs, warm_runs)
        builds = compare_builds(app, person_id, build_runs)
        with app.app_context():
            db.engine.dispose()

    print(
        f"Personal feed: {count} sessions ({builds['components']} VEVENTs, "
        f"{builds['size'] / 1024:.0f} KiB), reader in {READER_ZONE}, SQLite"
    )
    print(describe("first build (full request)", requests["cold"]))
    print(describe("unchanged feed (full request)", requests["warm"]))
    print(describe("304 for a matching ETag", requests["not_modified"]))
    print(describe("first build: ours (calendar_file)", builds["ours"]))
    print(describe("first build: icalendar alone", builds["alone"]))
    print("  where the time goes (same loaded sessions):")
    print(f"  {'load sessions (SQL + ORM), once':<34} {builds['load'] * 1000:9.2f} ms")
    print(describe("  entries (session_entry)", builds["entries"]))
    print(describe("  icalendar components", builds["calendar"]))
    print(describe("  serialise: writer.to_bytes", builds["writer"]))
    print(describe("  serialise: Calendar.to_ical", builds["to_ical"]))
    print(f"same bytes from both: {'yes' if builds['same'] else 'NO'}")
    print(f"same bytes as the route serves: {'yes' if builds['served'] else 'NO'}")
    print(f"rebuilt while unchanged: {requests['rebuilt']}")
    if not (builds["same"] and builds["served"]) or requests["rebuilt"]:
        return 1

    ours, alone = median_ms(builds["ours"]), median_ms(builds["alone"])
    ratio = ours / alone
    print(f"first build: ours / icalendar alone (medians): {ratio:.2f}")
    unchanged, not_modified = median_ms(requests["warm"]), median_ms(requests["not_modified"])
    checks = [
        (
            f"unchanged feed median <= {TARGET_UNCHANGED_MS:.0f} ms",
            unchanged <= TARGET_UNCHANGED_MS,
            f"{unchanged:.2f} ms",
        ),
        (
            f"304 median <= {TARGET_NOT_MODIFIED_MS:.0f} ms",
            not_modified <= TARGET_NOT_MODIFIED_MS,
            f"{not_modified:.2f} ms",
        ),
        (
            "first build no slower than icalendar alone",
            ours <= alone,
            f"{ours:.1f} ms against {alone:.1f} ms",
        ),
    ]
    return report.judge(checks, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
