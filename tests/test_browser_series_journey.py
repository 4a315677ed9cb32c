"""An organiser runs a PKU - University of Michigan series from the browser alone, across the
US clock change of 14 March 2027: booked from the form after its preview, one date moved,
another cancelled, the series rescheduled; then every email a Michigan invitee received, and
their personal feed, read the same in the four calendar parsers, at the instants zoneinfo
gives."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import sqlalchemy as sa
from flask import Flask

from forum.demo.seed import seed_demo
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events import calendars
from forum.events.models import EventSession
from forum.extensions import db
from tests.browser import save_screenshot
from tests.calendars import check_calendar
from tests.calendars import check_email
from tests.test_browser_organiser import create_bilateral_event
from tests.test_browser_organiser import log_in

pytestmark = pytest.mark.browser

TITLE = "PKU–UMich weekly seminar"
BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def demo(app: Flask) -> Flask:
    with app.app_context():
        seed_demo()
        db.session.commit()
    return app


def utc(local: str) -> str:
    """A Beijing wall-clock time as the UTC instant zoneinfo gives for it."""
    instant = dt.datetime.fromisoformat(local).replace(tzinfo=BEIJING).astimezone(dt.UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def weekly(first: str, count: int) -> list[str]:
    start = dt.datetime.fromisoformat(first)
    return [utc((start + dt.timedelta(weeks=n)).isoformat()) for n in range(count)]


def emails_to(app: Flask, address: str) -> list[bytes]:
    sent = app.extensions["forum_mail_sender"].messages
    return [m.as_bytes() for m in sent if address in str(m["To"])]


def calendar_of(raw: bytes) -> icalendar.Calendar:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return icalendar.Calendar.from_ical(part.get_payload(decode=True))


def method_of(raw: bytes) -> str:
    return str(calendar_of(raw)["METHOD"])


def test_an_organiser_runs_a_series_across_the_us_clock_change_from_the_browser(
    demo: Flask, make_page, client
) -> None:
    with demo.app_context():
        michigan = db.session.scalar(
            sa.select(Person)
            .join(Institution, Person.institution_id == Institution.id)
            .where(Institution.name == "University of Michigan")
            .order_by(Person.id)
            .limit(1)
        )
        invitee, invitee_id = michigan.email, michigan.id
    page = make_page()
    log_in(page)

    page.goto("/events/new")
    event_id = create_bilateral_event(
        page, TITLE, ("Peking University (CN)", "University of Michigan (US)")
    )

    # Wednesdays at 21:00 in Beijing, four times from 3 March: 08:00 in Ann Arbor, then 09:00
    # from 17 March, once the US has moved its clocks.
    page.goto(f"/events/{event_id}/sessions/new")
    page.get_by_label("Starts").fill("2027-03-03T21:00")
    page.get_by_label("in time zone").fill("Asia/Shanghai")
    page.get_by_label("How often").select_option(label="Weekly")
    page.get_by_label("Number of dates", exact=True).fill("4")
    page.get_by_label("Book even if a chair or speaker is busy then").check()
    page.get_by_role("button", name="Preview dates").click()
    page.get_by_role("heading", name=re.compile(r"^4 dates")).wait_for()
    moves = page.locator("table.preview-dates tr.preview-move").all_inner_texts()
    assert any("University of Michigan" in m and "09:00" in m for m in moves), moves
    save_screenshot(page, "journey-preview")
    page.get_by_role("button", name="Book and send invitations").click()
    page.wait_for_url(re.compile(r"/sessions/\d+$"))
    session_id = int(page.url.rsplit("/", 1)[1])
    dates = page.locator("ol.coming > li")

    # The second date a day later; the third cancelled.
    dates.nth(1).get_by_role("link", name=re.compile(r"^Move")).click()
    page.get_by_label("Starts").fill("2027-03-11T21:00")
    page.get_by_role("button", name="Change and send the invitations").click()
    page.wait_for_url(f"**/sessions/{session_id}")
    dates.nth(2).get_by_role("link", name=re.compile(r"^Cancel this date")).click()
    page.get_by_role("button", name="Yes, cancel this date").click()
    page.wait_for_url(f"**/sessions/{session_id}")
    assert dates.nth(1).locator(".badge").inner_text() == "moved"
    assert dates.nth(2).locator(".badge").inner_text() == "cancelled"

    # The whole series an hour later: the moved and cancelled dates come back to the rule.
    page.get_by_role("link", name="Change time, length or title").click()
    page.get_by_label("Starts").fill("2027-03-03T22:00")
    page.get_by_role("button", name="Change and send the invitations").click()
    page.wait_for_url(f"**/sessions/{session_id}")
    save_screenshot(page, "journey-session")

    sent = emails_to(demo, invitee)
    assert [method_of(raw) for raw in sent] == ["REQUEST", "REQUEST", "CANCEL", "REQUEST"]
    invite, moved, cancelled, rescheduled = sent
    check_email(invite, method="REQUEST", expect_utc=weekly("2027-03-03T21:00", 4))
    check_email(moved, method="REQUEST")
    check_email(cancelled, method="CANCEL")
    check_email(rescheduled, method="REQUEST", expect_utc=weekly("2027-03-03T22:00", 4))
    [moved_date] = calendar_of(moved).walk("VEVENT")
    assert moved_date.decoded("DTSTART").astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") == utc(
        "2027-03-11T21:00"
    )

    with demo.app_context():
        feed = calendars.feed_url(db.session.get(Person, invitee_id))
        uid = db.session.get(EventSession, session_id).ical_uid
    answer = client.get(feed.replace("http://localhost", ""))
    assert answer.status_code == 200
    # The feed holds the invitee's other demo sessions too: all of them read alike in every
    # parser, and this series' dates are those zoneinfo gives.
    check_calendar(answer.data, method=None)
    feed_calendar = icalendar.Calendar.from_ical(answer.data)
    series_dates = sorted(
        entry.decoded("DTSTART").astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for entry in recurring_ical_events.of(feed_calendar).between(
            dt.datetime(2027, 3, 1, tzinfo=dt.UTC), dt.datetime(2027, 4, 1, tzinfo=dt.UTC)
        )
        if str(entry["UID"]) == uid
    )
    assert series_dates == weekly("2027-03-03T22:00", 4)
