"""The planner page of the 40-university demo forum: the overview of the week (sites alike
in every hour in one row, per-hour counts), a day in detail on demand, and varied slots.

Every expectation is worked out from the planning service's grid and search (themselves
checked against the engine's reference rules in test_planner_grid), not from the page's
own code.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from forum.accounts.models import Organiser
from forum.demo.seed import DEMO_ORGANISER_EMAIL
from forum.demo.seed import DEMO_ORGANISER_PASSWORD
from forum.demo.seed import seed_demo
from forum.events import planning
from forum.events.models import Event
from forum.extensions import db
from tests.factories import make_event
from tests.helpers import recorded_statements
from tests.test_web import log_in
from tests.test_web_events import add_sites
from tests.test_web_events import bilateral
from tests.test_web_events import organiser  # noqa: F401 (a fixture)
from tests.test_web_events import two_sites  # noqa: F401 (a fixture)

PLAN = {
    "searched": "1",
    "duration_minutes": "60",
    "start": "2027-03-01",
    "days": "7",
    "step_minutes": "30",
    "timezone": "Asia/Shanghai",
    "skip_holidays": "y",
}
DAYS_OFF = {"weekend", "holiday"}


@pytest.fixture
def demo(app: Flask, client: FlaskClient) -> int:
    """The demo forum's event id, with the client logged in as its organiser."""
    with app.app_context():
        seed_demo()
        db.session.commit()
        event_id = db.session.scalar(sa.select(Event.id).where(Event.kind == "forum"))
    log_in(client, DEMO_ORGANISER_EMAIL, DEMO_ORGANISER_PASSWORD)
    return event_id


def planner_page(client: FlaskClient, event_id: int, **extra: str) -> str:
    response = client.get(f"/events/{event_id}/planner", query_string={**PLAN, **extra})
    assert response.status_code == 200
    return response.text


def service_grid(app: Flask, event_id: int) -> planning.Grid:
    with app.app_context():
        organiser = db.session.scalar(
            sa.select(Organiser).where(Organiser.email == DEMO_ORGANISER_EMAIL)
        )
        return planning.planner_grid(
            organiser,
            event_id=event_id,
            window_start="2027-03-01",
            window_end="2027-03-07",
            timezone="Asia/Shanghai",
        )


def service_search(app: Flask, event_id: int) -> dict[str, Any]:
    """The engine's ranked slots for the page's search, as many as it gives at most."""
    with app.app_context():
        organiser = db.session.scalar(
            sa.select(Organiser).where(Organiser.email == DEMO_ORGANISER_EMAIL)
        )
        return planning.search(
            organiser,
            event_id=event_id,
            window_start="2027-03-01",
            window_end="2027-03-07",
            timezone="Asia/Shanghai",
            duration_minutes=60,
            step_minutes=30,
            limit=planning.MAX_LIMIT,
        )


def expected_cell(site: planning.GridSite, column: int) -> str:
    """A cell's classes from the grid: its category, and "off" for a day off under it."""
    category, facts = site.cells[column], site.facts[column]
    if category not in DAYS_OFF and DAYS_OFF.intersection(facts):
        return f"k-{category} off"
    return f"k-{category}"


def overview_rows(page: str) -> list[tuple[list[str], list[str]]]:
    """Each overview row: the site labels it stands for, and its classes hour by hour."""
    body = re.search(r'<table class="overview" id="overview">.*?<tbody>(.*?)</tbody>', page, re.S)
    rows = []
    for names, cells in re.findall(
        r'<tr data-sites="\d+">\s*<th scope="row" class="group" title="([^"]*)">.*?</th>(.*?)</tr>',
        body.group(1),
        re.S,
    ):
        hours: list[str] = []
        for classes, span in re.findall(r'<td class="([^"]+)" colspan="(\d+)"', cells):
            hours += [classes] * int(span)
        rows.append((html.unescape(names).split("; "), hours))
    return rows


def counts(page: str, kind: str) -> list[int]:
    return [int(n) for n in re.findall(rf'data-{kind}="(\d+)"', page)]


def test_the_overview_groups_sites_alike_in_every_hour_and_counts_each_hour(
    app: Flask, client: FlaskClient, demo: int
) -> None:
    page = planner_page(client, demo)
    grid = service_grid(app, demo)
    sites = {site.label: site for country in grid.countries for site in country.sites}
    assert len(sites) == 41
    rows = overview_rows(page)
    # Every site in exactly one row.
    shown = [label for labels, _ in rows for label in labels]
    assert sorted(shown) == sorted(sites)
    hours = len(grid.hours)
    assert hours == 7 * 24
    for labels, classes in rows:
        assert len(classes) == hours
        # The row's hours are each of its sites' hours, per the service's categories.
        for label in labels:
            assert classes == [expected_cell(sites[label], c) for c in range(hours)], label
    # Sites alike in every hour share one row: no two rows are the same.
    assert len({tuple(classes) for _, classes in rows}) == len(rows) < len(sites)
    # Sites in the same zone, country and hours: Harvard and Columbia's New York site.
    together = next(labels for labels, _ in rows if "Harvard University" in labels)
    assert any(label.startswith("Columbia University · America/New_York") for label in together)

    # Per hour, the sites in working hours and those at night (a weekend night is a night).
    assert counts(page, "working") == [
        sum(site.cells[c] == "working" for site in sites.values()) for c in range(hours)
    ]
    nights = [sum("night" in site.facts[c] for site in sites.values()) for c in range(hours)]
    assert counts(page, "night") == nights
    assert max(nights) > 0 and min(nights) < max(nights)


