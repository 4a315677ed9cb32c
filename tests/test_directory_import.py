"""Bulk directory import: the API (CSV and JSON), the CLI and the upload page, all or nothing."""

from __future__ import annotations

import html
import io
import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from forum.directory.models import Person
from forum.directory.weekly_hours import HoursSyntaxError
from forum.directory.weekly_hours import format_hours
from forum.directory.weekly_hours import parse_hours
from forum.extensions import db
from tests.conftest import ApiClient
from tests.conftest import csrf_token
from tests.factories import make_institution
from tests.factories import make_person
from tests.helpers import assert_error
from tests.helpers import recorded_statements
from tests.test_web import log_in


@pytest.fixture
def app_settings(request) -> dict[str, Any]:
    """The test settings, or those a test passes (indirect parametrization)."""
    return getattr(request, "param", {})


PEOPLE = "/api/v1/people/import"
INSTITUTIONS = "/api/v1/institutions/import"
PEOPLE_HEADER = "name,email,institution,timezone,role_title,working_hours,acceptable_hours,locale"
INSTITUTIONS_HEADER = "name,short_name,country,timezone,subdivision"
NINE_TO_SIX = [["09:00", "18:00"]]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def week(days: str, ranges: list[list[str]]) -> dict[str, list[list[str]]]:
    """Hours on the named days ("mon tue"), none on the others."""
    return {day: ranges if day in days.split() else [] for day in WEEKDAYS}


def post_csv(api: ApiClient, path: str, *lines: str, content_type: str = "text/csv"):
    body = "\n".join(lines) + "\n"
    return api.post(path, data=body.encode(), headers={"Content-Type": content_type})


def imported(response) -> dict[str, Any]:
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def problems(response) -> list[dict[str, Any]]:
    """The bad rows a refused import lists, after checking the error's shape."""
    error = assert_error(response, 422, "validation_error", "rows")
    return error["details"]["rows"]


def people_by_email(api: ApiClient) -> dict[str, dict[str, Any]]:
    items = api.get("/api/v1/people?per_page=200").get_json()["items"]
    return {person["email"]: person for person in items}


@pytest.fixture
def sites(api: ApiClient) -> dict[str, int]:
    """Three institutions (one with a Sunday-to-Thursday week), by short name: their ids."""
    answer = imported(
        post_csv(
            api,
            INSTITUTIONS,
            INSTITUTIONS_HEADER,
            "Peking University,PKU,CN,Asia/Shanghai,BJ",
            "University of Tokyo,UTokyo,JP,,",
            "Qatar University,QU,QA,,",
        )
    )
    assert (answer["created"], answer["updated"], answer["unchanged"]) == (3, 0, 0)
    return dict(zip(("PKU", "UTokyo", "QU"), (row["id"] for row in answer["rows"]), strict=True))


# --- the hours text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        (
            "mon-fri 09:00-18:00; sat 10:00-12:00",
            {**week("mon tue wed thu fri", NINE_TO_SIX), "sat": [["10:00", "12:00"]]},
        ),
        (
            "sun-thu 8:00-12:00, 13:00-17:00",
            week("sun mon tue wed thu", [["08:00", "12:00"], ["13:00", "17:00"]]),
        ),
        ("MON,wed 09:00-10:00; tue off", week("mon wed", [["09:00", "10:00"]])),
        ("mon - sun 07:00 - 22:00", week("mon tue wed thu fri sat sun", [["07:00", "22:00"]])),
        ("mon-sun off", week("", [])),
    ],
)
def test_the_hours_text_reads_spans_lists_and_several_ranges(text, hours):
    assert parse_hours(text) == hours
    assert parse_hours(format_hours(hours)) == hours


def test_the_hours_text_writes_a_wrapped_week_as_one_span():
    assert format_hours(parse_hours("sun-thu 08:00-16:00")) == "sun-thu 08:00-16:00"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("weekdays 09:00-18:00", "'weekdays' is not a day"),
        ("mon 9-5", "'9-5' is not a range"),
        ("mon", "needs days and ranges"),
        ("mon 09:00-12:00; mon-fri 13:00-18:00", "mon is given twice"),
        (" ; ", "write days and ranges"),
    ],
)
def test_the_hours_text_says_what_is_wrong(text, problem):
    with pytest.raises(HoursSyntaxError, match=re.escape(problem)):
        parse_hours(text)


# --- importing through the API --------------------------------------------------------------------


