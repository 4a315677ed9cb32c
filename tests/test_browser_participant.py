"""A participant's agenda in a real browser: on a phone, without JavaScript, by keyboard."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from forum.db import now_utc
from forum.directory.models import Person
from forum.events import calendars
from forum.events.models import VideoMeeting
from forum.extensions import db
from forum.i18n import zone_text
from tests.browser import save_screenshot
from tests.factories import SESSIONS
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session

pytestmark = pytest.mark.browser

JOIN = "https://video.example.org/j/81234567890"
# A long name (the widest line on a phone) in a zone without summer time.
FAR_ZONE = "America/Argentina/Buenos_Aires"
HOME_ZONE = "Asia/Kolkata"


def shown(start: dt.datetime, minutes: int, zone: str) -> str:
    """A meeting as the page writes it in ``zone``: 'Tue 02 Mar 2027 21:00–22:00 (zone)'."""
    local_start = start.astimezone(ZoneInfo(zone))
    local_end = (start + dt.timedelta(minutes=minutes)).astimezone(ZoneInfo(zone))
    until = f"{local_end:%H:%M}" if local_end.date() == local_start.date() else f"{local_end:%c}"
    return f"{local_start:%a %d %b %Y %H:%M}–{until} ({zone_text(zone)})"


@pytest.fixture
def invited(app, api, live_server) -> dict[str, Any]:
    """Li Wei in Beijing, invited to a plenary (with a join link) and a workshop (none yet)."""
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    li = make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"])
    event = make_event(api, title="Delhi education forum", timezone=HOME_ZONE)
    start = (now_utc() + dt.timedelta(days=6)).replace(hour=13, minute=0, second=0, microsecond=0)
    plenary, workshop = (
        make_session(
            api,
            event["id"],
            title=title,
            start=(start + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            duration_minutes=60,
            invitees=[invitee(li)],
        )
        for title, days in (("Opening plenary", 0), ("Methods workshop", 1))
    )
    with app.app_context():
        for session_id, join_url in ((plenary["id"], JOIN), (workshop["id"], None)):
            meeting = db.session.scalar(
                sa.select(VideoMeeting).where(VideoMeeting.session_id == session_id)
            )
            meeting.join_url = join_url
        db.session.commit()
        agenda = calendars.agenda_url(db.session.get(Person, li["id"]))
    assert agenda.startswith(live_server)
    return {"person": li, "plenary": plenary, "start": start, "agenda": agenda}


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def answer_of(api, invited: dict[str, Any]) -> str:
    response = api.get(f"{SESSIONS}/{invited['plenary']['id']}/invitations")
    assert response.status_code == 200
    [invitation] = response.get_json()["items"]
    return invitation["rsvp"]


def plenary_item(page: Page):
    return page.locator("li.agenda-item").filter(
        has=page.get_by_role("heading", name="Opening plenary")
    )


def assert_fits_the_screen(page: Page) -> None:
    """Nothing scrolls sideways."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]}px wide on a {widths[1]}px screen"


def assert_tap_targets_are_44px(page: Page) -> None:
    """Every visible link, button and field is at least 44px high (and 44px wide)."""
    small = page.evaluate(
        """() => Array.from(document.querySelectorAll("a, button, select, input, summary"))
            .filter((el) => el.type !== "hidden" && el.getClientRects().length > 0)
            .map((el) => [el.outerHTML.slice(0, 80), el.getBoundingClientRect()])
            .filter(([, box]) => box.right > 0 && (box.height < 44 || box.width < 44))
            .map(([html, box]) => `${html}: ${Math.round(box.width)}x${Math.round(box.height)}`)"""
    )
    assert small == []


