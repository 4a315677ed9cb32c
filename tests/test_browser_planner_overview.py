"""The planner of the 40-university demo forum in Chromium: the week at a glance, a day in
detail, and how long "Find a time" takes to show slots (printed, not judged: speed is for
the benchmarks)."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa
from flask import Flask

from forum.events.models import Event
from forum.extensions import db
from tests.browser import ARTIFACTS
from tests.browser import save_screenshot
from tests.test_browser_organiser import demo  # noqa: F401 (a fixture)
from tests.test_browser_organiser import log_in

pytestmark = pytest.mark.browser

BACKGROUND = "(selector) => getComputedStyle(document.querySelector(selector)).backgroundColor"


def luminance(css_colour: str) -> float:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_colour)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_the_forums_week_at_a_glance_then_a_day_in_detail(demo: Flask, make_page) -> None:  # noqa: F811
    with demo.app_context():
        event = db.session.scalar(sa.select(Event).where(Event.kind == "forum"))
    page = make_page()
    log_in(page)
    page.goto(f"/events/{event.id}")

    began = time.perf_counter()
    page.get_by_role("link", name="Find a time", exact=True).click()
    page.locator("#slot-1").wait_for()
    page.locator("#overview tbody tr").first.wait_for()
    elapsed = time.perf_counter() - began
    timing = page.evaluate(
        "() => { const t = performance.getEntriesByType('navigation')[0];"
        " return {server: Math.round(t.responseStart - t.requestStart),"
        " ready: Math.round(t.domContentLoadedEventEnd - t.startTime),"
        " loaded: Math.round(t.loadEventEnd - t.startTime)}; }"
    )

    overview = page.locator("#overview")
    # Every site in one of the rows, the rows fewer than the sites.
    sites = [
        int(n)
        for n in overview.locator("tbody tr").evaluate_all(
            "rows => rows.map(row => row.dataset.sites)"
        )
    ]
    assert sum(sites) == 41 and len(sites) < 41
    assert overview.locator("tr.counts-working td").count() == 7 * 24
    assert overview.locator("tr.counts-night td").count() == 7 * 24
    assert overview.locator("tr.days a").count() == 7
    # The whole week fits the page's width: no scroll box to move around in.
    wrap = page.locator(".overview-wrap")
    assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth")
    # A weekend night is as dark as any night, and darker than a weekend day.
    weekend_night = page.evaluate(BACKGROUND, "#overview td.k-night.off")
    night = page.evaluate(BACKGROUND, "#overview td.k-night:not(.off)")
    weekend = page.evaluate(BACKGROUND, "#overview td.k-weekend")
    assert weekend_night == night
    assert luminance(weekend_night) < luminance(weekend) / 2
    assert page.locator(".slots > li").count() == 10
    save_screenshot(page, "planner-overview-40")
    page.locator(".planner-overview").screenshot(
        path=str(ARTIFACTS / "planner-overview-40-table.png")
    )
    # Once more, the server's caches warm (as for every visit but the first of a process).
    planner_url = page.url
    began = time.perf_counter()
    page.goto(planner_url)
    page.locator("#slot-1").wait_for()
    again = time.perf_counter() - began
    print(
        f"planner overview, 41 sites x 7 days: slots on screen {elapsed:.2f} s after the click "
        f"(first visit), {again:.2f} s on the next; browser navigation timing of the first (ms) "
        f"{timing}"
    )

    # A day in detail from the overview's day row: every site, the day's 24 hours.
    page.locator("#overview tr.days a").nth(2).click()
    grid = page.locator("#grid")
    grid.wait_for()
    assert grid.locator("tbody th.site").count() == 41
    assert grid.locator("thead tr").nth(1).locator("th").count() == 24
    save_screenshot(page, "planner-day-40")

    # From the overview, a slot's "Show in grid" opens its day with its hours marked.
    page.goto(f"/events/{event.id}/planner")
    page.locator("#slot-2").get_by_role("link", name="Show in grid").click()
    page.wait_for_url(re.compile(r"slot=2"))
    assert page.locator("#slot-2").get_attribute("aria-current") == "true"
    assert page.locator("#grid tbody td.hl").count() in (41, 82)
