"""The example timetable shipped beside the demo imports into the demo's directory, and its
teachers abroad (Ann Arbor, Tokyo, Doha, Auckland) are read as their own clocks say."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from forum.accounts.services import find_organiser
from forum.accounts.services import issue_token
from forum.demo.seed import DEMO_ORGANISER_EMAIL
from forum.demo.seed import seed_demo
from forum.extensions import db
from tests.conftest import ApiClient

EXAMPLE = Path(__file__).parent.parent / "static" / "examples" / "timetable-spring-2020.csv"
TERM = "name=Spring%202020&first_day=2020-02-17&weeks=16&timezone=Asia/Shanghai&country=CN"


@pytest.fixture
def demo_api(app: Flask, client: FlaskClient) -> ApiClient:
    with app.app_context():
        seed_demo()
        organiser = find_organiser(DEMO_ORGANISER_EMAIL)
        token = issue_token(organiser)
        db.session.commit()
        return ApiClient(client, token, organiser.id)


def test_the_example_timetable_imports_into_the_demo_and_names_its_teachers_abroad(demo_api):
    response = demo_api.post(
        f"/api/v1/timetables/import?{TERM}",
        data=EXAMPLE.read_bytes(),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.get_json()
    imported = response.get_json()
    assert (imported["courses"], imported["sessions"]) == (5, 5)
    holidays = {day["date"] for day in imported["term"]["excluded_dates"]}
    assert {"2020-04-04", "2020-04-05", "2020-04-06"} <= holidays
    assert {"2020-05-01", "2020-05-05"} <= holidays

    report = demo_api.get(f"/api/v1/terms/{imported['term']['id']}/teachers-abroad").get_json()
    worst = {teacher["timezone"]: teacher["worst"] for teacher in report["teachers"]}
    # Tuesday 09:00-10:40 in Beijing is Monday evening in Ann Arbor, past 22:00 once the
    # clocks there go forward; Monday 08:00 is 03:00 in Doha; Friday 19:00 is after midnight
    # on Saturday in Auckland; Tokyo's hour is fine but two Wednesdays are its holidays.
    assert worst == {
        "America/Detroit": "night",
        "Asia/Qatar": "night",
        "Pacific/Auckland": "night",
        "Asia/Tokyo": "holiday",
    }
    teacher_in = {teacher["timezone"]: teacher for teacher in report["teachers"]}
    doha = teacher_in["Asia/Qatar"]["meetings"][0]["suggestion"]
    assert doha is not None and doha["teacher_hours"] == "working"