def test_a_csv_of_people_names_institutions_and_takes_the_defaults(api, sites):
    answer = imported(
        post_csv(
            api,
            PEOPLE,
            # Any column order; cells quoted as spreadsheets do.
            "email,name,institution,working_hours,timezone,role_title,acceptable_hours",
            'li.wei@pku.example,"Li, Wei",PKU,,,President,',
            f"hana.sato@u-tokyo.example,Hana Sato,{sites['UTokyo']},"
            '"mon-fri 09:00-12:00, 13:00-18:00",,,mon-sat 08:00-21:00',
            "amal@qu.example,Amal Al-Thani,qatar university,,,,",
            "guest@example.org,Guest Speaker,,,America/Detroit,,",
        )
    )

    assert (answer["created"], answer["updated"], answer["unchanged"]) == (4, 0, 0)
    assert [row["line"] for row in answer["rows"]] == [2, 3, 4, 5]
    people = people_by_email(api)
    assert [row["id"] for row in answer["rows"]] == [
        people[email]["id"]
        for email in (
            "li.wei@pku.example",
            "hana.sato@u-tokyo.example",
            "amal@qu.example",
            "guest@example.org",
        )
    ]
    li = people["li.wei@pku.example"]
    assert (li["name"], li["institution_id"], li["timezone"]) == (
        "Li, Wei",
        sites["PKU"],
        "Asia/Shanghai",
    )
    assert li["role_title"] == "President"
    assert li["working_hours"] == week("mon tue wed thu fri", NINE_TO_SIX)
    assert li["acceptable_hours"] == week("mon tue wed thu fri sat sun", [["07:00", "22:00"]])
    hana = people["hana.sato@u-tokyo.example"]
    assert hana["timezone"] == "Asia/Tokyo"
    assert hana["working_hours"] == week(
        "mon tue wed thu fri", [["09:00", "12:00"], ["13:00", "18:00"]]
    )
    assert hana["acceptable_hours"] == week("mon tue wed thu fri sat", [["08:00", "21:00"]])
    # The default working days are the country's: Sunday to Thursday in Qatar.
    amal = people["amal@qu.example"]
    assert (amal["institution_id"], amal["timezone"]) == (sites["QU"], "Asia/Qatar")
    assert amal["working_hours"] == week("sun mon tue wed thu", NINE_TO_SIX)
    guest = people["guest@example.org"]
    assert (guest["institution_id"], guest["timezone"]) == (None, "America/Detroit")


def test_a_json_list_of_people_takes_the_fields_of_a_single_create(api, sites):
    body = [
        {
            "name": "Hana Sato",
            "email": "hana.sato@u-tokyo.example",
            "institution_id": sites["UTokyo"],
            "working_hours": {"mon": [["13:00", "18:00"], ["09:00", "12:00"]]},
        },
        {"name": "Li Wei", "email": "li.wei@pku.example", "institution": "Peking University"},
    ]

    answer = imported(api.post(PEOPLE, json=body))

    assert answer["created"] == 2
    assert [(row["index"], row["result"]) for row in answer["rows"]] == [
        (0, "created"),
        (1, "created"),
    ]
    assert all("line" not in row for row in answer["rows"])
    people = people_by_email(api)
    # Ranges come back in order, as from POST /people.
    assert people["hana.sato@u-tokyo.example"]["working_hours"]["mon"] == [
        ["09:00", "12:00"],
        ["13:00", "18:00"],
    ]
    assert people["hana.sato@u-tokyo.example"]["working_hours"]["tue"] == []
    assert people["li.wei@pku.example"]["institution_id"] == sites["PKU"]


def test_an_import_updates_people_matched_by_email_and_keeps_what_it_leaves_empty(
    app, api, sites, row_count
):
    li = make_person(
        api,
        "Li Wei",
        "li.wei@pku.example",
        sites["PKU"],
        role_title="Dean",
        working_hours={"mon": [["10:00", "16:00"]]},
    )
    with app.app_context():
        revision = db.session.get(Person, li["id"]).revision

    answer = imported(
        post_csv(
            api,
            PEOPLE,
            PEOPLE_HEADER,
            "Li Wei,LI.WEI@pku.example,,,President,,",
            "Hana Sato,hana@u-tokyo.example,UTokyo,,,,",
        )
    )

    assert (answer["created"], answer["updated"], answer["unchanged"]) == (1, 1, 0)
    assert answer["rows"][0] == {"line": 2, "id": li["id"], "result": "updated"}
    assert row_count("people") == 2
    after = api.get(f"/api/v1/people/{li['id']}").get_json()
    assert after["role_title"] == "President"
    assert after["email"] == "LI.WEI@pku.example"
    # Cells left empty keep what the person had, as PATCH does.
    assert after["working_hours"] == li["working_hours"]
    assert (after["institution_id"], after["timezone"]) == (sites["PKU"], "Asia/Shanghai")
    with app.app_context():
        # Calendar feeds notice the change.
        assert db.session.get(Person, li["id"]).revision == revision + 1

    again = imported(
        post_csv(api, PEOPLE, PEOPLE_HEADER, "Li Wei,li.wei@PKU.example,,,President,,")
    )
    assert (again["updated"], again["unchanged"]) == (1, 0)
    same = imported(post_csv(api, PEOPLE, PEOPLE_HEADER, "Li Wei,li.wei@PKU.example,,,President,,"))
    assert (same["updated"], same["unchanged"]) == (0, 1)


