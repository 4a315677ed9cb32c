"""An organiser and a participant in a real browser: from login to an answered invitation,
and the planner of the 40-university demo forum."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from forum.demo.seed import DEMO_ORGANISER_EMAIL
from forum.demo.seed import DEMO_ORGANISER_PASSWORD
from forum.demo.seed import seed_demo
from forum.events.models import Event
from forum.events.models import EventSession
from forum.extensions import db
from forum.i18n import _
from forum.i18n import in_locale
from tests.browser import save_screenshot

pytestmark = pytest.mark.browser

BILATERAL = "PKU–UTokyo strategic partnership"
PARTICIPANT = "hiroshi.tanaka@utokyo.example.org"


@pytest.fixture
def demo(app: Flask) -> Flask:
    with app.app_context():
        seed_demo()
        db.session.commit()
    return app


def log_in(page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(DEMO_ORGANISER_EMAIL)
    page.get_by_label("Password").fill(DEMO_ORGANISER_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def create_bilateral_event(page, title: str, institutions: tuple[str, ...]) -> int:
    """From the new-event form (open on ``page``): an event in Beijing's zone on Jitsi, with
    the whole of each institution ("Peking University (CN)") taking part; its id."""
    page.get_by_label("Title").fill(title)
    page.get_by_label("Kind").select_option("bilateral")
    page.get_by_label("Home time zone").fill("Asia/Shanghai")
    page.get_by_label("Video provider").select_option("jitsi")
    page.get_by_role("button", name="Create event").click()
    page.get_by_role("heading", name=title).wait_for()
    for institution in institutions:
        page.get_by_label("Whole institution").select_option(label=institution)
        page.get_by_role("button", name="Add", exact=True).click()
        page.get_by_role("heading", name=title).wait_for()
    return int(re.search(r"/events/(\d+)", page.url).group(1))


def agenda_link(app: Flask, address: str) -> str:
    """The agenda link of the latest email to ``address``, read from its text part."""
    messages = [m for m in app.extensions["forum_mail_sender"].messages if address in m["To"]]
    assert messages, f"no email to {address}"
    message = email.message_from_bytes(messages[-1].as_bytes(), policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    # Whatever the reader's language, the agenda is the link to /p/.
    return re.search(r"(https?://\S+/p/\S+)", text).group(1)


def in_language(app: Flask, locale: str, text: str) -> str:
    """``text`` as a reader of ``locale`` reads it (the catalogue's translation)."""
    with app.test_request_context(), in_locale(locale):
        return _(text)


def test_an_organiser_books_the_top_slot_and_sees_the_participants_answer(
    demo: Flask, make_page
) -> None:
    organiser = make_page()
    log_in(organiser)

    # A bilateral event between Peking University and the University of Tokyo.
    organiser.get_by_role("link", name="Events", exact=True).click()
    organiser.get_by_role("link", name="New event").click()
    create_bilateral_event(
        organiser, BILATERAL, ("Peking University (CN)", "University of Tokyo (JP)")
    )
    participants = organiser.locator("table.participants caption")
    assert participants.all_inner_texts() == [
        "Peking University · Asia/Shanghai",
        "University of Tokyo · Asia/Tokyo",
    ]
    save_screenshot(organiser, "event-page")

    # The planner: the week at a glance and the ranked slots; a slot's day in detail, both
    # sites hour by hour.
    organiser.get_by_role("link", name="Find a time", exact=True).click()
    organiser.locator("#overview").wait_for()
    top = organiser.locator("#slot-1")
    top.get_by_role("link", name="Show in grid").click()
    grid = organiser.locator("#grid")
    grid.wait_for()
    sites = grid.locator("tbody th.site")
    # UTokyo's Beijing office keeps Beijing's clock: a row of its own.
    assert [name.split("\n")[:2] for name in sites.all_inner_texts()] == [
        ["Peking University", "Asia/Shanghai · 5 people"],
        ["University of Tokyo", "Asia/Tokyo · 3 people"],
        ["University of Tokyo", "Asia/Shanghai"],
    ]
    top = organiser.locator("#slot-1")
    # The slot's hour is marked in every row (one or two columns for an hour).
    highlighted = grid.locator("tbody td.hl")
    assert highlighted.count() in (3, 6)
    assert "selected" in (top.get_attribute("class") or "")
    save_screenshot(organiser, "planner-bilateral")
    top_start = top.locator("input[name=start]").get_attribute("value")

    top.get_by_role("button", name="Book this slot").click()
    organiser.wait_for_url(re.compile(r"/sessions/\d+$"))
    join = organiser.locator("a[href^='https://meet.jit.si/']").first
    assert join.is_visible()
    session_url = organiser.url
    save_screenshot(organiser, "session-page")

    # The participant opens the link from their invitation, on a phone.
    participant = make_page(phone=True)
    participant.goto(agenda_link(demo, PARTICIPANT))
    participant.get_by_role("heading", name=re.compile("Monthly|PKU")).first.wait_for()
    start = dt.datetime.fromisoformat(top_start)
    tokyo = start.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M")
    assert tokyo in participant.locator(".when").first.inner_text()
    # Switching zone: the select submits its form by itself.
    with participant.expect_navigation():
        participant.locator("select[name=tz]").select_option("Europe/London")
    london = start.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M")
    assert london in participant.locator(".when").first.inner_text()
    # Hiroshi Tanaka is at the University of Tokyo: his pages are in Japanese.
    assert participant.locator("html").get_attribute("lang") == "ja"
    participant.get_by_role("button", name=in_language(demo, "ja", "Accept")).first.click()
    participant.get_by_text(in_language(demo, "ja", "you accepted")).first.wait_for()
    save_screenshot(participant, "participant-page")

    # The organiser sees the answer on the session page and the dashboard.
    organiser.goto(session_url)
    row = organiser.locator("tr", has_text="Hiroshi Tanaka")
    assert "Accepted" in row.inner_text()
    organiser.get_by_role("link", name="Dashboard").click()
    dashboard_row = organiser.locator(
        "section[aria-labelledby=upcoming-heading] tr", has_text=BILATERAL
    )
    assert "1 yes" in dashboard_row.inner_text()
    save_screenshot(organiser, "dashboard")


UNLABELLED_CONTROLS = """() => Array.from(document.querySelectorAll(
    "input:not([type=hidden]), select, textarea, button"))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
    && !(el.tagName === "BUTTON" && el.textContent.trim()))
  .map(el => el.outerHTML.slice(0, 120))"""


def organiser_pages(app: Flask) -> list[str]:
    with app.app_context():
        event = db.session.scalar(sa.select(Event).where(Event.kind == "forum"))
        session_id = event.sessions[0].id
    return [
        "/",
        "/events",
        "/events/new",
        f"/events/{event.id}",
        f"/events/{event.id}/edit",
        f"/events/{event.id}/planner",
        f"/events/{event.id}/series-planner",
        f"/events/{event.id}/sessions/new",
        f"/sessions/{session_id}",
        "/inbox",
        "/providers",
        "/webhook-subscriptions",
        "/tokens",
    ]


def test_every_organiser_page_labels_its_controls_and_has_one_main_heading(
    demo: Flask, make_page
) -> None:
    page = make_page()
    log_in(page)
    for path in organiser_pages(demo):
        response = page.goto(path)
        assert response.status == 200, path
        assert page.evaluate(UNLABELLED_CONTROLS) == [], path
        assert page.locator("h1").count() == 1, path
        assert page.locator("html").get_attribute("lang") == "en"


def test_on_a_phone_no_organiser_page_scrolls_sideways_and_the_menu_stays_small(
    demo: Flask, make_page
) -> None:
    page = make_page(phone=True)
    log_in(page)
    for path in organiser_pages(demo):
        assert page.goto(path).status == 200, path
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
        header = page.locator("header.site-header").bounding_box()
        assert header is not None and header["height"] <= 844 * 0.1, (path, header)
        if path.startswith("/sessions/"):
            save_screenshot(page, "session-page-phone")


def test_without_javascript_an_organiser_plans_and_books_with_the_keyboard(
    demo: Flask, make_page
) -> None:
    page = make_page(javascript=False)
    log_in(page)
    with demo.app_context():
        event = db.session.scalar(
            sa.select(Event).where(Event.title.like("Peking University - University of Tokyo%"))
        )
    page.goto(f"/events/{event.id}/planner")
    # "Show in grid" reloads the page with the slot marked by the server.
    page.locator("#slot-2").get_by_role("link", name="Show in grid").click()
    page.wait_for_url(re.compile(r"slot=2"))
    assert page.locator("#slot-2").get_attribute("aria-current") == "true"
    assert page.locator("#grid tbody td.hl").count() >= 2
    # Tab from the "Show in grid" link reaches that slot's booking button.
    page.locator("#slot-2").get_by_role("link", name="Show in grid").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.textContent.trim()")
    assert focused == "Book this slot"
    start = page.locator("#slot-2 input[name=start]").get_attribute("value")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.search(r"/sessions/\d+$", page.url)
    assert page.locator("a[href^='https://meet.jit.si/']").count() >= 1
    session_id = int(page.url.rsplit("/", 1)[1])
    with demo.app_context():
        booked = db.session.get(EventSession, session_id)
        assert booked.start == dt.datetime.fromisoformat(start)


def test_booking_shows_progress_and_cannot_be_sent_twice(demo: Flask, make_page) -> None:
    page = make_page()
    log_in(page)
    with demo.app_context():
        event = db.session.scalar(sa.select(Event).where(Event.kind == "exchange"))
        booked_before = len(event.sessions)
    page.goto(f"/events/{event.id}/planner")
    # Hold the submission after the page's own handlers have run (they listen on the
    # document; this listens on the window, later in the bubbling), to look at the page
    # as it is while the booking is under way.
    page.evaluate(
        """() => window.addEventListener("submit", e => e.preventDefault(), { once: true })"""
    )
    button = page.locator("#slot-1").get_by_role("button", name="Book this slot")
    button.click()
    status = page.locator("#slot-1 .busy-status")
    assert status.inner_text() == "Booking, opening the meeting and sending invitations…"
    assert status.get_attribute("role") == "status"
    assert button.is_disabled()
    # A second click does nothing: the button is disabled.
    button.click(force=True)
    with page.expect_navigation():
        page.locator("#slot-1 form").evaluate("form => form.submit()")
    assert re.search(r"/sessions/\d+$", page.url)
    with demo.app_context():
        assert len(db.session.get(Event, event.id).sessions) == booked_before + 1
