"""Booking preview benchmark: every date of a weekly series for the 40-university demo forum.

    python -m benchmarks.bench_booking_preview           # 100 and 522 dates, 3 runs each
    python -m benchmarks.bench_booking_preview --quick   # 10 dates, 1 run: a smoke test

One process, a fresh migrated SQLite database with the demo data. The preview of a weekly
series at 21:00 in Beijing (41 sites, 81 people) is built as the booking form builds it,
and each site's hour at each date is compared, in the same run, with the straightforward
way: one slot search per date. Both must give the same cells. Targets: 100 dates within
1 s, and the ten years of a weekly series (522 dates) faster than one search per date.
The exit status is 1 when the cells differ or a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from benchmarks import http_server
from benchmarks import report
from forum import create_app
from forum.core import times
from forum.core.recurrence import occurrences
from forum.demo.seed import seed_demo
from forum.events.explanations import site_facts
from forum.events.explanations import site_groups
from forum.events.explanations import site_times
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.planning import home_zones
from forum.events.planning import load_members
from forum.events.planning import participants_for
from forum.extensions import db
from forum.scheduling import engine
from forum.scheduling.model import STEPS
from forum.scheduling.model import SearchOptions
from forum.web.booking_preview import build_preview

TARGET_100_DATES_S = 1.0
ZONE = "Asia/Shanghai"


def one_search_per_date(roles: dict[int, str], rrule: str, start: dt.datetime) -> list:
    """Each date's sites by a slot search of that date alone: (local time, facts) per site."""
    members = load_members(roles)
    people = [members[person_id] for person_id in sorted(members)]
    participants = participants_for(people, required_ids=set(), weights={}, site_hours={})
    sites, site_of = site_groups(participants, {p.id: p.name for p in people}, home_zones(people))
    cells = []
    for begin, end in occurrences(
        start=start, end=start + dt.timedelta(hours=1), timezone=ZONE, rrule=rrule
    ):
        options = SearchOptions(
            duration=end - begin, window_start=begin, window_end=end, step_minutes=STEPS[0]
        )
        result = engine.find_slots(participants, options)
        found = site_times(result, sites, site_facts(result, site_of, len(sites)), 0)
        cells.append([(s.local_start, s.categories) for s in found])
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 dates, 1 run")
    args = parser.parse_args(argv)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    counts, runs = ([10], 1) if args.quick else ([100, 522], 3)
    checks = []
    with tempfile.TemporaryDirectory(prefix="forum-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, **http_server.SETTINGS})
        with app.app_context():
            upgrade()
            seed_demo()
            db.session.commit()
            event = db.session.scalar(sa.select(Event).where(Event.kind == "forum"))
            roles = dict(
                db.session.execute(
                    sa.select(EventParticipant.person_id, EventParticipant.role).where(
                        EventParticipant.event_id == event.id
                    )
                ).all()
            )
            start = times.resolve_local(dt.datetime(2027, 3, 3, 21), ZONE)
            print(f"demo forum: {len(roles)} people; weekly at 21:00 {ZONE} from 2027-03-03")
            for count in counts:
                rrule = f"FREQ=WEEKLY;BYDAY=WE;COUNT={count}"
                timings, preview = [], None
                for _ in range(runs):
                    began = time.perf_counter()
                    preview = build_preview(
                        event.owner,
                        start=start,
                        end=start + dt.timedelta(hours=1),
                        timezone=ZONE,
                        rrule=rrule,
                        roles=roles,
                        leave_out=False,
                    )
                    timings.append(time.perf_counter() - began)
                began = time.perf_counter()
                expected = one_search_per_date(roles, rrule, start)
                baseline = time.perf_counter() - began
                cells = [[(s.local, s.categories) for s in row.sites] for row in preview.rows]
                dates = len(preview.rows)
                print(report.describe(f"preview, {dates} dates", timings))
                print(report.describe(f"one search per date, {dates}", [baseline]))
                same = cells == expected
                print(f"same cells: {same} ({dates} dates x {len(preview.site_names)} sites)")
                if not same:
                    return 1
                best = min(timings)
                if count == 100:
                    checks.append(
                        ("100 dates within 1 s", best <= TARGET_100_DATES_S, f"{best:.2f} s")
                    )
                else:
                    checks.append(
                        (
                            f"{dates} dates faster than one search per date",
                            best < baseline,
                            f"{best:.2f} s against {baseline:.2f} s",
                        )
                    )
    return report.judge(checks, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
