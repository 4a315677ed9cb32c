"""The series planner of the 40-university demo forum in Chromium: its rotation booked as
one series, confirmed first."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask

from forum.events.models import Event
from forum.events.models import EventSession
from forum.extensions import db
from forum.notifications.models import EmailMessage
from tests.browser import save_screenshot
from tests.test_browser_organiser import UNLABELLED_CONTROLS
from tests.test_browser_organiser import demo  # noqa: F401  (the demo data fixture)
from tests.test_browser_organiser import log_in

pytestmark = pytest.mark.browser


def test_the_forum_s_rotation_is_booked_from_the_series_planner(
    demo: Flask,  # noqa: F811
    make_page,
) -> None:
    with demo.app_context():
        event = db.session.scalar(sa.select(Event).where(Event.kind == "forum"))
        event_id, invitees = event.id, len(event.participants)
        before = set(
            db.session.scalars(sa.select(EventSession.id).where(EventSession.event_id == event_id))
        )
    page = make_page()
    log_in(page)

    page.goto(f"/events/{event_id}/series-planner")
    page.get_by_label("First date").fill("2027-03-02")
    page.get_by_label("Occurrences").fill("4")
    page.get_by_label("Every (days)").fill("14")
    page.get_by_label("Start times every").select_option("60")
    page.get_by_role("button", name="Plan the series").click()
    page.locator("#rotation").wait_for()
    utc_cells = page.locator("#rotation tbody td.utc").all_inner_texts()
    assert len(utc_cells) == 4
    assert all(
        re.match(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d [A-Z][a-z]{2} \d\d:\d\d$", c)
        for c in utc_cells
    )
    save_screenshot(page, "series-planner-forum-40")

    page.get_by_role("button", name="Book this rotation").click()
    page.get_by_role("heading", name="Book the rotation").wait_for()
    assert page.locator("#rotation-dates tbody tr").count() == 4
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    save_screenshot(page, "series-planner-forum-40-confirm")
    page.get_by_label("Video provider").select_option("jitsi")
    book = page.get_by_role("button", name="Book the series and send invitations")
    # Booking plans the rotation again and books a meeting for 40 universities' people.
    with page.expect_navigation(timeout=120_000):
        book.click()
    if page.get_by_role("heading", name="Clashes").count():
        # The demo's people have sessions of their own: book anyway, as the page offers.
        page.get_by_label("Book even if a chair or speaker is busy then").check()
        with page.expect_navigation(timeout=120_000):
            book.click()
    assert re.search(r"/sessions/\d+$", page.url), page.url
    save_screenshot(page, "series-planner-forum-40-booked")

    with demo.app_context():
        [session] = db.session.scalars(
            sa.select(EventSession).where(
                EventSession.event_id == event_id, EventSession.id.not_in(before)
            )
        ).all()
        assert session.rrule == "FREQ=DAILY;INTERVAL=14;COUNT=4"
        assert len(session.invitations) == invitees
        invites = db.session.scalars(
            sa.select(EmailMessage.recipient).where(EmailMessage.session_id == session.id)
        ).all()
        # One invitation each, for the whole series.
        assert len(invites) == len(set(invites)) == invitees