def test_institutions_are_matched_by_name_and_country(api, sites, row_count):
    answer = imported(
        post_csv(
            api,
            INSTITUTIONS,
            "country,name,short_name,timezone",
            "JP,university of tokyo,Todai,",
            "US,University of Michigan,UMich,America/Detroit",
        )
    )

    assert [row["result"] for row in answer["rows"]] == ["updated", "created"]
    assert answer["rows"][0]["id"] == sites["UTokyo"]
    tokyo = api.get(f"/api/v1/institutions/{sites['UTokyo']}").get_json()
    assert (tokyo["short_name"], tokyo["timezone"]) == ("Todai", "Asia/Tokyo")
    assert row_count("institutions") == 4


def test_institution_rows_that_cannot_be_written_are_listed(api, sites, row_count):
    response = post_csv(
        api,
        INSTITUTIONS,
        INSTITUTIONS_HEADER,
        "Peking University,PKU,JP,,",
        "Somewhere University,SU,AU,,",
        "Nowhere University,NU,XX,,",
        "Tiny College,TC,GB,Europe/London,england",
    )

    listed = {(row["line"], row["field"]): row["message"] for row in problems(response)}
    assert set(listed) == {(2, "country"), (3, "timezone"), (4, "country"), (5, "subdivision")}
    assert "Peking University" in listed[2, "country"] and "CN" in listed[2, "country"]
    assert "Australia/Sydney" in listed[3, "timezone"]
    assert row_count("institutions") == 3


def test_one_bad_row_among_a_thousand_writes_nothing_and_names_it(api, sites, row_count):
    """The same file, fixed, is then imported whole (benchmarks.bench_import times it)."""
    lines = [PEOPLE_HEADER] + [
        f"Person {n},person.{n}@uni.example,{('PKU', 'UTokyo', 'QU')[n % 3]},,Lecturer,,"
        for n in range(1000)
    ]
    lines[516] = "Person 515,person.515@uni.example,PKU,Asia/Beijing,Lecturer,,"

    response = post_csv(api, PEOPLE, *lines)

    assert problems(response) == [
        {
            "line": 517,
            "field": "timezone",
            "message": "unknown time zone 'Asia/Beijing': use an IANA name such as Asia/Shanghai",
        }
    ]
    error = response.get_json()["error"]
    assert (error["details"]["bad_rows"], error["details"]["total_rows"]) == (1, 1000)
    assert "line 517" in error["message"]
    assert row_count("people") == 0

    lines[516] = "Person 515,person.515@uni.example,PKU,,Lecturer,,"
    answer = imported(post_csv(api, PEOPLE, *lines))

    assert answer["created"] == 1000
    assert row_count("people") == 1000


def test_the_statements_do_not_grow_with_the_rows(app, api, sites):
    def statements_for(count: int, start: int) -> int:
        lines = [PEOPLE_HEADER] + [
            f"P{n},p{n}@uni.example,PKU,,,," for n in range(start, start + count)
        ]
        with recorded_statements(app) as statements:
            imported(post_csv(api, PEOPLE, *lines))
        return len(statements)

    # New people, then the same people again (all updated), then a mix.
    assert statements_for(5, 0) == statements_for(200, 1000)
    lines = [PEOPLE_HEADER] + [f"Q{n},p{n}@uni.example,QU,,,," for n in range(1000, 1200)]
    with recorded_statements(app) as updating:
        assert imported(post_csv(api, PEOPLE, *lines))["updated"] == 200
    lines = [PEOPLE_HEADER] + [f"R{n},p{n}@uni.example,QU,,,," for n in range(1150, 1250)]
    with recorded_statements(app) as mixed:
        answer = imported(post_csv(api, PEOPLE, *lines))
    assert (answer["created"], answer["updated"]) == (50, 50)
    # The insert, and reading the new ids back.
    assert len(mixed) == len(updating) + 2


