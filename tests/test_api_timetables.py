"""The timetable API: import as JSON, CSV or a multipart file, follow the import, list terms."""

from __future__ import annotations

import io
from typing import Any

import pytest

from forum.accounts.models import Organiser
from forum.extensions import db
from tests.helpers import assert_error
from tests.test_timetable_import import BEIJING
from tests.test_timetable_import import HEADER
from tests.test_timetable_import import TABLES
from tests.test_timetable_import import add_people

IMPORT = "/api/v1/timetables/import"
LINE = "MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,90,1-16,li.wei@pku.example.org"


@pytest.fixture
def pku(api):
    add_people(
        api,
        ("Wang Fang", "wang.fang@pku.example.org", "Asia/Shanghai", "zh"),
        ("Li Wei", "li.wei@pku.example.org", "Asia/Shanghai", "zh"),
    )
    return api


def document(**term: Any) -> dict[str, Any]:
    return {
        "term": {**BEIJING, "weeks": 16, **term},
        "courses": [
            {
                "code": "MATH101",
                "title": "Calculus",
                "teachers": ["wang.fang@pku.example.org"],
                "students": ["li.wei@pku.example.org"],
                "meetings": [
                    {"weekday": "mon", "start": "08:00", "minutes": 90, "weeks": "1-16"},
                    {"weekday": "thu", "start": "10:10", "minutes": 50, "weeks": "1-8,10-16"},
                ],
            }
        ],
    }


def test_a_json_import_answers_with_the_term_progress_and_counts(pku):
    response = pku.post(IMPORT, json=document())
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {
        "id": body["id"],
        "term_id": body["term"]["id"],
        "status": body["status"],
        "courses": 1,
        "sessions": 2,
        "invitations_total": 4,
        "invitations_sent": 4,
        "progress": 1.0,
        "rate_per_minute": 600,
        "error": None,
        "created_at": body["created_at"],
        "finished_at": body["finished_at"],
        "term": {
            "id": body["term"]["id"],
            "name": "Spring 2020",
            "first_day": "2020-02-17",
            "last_day": "2020-06-07",
            "weeks": 16,
            "timezone": "Asia/Shanghai",
            "country": "CN",
            "subdivision": None,
            "skip_holidays": True,
            "excluded_dates": body["term"]["excluded_dates"],
            "courses": 1,
            "created_at": body["term"]["created_at"],
        },
    }
    # Four invitations fit in the first batch, sent after the commit (jobs run inline).
    assert body["status"] == "done"
    assert len(body["term"]["excluded_dates"]) == 8

    progress = pku.get(f"/api/v1/timetable-imports/{body['id']}")
    assert progress.status_code == 200
    assert progress.get_json() == body | {"finished_at": progress.get_json()["finished_at"]}

    terms = pku.get("/api/v1/terms").get_json()
    assert terms["total"] == 1
    assert terms["items"][0]["name"] == "Spring 2020"
    term = pku.get(f"/api/v1/terms/{body['term']['id']}")
    assert term.status_code == 200
    assert term.get_json()["excluded_dates"][0] == {
        "date": "2020-04-04",
        "name": "Tomb-Sweeping Day",
    }


def test_another_organiser_sees_neither_the_term_nor_the_import(pku, make_organiser):
    body = pku.post(IMPORT, json=document()).get_json()
    other = make_organiser("other@example.org")
    assert_error(other.get(f"/api/v1/timetable-imports/{body['id']}"), 404, "not_found")
    assert_error(other.get(f"/api/v1/terms/{body['term']['id']}"), 404, "not_found")
    assert other.get("/api/v1/terms").get_json()["total"] == 0


def test_an_administrator_does_not_see_another_organisers_term_either(pku, make_organiser, app):
    # As with events: a term is its owner's, whoever else administers the directory.
    body = pku.post(IMPORT, json=document()).get_json()
    admin = make_organiser("admin@example.org")
    with app.app_context():
        db.session.get(Organiser, admin.organiser_id).is_admin = True
        db.session.commit()
    assert_error(admin.get(f"/api/v1/timetable-imports/{body['id']}"), 404, "not_found")
    assert_error(admin.get(f"/api/v1/terms/{body['term']['id']}"), 404, "not_found")
    assert_error(admin.get(f"/api/v1/terms/{body['term']['id']}/teachers-abroad"), 404, "not_found")


def test_csv_with_the_term_in_the_query(pku):
    response = pku.post(
        IMPORT,
        query_string={**BEIJING, "rate_per_minute": "30"},
        data=f"{HEADER}\n{LINE}\n".encode(),
        headers={"Content-Type": "text/csv; charset=utf-8"},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["rate_per_minute"] == 30


def test_a_multipart_file_with_the_term_in_the_form(pku):
    response = pku.post(
        IMPORT,
        data={
            **BEIJING,
            "skip_holidays": "false",
            "file": (io.BytesIO(f"{HEADER}\n{LINE}\n".encode()), "spring.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["term"]["excluded_dates"] == []


def test_a_dry_run_writes_nothing(pku, row_count):
    response = pku.post(IMPORT, query_string={"dry_run": "true"}, json=document())
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "dry_run": True,
        "courses": 1,
        "sessions": 2,
        "invitations_total": 4,
        "excluded_dates": response.get_json()["excluded_dates"],
    }
    for table in TABLES:
        assert row_count(table) == 0, table


def test_refusals_name_the_field(pku, row_count):
    assert_error(
        pku.post(IMPORT, data=b"hello", headers={"Content-Type": "text/plain"}),
        415,
        "unsupported_media_type",
    )
    missing = pku.post(
        IMPORT, data=f"{HEADER}\n{LINE}\n".encode(), headers={"Content-Type": "text/csv"}
    )
    assert_error(missing, 422, "validation_error", "name", "first_day", "weeks", "timezone")
    zoom = pku.post(IMPORT, json=document(provider="zoom"))
    assert_error(zoom, 422, "validation_error", "provider")
    bad_json = pku.post(IMPORT, data=b"{", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    no_file = pku.post(IMPORT, data=BEIJING, content_type="multipart/form-data")
    assert_error(no_file, 422, "validation_error", "file")
    for table in TABLES:
        assert row_count(table) == 0, table


def test_a_csv_header_with_a_wrong_column_is_refused_by_name(pku, row_count):
    header = HEADER.replace("weekday", "day")
    refused = pku.post(
        IMPORT,
        query_string={**BEIJING, "weeks": "16"},
        data=f"{header}\n{LINE}\n".encode(),
        headers={"Content-Type": "text/csv"},
    )
    error = assert_error(refused, 422, "validation_error", "columns")
    assert "day" in error["details"]["unknown_columns"]
    for table in TABLES:
        assert row_count(table) == 0, table


def test_only_a_failed_import_can_be_resumed(pku):
    body = pku.post(IMPORT, json=document()).get_json()
    response = pku.post(f"/api/v1/timetable-imports/{body['id']}/resume")
    assert_error(response, 409, "import_not_failed")


def test_the_rate_setting_is_checked_at_start():
    from config import ConfigError
    from config import load_config

    assert load_config({})["FORUM_TIMETABLE_INVITES_PER_MINUTE"] == 600
    assert (
        load_config({"FORUM_TIMETABLE_INVITES_PER_MINUTE": "120"})[
            "FORUM_TIMETABLE_INVITES_PER_MINUTE"
        ]
        == 120
    )
    with pytest.raises(ConfigError, match="FORUM_TIMETABLE_INVITES_PER_MINUTE"):
        load_config({"FORUM_TIMETABLE_INVITES_PER_MINUTE": "0"})