def test_a_weekend_night_is_a_night_on_a_day_off(app: Flask, client: FlaskClient, demo: int):
    page = planner_page(client, demo)
    labels, pku = next(row for row in overview_rows(page) if "Peking University" in row[0])
    # Saturday 6 March, 03:00 in Beijing: a night and a weekend; Tuesday 03:00: a night.
    assert pku[5 * 24 + 3] == "k-night off"
    assert pku[1 * 24 + 3] == "k-night"
    assert pku[5 * 24 + 10] == "k-weekend"
    # The same in the day's detail.
    day = planner_page(client, demo, day="2027-03-06")
    row = re.search(r'<th scope="row" class="site"[^>]*>Peking University<.*?</tr>', day, re.S)
    cells = re.findall(r'<td class="([^"]+?)"(?: title="[^"]*")?>(\d+)</td>', row.group(0))
    assert cells[3] == ("k-night off", "3")
    assert cells[10] == ("k-weekend", "10")


def slots_shown(page: str) -> list[str]:
    return re.findall(r'<input type="hidden" name="start" value="([^"]+)">', page)


def situation(slot: dict[str, Any]) -> tuple[Any, ...]:
    return tuple((row["site"], tuple(row["categories"])) for row in slot["institutions"])


def test_the_slots_shown_are_each_a_different_choice(
    app: Flask, client: FlaskClient, demo: int
) -> None:
    page = planner_page(client, demo)
    answer = service_search(app, demo)
    ranked = answer["slots"]
    by_start = {slot["start"]: slot for slot in ranked}
    shown = slots_shown(page)
    assert len(shown) == 10
    # The engine's top ten hold neighbours alike for every site; the page shows none twice.
    top_ten = [situation(slot) for slot in ranked[:10]]
    assert len(set(top_ten)) < 10
    situations = [situation(by_start[start]) for start in shown]
    assert len(set(situations)) == len(shown)
    # Each is the best-ranked slot of its kind, in the engine's order.
    firsts: dict[tuple[Any, ...], str] = {}
    for slot in ranked:
        firsts.setdefault(situation(slot), slot["start"])
    assert shown == list(firsts.values())[:10]

    # A one-line reason, and the cost each site pays, as the engine counts it.
    labels = {site["site"]: site["label"] for site in answer["sites"]}
    listed = page[page.index('<ol class="slots">') : page.index("</ol>")]
    cards = re.split(r'<li class="slot[^"]*" id="slot-\d+"', listed)[1:]
    assert len(cards) == 10
    for card, start in zip(cards, shown, strict=True):
        slot = by_start[start]
        reason = html.unescape(re.search(r'<p class="slot-reason">(.*?)</p>', card).group(1))
        working = sum(row["categories"] == ["working"] for row in slot["institutions"])
        assert f"working hours for {working} of 41 sites" in reason
        assert f"{slot['total_cost']} in all" in reason
        costs = {
            html.unescape(label): int(cost)
            for cost, names in re.findall(
                r'<li data-cost="(\d+)">.*?<span class="sites">(.*?)</span></li>', card
            )
            for label in names.split("; ")
        }
        assert costs == {labels[row["site"]]: row["worst_cost"] for row in slot["institutions"]}