def test_every_bad_row_is_listed_with_its_line_field_and_message(api, sites, row_count):
    response = post_csv(
        api,
        PEOPLE,
        PEOPLE_HEADER,
        "Li Wei,li.wei@pku.example,PKU,,,,",
        "No Email,,PKU,,,,",
        "Bad Zone,zone@uni.example,PKU,EST,,,",
        "Offset,offset@uni.example,PKU,Etc/GMT+5,,,",
        "Li Wei again,LI.WEI@pku.example,PKU,,,,",
        "Nowhere,nowhere@uni.example,Atlantis U,,,,",
        "Bad Hours,hours@uni.example,PKU,,,mon-fri 18:00-09:00,",
        "Bad Text,text@uni.example,PKU,,,weekdays 9 to 5,",
        "No Zone,nozone@uni.example,,,,,",
        "Too,many@uni.example,PKU,,,,,,extra",
        "Bad Id,id@uni.example,99999,,,,",
    )

    listed = [(row["line"], row["field"]) for row in problems(response)]
    assert listed == [
        (2, "email"),
        (3, "email"),
        (4, "timezone"),
        (5, "timezone"),
        (6, "email"),
        (7, "institution"),
        (8, "working_hours"),
        (9, "working_hours"),
        (10, "timezone"),
        (11, "row"),
        (12, "institution"),
    ]
    messages = {(row["line"], row["field"]): row["message"] for row in problems(response)}
    assert messages[2, "email"] == "also given on line 6"
    assert messages[6, "email"] == "also given on line 2"
    assert messages[3, "email"] == "required"
    assert "abbreviation" in messages[4, "timezone"]
    assert "Atlantis U" in messages[7, "institution"]
    assert "ends before it starts" in messages[8, "working_hours"]
    assert "'weekdays' is not a day" in messages[9, "working_hours"]
    assert messages[10, "timezone"] == "required for a person without an institution"
    assert messages[12, "institution"] == "no institution with id 99999"
    assert row_count("people") == 0


def test_a_short_name_shared_by_two_institutions_asks_for_the_id(api, sites):
    make_institution(api, "University of Toronto", "CA", "America/Toronto")
    api.patch(f"/api/v1/institutions/{sites['UTokyo']}", json={"short_name": "UT"})
    api.patch("/api/v1/institutions/4", json={"short_name": "UT"})

    response = post_csv(api, PEOPLE, PEOPLE_HEADER, "Ada,ada@uni.example,ut,,,,")

    [problem] = problems(response)
    assert problem["field"] == "institution"
    assert "University of Tokyo" in problem["message"]
    assert "University of Toronto" in problem["message"]


def test_json_rows_name_their_index_and_unknown_fields(api, sites, row_count):
    body = [
        {"name": "Li Wei", "email": "li.wei@pku.example", "institution": "PKU"},
        {"name": "Hana", "email": "hana@u-tokyo.example", "office": "B12", "floor": 3},
        {"name": "Busy", "email": "busy@uni.example", "timezone": "UTC", "busy": []},
        "Amal",
        {"name": "Both", "email": "both@uni.example", "institution_id": 1, "institution": "QU"},
        {"name": "Li", "email": "LI.WEI@pku.example", "institution_id": sites["PKU"]},
    ]

    response = api.post(PEOPLE, json=body)

    listed = [(row["index"], row["field"]) for row in problems(response)]
    assert listed == [
        (0, "email"),
        (1, "floor"),
        (1, "office"),
        (2, "busy"),
        (3, "row"),
        (4, "institution"),
        (5, "email"),
    ]
    messages = {(row["index"], row["field"]): row["message"] for row in problems(response)}
    assert messages[1, "office"] == "unknown field"
    assert "PUT /api/v1/people/{id}/availability" in messages[2, "busy"]
    assert messages[0, "email"] == "also given at index 5"
    assert row_count("people") == 0


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("name,email,office,floor", "unknown columns office, floor"),
        ("name,e-mail", "unknown column e-mail"),
        ("name,institution", "missing column email"),
        ("name,email,name", "repeated column name"),
        ("name,email,", "column 3 of the header has no name"),
    ],
)
def test_the_header_must_name_known_columns(api, row_count, header, named):
    response = post_csv(api, PEOPLE, header, "Li Wei,li.wei@pku.example,x,y")

    error = assert_error(response, 422, "validation_error", "columns")
    assert named in error["details"]["fields"]["columns"]
    assert row_count("people") == 0


