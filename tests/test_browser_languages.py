"""The pages in each reader's language, in Chromium: the agenda on a phone in all five, the
organiser's dashboard in Chinese, Arabic laid out right to left, and every glyph drawn."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import Page

from forum import i18n
from forum.db import now_utc
from forum.directory.models import Person
from forum.events import calendars
from forum.extensions import db
from tests.browser import save_screenshot
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.test_browser_participant import assert_fits_the_screen

pytestmark = pytest.mark.browser

SITES = {
    # locale: (institution, country, zone, person, email)
    "zh-Hans": ("Peking University", "CN", "Asia/Shanghai", "李伟", "li.wei@pku.example.org"),
    "ja": ("University of Tokyo", "JP", "Asia/Tokyo", "田中 浩", "tanaka@u-tokyo.example.org"),
    "ar": ("Qatar University", "QA", "Asia/Qatar", "فاطمة الثاني", "fatima@qu.example.org"),
    "fr": (
        "Aix-Marseille Université",
        "FR",
        "Europe/Paris",
        "Claire Martin",
        "claire@univ-amu.example",
    ),
    "en": (
        "University of Michigan",
        "US",
        "America/Detroit",
        "Ann Miller",
        "ann@umich.example.org",
    ),
}

# Draws each letter, digit, punctuation mark and symbol of the page in the page's font and
# compares it with a character no font has: a glyph drawn as that box is missing.
MISSING_GLYPHS = """() => {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 64;
  const context = canvas.getContext("2d", {willReadFrequently: true});
  context.font = "40px " + getComputedStyle(document.body).fontFamily;
  const draw = (c) => {
    context.clearRect(0, 0, 64, 64);
    context.fillText(c, 8, 48);
    return context.getImageData(0, 0, 64, 64).data.join(",");
  };
  const none = draw("\\u{10FFFD}");
  const text = document.body.innerText + document.title;
  const chars = [...new Set([...text])].filter((c) => /[\\p{L}\\p{N}\\p{P}\\p{S}]/u.test(c));
  return chars.filter((c) => draw(c) === none);
}"""


def translated(app, locale: str, text: str) -> str:
    with app.test_request_context(), i18n.in_locale(locale):
        return i18n._(text)


@pytest.fixture
def forum_sites(app, api, live_server) -> dict[str, Any]:
    """One person at each of five universities, each reading their country's language (as
    the directory gives it by default), all invited to next week's plenary."""
    people = {}
    for locale, (name, country, zone, person, email) in SITES.items():
        institution = make_institution(api, name, country, zone)
        made = make_person(api, person, email, institution["id"], locale=locale)
        people[locale] = made
    event = make_event(api, title="Global University Leaders Forum", timezone="Asia/Shanghai")
    start = (now_utc() + dt.timedelta(days=7)).replace(hour=13, minute=0, second=0, microsecond=0)
    make_session(
        api,
        event["id"],
        title="Opening plenary",
        start=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        duration_minutes=90,
        invitees=[invitee(p) for p in people.values()],
    )
    with app.app_context():
        agendas = {
            locale: calendars.agenda_url(db.session.get(Person, person["id"]))
            for locale, person in people.items()
        }
    return {"people": people, "agendas": agendas, "start": start}


def assert_every_glyph_is_drawn(page: Page) -> None:
    missing = page.evaluate(MISSING_GLYPHS)
    assert missing == [], f"drawn as empty boxes: {missing}"


@pytest.mark.parametrize("locale", list(SITES))
def test_the_agenda_reads_in_each_language_on_a_phone(app, make_page, forum_sites, locale):
    page = make_page(phone=True)

    page.goto(forum_sites["agendas"][locale])

    html = page.locator("html")
    assert html.get_attribute("lang") == locale
    assert html.get_attribute("dir") == ("rtl" if locale == "ar" else "ltr")
    name = SITES[locale][3]
    with app.test_request_context(), i18n.in_locale(locale):
        heading = i18n._("Sessions for %(name)s", name=name)
    assert page.get_by_role("heading", level=1).inner_text() == heading
    if locale != "en":
        assert heading != f"Sessions for {name}"
    # The session, with its weekday, in the reader's own way of writing dates.
    zone = SITES[locale][2]
    with app.test_request_context(), i18n.in_locale(locale):
        when = i18n.format_datetime_text(forum_sites["start"], zone)
    assert when in page.locator("main").inner_text()
    assert_every_glyph_is_drawn(page)
    assert_fits_the_screen(page)
    save_screenshot(page, f"languages-agenda-{locale}-phone")


def test_a_participant_switches_language_and_it_is_remembered(app, make_page, forum_sites):
    page = make_page(phone=True)
    page.goto(forum_sites["agendas"]["zh-Hans"])
    assert page.locator("html").get_attribute("lang") == "zh-Hans"

    page.get_by_label(translated(app, "zh-Hans", "Language")).select_option("fr")
    page.get_by_role("button", name=translated(app, "zh-Hans", "Change")).click()

    page.wait_for_function("document.documentElement.lang === 'fr'")
    with app.app_context():
        assert db.session.get(Person, forum_sites["people"]["zh-Hans"]["id"]).locale == "fr"
    # Another device, another day: still French.
    other = make_page(phone=False)
    other.goto(forum_sites["agendas"]["zh-Hans"])
    assert other.locator("html").get_attribute("lang") == "fr"


def test_the_organisers_dashboard_in_chinese(app, make_page, forum_sites):
    from forum.accounts.models import Organiser
    from tests.test_web import PASSWORD

    # The organiser who booked the forum's plenary chooses Chinese.
    with app.app_context():
        organiser = db.session.query(Organiser).filter_by(email="organiser@example.org").one()
        organiser.locale = "zh-Hans"
        db.session.commit()
    page = make_page()
    page.goto("/login")
    page.locator("input[name=email]").fill("organiser@example.org")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/")

    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    nav = page.get_by_role("navigation").inner_text()
    for label in ("Dashboard", "Events", "Providers", "API tokens"):
        assert translated(app, "zh-Hans", label) in nav
    assert "Dashboard" not in nav
    # The upcoming plenary, its date written the Chinese way, in Beijing.
    with app.test_request_context(), i18n.in_locale("zh-Hans"):
        when = i18n.format_datetime_text(forum_sites["start"], "Asia/Shanghai")
    upcoming = page.locator("main").inner_text()
    assert "Opening plenary" in upcoming and when in upcoming
    assert_every_glyph_is_drawn(page)
    save_screenshot(page, "languages-dashboard-zh-Hans")


def test_an_arabic_page_reads_right_to_left(app, make_page, forum_sites):
    page = make_page()

    page.goto(forum_sites["agendas"]["ar"])

    assert page.locator("html").get_attribute("dir") == "rtl"
    width = page.evaluate("window.innerWidth")
    brand = page.locator(".site-nav .brand").bounding_box()
    # The navigation starts on the right, as Arabic reads.
    assert brand["x"] > width / 2, brand
    heading = page.get_by_role("heading", level=1).bounding_box()
    assert heading["x"] + heading["width"] > width * 0.6
    # Times stay whole: the clock reads 16:00 in Doha (13:00 UTC), digits in order.
    assert "16:00" in page.locator("main").inner_text()
    # Nothing scrolls sideways: right-to-left overflow would push content off the left.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_every_glyph_is_drawn(page)
    save_screenshot(page, "languages-agenda-ar-desktop")