def test_a_day_opens_in_detail_from_the_overview(app: Flask, client: FlaskClient, demo: int):
    page = planner_page(client, demo)
    # The overview alone: no site-by-site grid until a day is asked for.
    assert 'id="grid"' not in page
    links = re.findall(r'<th scope="colgroup" colspan="24"[^>]*><a href="([^"]+)"', page)
    assert len(links) == 7
    third = client.get(html.unescape(links[2]))
    assert third.status_code == 200
    day = third.text
    assert "Wednesday 3 March 2027" in day
    grid = service_grid(app, demo)
    sites = {site.label: site for country in grid.countries for site in country.sites}
    rows = re.findall(r'<th scope="row" class="site" title="([^"]*)">.*?</th>(.*?)</tr>', day, re.S)
    assert len(rows) == 41
    for label, cells in rows:
        site = sites[html.unescape(label)]
        found = re.findall(r'<td class="([^"]+?)"(?: title="[^"]*")?>(\d+)</td>', cells)
        assert found == [
            (expected_cell(site, c), str(site.local_hours[c])) for c in range(48, 72)
        ], label
    assert 'aria-current="true">Wed 03 Mar</a>' in day
    assert "‹ Tue 02 Mar</a>" in day and "Thu 04 Mar ›</a>" in day

    # "Show in grid" opens the slot's day with its hours marked.
    start = slots_shown(page)[1]
    show = re.search(r'id="slot-2".*?<a class="[^"]*show-slot" href="([^"]+)"', page, re.S)
    marked = client.get(html.unescape(show.group(1))).text
    first = dt.datetime.fromisoformat(start).astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert f"{first:%A} {first.day} {first:%B %Y}" in marked
    row = re.search(r'<th scope="row" class="site"[^>]*>Peking University<.*?</tr>', marked, re.S)
    hours = re.findall(r'<td class="[^"]*?( hl)?"(?: title="[^"]*")?>(\d+)</td>', row.group(0))
    assert [int(hour) for mark, hour in hours if mark] == [first.hour]  # on the hour: one
    assert 'id="slot-2"' in marked and 'aria-current="true"' in marked


def test_a_day_asked_outside_the_window_shows_the_overview_alone(
    client: FlaskClient, demo: int
) -> None:
    for day in ("2027-04-01", "not a day"):
        page = planner_page(client, demo, day=day)
        assert 'id="overview"' in page and 'id="grid"' not in page


def statements(app: Flask, client: FlaskClient, path: str, **query: str) -> tuple[int, str]:
    with recorded_statements(app) as sent:
        response = client.get(path, query_string=query)
    assert response.status_code == 200
    return len(sent), response.text


def test_the_overview_and_a_day_send_as_many_queries_for_12_sites_as_for_2(
    app: Flask, client: FlaskClient, make_organiser
) -> None:
    api = make_organiser(timezone="Europe/London")
    log_in(client, "organiser@example.org")
    event = make_event(api, title="Forum", kind="forum", timezone="Europe/London")
    add_sites(api, event["id"], 0, 2)
    path = f"/events/{event['id']}/planner"
    day = {**PLAN, "day": "2027-03-02"}
    small = [statements(app, client, path, **PLAN), statements(app, client, path, **day)]
    assert [len(overview_rows(page)) for _, page in small] == [2, 2]
    add_sites(api, event["id"], 2, 10)
    large = [statements(app, client, path, **PLAN), statements(app, client, path, **day)]
    assert len(re.findall(r'<th scope="row" class="site"', large[1][1])) == 12
    assert [count for count, _ in large] == [count for count, _ in small]


def chains(slots: list[dict[str, Any]]) -> list[list[str]]:
    """Slots alike for every site whose starts follow each other at most an hour apart,
    each chain's starts best first."""
    found: list[list[dict[str, Any]]] = []
    by_situation: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for slot in slots:
        by_situation.setdefault(situation(slot), []).append(slot)
    for alike in by_situation.values():
        alike.sort(key=lambda slot: slot["start"])
        found.append([alike[0]])
        for slot in alike[1:]:
            gap = dt.datetime.fromisoformat(slot["start"]) - dt.datetime.fromisoformat(
                found[-1][-1]["start"]
            )
            if gap > dt.timedelta(hours=1):
                found.append([])
            found[-1].append(slot)
    rank = {slot["start"]: index for index, slot in enumerate(slots)}
    return [sorted((s["start"] for s in chain), key=rank.__getitem__) for chain in found]


def test_two_sites_alike_all_week_get_a_slot_a_day(
    client: FlaskClient,
    organiser,  # noqa: F811 (the fixture)
    two_sites: dict,  # noqa: F811 (the fixture)
) -> None:
    event_id = bilateral(organiser, two_sites)
    answer = organiser.post(
        "/api/v1/scheduling/search",
        json={
            "event_id": event_id,
            "duration_minutes": 60,
            "window_start": "2027-03-01",
            "window_end": "2027-03-07",
            "timezone": "Asia/Shanghai",
            "step_minutes": 30,
            "limit": 50,
        },
    ).json
    groups = chains(answer["slots"])
    # Every slot alike for both sites: only the days tell them apart, each day's working
    # hours one run of neighbours.
    assert len({situation(slot) for slot in answer["slots"]}) == 1
    assert 1 < len(groups) < 10
    shown = slots_shown(planner_page(client, event_id))
    assert len(shown) == len(groups)
    group_of = {start: index for index, group in enumerate(groups) for start in group}
    # One slot of each group, the group's best, in the engine's order.
    assert len({group_of[start] for start in shown}) == len(shown)
    assert all(groups[group_of[start]][0] == start for start in shown)
    rank = {slot["start"]: index for index, slot in enumerate(answer["slots"])}
    assert shown == sorted((group[0] for group in groups), key=rank.__getitem__)[:10]