def test_bad_zones_and_countries_of_institutions_are_refused(api, row_count):
    response = api.post(
        INSTITUTIONS,
        json=[
            {"name": "A", "country": "CN", "timezone": "CST"},
            {"name": "B", "country": "cn"},
            {"name": "C", "country": "JP", "timezone": "Asia/Tokio"},
            {"name": "D", "country": "JP", "timezone": "+09:00"},
        ],
    )

    assert [(row["index"], row["field"]) for row in problems(response)] == [
        (0, "timezone"),
        (1, "country"),
        (2, "timezone"),
        (3, "timezone"),
    ]
    assert row_count("institutions") == 0


def test_a_file_over_the_row_cap_is_refused_naming_the_cap(api, row_count):
    lines = [PEOPLE_HEADER] + [f"P{n},p{n}@uni.example,,UTC,,," for n in range(10_001)]

    response = post_csv(api, PEOPLE, *lines)

    error = assert_error(response, 422, "too_many_rows", "rows")
    assert error["details"] == {
        "fields": {"rows": "at most 10000 rows per import; this file has 10001"},
        "max_rows": 10000,
        "total_rows": 10001,
    }
    assert "10000" in error["message"]
    assert row_count("people") == 0


def test_a_body_over_the_byte_cap_is_413(api, row_count):
    body = PEOPLE_HEADER.encode() + b"\n" + b"x" * (16 * 1024 * 1024)

    response = api.post(PEOPLE, data=body, headers={"Content-Type": "text/csv"})

    error = assert_error(response, 413, "payload_too_large")
    assert str(16 * 1024 * 1024) in error["message"]
    assert row_count("people") == 0


@pytest.mark.parametrize("app_settings", [{"MAX_CONTENT_LENGTH": 4096}], indirect=True)
def test_an_import_may_be_larger_than_other_request_bodies(app, api, row_count):
    lines = [PEOPLE_HEADER] + [
        f"Person {n},person.{n}@uni.example,,UTC,{'Visiting professor ' * 10},," for n in range(30)
    ]
    body = "\n".join(lines).encode()
    assert len(body) > app.config["MAX_CONTENT_LENGTH"]

    answer = imported(api.post(PEOPLE, data=body, headers={"Content-Type": "text/csv"}))

    assert answer["created"] == 30
    assert row_count("people") == 30


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code", "field"),
    [
        (b"", "text/csv", 422, "validation_error", "file"),
        (
            b"\xef\xbb\xbf" + PEOPLE_HEADER.encode() + b"\r\n",
            "text/csv",
            422,
            "validation_error",
            "file",
        ),
        (b"name,email\n\xff\xfe,x\n", "text/csv", 400, "malformed_csv", None),
        (b'name,email\n"Li Wei,li@x.org\n', "text/csv", 400, "malformed_csv", None),
        (b"[{", "application/json", 400, "malformed_json", None),
        (b"[]", "application/json", 422, "validation_error", "file"),
        (b'{"name": "Li Wei"}', "application/json", 422, "validation_error", "file"),
        (
            b"name,email\nLi,li@x.org\n",
            "application/vnd.ms-excel",
            415,
            "unsupported_media_type",
            None,
        ),
        (
            b"name,email\nLi,li@x.org\n",
            "text/csv; charset=latin-1",
            415,
            "unsupported_media_type",
            None,
        ),
        (b"name,email\nLi,li@x.org\n", None, 415, "unsupported_media_type", None),
    ],
    ids=[
        "empty",
        "header-only",
        "not-utf8",
        "open-quote",
        "broken-json",
        "empty-list",
        "not-a-list",
        "excel",
        "latin-1",
        "no-content-type",
    ],
)
def test_files_that_cannot_be_read_are_refused_clearly(
    api, row_count, data, content_type, status, code, field
):
    headers = {"Content-Type": content_type} if content_type else {}

    response = api.post(PEOPLE, data=data, headers=headers)

    assert_error(response, status, code, *([field] if field else []))
    assert row_count("people") == 0


def test_a_utf8_csv_with_a_byte_order_mark_and_crlf_lines_is_read(api, sites):
    body = "\ufeff" + PEOPLE_HEADER + "\r\nZhāng Wěi,zhang@pku.example,北京大学,,,,\r\n"
    api.patch(f"/api/v1/institutions/{sites['PKU']}", json={"short_name": "北京大学"})

    answer = imported(
        api.post(PEOPLE, data=body.encode(), headers={"Content-Type": "text/csv; charset=UTF-8"})
    )

    assert answer["rows"] == [{"line": 2, "id": answer["rows"][0]["id"], "result": "created"}]
    assert people_by_email(api)["zhang@pku.example"]["name"] == "Zhāng Wěi"


