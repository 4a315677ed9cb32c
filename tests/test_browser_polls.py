"""A poll in a real browser: the organiser of a PKU - University of Tokyo bilateral opens one
on the engine's best slots; a Tokyo participant answers on a phone, in another zone, and
changes an answer; the organiser reads the answers, reminds the one who has not answered
and books a time. Neither poll page scrolls sideways on a phone."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from forum.directory.models import Person
from forum.events import calendars
from forum.extensions import db
from tests.browser import save_screenshot
from tests.factories import make_institution
from tests.factories import make_person
from tests.test_browser_organiser import UNLABELLED_CONTROLS
from tests.test_browser_organiser import create_bilateral_event

pytestmark = pytest.mark.browser

ORGANISER = "organiser@example.org"
TITLE = "PKU–UTokyo partnership"
PHONE_WIDTH = 390


@pytest.fixture
def people(api) -> dict[str, Any]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    tokyo = make_institution(api, "University of Tokyo", "JP", "Asia/Tokyo")
    return {
        "li": make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"]),
        "sato": make_person(api, "Sato Hanako", "sato@u-tokyo.example.org", tokyo["id"]),
    }


def log_in(page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(ORGANISER)
    page.get_by_label("Password").fill("secret-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def agenda_path(app: Flask, email: str) -> str:
    with app.app_context():
        person = db.session.scalar(sa.select(Person).where(Person.email == email))
        return f"/p/{calendars.agenda_token(person)}"


def sideways(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_a_poll_from_the_engines_best_slots_to_a_booked_time(app: Flask, make_page, people) -> None:
    organiser = make_page()
    # "Book this time" and "Close poll" ask first; the organiser agrees.
    organiser.on("dialog", lambda dialog: dialog.accept())
    log_in(organiser)
    organiser.goto("/events/new")
    create_bilateral_event(organiser, TITLE, ("Peking University (CN)", "University of Tokyo (JP)"))

    # A poll on the engine's three best times of the coming two weeks.
    organiser.get_by_role("heading", name="Polls").wait_for()
    organiser.get_by_role("link", name="New poll").click()
    organiser.get_by_label("Title").fill("Kick-off call")
    organiser.get_by_label("How many times").fill("3")
    assert organiser.evaluate(UNLABELLED_CONTROLS) == []
    save_screenshot(organiser, "poll-new")
    organiser.get_by_role("button", name="Open the poll").click()
    organiser.wait_for_url(re.compile(r"/polls/\d+$"))
    poll_url = organiser.url
    columns = organiser.locator("table.poll-matrix thead th.option")
    assert columns.count() == 3
    summary = organiser.locator("#poll-summary").inner_text()
    assert summary.startswith("2 of 2 required people have not answered yet.")
    rows = organiser.locator("table.poll-matrix tbody th[scope=row]")
    assert [r.split("\n")[0] for r in rows.all_inner_texts()] == ["Li Wei", "Sato Hanako"]
    # The engine's view of each time for each person: both sites in working hours.
    assert organiser.locator("td.answer-cell .cat.k-working").count() == 6
    assert organiser.evaluate(UNLABELLED_CONTROLS) == []
    assert organiser.locator("h1").count() == 1
    save_screenshot(organiser, "poll-matrix")

    # Sato opens the poll from the agenda on a phone; Tokyo's time first.
    participant = make_page(phone=True)
    participant.goto(agenda_path(app, "sato@u-tokyo.example.org"))
    waiting = participant.locator("section.polls-waiting")
    assert "Not answered yet." in waiting.inner_text()
    waiting.get_by_role("link", name="Kick-off call").click()
    participant.get_by_role("heading", name="Kick-off call").wait_for()
    assert "Asia/Tokyo" in participant.locator(".ballot-time").first.inner_text()
    assert sideways(participant) <= PHONE_WIDTH
    assert participant.evaluate(UNLABELLED_CONTROLS) == []
    save_screenshot(participant, "poll-ballot-phone")

    # In London's zone; the answers are saved and the zone kept.
    with participant.expect_navigation():
        participant.locator("select[name=tz]").select_option("Europe/London")
    assert "Europe/London" in participant.locator(".ballot-time").first.inner_text()
    times = participant.locator("fieldset.ballot-option")
    times.nth(0).get_by_label("Yes").check()
    times.nth(1).get_by_label("If need be").check()
    times.nth(2).get_by_label("No").check()
    participant.get_by_label("Comment for the organiser (optional)").fill("Mornings suit me")
    participant.get_by_role("button", name="Save my answers").click()
    participant.get_by_text("Your answers are saved").wait_for()
    assert "Europe/London" in participant.locator(".ballot-time").first.inner_text()
    assert times.nth(1).get_by_label("If need be").is_checked()

    # Changed: the third time after all.
    times.nth(2).get_by_label("Yes").check()
    participant.get_by_role("button", name="Save my answers").click()
    participant.get_by_text("Your answers are saved").wait_for()
    assert times.nth(2).get_by_label("Yes").is_checked()
    assert sideways(participant) <= PHONE_WIDTH
    save_screenshot(participant, "poll-ballot-answered-phone")

    # The organiser sees the answers and reminds Li, who has not answered.
    organiser.goto(poll_url)
    sato = organiser.locator("table.poll-matrix tbody tr", has_text="Sato Hanako")
    assert [c.split("\n")[0] for c in sato.locator("td").all_inner_texts()] == [
        "Yes",
        "If need be",
        "Yes",
    ]
    assert "Mornings suit me" in organiser.locator("ul.poll-comments").inner_text()
    organiser.get_by_role("button", name="Remind them").click()
    organiser.get_by_text("A reminder is being emailed to Li Wei.").wait_for()
    save_screenshot(organiser, "poll-matrix-answered")

    # The matrix on a phone scrolls in its own box, not the page.
    phone = make_page(phone=True)
    log_in(phone)
    phone.goto(poll_url)
    assert sideways(phone) <= PHONE_WIDTH
    wrap = phone.locator(".poll-matrix-wrap")
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth")
    save_screenshot(phone, "poll-matrix-phone")
    phone.goto(organiser.locator(".breadcrumbs a").nth(1).get_attribute("href") + "/polls/new")
    assert sideways(phone) <= PHONE_WIDTH

    # Booking the first time: the session page, with its meeting and invitations.
    organiser.locator("tr.book button").first.click()
    organiser.wait_for_url(re.compile(r"/sessions/\d+$"))
    organiser.get_by_text("is booked at the time chosen in the poll").wait_for()
    session_url = organiser.url
    organiser.get_by_role("link", name=TITLE).click()
    polls = organiser.locator("table.polls tbody tr")
    assert "time chosen" in polls.inner_text() and "1 of 2" in polls.inner_text()
    save_screenshot(organiser, "poll-event-page")
    organiser.goto(poll_url)
    assert "Booked:" in organiser.locator(".poll-chosen").inner_text()
    assert organiser.get_by_role("link", name="Open the session").get_attribute("href") in (
        session_url
    )
    save_screenshot(organiser, "poll-booked")

    # Sato's page now shows the time chosen and their answers, read only.
    participant.reload()
    participant.get_by_text("This poll is over: a time was chosen.").wait_for()
    assert participant.get_by_role("button", name="Save my answers").count() == 0
    assert sideways(participant) <= PHONE_WIDTH
    save_screenshot(participant, "poll-ballot-chosen-phone")
