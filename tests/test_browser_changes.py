"""An organiser changes a weekly series in a real browser: one date moved, another
cancelled, then the whole series rescheduled, each change reaching the invitees."""

from __future__ import annotations

import re
from typing import Any

import icalendar
import pytest
from flask import Flask

from tests.browser import save_screenshot
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.test_web import PASSWORD

pytestmark = pytest.mark.browser

ORGANISER = "organiser@example.org"
ZONE = "America/New_York"


def calendars_since(app: Flask, count: int) -> list[tuple[str, str, int]]:
    """(recipient, METHOD, SEQUENCE) of each email after the first ``count``."""
    found = []
    for message in app.extensions["forum_mail_sender"].messages[count:]:
        [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
        [entry] = calendar.walk("VEVENT")
        found.append(
            (message["To"].addresses[0].addr_spec, str(calendar["METHOD"]), int(entry["SEQUENCE"]))
        )
    return sorted(found)


def sent_count(app: Flask) -> int:
    return len(app.extensions["forum_mail_sender"].messages)


@pytest.fixture
def api(make_organiser):
    return make_organiser(timezone="Europe/Berlin")


@pytest.fixture
def series(api) -> dict[str, Any]:
    event = make_event(api, title="Rectors' forum", timezone=ZONE)
    institution = make_institution(api, "Columbia University", "US", ZONE)
    people = [
        make_person(api, f"Person {i}", f"p{i}@uni.example", institution["id"]) for i in range(2)
    ]
    return make_session(
        api,
        event["id"],
        title="Weekly call",
        local_start="2030-06-04T10:00:00",
        timezone=ZONE,
        rrule="FREQ=WEEKLY;COUNT=4",
        invitees=[invitee(p) for p in people],
    )


def test_an_organiser_moves_a_date_cancels_another_and_reschedules_the_series(
    app: Flask, page, series: dict[str, Any]
) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(ORGANISER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    page.goto(f"/sessions/{series['id']}")
    dates = page.locator("ol.coming > li")
    assert dates.count() == 4

    # The second date, a day later and shorter.
    before = sent_count(app)
    dates.nth(1).get_by_role("link", name=re.compile(r"^Move")).click()
    page.get_by_role("heading", name="Move one date of “Weekly call”").wait_for()
    assert page.get_by_label("Starts").input_value() == "2030-06-11T10:00"
    page.get_by_label("Starts").fill("2030-06-12T11:00")
    page.get_by_label("Length (minutes)").fill("45")
    save_screenshot(page, "changes-move-date-form")
    page.get_by_role("button", name="Change and send the invitations").click()
    page.wait_for_url(f"**/sessions/{series['id']}")
    assert "is moved to Wed 12 Jun 2030 11:00" in page.locator(".flash").inner_text()
    assert dates.nth(1).locator(".badge").inner_text() == "moved"
    assert "Wed 12 Jun 2030 17:00 (Europe/Berlin)" in dates.nth(1).inner_text()
    assert calendars_since(app, before) == [
        ("p0@uni.example", "REQUEST", 1),
        ("p1@uni.example", "REQUEST", 1),
    ]
    save_screenshot(page, "changes-date-moved")

    # The third date cancelled, after the question.
    before = sent_count(app)
    dates.nth(2).get_by_role("link", name=re.compile(r"^Cancel this date")).click()
    page.get_by_role("heading", name="Cancel one date of “Weekly call”?").wait_for()
    save_screenshot(page, "changes-cancel-date-question")
    page.get_by_role("button", name="Yes, cancel this date").click()
    page.wait_for_url(f"**/sessions/{series['id']}")
    assert dates.nth(2).locator(".badge").inner_text() == "cancelled"
    assert dates.nth(2).get_by_role("link").count() == 0
    assert calendars_since(app, before) == [
        ("p0@uni.example", "CANCEL", 2),
        ("p1@uni.example", "CANCEL", 2),
    ]
    save_screenshot(page, "changes-date-cancelled")

    # The whole series: an hour earlier, 90 minutes, a new title.
    before = sent_count(app)
    page.get_by_role("link", name="Change time, length or title").click()
    page.get_by_label("Title").fill("Weekly call, new time")
    page.get_by_label("Starts").fill("2030-06-04T09:00")
    page.get_by_label("Length (minutes)").fill("90")
    save_screenshot(page, "changes-reschedule-form")
    page.get_by_role("button", name="Change and send the invitations").click()
    page.wait_for_url(f"**/sessions/{series['id']}")
    page.get_by_role("heading", name=re.compile("Weekly call, new time")).wait_for()
    # A new time sets the moved and cancelled dates back to the series' time.
    assert page.locator("ol.coming .badge").count() == 0
    assert "Tue 04 Jun 2030 15:00 (Europe/Berlin)" in dates.nth(0).inner_text()
    assert calendars_since(app, before) == [
        ("p0@uni.example", "REQUEST", 3),
        ("p1@uni.example", "REQUEST", 3),
    ]
    save_screenshot(page, "changes-series-rescheduled")


def test_a_time_that_happens_twice_is_chosen_and_a_chairs_clash_is_overruled(
    app: Flask, page, api, page_errors: list[str]
) -> None:
    event = make_event(api, title="Rectors' forum", timezone=ZONE)
    institution = make_institution(api, "Columbia University", "US", ZONE)
    chair = make_person(api, "Carla Chair", "chair@uni.example", institution["id"])
    make_session(
        api,
        event["id"],
        title="Senate",
        start="2030-06-05T13:00:00Z",
        invitees=[invitee(chair, role="chair")],
    )
    session = make_session(
        api,
        event["id"],
        title="Plenary",
        start="2030-06-04T14:00:00Z",
        invitees=[invitee(chair, role="chair")],
    )
    page.goto("/login")
    page.get_by_label("Email").fill(ORGANISER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    page.goto(f"/sessions/{session['id']}/change")

    # Clocks go back in New York on 3 November 2030: 01:30 happens twice.
    page.get_by_label("Starts").fill("2030-11-03T01:30")
    page.get_by_role("button", name="Change and send the invitations").click()
    choice = page.get_by_role("group", name=re.compile("That time happens twice"))
    choice.wait_for()
    assert choice.get_by_label("01:30 EDT, 05:30 UTC").count() == 1
    save_screenshot(page, "changes-time-happens-twice")
    choice.get_by_label("01:30 EST, 06:30 UTC").check()
    page.get_by_role("button", name="Change and send the invitations").click()
    page.wait_for_url(f"**/sessions/{session['id']}")
    assert "Sun 03 Nov 2030 06:30 (UTC)" in page.locator("#when-heading + dl").inner_text()

    # Onto the Senate's time: the chair is busy then; changed anyway once ticked.
    page.get_by_role("link", name="Change time, length or title").click()
    page.get_by_label("Starts").fill("2030-06-05T09:30")
    page.get_by_role("button", name="Change and send the invitations").click()
    clashes = page.locator("#clashes")
    clashes.wait_for()
    assert "Carla Chair (chair) is chair in “Senate”" in clashes.inner_text()
    save_screenshot(page, "changes-chair-clash")
    page.get_by_label("Change it even if a chair or speaker is busy then").check()
    page.get_by_role("button", name="Change and send the invitations").click()
    page.wait_for_url(f"**/sessions/{session['id']}")
    assert "Wed 05 Jun 2030 13:30 (UTC)" in page.locator("#when-heading + dl").inner_text()
    [(to, method, sequence)] = calendars_since(app, sent_count(app) - 1)
    assert (to, method, sequence) == ("chair@uni.example", "REQUEST", 2)
    # The refusals came as 422 and 409 pages, which Chromium logs; nothing else went wrong.
    assert [re.search(r"status of (\d+)", error).group(1) for error in page_errors] == [
        "422",
        "409",
    ], page_errors
    page_errors.clear()