def test_a_csv_separated_by_semicolons_is_read(api, sites):
    body = (
        "name;email;institution;working_hours\n"
        'Li Wei;li@pku.example;PKU;"mon-thu 09:00-17:00; fri off"\n'
    )

    answer = imported(api.post(PEOPLE, data=body.encode(), headers={"Content-Type": "text/csv"}))

    assert answer["created"] == 1
    li = people_by_email(api)["li@pku.example"]
    assert li["working_hours"] == week("mon tue wed thu", [["09:00", "17:00"]])


def test_the_imports_need_a_token(client, row_count):
    response = client.post(PEOPLE, data=b"name,email\n", headers={"Content-Type": "text/csv"})

    assert_error(response, 401, "unauthorized")


def test_the_imports_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()

    for path, row in (
        (PEOPLE, "PersonImportRow"),
        (INSTITUTIONS, "InstitutionImportRow"),
    ):
        operation = document["paths"][path]["post"]
        content = operation["requestBody"]["content"]
        assert {"application/json", "text/csv"} <= set(content)
        assert "working_hours" in json.dumps(content["text/csv"]) or path == INSTITUTIONS
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer["$ref"].endswith("/ImportOut")
        assert "415" in operation["responses"]
        assert row in document["components"]["schemas"]


# --- the command line -----------------------------------------------------------------------------


def test_the_cli_imports_csv_and_json_files_and_prints_counts(runner, api, tmp_path):
    institutions = tmp_path / "institutions.csv"
    institutions.write_text(
        INSTITUTIONS_HEADER + "\nPeking University,PKU,CN,Asia/Shanghai,\n", encoding="utf-8"
    )
    people = tmp_path / "people.json"
    people.write_text(
        json.dumps([{"name": "Li Wei", "email": "li.wei@pku.example", "institution": "PKU"}])
    )

    first = runner.invoke(args=["forum", "import-institutions", str(institutions)])
    checked = runner.invoke(args=["forum", "import-people", "--dry-run", str(people)])
    written = runner.invoke(args=["forum", "import-people", str(people)])
    again = runner.invoke(args=["forum", "import-people", str(people)])

    assert first.exit_code == 0, first.output
    assert first.stdout == "institutions: 1 created, 0 updated, 0 unchanged (1 row)\n"
    assert checked.exit_code == 0, checked.output
    assert "1 to create" in checked.stdout and "nothing written" in checked.stdout
    assert written.stdout == "people: 1 created, 0 updated, 0 unchanged (1 row)\n"
    assert again.stdout == "people: 0 created, 0 updated, 1 unchanged (1 row)\n"
    assert list(people_by_email(api)) == ["li.wei@pku.example"]


