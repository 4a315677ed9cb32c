"""The teachers-abroad page in Chromium: the organiser finds the teacher in Detroit, at night
from 8 March, and downloads the CSV; on a phone the table scrolls in its own box."""

from __future__ import annotations

import csv
import io

import pytest

from tests.browser import save_screenshot
from tests.test_browser_organiser import UNLABELLED_CONTROLS
from tests.test_teachers_abroad import Timetable

pytestmark = pytest.mark.browser


def _log_in(page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill("organiser@example.org")
    page.get_by_label("Password").fill("secret-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


@pytest.fixture
def term(app, api) -> Timetable:
    timetable = Timetable(app, api)
    detroit = timetable.teacher("Dana Detroit", "dana@umich.example", "US", "America/Detroit")
    timetable.course("PHYS101", "Mechanics", detroit, weekday=1, start="09:00", minutes=100)
    home = timetable.teacher("Li Wei", "li.wei@pku.example", "CN", "Asia/Shanghai")
    timetable.course("CHEM101", "Chemistry", home, weekday=0, start="10:00", minutes=100)
    tokyo = timetable.teacher("Hana Tokyo", "hana@u-tokyo.example", "JP", "Asia/Tokyo")
    timetable.course("JPN200", "Japanese II", tokyo, weekday=1, start="17:00", minutes=100)
    return timetable


def test_the_organiser_sees_the_teacher_in_detroit_and_downloads_the_csv(term, make_page):
    page = make_page()
    _log_in(page)

    page.goto(f"/terms/{term.term_id}/teachers-abroad")

    table = page.locator("#teachers-abroad")
    table.wait_for()
    rows = page.locator("tr.abroad-row")
    assert rows.count() == 2  # Detroit and Tokyo; Beijing is home
    detroit = page.locator('tr.abroad-row[data-email="dana@umich.example"]')
    text = detroit.inner_text()
    assert "Dana Detroit" in text
    assert "PHYS101" in text
    assert "Tue 09:00–10:40" in text
    assert "Mon 20:00–21:40 from Mon 17 Feb 2020" in text
    assert "Mon 21:00–22:40 from Mon 09 Mar 2020" in text
    assert "night: 12" in text
    assert "worst: night" in text
    # The first row is the worst off.
    assert rows.first.get_attribute("data-email") == "dana@umich.example"
    tokyo = page.locator('tr.abroad-row[data-email="hana@u-tokyo.example"]').inner_text()
    assert "Tue 15:15–16:55" in tokyo and "working hours" in tokyo
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    save_screenshot(page, "teachers-abroad")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    path = download.value.path()
    with open(path, encoding="utf-8-sig", newline="") as file:
        rows_csv = list(csv.DictReader(io.StringIO(file.read())))
    assert [r["email"] for r in rows_csv] == ["dana@umich.example", "hana@u-tokyo.example"]


def test_on_a_phone_the_table_scrolls_in_its_own_box(term, make_page):
    page = make_page(phone=True, javascript=False)
    _log_in(page)

    page.goto(f"/terms/{term.term_id}/teachers-abroad")

    assert page.locator("text=Dana Detroit").count() == 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    save_screenshot(page, "teachers-abroad-phone")
