"""API v1 tests of the directory: institutions, people and their availability."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import MISSING
from tests.helpers import assert_error
from tests.helpers import body_of

INSTITUTIONS = "/api/v1/institutions"
PEOPLE = "/api/v1/people"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_WORKING_HOURS = {
    **{day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "sat": [],
    "sun": [],
}
DEFAULT_ACCEPTABLE_HOURS = {day: [["07:00", "22:00"]] for day in WEEKDAYS}


def make_institution(api, **fields: Any) -> dict[str, Any]:
    defaults = {
        "name": "Peking University",
        "short_name": "PKU",
        "country": "CN",
        "timezone": "Asia/Shanghai",
    }
    response = api.post(INSTITUTIONS, json=body_of(defaults, fields))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def make_person(api, **fields: Any) -> dict[str, Any]:
    body = {"name": "Li Wei", "email": "li.wei@pku.example.org", **fields}
    if "institution_id" not in body and "timezone" not in body:
        body["timezone"] = "Asia/Shanghai"
    response = api.post(PEOPLE, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- institutions ------------------------------------------------------------------------


def test_create_institution_and_read_it_back(api, row_count):
    created = make_institution(
        api,
        subdivision="BJ",
        blackouts=[
            {"start_date": "2020-01-18", "end_date": "2020-02-09", "reason": "Spring Festival"}
        ],
    )

    assert created == {
        "id": created["id"],
        "name": "Peking University",
        "short_name": "PKU",
        "country": "CN",
        "timezone": "Asia/Shanghai",
        "subdivision": "BJ",
        "blackouts": [
            {"start_date": "2020-01-18", "end_date": "2020-02-09", "reason": "Spring Festival"}
        ],
        "created_by_id": api.organiser_id,
    }
    assert api.get(f"{INSTITUTIONS}/{created['id']}").get_json() == created
    assert row_count("institutions") == 1
    assert row_count("institution_blackouts") == 1


@pytest.mark.parametrize(
    ("country", "zone"),
    [("JP", "Asia/Tokyo"), ("GB", "Europe/London"), ("QA", "Asia/Qatar")],
)
@pytest.mark.parametrize("timezone", [MISSING, None], ids=["left-out", "null"])
def test_institution_zone_derived_from_a_single_zone_country(api, country, zone, timezone):
    created = make_institution(api, country=country, timezone=timezone)

    assert created["timezone"] == zone


@pytest.mark.parametrize(
    ("country", "one_choice"),
    [
        ("US", "America/Detroit"),
        ("AU", "Australia/Sydney"),
        ("NZ", "Pacific/Auckland"),
        ("CN", "Asia/Shanghai"),
    ],
)
def test_multi_zone_country_requires_a_zone(api, row_count, country, one_choice):
    response = api.post(INSTITUTIONS, json={"name": "Somewhere University", "country": country})

    error = assert_error(response, 422, "validation_error", "timezone")
    assert one_choice in error["details"]["choices"]
    assert one_choice in error["details"]["fields"]["timezone"]
    assert row_count("institutions") == 0


def test_multi_zone_country_with_a_zone(api):
    created = make_institution(
        api, name="University of Michigan", country="US", timezone="America/Detroit"
    )

    assert (created["country"], created["timezone"]) == ("US", "America/Detroit")


VALID_INSTITUTION = {"name": "University of Tokyo", "country": "JP"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": MISSING}, "name"),
        ({"country": MISSING}, "country"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 12}, "name"),
        ({"name": "University\nof Tokyo"}, "name"),
        ({"short_name": "U\rTokyo"}, "short_name"),
        ({"country": 12}, "country"),
        ({"country": "jp"}, "country"),
        ({"country": "XX"}, "country"),
        ({"country": "JPN"}, "country"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "EST"}, "timezone"),
        ({"timezone": "GMT"}, "timezone"),
        ({"timezone": "Etc/GMT-9"}, "timezone"),
        ({"timezone": "+09:00"}, "timezone"),
        ({"timezone": 9}, "timezone"),
        ({"subdivision": "tokyo"}, "subdivision"),
        ({"website": "https://www.u-tokyo.ac.jp"}, "website"),
        ({"blackouts": [{"start_date": "2020-08-31", "end_date": "2020-08-01"}]}, "blackouts.0"),
        (
            {"blackouts": [{"start_date": "2020/08/01", "end_date": "2020-08-31"}]},
            "blackouts.0.start_date",
        ),
        ({"blackouts": [{"start_date": "2020-08-01"}]}, "blackouts.0.end_date"),
        (
            {"blackouts": [{"start_date": "2020-08-01", "end_date": "2020-08-31", "why": "x"}]},
            "blackouts.0.why",
        ),
        ({"blackouts": {"start_date": "2020-08-01"}}, "blackouts"),
        ({"name": "Tokyo\u0000University"}, "name"),
    ],
)
def test_create_institution_refuses_bad_input(api, row_count, changes, field):
    body = body_of(VALID_INSTITUTION, changes)

    response = api.post(INSTITUTIONS, json=body)

    assert_error(response, 422, "validation_error", field)
    assert row_count("institutions") == 0
    assert row_count("institution_blackouts") == 0


def test_unknown_field_is_named_as_unknown(api):
    response = api.post(INSTITUTIONS, json={**VALID_INSTITUTION, "website": "https://x.jp"})

    error = assert_error(response, 422, "validation_error", "website")
    assert error["details"]["fields"] == {"website": "unknown field"}


def test_missing_fields_are_named_as_required(api):
    response = api.post(INSTITUTIONS, json={})

    error = assert_error(response, 422, "validation_error")
    assert error["details"]["fields"] == {"name": "required", "country": "required"}


def test_duplicate_institution_name_whatever_its_case(api, row_count):
    make_institution(api)

    response = api.post(INSTITUTIONS, json={"name": "PEKING university", "country": "JP"})

    assert_error(response, 409, "duplicate", "name")
    assert row_count("institutions") == 1


def test_duplicate_institution_name_with_a_capital_accented_letter(api, row_count):
    # SQLite's lower() leaves "É" as it is: the same name again is still a 409, not a 500.
    name = "École normale supérieure"
    api.post(INSTITUTIONS, json={"name": name, "country": "FR"})

    response = api.post(INSTITUTIONS, json={"name": name, "country": "FR"})

    assert_error(response, 409, "duplicate", "name")
    assert row_count("institutions") == 1


def test_list_institutions_paginated_by_name(api):
    for name in ("Qatar University", "Peking University", "University of Tokyo"):
        api.post(INSTITUTIONS, json={"name": name, "country": "JP"})

    first = api.get(f"{INSTITUTIONS}?per_page=2").get_json()
    second = api.get(f"{INSTITUTIONS}?per_page=2&page=2").get_json()
    beyond = api.get(f"{INSTITUTIONS}?per_page=2&page=3").get_json()

    assert [i["name"] for i in first["items"]] == ["Peking University", "Qatar University"]
    assert (first["total"], first["page"], first["per_page"]) == (3, 1, 2)
    assert [i["name"] for i in second["items"]] == ["University of Tokyo"]
    assert (second["total"], second["page"]) == (3, 2)
    assert beyond["items"] == []
    assert beyond["total"] == 3


def test_list_institutions_by_country(api):
    make_institution(api)
    make_institution(api, name="University of Tokyo", country="JP", timezone=MISSING)

    listed = api.get(f"{INSTITUTIONS}?country=jp").get_json()

    assert [i["name"] for i in listed["items"]] == ["University of Tokyo"]
    assert listed["total"] == 1


@pytest.mark.parametrize("country", ["J", "JPN", "J\u0000", "1P"])
def test_list_institutions_refuses_a_bad_country_filter(api, country):
    response = api.get(INSTITUTIONS, query_string={"country": country})

    assert_error(response, 422, "validation_error", "country")


def test_patch_institution_changes_only_given_fields(api):
    created = make_institution(api, subdivision="BJ")

    response = api.patch(
        f"{INSTITUTIONS}/{created['id']}",
        json={
            "short_name": "Beida",
            "blackouts": [{"start_date": "2020-07-01", "end_date": "2020-08-31"}],
        },
    )

    assert response.status_code == 200, response.get_json()
    expected = {
        **created,
        "short_name": "Beida",
        "blackouts": [{"start_date": "2020-07-01", "end_date": "2020-08-31", "reason": ""}],
    }
    assert response.get_json() == expected
    assert api.get(f"{INSTITUTIONS}/{created['id']}").get_json() == expected


def test_patch_institution_country_re_derives_the_zone(api):
    created = make_institution(api)

    response = api.patch(f"{INSTITUTIONS}/{created['id']}", json={"country": "JP"})

    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["country"], response.get_json()["timezone"]) == ("JP", "Asia/Tokyo")


def test_patch_institution_to_a_multi_zone_country_needs_a_zone(api):
    created = make_institution(api, name="University of Tokyo", country="JP", timezone=MISSING)

    response = api.patch(f"{INSTITUTIONS}/{created['id']}", json={"country": "US"})

    error = assert_error(response, 422, "validation_error", "timezone")
    assert "America/Detroit" in error["details"]["choices"]
    assert api.get(f"{INSTITUTIONS}/{created['id']}").get_json() == created


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"country": 12}, "country"),
        ({"timezone": "EST"}, "timezone"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "Peking\nUniversity"}, "name"),
        ({"name": ""}, "name"),
        ({"rank": 1}, "rank"),
        ({"blackouts": [{"start_date": "2020-08-31", "end_date": "2020-08-01"}]}, "blackouts.0"),
    ],
)
def test_patch_institution_refuses_bad_input(api, body, field):
    created = make_institution(api)

    response = api.patch(f"{INSTITUTIONS}/{created['id']}", json=body)

    assert_error(response, 422, "validation_error", field)
    assert api.get(f"{INSTITUTIONS}/{created['id']}").get_json() == created


def test_patch_institution_to_a_taken_name(api):
    make_institution(api)
    tokyo = make_institution(api, name="University of Tokyo", country="JP", timezone=MISSING)

    response = api.patch(f"{INSTITUTIONS}/{tokyo['id']}", json={"name": "peking university"})

    assert_error(response, 409, "duplicate", "name")
    assert api.get(f"{INSTITUTIONS}/{tokyo['id']}").get_json() == tokyo


def test_delete_institution(api, row_count):
    created = make_institution(
        api, blackouts=[{"start_date": "2020-01-18", "end_date": "2020-02-09"}]
    )

    response = api.delete(f"{INSTITUTIONS}/{created['id']}")

    assert response.status_code == 204
    assert response.data == b""
    assert_error(api.get(f"{INSTITUTIONS}/{created['id']}"), 404, "not_found")
    assert row_count("institutions") == 0
    assert row_count("institution_blackouts") == 0


def test_delete_institution_with_people_is_refused(api, row_count):
    created = make_institution(api)
    make_person(api, institution_id=created["id"])

    response = api.delete(f"{INSTITUTIONS}/{created['id']}")

    error = assert_error(response, 409, "in_use")
    assert error["details"]["people"] == 1
    assert api.get(f"{INSTITUTIONS}/{created['id']}").status_code == 200
    assert row_count("institutions") == 1


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
@pytest.mark.parametrize("institution_id", [999, 2**31, 10**20])
def test_unknown_institution_is_404(api, method, institution_id):
    kwargs = {"json": {"short_name": "X"}} if method == "patch" else {}

    response = getattr(api, method)(f"{INSTITUTIONS}/{institution_id}", **kwargs)

    assert_error(response, 404, "not_found")


# --- people ------------------------------------------------------------------------------


def test_create_person_takes_the_institutions_zone_and_default_hours(api, row_count):
    tokyo = make_institution(api, name="University of Tokyo", country="JP", timezone=MISSING)

    person = make_person(
        api,
        name="Sato Hana",
        email="sato@u-tokyo.example.org",
        institution_id=tokyo["id"],
        role_title="Professor",
    )

    assert person == {
        "id": person["id"],
        "name": "Sato Hana",
        "email": "sato@u-tokyo.example.org",
        "institution_id": tokyo["id"],
        "timezone": "Asia/Tokyo",
        "role_title": "Professor",
        "working_hours": DEFAULT_WORKING_HOURS,
        "acceptable_hours": DEFAULT_ACCEPTABLE_HOURS,
        "busy": [],
        "ics_url": None,
        "reminders": True,
        "locale": "ja",
        "created_by_id": api.organiser_id,
    }
    assert api.get(f"{PEOPLE}/{person['id']}").get_json() == person
    assert row_count("people") == 1


def test_create_person_with_their_own_zone(api):
    michigan = make_institution(
        api, name="University of Michigan", country="US", timezone="America/Detroit"
    )

    person = make_person(
        api,
        email="visitor@umich.example.org",
        institution_id=michigan["id"],
        timezone="Asia/Shanghai",
    )

    assert person["timezone"] == "Asia/Shanghai"


def test_create_person_with_availability(api):
    person = make_person(
        api,
        working_hours={"mon": [["13:00", "17:00"], ["08:00", "12:00"]]},
        busy=[{"start": "2020-03-10T09:00:00+08:00", "end": "2020-03-10T10:30:00+08:00"}],
        ics_url="https://calendar.example.org/li.ics",
    )

    assert person["working_hours"] == {
        "mon": [["08:00", "12:00"], ["13:00", "17:00"]],
        **{day: [] for day in WEEKDAYS[1:]},
    }
    assert person["busy"] == [{"start": "2020-03-10T01:00:00Z", "end": "2020-03-10T02:30:00Z"}]
    assert person["ics_url"] == "https://calendar.example.org/li.ics"


def test_create_person_without_institution_or_zone(api, row_count):
    response = api.post(PEOPLE, json={"name": "Li Wei", "email": "li.wei@example.org"})

    assert_error(response, 422, "validation_error", "timezone")
    assert row_count("people") == 0


@pytest.mark.parametrize("institution_id", [999, 0, 2**31, 10**20])
def test_create_person_with_an_unknown_institution(api, row_count, institution_id):
    response = api.post(
        PEOPLE,
        json={"name": "Li Wei", "email": "li.wei@example.org", "institution_id": institution_id},
    )

    assert_error(response, 422, "validation_error", "institution_id")
    assert row_count("people") == 0


VALID_PERSON = {"name": "Li Wei", "email": "li.wei@example.org", "timezone": "Asia/Shanghai"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": MISSING}, "name"),
        ({"email": MISSING}, "email"),
        ({"name": ""}, "name"),
        ({"name": "Li\nWei"}, "name"),
        ({"name": ["Li", "Wei"]}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": 42}, "email"),
        ({"institution_id": "1"}, "institution_id"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "EST"}, "timezone"),
        ({"timezone": "GMT"}, "timezone"),
        ({"role_title": "Dean\r\nX-Injected: yes"}, "role_title"),
        ({"phone": "+86 10 6275 1234"}, "phone"),
        ({"working_hours": {"mon": [["09:00", "25:00"]]}}, "working_hours.mon.0.1"),
        (
            {"busy": [{"start": "2020-03-10T09:00:00", "end": "2020-03-10T10:00:00Z"}]},
            "busy.0.start",
        ),
        ({"ics_url": "ftp://calendar.example.org/li.ics"}, "ics_url"),
    ],
)
def test_create_person_refuses_bad_input(api, row_count, changes, field):
    body = body_of(VALID_PERSON, changes)

    response = api.post(PEOPLE, json=body)

    assert_error(response, 422, "validation_error", field)
    assert row_count("people") == 0
    assert row_count("busy_intervals") == 0


@pytest.mark.parametrize(
    "email", ["li.wei@example.org", "LI.WEI@EXAMPLE.ORG", "Li.Wei@Example.org"]
)
def test_duplicate_email_whatever_its_case(api, row_count, email):
    first = make_person(api, email="li.wei@example.org")

    response = api.post(PEOPLE, json={**VALID_PERSON, "name": "Another Li", "email": email})

    error = assert_error(response, 409, "duplicate", "email")
    assert error["details"]["person_id"] == first["id"]
    assert row_count("people") == 1


def test_list_people_paginated_and_filtered(api):
    pku = make_institution(api)
    tokyo = make_institution(api, name="University of Tokyo", country="JP", timezone=MISSING)
    make_person(api, name="Zhang San", email="zhang@pku.example.org", institution_id=pku["id"])
    make_person(api, name="Li Si", email="li@pku.example.org", institution_id=pku["id"])
    make_person(api, name="Sato Hana", email="Sato@u-tokyo.example.org", institution_id=tokyo["id"])

    everyone = api.get(f"{PEOPLE}?per_page=2").get_json()
    page_two = api.get(f"{PEOPLE}?per_page=2&page=2").get_json()
    at_pku = api.get(f"{PEOPLE}?institution_id={pku['id']}").get_json()
    by_email = api.get(f"{PEOPLE}?email=SATO@U-TOKYO.EXAMPLE.ORG").get_json()

    assert [p["name"] for p in everyone["items"]] == ["Li Si", "Sato Hana"]
    assert everyone["total"] == 3
    assert [p["name"] for p in page_two["items"]] == ["Zhang San"]
    assert [p["name"] for p in at_pku["items"]] == ["Li Si", "Zhang San"]
    assert at_pku["total"] == 2
    assert [p["name"] for p in by_email["items"]] == ["Sato Hana"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"institution_id": "abc"}, "institution_id"),
        ({"institution_id": "-1"}, "institution_id"),
        ({"institution_id": "²"}, "institution_id"),
        ({"institution_id": str(10**20)}, "institution_id"),
        ({"email": "a\u0000@example.org"}, "email"),
        ({"per_page": "201"}, "per_page"),
        ({"page": "0"}, "page"),
    ],
)
def test_list_people_refuses_bad_query(api, query, field):
    response = api.get(PEOPLE, query_string=query)

    assert_error(response, 422, "validation_error", field)


def test_patch_person(api):
    pku = make_institution(api)
    tokyo = make_institution(api, name="University of Tokyo", country="JP", timezone=MISSING)
    person = make_person(api, institution_id=pku["id"])

    response = api.patch(
        f"{PEOPLE}/{person['id']}",
        json={
            "name": "Li Wei (visiting)",
            "email": "Li.Wei@u-tokyo.example.org",
            "institution_id": tokyo["id"],
            "timezone": "Asia/Tokyo",
            "role_title": "Visiting professor",
        },
    )

    assert response.status_code == 200, response.get_json()
    expected = {
        **person,
        "name": "Li Wei (visiting)",
        "email": "Li.Wei@u-tokyo.example.org",
        "institution_id": tokyo["id"],
        "timezone": "Asia/Tokyo",
        "role_title": "Visiting professor",
    }
    assert response.get_json() == expected
    assert api.get(f"{PEOPLE}/{person['id']}").get_json() == expected


def test_patch_person_to_their_own_email_in_another_case(api):
    person = make_person(api)

    response = api.patch(f"{PEOPLE}/{person['id']}", json={"email": "LI.WEI@pku.example.org"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["email"] == "LI.WEI@pku.example.org"


def test_patch_person_to_a_taken_email(api):
    make_person(api, email="zhang@pku.example.org")
    person = make_person(api)

    response = api.patch(f"{PEOPLE}/{person['id']}", json={"email": "ZHANG@pku.example.org"})

    assert_error(response, 409, "duplicate", "email")
    assert api.get(f"{PEOPLE}/{person['id']}").get_json() == person


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"institution_id": 999}, "institution_id"),
        ({"institution_id": "1"}, "institution_id"),
        ({"timezone": "GMT"}, "timezone"),
        ({"email": "nobody"}, "email"),
        ({"name": "Li\nWei"}, "name"),
        ({"nickname": "Xiao Li"}, "nickname"),
        ({"working_hours": {"mon": [["18:00", "09:00"]]}}, "working_hours"),
    ],
)
def test_patch_person_refuses_bad_input(api, body, field):
    person = make_person(api)

    response = api.patch(f"{PEOPLE}/{person['id']}", json=body)

    assert_error(response, 422, "validation_error", field)
    assert api.get(f"{PEOPLE}/{person['id']}").get_json() == person


def test_delete_person(api, row_count):
    person = make_person(
        api, busy=[{"start": "2020-03-10T01:00:00Z", "end": "2020-03-10T02:00:00Z"}]
    )

    response = api.delete(f"{PEOPLE}/{person['id']}")

    assert response.status_code == 204
    assert_error(api.get(f"{PEOPLE}/{person['id']}"), 404, "not_found")
    assert row_count("people") == 0
    assert row_count("busy_intervals") == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/people/999"),
        ("patch", "/api/v1/people/999"),
        ("delete", "/api/v1/people/999"),
        ("put", "/api/v1/people/999/availability"),
        ("get", f"/api/v1/people/{2**31}"),
        ("put", f"/api/v1/people/{10**20}/availability"),
    ],
)
def test_unknown_person_is_404(api, method, path):
    kwargs = {"json": {"ics_url": None}} if method in ("patch", "put") else {}

    response = getattr(api, method)(path, **kwargs)

    assert_error(response, 404, "not_found")


# --- availability ------------------------------------------------------------------------


def availability(api, person_id: int, body: Any):
    return api.put(f"{PEOPLE}/{person_id}/availability", json=body)


def test_put_working_hours_replaces_only_working_hours(api):
    person = make_person(
        api,
        busy=[{"start": "2020-03-10T01:00:00Z", "end": "2020-03-10T02:00:00Z"}],
        ics_url="https://calendar.example.org/li.ics",
    )
    week = {"mon": [["08:00", "12:00"], ["13:00", "17:00"]], "sat": [["10:00", "12:00"]]}

    response = availability(api, person["id"], {"working_hours": week})

    assert response.status_code == 200, response.get_json()
    expected = {**person, "working_hours": {**{day: [] for day in WEEKDAYS}, **week}}
    assert response.get_json() == expected
    assert api.get(f"{PEOPLE}/{person['id']}").get_json() == expected


def test_put_acceptable_hours_busy_and_ics_url(api, row_count):
    person = make_person(
        api, busy=[{"start": "2020-03-10T01:00:00Z", "end": "2020-03-10T02:00:00Z"}]
    )

    response = availability(
        api,
        person["id"],
        {
            "acceptable_hours": {"mon": [["06:00", "23:00"]]},
            "busy": [
                {"start": "2020-03-12T08:00:00-04:00", "end": "2020-03-12T09:00:00-04:00"},
                {"start": "2020-03-11T23:00:00Z", "end": "2020-03-12T00:30:00Z"},
            ],
            "ics_url": "webcal://calendar.example.org/li.ics",
        },
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["working_hours"] == person["working_hours"]
    assert body["acceptable_hours"] == {
        "mon": [["06:00", "23:00"]],
        **{day: [] for day in WEEKDAYS[1:]},
    }
    assert body["busy"] == [
        {"start": "2020-03-11T23:00:00Z", "end": "2020-03-12T00:30:00Z"},
        {"start": "2020-03-12T12:00:00Z", "end": "2020-03-12T13:00:00Z"},
    ]
    assert body["ics_url"] == "webcal://calendar.example.org/li.ics"
    assert row_count("busy_intervals") == 2


def test_put_empty_availability_changes_nothing(api):
    person = make_person(api, ics_url="https://calendar.example.org/li.ics")

    response = availability(api, person["id"], {})

    assert response.status_code == 200
    assert response.get_json() == person


def test_put_null_ics_url_clears_it(api):
    person = make_person(api, ics_url="https://calendar.example.org/li.ics")

    response = availability(api, person["id"], {"ics_url": None})

    assert response.status_code == 200
    assert response.get_json() == {**person, "ics_url": None}


def test_put_working_hours_up_to_midnight(api):
    person = make_person(api)

    response = availability(api, person["id"], {"working_hours": {"fri": [["20:00", "24:00"]]}})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["working_hours"]["fri"] == [["20:00", "24:00"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"working_hours": {"mon": [["09:00", "12:00"], ["11:00", "14:00"]]}}, "working_hours"),
        ({"working_hours": {"mon": [["18:00", "09:00"]]}}, "working_hours"),
        ({"working_hours": {"mon": [["09:00", "09:00"]]}}, "working_hours"),
        ({"working_hours": {"mon": [["09:00", "25:00"]]}}, "working_hours.mon.0.1"),
        ({"working_hours": {"mon": [["9:00", "12:00"]]}}, "working_hours.mon.0.0"),
        ({"working_hours": {"mon": [["09:00"]]}}, "working_hours.mon.0"),
        ({"working_hours": {"mon": [["09:00", "12:00", "18:00"]]}}, "working_hours.mon.0"),
        ({"working_hours": {"mon": [[9, 12]]}}, "working_hours.mon.0.0"),
        ({"working_hours": {"monday": [["09:00", "12:00"]]}}, "working_hours.monday.[key]"),
        ({"working_hours": {"funday": []}}, "working_hours.funday.[key]"),
        ({"working_hours": [["09:00", "18:00"]]}, "working_hours"),
        ({"acceptable_hours": {"sun": [["22:00", "07:00"]]}}, "acceptable_hours"),
        ({"busy": [{"start": "2020-03-10T10:00:00Z", "end": "2020-03-10T09:00:00Z"}]}, "busy.0"),
        ({"busy": [{"start": "2020-03-10T10:00:00Z"}]}, "busy.0.end"),
        ({"busy": [{"start": "2020-03-10 10:00", "end": "2020-03-10T11:00:00Z"}]}, "busy.0.start"),
        (
            {"busy": [{"start": "9999-12-31T10:00:00Z", "end": "9999-12-31T11:00:00Z"}]},
            "busy.0.start",
        ),
        ({"ics_url": "javascript:alert(1)"}, "ics_url"),
        ({"ics_url": 42}, "ics_url"),
        ({"timezone_name": "Asia/Shanghai"}, "timezone_name"),
        ({"name": "Li Wei"}, "name"),
    ],
)
def test_put_availability_refuses_bad_input(api, row_count, body, field):
    person = make_person(
        api, busy=[{"start": "2020-03-10T01:00:00Z", "end": "2020-03-10T02:00:00Z"}]
    )

    response = availability(api, person["id"], body)

    assert_error(response, 422, "validation_error", field)
    assert api.get(f"{PEOPLE}/{person['id']}").get_json() == person
    assert row_count("busy_intervals") == 1


# --- explicit null in partial updates ----------------------------------------------------


@pytest.mark.parametrize("field", ["name", "country", "timezone", "short_name", "blackouts"])
def test_null_for_a_required_institution_field_is_refused(api, field):
    institution = make_institution(api)
    response = api.patch(f"{INSTITUTIONS}/{institution['id']}", json={field: None})
    error = assert_error(response, 422, "validation_error", field)
    assert "null" in error["details"]["fields"][field]
    assert api.get(f"{INSTITUTIONS}/{institution['id']}").get_json() == institution


def test_null_clears_a_nullable_institution_field(api):
    institution = make_institution(api, subdivision="BJ")
    response = api.patch(f"{INSTITUTIONS}/{institution['id']}", json={"subdivision": None})
    assert response.status_code == 200
    assert response.get_json()["subdivision"] is None


@pytest.mark.parametrize("field", ["name", "email", "timezone", "working_hours", "busy"])
def test_null_for_a_required_person_field_is_refused(api, field):
    person = make_person(api)
    response = api.patch(f"{PEOPLE}/{person['id']}", json={field: None})
    assert_error(response, 422, "validation_error", field)
    assert api.get(f"{PEOPLE}/{person['id']}").get_json() == person


def test_default_working_days_follow_the_countrys_weekend(api):
    qatar = make_institution(
        api, name="Qatar University", short_name="QU", country="QA", timezone="Asia/Qatar"
    )
    person = make_person(api, email="noora@qu.example.org", institution_id=qatar["id"])
    working = {day for day, ranges in person["working_hours"].items() if ranges}
    assert working == {"sun", "mon", "tue", "wed", "thu"}  # Friday-Saturday weekend
    pku = make_institution(api)
    other = make_person(api, email="li@pku.example.org", institution_id=pku["id"])
    assert {day for day, ranges in other["working_hours"].items() if ranges} == {
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    }
