"""Planner benchmark: the 40-university demo forum over 7 days, as the planner page shows it.

    python -m benchmarks.bench_planner           # 21 page requests, 21 grids each way
    python -m benchmarks.bench_planner --quick   # 5 of each: a smoke test

One process, a fresh migrated SQLite database with the demo data, the app served over
HTTP on a loopback port (werkzeug, one thread) and the pages asked for by an HTTP client
logged in as the demo organiser: the planner's overview of the week with its varied
slots, and one day in detail. The grid (41 sites by 168 hours) is compared in the same
run with the straightforward way of filling it: each person's facts for each hour by the
engine's reference code (one zone conversion, holiday and rule lookup per person per
hour), every fact per site and the most serious; both must give the same cells. The page
target is 200 ms on the server for the overview page (the browser test measures the time
to slots on screen in Chromium). The exit status is 1 when the grids differ or a target is
missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import logging
import re
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.serving import make_server

from benchmarks import report
from forum import create_app
from forum.accounts.models import Organiser
from forum.accounts.services import find_organiser
from forum.demo.seed import DEMO_ORGANISER_EMAIL
from forum.demo.seed import DEMO_ORGANISER_PASSWORD
from forum.demo.seed import seed_demo
from forum.events import planning
from forum.events.models import Event
from forum.extensions import db
from forum.scheduling import reference
from forum.scheduling.model import SearchOptions
from forum.scheduling.model import category_of
from forum.scheduling.model import mask_of

TARGET_PAGE_MS = 200.0
FIRST_DAY = dt.date(2027, 3, 1)
DAYS = 7


def _timed(action: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    timings, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = action()
        timings.append(time.perf_counter() - began)
    return timings, result


def straightforward_grid(actor: Organiser, event_id: int) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every cell from the reference code: per person, per hour, every fact; per site (an
    institution's people who share a zone and hours) all its people's facts, and the most
    serious of them."""
    found, _, start, end = planning.search_scope(
        actor,
        window_start=FIRST_DAY,
        window_end=FIRST_DAY + dt.timedelta(days=DAYS - 1),
        duration=dt.timedelta(hours=1),
        event_id=event_id,
    )
    table = planning.busy_in_window([p.id for p in found.people], start, end)
    busy: dict[int, list[tuple[int, int]]] = {}
    for person_id, first_minute, last_minute in zip(
        table.person_ids.tolist(), table.starts.tolist(), table.ends.tolist(), strict=True
    ):
        busy.setdefault(person_id, []).append((first_minute, last_minute))
    participants = [
        replace(participant, busy=tuple(sorted(busy.get(participant.person_id, ()))))
        for participant in planning.participants_for(
            found.people, required_ids=found.required_ids, weights={}, site_hours={}
        )
    ]
    options = SearchOptions(
        duration=dt.timedelta(hours=1), window_start=start, window_end=end, step_minutes=60
    )
    first = start.replace(minute=0) + (dt.timedelta(hours=1) if start.minute else dt.timedelta())
    hours = []
    while first + dt.timedelta(hours=1) <= end:
        hours.append(first)
        first += dt.timedelta(hours=1)
    sites: dict[tuple[Any, ...], list[set[str]]] = {}
    for participant in participants:
        key = (
            participant.institution_name,
            participant.timezone,
            participant.working_hours,
            participant.acceptable_hours,
        )
        facts = [set(reference.place(participant, hour, options).categories) for hour in hours]
        if key in sites:
            facts = [a | b for a, b in zip(sites[key], facts, strict=True)]
        sites[key] = facts
    return sorted(
        (
            name,
            zone,
            tuple(category_of(mask_of(list(cell)), options.costs) for cell in cells),
        )
        for (name, zone, _, _), cells in sites.items()
    )


