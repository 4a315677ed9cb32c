"""The timetable import page in Chromium: upload a term's timetable, follow its invitations,
and read a refused file's problems, with and without JavaScript."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from forum.extensions import db
from forum.timetables import sending
from forum.timetables.models import TimetableImport
from tests.browser import save_screenshot
from tests.test_timetable_import import HEADER
from tests.test_timetable_import import add_people

pytestmark = pytest.mark.browser


@pytest.fixture
def organiser(api):
    add_people(
        api,
        ("Wang Fang", "wang.fang@pku.example.org", "Asia/Shanghai", "zh"),
        ("Li Wei", "li.wei@pku.example.org", "Asia/Shanghai", "zh"),
        ("Ana Costa", "ana.costa@example.org", "Europe/Lisbon", "en"),
    )
    return api


def log_in(page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill("organiser@example.org")
    page.get_by_label("Password").fill("secret-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def fill_term(page) -> None:
    page.get_by_label("Term name").fill("Spring 2020")
    page.get_by_label("First day").fill("2020-02-17")
    page.get_by_label("Weeks").fill("16")
    page.get_by_label("Time zone of the timetable").fill("Asia/Shanghai")
    page.get_by_label("Country whose holidays apply").fill("CN")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_upload_a_timetable_and_follow_its_invitations(
    app, organiser, make_page, tmp_path, javascript
):
    timetable = tmp_path / "spring.csv"
    timetable.write_text(
        "\n".join(
            [
                HEADER,
                "MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,100,1-16,"
                "li.wei@pku.example.org;ana.costa@example.org",
                "MATH101,Calculus,wang.fang@pku.example.org,fri,08:00,50,1-16,",
            ]
        )
        + "\n"
    )
    page = make_page(javascript=javascript)
    log_in(page)
    page.get_by_role("link", name="Timetables").click()
    page.get_by_role("heading", name="Import a timetable").wait_for()
    fill_term(page)
    page.get_by_label("Timetable file").set_input_files(str(timetable))
    page.get_by_role("button", name="Import").click()

    page.get_by_role("heading", name="Spring 2020").wait_for()
    progress = page.locator("progress")
    assert progress.get_attribute("max") == "6"
    # The first batch went after the commit (no broker: jobs run inline).
    assert "of 6 invitations sent" in page.get_by_text("invitations sent").first.inner_text()
    # The days left out, a line per holiday: Qingming and Labour Day with their weekends.
    excluded = page.locator(".excluded-dates li").all_inner_texts()
    assert excluded == [
        "Sat 04 Apr 2020 – Mon 06 Apr 2020: Tomb-Sweeping Day",
        "Fri 01 May 2020 – Tue 05 May 2020: Labor Day",
    ]
    # The term's report on its teachers abroad is one click away.
    assert page.get_by_role("link", name="Teachers abroad").is_visible()

    with app.app_context():
        import_id = db.session.scalar(sa.select(TimetableImport.id))
        while sending.send_next_batch(import_id).status == "sending":
            pass
    page.reload()
    page.get_by_text("Every invitation has been sent.").wait_for()
    assert page.locator("progress").get_attribute("value") == "6"
    assert page.get_by_text("6 of 6 invitations sent").is_visible()
    save_screenshot(page, f"timetable-import-done-{'js' if javascript else 'no-js'}")


def test_a_refused_timetable_lists_its_problems_by_row(app, organiser, page, tmp_path, page_errors):
    timetable = tmp_path / "bad.csv"
    timetable.write_text(
        "\n".join(
            [
                HEADER,
                "MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,100,1-16,li.wei@pku.example.org",
                "PHYS101,Physics,ghost@pku.example.org,someday,08:00,50,1-16,",
            ]
        )
        + "\n"
    )
    log_in(page)
    page.goto("/timetables/import")
    fill_term(page)
    page.get_by_label("Timetable file").set_input_files(str(timetable))
    page.get_by_role("button", name="Import").click()
    page.get_by_role("heading", name="Nothing was imported").wait_for()
    rows = page.locator("table.import-problems tbody tr").all_inner_texts()
    assert len(rows) == 2
    assert any("ghost@pku.example.org" in row and "teachers" in row for row in rows)
    assert any("weekday" in row for row in rows)
    # What was typed stays in the form, to upload the corrected file.
    assert page.get_by_label("Term name").input_value() == "Spring 2020"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(TimetableImport.id))) == 0
    save_screenshot(page, "timetable-import-refused")
    # The refusal is answered 422, which the browser reports: that one is expected.
    assert len(page_errors) == 1 and "status of 422" in page_errors[0], page_errors
    page_errors.clear()
