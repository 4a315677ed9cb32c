"""Booking a weekly series from the form in a real browser, across a clock change: the
preview shows where and from when a site's hour moves, then the series is booked."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask

from forum.demo.seed import seed_demo
from forum.events.models import EventSession
from forum.extensions import db
from tests.browser import save_screenshot
from tests.test_browser_organiser import UNLABELLED_CONTROLS
from tests.test_browser_organiser import create_bilateral_event
from tests.test_browser_organiser import log_in

pytestmark = pytest.mark.browser

TITLE = "PKU–UMich weekly seminar"


@pytest.fixture
def demo(app: Flask) -> Flask:
    with app.app_context():
        seed_demo()
        db.session.commit()
    return app


def test_a_weekly_series_across_the_us_clock_change_is_previewed_then_booked(
    demo: Flask, make_page
) -> None:
    page = make_page()
    log_in(page)

    # An event between Peking University and the University of Michigan.
    page.goto("/events/new")
    event_id = create_bilateral_event(
        page, TITLE, ("Peking University (CN)", "University of Michigan (US)")
    )

    # Wednesdays at 21:00 in Beijing from 3 March 2027, four times: the US moves its
    # clocks forward on Sunday 14 March, so Ann Arbor's 08:00 becomes 09:00 on the 17th.
    page.goto(f"/events/{event_id}/sessions/new")
    page.get_by_label("Starts").fill("2027-03-03T21:00")
    page.get_by_label("in time zone").fill("Asia/Shanghai")
    page.get_by_label("How often").select_option(label="Weekly")
    page.get_by_label("Number of dates", exact=True).fill("4")
    page.get_by_label("Book even if a chair or speaker is busy then").check()
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    save_screenshot(page, "booking-form")

    page.get_by_role("button", name="Preview dates").click()
    page.get_by_role("heading", name=re.compile(r"^4 dates")).wait_for()
    rows = page.locator("table.preview-dates tbody tr[id^=date-]")
    assert rows.count() == 4
    first, third = rows.nth(0).inner_text(), rows.nth(2).inner_text()
    assert "Wed 03 Mar 2027 21:00" in first and "Wed 03 Mar 08:00" in first
    assert "Wed 17 Mar 2027 21:00" in third and "Wed 17 Mar 09:00" in third
    moves = page.locator("table.preview-dates tr.preview-move").all_inner_texts()
    michigan = [move for move in moves if "University of Michigan" in move]
    assert michigan, moves
    assert re.search(
        r"from Wed 17 Mar 2027 the session starts at 09:00 \(America/Detroit\), 1 hour later "
        r"than the usual 08:00: clocks in America/Detroit go forward on Sun 14 Mar 2027",
        michigan[0],
    ), michigan
    # The move is announced just above the first date it applies to.
    following = page.locator("tr.preview-move + tr[id^=date-]").first.get_attribute("id")
    assert following == "date-3"
    with demo.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(EventSession)
                .where(EventSession.event_id == event_id)
            )
            == 0
        )
    save_screenshot(page, "booking-preview")

    page.get_by_role("button", name="Book and send invitations").click()
    page.wait_for_url(re.compile(r"/sessions/\d+$"))
    session_id = int(page.url.rsplit("/", 1)[1])
    with demo.app_context():
        session = db.session.get(EventSession, session_id)
        assert session.event_id == event_id
        assert session.rrule == "FREQ=WEEKLY;BYDAY=WE;COUNT=4"
        assert session.timezone == "Asia/Shanghai"
        assert session.start.strftime("%Y-%m-%dT%H:%M") == "2027-03-03T13:00"
        assert len(session.invitations) > 0