def test_the_cli_prints_every_bad_row_and_fails(runner, row_count, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text(
        PEOPLE_HEADER + "\nLi Wei,li.wei@pku.example,PKU,,,,\nHana,hana,,Asia/Tokyo,,,\n"
    )

    result = runner.invoke(args=["forum", "import-people", str(people)])

    assert result.exit_code == 1
    assert f"{people}: line 2: institution: no institution has the name" in result.stderr
    assert f"{people}: line 3: email: value is not a valid email address" in result.stderr
    assert "nothing was imported: 2 of 2 rows are not valid" in result.stderr
    assert row_count("people") == 0


def test_the_cli_names_unknown_columns(runner, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("name,email,phone\nLi Wei,li@x.org,123\n")

    result = runner.invoke(args=["forum", "import-people", str(people)])

    assert result.exit_code == 1
    assert "unknown column phone" in result.stderr


# --- the upload page ------------------------------------------------------------------------------


@pytest.fixture
def organiser(client: FlaskClient, api: ApiClient) -> ApiClient:
    """The default organiser, logged in to the pages."""
    assert log_in(client, "organiser@example.org").status_code == 302
    return api


def upload(client: FlaskClient, kind: str, text: str, filename: str = "directory.csv"):
    token = csrf_token(client.get("/directory/import").text)
    return client.post(
        "/directory/import",
        data={"csrf_token": token, "kind": kind, "file": (io.BytesIO(text.encode()), filename)},
        content_type="multipart/form-data",
    )


def hidden_upload(page: str) -> str | None:
    match = re.search(r'<input id="upload" name="upload" type="hidden" value="([^"]*)"', page)
    return html.unescape(match[1]) if match else None


def text_of(page: str) -> str:
    """The page's text as a reader sees it: no tags, one space between words."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def preview_row(page: str, line: int) -> str:
    match = re.search(rf'<tr id="row-{line}">(.*?)</tr>', page, re.S)
    assert match, f"line {line} is not in the preview"
    return text_of(match[1]).strip()


def test_the_page_is_in_the_organiser_navigation(client, organiser):
    page = client.get("/directory/import").text

    assert 'href="/directory/import" aria-current="page">Directory import</a>' in page
    header = "name,email,institution,timezone,role_title,working_hours,acceptable_hours,locale"
    assert header in page


def test_the_page_needs_a_login(client):
    response = client.get("/directory/import")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_the_preview_shows_parsed_rows_and_writes_nothing_until_confirmed(
    client, organiser, sites, row_count
):
    text = "\n".join(
        [
            PEOPLE_HEADER,
            "Li Wei,li.wei@pku.example,PKU,,President,mon-fri 08:00-17:00,",
            "Amal Al-Thani,amal@qu.example,QU,,,,",
        ]
    )

    preview = upload(client, "people", text)

    assert preview.status_code == 200, preview.text
    assert row_count("people") == 0
    li = preview_row(preview.text, 2)
    assert "add" in li and "Peking University" in li and "Asia/Shanghai (default)" in li
    assert "mon-fri 08:00-17:00" in li and "mon-sun 07:00-22:00 (default)" in li
    assert "sun-thu 09:00-18:00 (default)" in preview_row(preview.text, 3)
    assert "Import 2 rows" in preview.text
    signed = hidden_upload(preview.text)
    assert signed

    confirmed = client.post(
        "/directory/import/confirm",
        data={"csrf_token": csrf_token(preview.text), "upload": signed},
    )

    assert confirmed.status_code == 303
    assert row_count("people") == 2
    page = client.get(confirmed.headers["Location"]).text
    assert "Imported directory.csv: 2 added, 0 updated, 0 unchanged." in html.unescape(page)


def test_the_preview_shows_what_an_update_replaces(client, organiser, sites, api):
    make_person(api, "Li Wei", "li.wei@pku.example", sites["PKU"], role_title="Dean")

    preview = upload(
        client, "people", f"{PEOPLE_HEADER}\nLi Wei,li.wei@pku.example,QU,,President,,"
    )

    li = preview_row(preview.text, 2)
    assert li.startswith("2 update Li Wei li.wei@pku.example")
    assert "Qatar University (was Peking University)" in li
    assert "President (was Dean)" in li
    assert "Asia/Shanghai (kept)" in li


def test_the_preview_puts_each_problem_next_to_its_row_and_offers_no_import(
    client, organiser, sites, row_count
):
    text = "\n".join(
        [
            PEOPLE_HEADER,
            "Li Wei,li.wei@pku.example,PKU,,,,",
            "Hana,hana@u-tokyo.example,UTokyo,Asia/Tokio,,mon 9-5,",
        ]
    )

    preview = upload(client, "people", text)

    assert preview.status_code == 200
    assert hidden_upload(preview.text) is None
    assert "/directory/import/confirm" not in preview.text
    hana = preview_row(preview.text, 3)
    assert "problem" in hana
    assert "Asia/Tokio unknown time zone 'Asia/Tokio'" in hana
    assert "mon 9-5 '9-5' is not a range" in hana
    assert "add" in preview_row(preview.text, 2)
    assert "Nothing can be imported while 1 row has problems" in text_of(preview.text)
    assert row_count("people") == 0


def test_the_page_takes_a_json_file_too(client, organiser, sites, row_count):
    rows = [{"name": "Li Wei", "email": "li.wei@pku.example", "institution_id": sites["PKU"]}]

    preview = upload(client, "people", json.dumps(rows), filename="people.json")

    assert '<th scope="col">Index</th>' in preview.text
    assert "Peking University" in preview_row(preview.text, 0)
    client.post(
        "/directory/import/confirm",
        data={"csrf_token": csrf_token(preview.text), "upload": hidden_upload(preview.text)},
    )
    assert row_count("people") == 1


def test_the_preview_names_unknown_columns_on_the_form(client, organiser):
    response = upload(client, "institutions", "name,country,phone\nPKU,CN,1\n")

    assert response.status_code == 422
    assert "unknown column phone" in html.unescape(response.text)


def test_a_file_over_the_byte_cap_is_refused_on_the_form(client, organiser):
    token = csrf_token(client.get("/directory/import").text)
    # Encoded here: the test client would spool so large a body to a file it never closes.
    body = b"".join(
        [
            b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n',
            token.encode(),
            b'\r\n--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\npeople',
            b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n',
            b"Content-Type: text/csv\r\n\r\n",
            PEOPLE_HEADER.encode() + b"\n" + b"x" * (16 * 1024 * 1024),
            b"\r\n--b--\r\n",
        ]
    )

    response = client.post(
        "/directory/import", data=body, content_type="multipart/form-data; boundary=b"
    )

    assert response.status_code == 413
    assert "larger than 16 MB" in text_of(response.text)


def test_a_changed_or_foreign_confirmation_is_refused(app, client, organiser, row_count):
    preview = upload(client, "institutions", "name,country\nUniversity of Tokyo,JP\n")
    signed = hidden_upload(preview.text)
    token = csrf_token(preview.text)
    # Another file signed with another key, as a forger would have to.
    forged = signed[:-3] + ("AAA" if not signed.endswith("AAA") else "BBB")

    response = client.post(
        "/directory/import/confirm", data={"csrf_token": token, "upload": forged}
    )

    assert response.status_code == 303
    assert "upload the file again" in html.unescape(client.get(response.headers["Location"]).text)
    assert row_count("institutions") == 0

    # The same preview, confirmed by another organiser, is not theirs to confirm.
    client.post("/logout", data={"csrf_token": token})
    with app.app_context():
        from forum.accounts.services import create_organiser
        from tests.conftest import _password_hash

        other = create_organiser(email="other@example.org", name="Other", timezone="UTC")
        other.password_hash = _password_hash()
        db.session.commit()
    assert log_in(client, "other@example.org").status_code == 302
    token = csrf_token(client.get("/directory/import").text)
    response = client.post(
        "/directory/import/confirm", data={"csrf_token": token, "upload": signed}
    )
    assert response.status_code == 303
    assert row_count("institutions") == 0


def test_the_page_posts_need_their_csrf_token(client, organiser, row_count):
    preview = upload(client, "institutions", "name,country\nUniversity of Tokyo,JP\n")

    without_token = client.post(
        "/directory/import", data={"kind": "institutions", "file": (io.BytesIO(b"x"), "a.csv")}
    )
    confirm_without_token = client.post(
        "/directory/import/confirm", data={"upload": hidden_upload(preview.text)}
    )

    assert without_token.status_code == 400
    assert confirm_without_token.status_code == 400
    assert row_count("institutions") == 0


def test_a_confirmation_rechecks_the_directory(client, organiser, sites, api, row_count):
    preview = upload(client, "people", f"{PEOPLE_HEADER}\nLi Wei,li.wei@pku.example,PKU,,,,\n")
    api.patch(f"/api/v1/institutions/{sites['PKU']}", json={"short_name": "Beida"})

    response = client.post(
        "/directory/import/confirm",
        data={"csrf_token": csrf_token(preview.text), "upload": hidden_upload(preview.text)},
    )

    assert response.status_code == 422
    assert "The directory changed since the preview" in response.text
    assert "no institution has the name or short name" in preview_row(response.text, 2)
    assert row_count("people") == 0


@pytest.mark.parametrize(
    "app_settings", [{"MAX_CONTENT_LENGTH": 4096, "MAX_FORM_MEMORY_SIZE": 1024}], indirect=True
)
def test_a_file_over_the_ordinary_form_limits_is_previewed_and_confirmed(
    app, client, organiser, sites, row_count
):
    """The page reads an import under its own limits, not those of the other forms."""
    lines = [PEOPLE_HEADER] + [
        f"Person {n},person.{n}@uni.example,PKU,,Lecturer {n},mon-fri 09:00-12:00 13:00-18:00,"
        for n in range(300)
    ]
    text = "\n".join(lines)
    assert len(text) > app.config["MAX_CONTENT_LENGTH"]

    preview = upload(client, "people", text)

    assert preview.status_code == 200, preview.text
    assert "100 more rows without are not shown" in re.sub(r"\s+", " ", preview.text)
    signed = hidden_upload(preview.text)
    assert len(signed) > app.config["MAX_FORM_MEMORY_SIZE"]
    confirmed = client.post(
        "/directory/import/confirm",
        data={"csrf_token": csrf_token(preview.text), "upload": signed},
    )
    assert confirmed.status_code == 303
    assert row_count("people") == 300