def test_on_a_phone_a_participant_switches_zone_and_accepts(phone_page, api, invited):
    page = phone_page
    page.goto(invited["agenda"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Sessions for Li Wei")
    item = plenary_item(page)
    start = invited["start"]
    expect(item.locator(".when-main")).to_have_text(shown(start, 60, "Asia/Shanghai"))
    expect(item.get_by_role("link", name="Join")).to_have_attribute("href", JOIN)
    workshop = page.locator("li.agenda-item").filter(has_text="Methods workshop")
    expect(workshop.get_by_role("link", name="Join")).to_have_count(0)
    expect(workshop).to_contain_text("No meeting link yet")
    assert_fits_the_screen(page)
    item.locator("summary").click()  # "Add to your calendar" unfolds its links
    expect(item.get_by_role("link", name="Google Calendar")).to_be_visible()
    assert_tap_targets_are_44px(page)

    # Choosing a zone is enough: the page's script submits the form.
    with page.expect_navigation():
        page.get_by_label("Show times in").select_option(FAR_ZONE)
    assert query_of(page.url) == {"tz": [FAR_ZONE]}
    item = plenary_item(page)
    expect(item.locator("time span")).to_have_text(
        [shown(start, 60, FAR_ZONE), shown(start, 60, HOME_ZONE), shown(start, 60, "UTC")]
    )
    expect(page.get_by_label("Show times in")).to_have_value(FAR_ZONE)
    assert_fits_the_screen(page)

    accept = item.get_by_role("button", name="Accept")
    expect(accept).to_have_attribute("aria-pressed", "false")
    with page.expect_navigation():
        accept.tap()
    expect(page.locator(".flash")).to_have_text(
        "Thank you: your answer to “Opening plenary” is recorded: you accepted."
    )
    item = plenary_item(page)
    # Back at the session answered, still in the chosen zone, showing the answer.
    assert query_of(page.url) == {"tz": [FAR_ZONE]}
    assert page.evaluate("() => document.querySelector(':target').className") == "agenda-item"
    expect(item).to_have_attribute("id", urlsplit(page.url).fragment)
    expect(item.locator(".when-main")).to_have_text(shown(start, 60, FAR_ZONE))
    expect(item.locator(".rsvp-state")).to_have_text("Your answer: you accepted.")
    expect(item.get_by_role("button", name="Accept")).to_have_attribute("aria-pressed", "true")
    expect(item.get_by_role("button", name="Decline")).to_have_attribute("aria-pressed", "false")
    assert answer_of(api, invited) == "accepted"
    assert_fits_the_screen(page)
    save_screenshot(page, "participant-agenda-phone.png")


def test_without_javascript_the_buttons_do_it_all(make_page, api, invited):
    page = make_page(phone=True, javascript=False)
    page.goto(invited["agenda"])
    page.get_by_label("Show times in").select_option(FAR_ZONE)
    assert page.url == invited["agenda"]  # nothing submits the choice by itself
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    item = plenary_item(page)
    start = invited["start"]
    expect(item.locator(".when-main")).to_have_text(shown(start, 60, FAR_ZONE))
    # The calendar links unfold without a script too.
    item.get_by_text("Add to your calendar").click()
    expect(item.get_by_role("link", name="Download .ics file")).to_be_visible()

    with page.expect_navigation():
        item.get_by_role("button", name="Maybe").click()
    expect(page.locator(".flash")).to_contain_text("is recorded: you said maybe.")
    item = plenary_item(page)
    expect(item.locator(".when-main")).to_have_text(shown(start, 60, FAR_ZONE))
    expect(item.get_by_role("button", name="Maybe")).to_have_attribute("aria-pressed", "true")
    assert answer_of(api, invited) == "tentative"
    assert_fits_the_screen(page)


def test_by_keyboard_the_answer_buttons_come_in_order_and_answer(page, api, invited):
    page.goto(invited["agenda"])
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
                const el = document.activeElement;
                const item = el.closest("li.agenda-item");
                const title = item ? item.querySelector("h3").firstChild.textContent.trim() : "";
                return [el.tagName.toLowerCase(), el.textContent.trim(), title];
            }"""
        )
        reached.append(tuple(focused))
        if focused == ["button", "Accept", "Opening plenary"]:
            break
    else:
        pytest.fail(f"Tab never reached the plenary's Accept button: {reached}")
    # In reading order: the zone switcher, then the session's join link, then its answers.
    kinds = [tag if tag != "a" else text for tag, text, _ in reached]
    assert kinds.index("select") < kinds.index("Join") < len(kinds) - 1
    accept = plenary_item(page).get_by_role("button", name="Accept")
    outline = accept.evaluate("(el) => getComputedStyle(el).outlineStyle")
    assert outline == "solid", "the focused button shows no focus ring"

    page.keyboard.press("Tab")
    expect(plenary_item(page).get_by_role("button", name="Maybe")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(plenary_item(page).get_by_role("button", name="Accept")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert answer_of(api, invited) == "accepted"
    assert_fits_the_screen(page)
    save_screenshot(page, "participant-agenda-desktop.png")


def test_the_answer_link_of_the_email_asks_and_the_button_answers(phone_page, app, api, invited):
    [message] = [
        m for m in app.extensions["forum_mail_sender"].messages if "Opening plenary" in m["Subject"]
    ]
    text = (
        email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
        .get_body(preferencelist=("plain",))
        .get_content()
    )
    [accept_link] = re.findall(r"^\s+Accept: (\S+)\s*$", text, re.MULTILINE)
    page = phone_page
    page.goto(accept_link)  # the email's links lead to this server
    expect(page.get_by_role("heading", level=1)).to_have_text("Opening plenary")
    expect(page.locator("main")).to_contain_text("Li Wei, your answer so far: not answered yet.")
    assert answer_of(api, invited) == "needs-action"  # opening the link answers nothing
    expect(page.get_by_role("link", name="Join")).to_have_attribute("href", JOIN)
    expect(page.locator(".rsvp button")).to_have_text(["Accept"])
    assert_fits_the_screen(page)
    assert_tap_targets_are_44px(page)

    with page.expect_navigation():
        page.get_by_role("button", name="Accept").tap()
    expect(page.locator(".flash")).to_contain_text("is recorded: you accepted.")
    expect(page.locator("main")).to_contain_text("your answer so far: you accepted.")
    assert answer_of(api, invited) == "accepted"
    save_screenshot(page, "participant-answer-phone.png")