def ours(actor: Organiser, event_id: int) -> list[tuple[str, str, tuple[str, ...]]]:
    grid = planning.planner_grid(
        actor,
        window_start=FIRST_DAY,
        window_end=FIRST_DAY + dt.timedelta(days=DAYS - 1),
        event_id=event_id,
    )
    return sorted(
        (site.name, site.timezone, site.cells)
        for country in grid.countries
        for site in country.sites
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs of each")
    args = parser.parse_args(argv)
    runs = 5 if args.quick else 21

    with tempfile.TemporaryDirectory(prefix="forum-bench-") as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(Path(folder) / "forum.sqlite3"),
                "SECRET_KEY": "bench-secret-key",
                "MAIL_BACKEND": "memory",
                "TESTING": False,
                "WTF_CSRF_ENABLED": False,
            }
        )
        with app.app_context():
            upgrade()
            seed_demo()
            db.session.commit()
            event_id = db.session.scalar(sa.select(Event.id).where(Event.kind == "forum"))

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        server = make_server("127.0.0.1", 0, app, threaded=False)
        base = f"http://127.0.0.1:{server.server_port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        login = urllib.parse.urlencode(
            {"email": DEMO_ORGANISER_EMAIL, "password": DEMO_ORGANISER_PASSWORD}
        ).encode()
        browser.open(f"{base}/login", data=login).read()
        query = {
            "searched": "1",
            "duration_minutes": "60",
            "start": FIRST_DAY.isoformat(),
            "days": str(DAYS),
            "step_minutes": "30",
            "timezone": "Asia/Shanghai",
            "skip_holidays": "y",
        }
        overview_url = f"{base}/events/{event_id}/planner?{urllib.parse.urlencode(query)}"
        day_url = f"{overview_url}&day={(FIRST_DAY + dt.timedelta(days=2)).isoformat()}"

        def get(url: str) -> bytes:
            with browser.open(url) as response:
                assert response.status == 200, response.status
                return response.read()

        get(overview_url)  # warm the caches
        page_timings, body = _timed(lambda: get(overview_url), runs)
        day_timings, day_body = _timed(lambda: get(day_url), runs)
        server.shutdown()
        thread.join(timeout=10)
        text = body.decode()
        rows = sum(int(n) for n in re.findall(r'<tr data-sites="(\d+)"', text))
        groups = text.count("<tr data-sites=")
        slots = text.count('<li class="slot')
        day_rows = day_body.decode().count('<th scope="row" class="site"')

        with app.app_context():
            actor = find_organiser(DEMO_ORGANISER_EMAIL)
            grid_timings, grid = _timed(lambda: ours(actor, event_id), runs)
            baseline_timings, baseline = _timed(
                lambda: straightforward_grid(actor, event_id), max(3, runs // 4)
            )
            db.engine.dispose()

    print(
        f"Planner: demo forum, {rows} sites x {DAYS * 24} hours in {groups} overview rows, "
        f"{slots} varied slots, {len(body) / 1024:.0f} KiB of HTML, SQLite, over HTTP"
    )
    print(report.describe("planner page (full request)", page_timings, width=36))
    print(report.describe(f"one day in detail ({day_rows} sites)", day_timings, width=36))
    print(report.describe("grid: ours (planner_grid)", grid_timings, width=36))
    print(report.describe("grid: straightforward (reference)", baseline_timings, width=36))
    median = sorted(page_timings)[len(page_timings) // 2] * 1000
    ratio = (
        (sorted(baseline_timings)[len(baseline_timings) // 2])
        / (sorted(grid_timings)[len(grid_timings) // 2])
    )
    print(f"grid speed-up over the straightforward way: {ratio:.0f}x")
    print(f"same cells from both: {'yes' if grid == baseline else 'no'}")
    if grid != baseline:
        return 1
    checks = [
        (
            f"planner page under {TARGET_PAGE_MS:.0f} ms",
            median <= TARGET_PAGE_MS,
            f"median {median:.0f} ms",
        ),
        # 40 universities, and Columbia University's Beijing centre on Beijing's clock.
        ("every site shown", rows == 41, f"{rows} sites"),
    ]
    return report.judge(checks, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
