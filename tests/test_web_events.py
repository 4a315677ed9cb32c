"""Organiser pages for events through the real endpoints: list, create, edit, participants,
booking a session, and the planner."""

from __future__ import annotations

import datetime as dt
import html
import re
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ApiClient
from tests.conftest import csrf_token
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.helpers import recorded_statements
from tests.test_web import log_in


@pytest.fixture
def organiser(client: FlaskClient, make_organiser) -> ApiClient:
    api = make_organiser(timezone="Europe/London")
    log_in(client, "organiser@example.org")
    return api


@pytest.fixture
def two_sites(organiser: ApiClient) -> dict:
    """Peking University (two people) and the University of Tokyo (one)."""
    pku = make_institution(organiser, "Peking University", "CN", "Asia/Shanghai")
    tokyo = make_institution(organiser, "University of Tokyo", "JP", "Asia/Tokyo")
    return {
        "pku": pku,
        "tokyo": tokyo,
        "li": make_person(organiser, "Li Wei", "li.wei@pku.example.cn", pku["id"]),
        "zhang": make_person(organiser, "Zhang Min", "zhang.min@pku.example.cn", pku["id"]),
        "sato": make_person(organiser, "Sato Yuki", "sato@tokyo.example.jp", tokyo["id"]),
    }


def field_errors(page: str, field: str) -> list[str]:
    """The messages shown next to one field (the list the field's aria-describedby names)."""
    match = re.search(rf'<ul class="field-errors" id="{field}-errors">(.*?)</ul>', page, re.S)
    if not match:
        return []
    return [html.unescape(m) for m in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def post_form(client: FlaskClient, path: str, data: dict, *, form_path: str | None = None):
    page = client.get(form_path or path)
    return client.post(path, data={**data, "csrf_token": csrf_token(page.text)})


def event_body(api: ApiClient, event_id: int) -> dict:
    response = api.get(f"/api/v1/events/{event_id}")
    assert response.status_code == 200
    return response.json


# --- login and access --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/events",
        "/events/new",
        "/events/1",
        "/events/1/edit",
        "/events/1/planner",
        "/events/1/sessions/new",
    ],
)
def test_event_pages_need_a_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_another_organisers_event_is_not_found(
    client: FlaskClient, make_organiser, organiser: ApiClient
) -> None:
    other = make_organiser("other@example.org", name="Other")
    event = make_event(other, title="Their event")
    for path in ("", "/edit", "/planner", "/sessions/new"):
        response = client.get(f"/events/{event['id']}{path}")
        assert response.status_code == 404, path
        assert "Their event" not in response.text


# --- create and edit ---------------------------------------------------------------------


def test_creating_an_event_from_the_form(
    client: FlaskClient, make_organiser, organiser: ApiClient
) -> None:
    make_organiser("co@example.org", name="Cora Co")
    page = client.get("/events/new")
    assert page.status_code == 200
    assert '<label for="title">' in page.text
    # The zone field starts with the organiser's zone and offers every IANA name.
    assert 'value="Europe/London"' in page.text
    assert '<option value="Australia/Sydney">' in page.text

    response = post_form(
        client,
        "/events/new",
        {
            "title": "PKU–UTokyo bilateral",
            "kind": "bilateral",
            "timezone": "Asia/Shanghai",
            "default_provider": "jitsi",
            "description": "Quarterly call",
            "organisers": "co@example.org",
        },
    )
    assert response.status_code == 303
    event_id = int(response.headers["Location"].rsplit("/", 1)[1])
    body = event_body(organiser, event_id)
    assert body["title"] == "PKU–UTokyo bilateral"
    assert body["kind"] == "bilateral"
    assert body["timezone"] == "Asia/Shanghai"
    assert [o["email"] for o in body["organisers"]] == ["organiser@example.org", "co@example.org"]

    shown = client.get(response.headers["Location"])
    assert "PKU–UTokyo bilateral" in shown.text
    assert "created" in shown.text


def test_a_bad_event_form_shows_each_problem_next_to_its_field_and_writes_nothing(
    client: FlaskClient, organiser: ApiClient, row_count
) -> None:
    response = post_form(
        client,
        "/events/new",
        {
            "title": "",
            "kind": "bilateral",
            "timezone": "Mars/Olympus_Mons",
            "default_provider": "jitsi",
            "organisers": "nobody@example.org",
        },
    )
    assert response.status_code == 422
    assert field_errors(response.text, "title") == ["Give the event a title."]
    assert row_count("events") == 0

    # With a title, the schema's own checks speak: the zone and the co-organiser.
    response = post_form(
        client,
        "/events/new",
        {
            "title": "T",
            "kind": "bilateral",
            "timezone": "Mars/Olympus_Mons",
            "default_provider": "jitsi",
            "organisers": "",
        },
    )
    assert response.status_code == 422
    assert "Mars/Olympus_Mons" in " ".join(field_errors(response.text, "timezone"))
    assert 'aria-invalid="true"' in response.text
    response = post_form(
        client,
        "/events/new",
        {
            "title": "T",
            "kind": "bilateral",
            "timezone": "Asia/Tokyo",
            "default_provider": "jitsi",
            "organisers": "nobody@example.org",
        },
    )
    assert response.status_code == 422
    assert field_errors(response.text, "organisers") == [
        "No organiser account for nobody@example.org."
    ]
    assert row_count("events") == 0


def test_a_form_without_its_csrf_token_is_refused(
    client: FlaskClient, organiser: ApiClient, row_count
) -> None:
    response = client.post("/events/new", data={"title": "T", "kind": "forum", "timezone": "UTC"})
    assert response.status_code == 400
    assert row_count("events") == 0


def test_editing_an_event(client: FlaskClient, organiser: ApiClient) -> None:
    event = make_event(organiser, title="Old title", timezone="Asia/Shanghai")
    page = client.get(f"/events/{event['id']}/edit")
    assert 'value="Old title"' in page.text
    response = client.post(
        f"/events/{event['id']}/edit",
        data={
            "title": "New title",
            "kind": "forum",
            "timezone": "America/Detroit",
            "default_provider": "manual",
            "description": "",
            "organisers": "",
            "status": "archived",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.status_code == 303
    body = event_body(organiser, event["id"])
    assert (body["title"], body["timezone"], body["status"], body["default_provider"]) == (
        "New title",
        "America/Detroit",
        "archived",
        "manual",
    )


# --- participants ------------------------------------------------------------------------


def participants(api: ApiClient, event_id: int) -> dict[str, dict]:
    response = api.get(f"/api/v1/events/{event_id}/participants")
    return {p["email"]: p for p in response.json["items"]}


def test_adding_a_whole_institution_and_one_person(
    client: FlaskClient, organiser: ApiClient, two_sites: dict
) -> None:
    event = make_event(organiser, title="Bilateral", kind="bilateral")
    path = f"/events/{event['id']}"
    form = client.get(path).text
    # People join as plain participants unless the organiser says otherwise.
    assert re.search(r'<option selected value="participant">', form)
    assert re.search(r'<input checked id="required"', form)
    response = post_form(
        client,
        f"{path}/participants",
        {"institution_id": two_sites["pku"]["id"], "role": "participant", "required": "y"},
        form_path=path,
    )
    assert response.status_code == 303
    assert set(participants(organiser, event["id"])) == {
        "li.wei@pku.example.cn",
        "zhang.min@pku.example.cn",
    }

    response = post_form(
        client,
        f"{path}/participants",
        {"person_email": "SATO@tokyo.example.jp", "role": "chair"},
        form_path=path,
    )
    assert response.status_code == 303
    found = participants(organiser, event["id"])
    assert found["sato@tokyo.example.jp"]["role"] == "chair"
    assert found["sato@tokyo.example.jp"]["required"] is False  # the box was not ticked

    page = client.get(path).text
    listed = page[page.index("</datalist>") :]  # after the form that offers every institution
    # Grouped by country, then institution.
    assert listed.index("China") < listed.index("Peking University") < listed.index("Li Wei")
    assert listed.index("Japan") < listed.index("University of Tokyo") < listed.index("Sato Yuki")
    assert "3 from 2 sites in 2 countries" in page


def test_adding_participants_explains_what_is_wrong(
    client: FlaskClient, organiser: ApiClient, two_sites: dict, row_count
) -> None:
    event = make_event(organiser, title="Bilateral", kind="bilateral")
    path = f"/events/{event['id']}"
    response = post_form(
        client,
        f"{path}/participants",
        {"person_email": "ghost@example.org", "role": "chair"},
        form_path=path,
    )
    assert response.status_code == 422
    assert field_errors(response.text, "person_email") == [
        "No one in the directory has ghost@example.org."
    ]
    response = post_form(client, f"{path}/participants", {"role": "chair"}, form_path=path)
    assert response.status_code == 422
    assert field_errors(response.text, "institution_id") == [
        "Choose an institution or give an email."
    ]
    response = post_form(
        client,
        f"{path}/participants",
        {"institution_id": "999999", "role": "chair"},
        form_path=path,
    )
    assert response.status_code == 422
    assert field_errors(response.text, "institution_id")
    assert row_count("event_participants") == 0


def test_removing_a_participant(client: FlaskClient, organiser: ApiClient, two_sites: dict) -> None:
    event = make_event(organiser, title="Bilateral", kind="bilateral")
    organiser.post(
        f"/api/v1/events/{event['id']}/participants",
        json={"institution_id": two_sites["pku"]["id"]},
    )
    path = f"/events/{event['id']}"
    response = post_form(
        client, f"{path}/participants/{two_sites['li']['id']}/remove", {}, form_path=path
    )
    assert response.status_code == 303
    assert set(participants(organiser, event["id"])) == {"zhang.min@pku.example.cn"}


# --- booking -----------------------------------------------------------------------------


def test_booking_from_the_form_reads_the_local_time_in_the_chosen_zone(
    client: FlaskClient, organiser: ApiClient, two_sites: dict
) -> None:
    event = make_event(organiser, title="Bilateral", kind="bilateral", timezone="Asia/Shanghai")
    organiser.post(
        f"/api/v1/events/{event['id']}/participants",
        json={"institution_id": two_sites["tokyo"]["id"]},
    )
    path = f"/events/{event['id']}/sessions/new"
    page = client.get(path)
    assert 'value="Asia/Shanghai"' in page.text  # the event's zone by default
    # 29 March 2027: London has moved to summer time (28 March), Detroit weeks before.
    for zone in ("Europe/London", "America/Detroit", "Australia/Sydney", "Pacific/Kiritimati"):
        response = post_form(
            client,
            path,
            {
                "title": f"Call {zone}",
                "local_start": "2027-03-29T09:00",
                "timezone": zone,
                "duration_minutes": "45",
                "provider": "jitsi",
            },
        )
        assert response.status_code == 303, field_errors(response.text, "local_start")
        session_id = int(response.headers["Location"].rsplit("/", 1)[1])
        body = organiser.get(f"/api/v1/sessions/{session_id}").json
        expected = dt.datetime(2027, 3, 29, 9, tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)
        assert body["start"] == expected.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert body["duration_minutes"] == 45
        assert body["meeting"]["provider"] == "jitsi"


def test_booking_form_errors_sit_next_to_their_fields(
    client: FlaskClient, organiser: ApiClient, row_count
) -> None:
    event = make_event(organiser, title="Bilateral", kind="bilateral")
    path = f"/events/{event['id']}/sessions/new"
    response = post_form(
        client,
        path,
        {
            "title": "Call",
            "local_start": "",
            "timezone": "Asia/Tokyo",
            "duration_minutes": "60",
            "provider": "jitsi",
        },
    )
    assert response.status_code == 422
    assert field_errors(response.text, "local_start") == ["Give the date and time it starts."]
    response = post_form(
        client,
        path,
        {
            "title": "Call",
            "local_start": "2027-03-29T09:00",
            "timezone": "Asia/Tokyo",
            "duration_minutes": "60",
            "provider": "manual",
        },
    )
    assert response.status_code == 422
    assert field_errors(response.text, "join_url") == ["Required when the provider is manual."]
    response = post_form(
        client,
        path,
        {
            "title": "Call",
            "local_start": "2027-03-29T09:00",
            "timezone": "Asia/Tokyo",
            "duration_minutes": "2000",
            "provider": "jitsi",
        },
    )
    assert response.status_code == 422
    assert field_errors(response.text, "duration_minutes")
    assert row_count("sessions") == 0


def test_a_clash_is_shown_and_can_be_booked_anyway(
    client: FlaskClient, organiser: ApiClient, two_sites: dict
) -> None:
    event = make_event(organiser, title="Bilateral", kind="bilateral")
    organiser.post(
        f"/api/v1/events/{event['id']}/participants",
        json={"person_id": two_sites["sato"]["id"], "role": "chair"},
    )
    path = f"/events/{event['id']}/sessions/new"
    fields = {
        "title": "First",
        "local_start": "2027-03-29T09:00",
        "timezone": "Asia/Tokyo",
        "duration_minutes": "60",
        "provider": "jitsi",
    }
    assert post_form(client, path, fields).status_code == 303
    response = post_form(client, path, {**fields, "title": "Second"})
    assert response.status_code == 409
    assert "Sato Yuki" in response.text
    assert "First" in response.text
    response = post_form(client, path, {**fields, "title": "Second", "allow_conflicts": "y"})
    assert response.status_code == 303
    titles = [
        s["title"] for s in organiser.get(f"/api/v1/events/{event['id']}/sessions").json["items"]
    ]
    assert titles == ["First", "Second"]


# --- the planner -------------------------------------------------------------------------

PLAN = {
    "searched": "1",
    "duration_minutes": "60",
    "start": "2027-03-01",
    "days": "7",
    "step_minutes": "30",
    "timezone": "Asia/Shanghai",
    "skip_holidays": "y",
}


def bilateral(api: ApiClient, sites: dict) -> int:
    event = make_event(api, title="PKU–UTokyo", kind="bilateral", timezone="Asia/Shanghai")
    for key in ("pku", "tokyo"):
        response = api.post(
            f"/api/v1/events/{event['id']}/participants",
            json={"institution_id": sites[key]["id"]},
        )
        assert response.status_code == 201
    return event["id"]


def slot_starts(page: str) -> list[str]:
    return re.findall(r'<input type="hidden" name="start" value="([^"]+)">', page)


def grid_rows(page: str) -> dict[str, list[tuple[str, str]]]:
    """Each site's row of the grid: [(category, local hour)] per column."""
    rows = {}
    for name, cells in re.findall(
        r'<th scope="row" class="site"[^>]*>([^<]+)<span class="site-zone">.*?</th>(.*?)</tr>', page
    ):
        rows[html.unescape(name)] = re.findall(
            r'<td class="k-(\w+)(?: off)?(?: hl)?"(?: title="[^"]*")?>(\d+)</td>', cells
        )
    return rows


def test_planner_shows_every_site_hour_by_hour_and_the_ranked_slots(
    client: FlaskClient, organiser: ApiClient, two_sites: dict
) -> None:
    event_id = bilateral(organiser, two_sites)
    first = client.get(f"/events/{event_id}/planner")
    assert first.status_code == 200
    assert 'value="Asia/Shanghai"' in first.text  # the event's zone to start with
    # A first visit shows tomorrow and the six days after in the event's zone.
    tomorrow = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() + dt.timedelta(days=1)
    assert f'value="{tomorrow.isoformat()}"' in first.text
    # The whole window at a glance first; a day in detail on demand.
    assert 'id="overview"' in first.text and grid_rows(first.text) == {}

    response = client.get(f"/events/{event_id}/planner", query_string={**PLAN, "day": "2027-03-01"})
    assert response.status_code == 200
    page = response.text
    rows = grid_rows(page)
    assert list(rows) == ["Peking University", "University of Tokyo"]
    assert page.index("China") < page.index("Japan")
    # Monday 1 March 2027 in Shanghai: 24 hours, each site's own hour in each cell.
    assert len(rows["Peking University"]) == 24
    shanghai = [int(hour) for _, hour in rows["Peking University"]]
    tokyo = [int(hour) for _, hour in rows["University of Tokyo"]]
    assert shanghai[:3] == [0, 1, 2]
    assert tokyo == [(hour + 1) % 24 for hour in shanghai]
    # 10:00 in Beijing is working hours; 03:00 is night.
    assert rows["Peking University"][10][0] == "working"
    assert rows["Peking University"][3][0] == "night"
    saturday = client.get(
        f"/events/{event_id}/planner", query_string={**PLAN, "day": "2027-03-06"}
    ).text
    assert grid_rows(saturday)["Peking University"][10][0] == "weekend"

    search = organiser.post(
        "/api/v1/scheduling/search",
        json={
            "event_id": event_id,
            "duration_minutes": 60,
            "window_start": "2027-03-01",
            "window_end": "2027-03-07",
            "timezone": "Asia/Shanghai",
            "step_minutes": 30,
        },
    ).json
    # The best slot comes first; the others are varied (tests/test_planner_overview.py).
    assert slot_starts(page)[0] == search["slots"][0]["start"]


def test_selecting_a_slot_highlights_its_hours(
    client: FlaskClient, organiser: ApiClient, two_sites: dict
) -> None:
    event_id = bilateral(organiser, two_sites)
    page = client.get(f"/events/{event_id}/planner", query_string={**PLAN, "slot": "1"}).text
    top = dt.datetime.fromisoformat(slot_starts(page)[0])
    first_column = dt.datetime(2027, 3, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    column = int((top - first_column) / dt.timedelta(hours=1))
    # A 60-minute slot on the hour covers one column; on the half hour, two.
    expected = [column] if top.minute == 0 else [column, column + 1]
    row = re.search(r'<th scope="row" class="site"[^>]*>Peking.*?</tr>', page).group(0)
    cells = re.findall(r'<td class="k-\w+(?: off)?( hl)?"', row)
    assert [i for i, mark in enumerate(cells) if mark] == expected
    assert 'id="slot-1" data-cols="' + " ".join(map(str, expected)) + '" aria-current="true"' in (
        page.replace('class="slot selected" ', "")
    )


def test_booking_the_top_slot_opens_a_jitsi_meeting(
    client: FlaskClient, organiser: ApiClient, two_sites: dict
) -> None:
    event_id = bilateral(organiser, two_sites)
    page = client.get(f"/events/{event_id}/planner", query_string=PLAN).text
    top = slot_starts(page)[0]
    response = client.post(
        f"/events/{event_id}/sessions/new",
        data={
            "csrf_token": csrf_token(page),
            "title": "PKU–UTokyo",
            "start": top,
            "duration_minutes": "60",
            "provider": "jitsi",
        },
    )
    assert response.status_code == 303
    session_id = int(response.headers["Location"].rsplit("/", 1)[1])
    session = organiser.get(f"/api/v1/sessions/{session_id}").json
    assert session["start"] == top
    assert session["meeting"]["status"] == "created"
    assert session["meeting"]["join_url"].startswith("https://meet.jit.si/")
    invited = organiser.get(f"/api/v1/sessions/{session_id}/invitations").json["items"]
    assert {i["email"] for i in invited} == {
        "li.wei@pku.example.cn",
        "zhang.min@pku.example.cn",
        "sato@tokyo.example.jp",
    }
    shown = client.get(response.headers["Location"]).text
    assert session["meeting"]["join_url"] in shown


def test_planner_explains_bad_options_next_to_their_fields(
    client: FlaskClient, organiser: ApiClient, two_sites: dict
) -> None:
    event_id = bilateral(organiser, two_sites)
    path = f"/events/{event_id}/planner"
    page = client.get(path, query_string={**PLAN, "days": "0"})
    assert page.status_code == 422
    assert field_errors(page.text, "days") == ["From 1 to 28 days."]
    page = client.get(path, query_string={**PLAN, "duration_minutes": "2000"})
    assert page.status_code == 422
    assert field_errors(page.text, "duration_minutes")
    page = client.get(path, query_string={**PLAN, "timezone": "Mars/Base"})
    assert page.status_code == 422
    assert field_errors(page.text, "timezone")
    page = client.get(path, query_string={**PLAN, "start": "not a date"})
    assert page.status_code == 422
    assert field_errors(page.text, "start")


def test_planner_of_an_event_without_participants_says_what_to_do(
    client: FlaskClient, organiser: ApiClient
) -> None:
    event = make_event(organiser, title="Empty", kind="forum", timezone="UTC")
    page = client.get(f"/events/{event['id']}/planner", query_string=PLAN)
    assert page.status_code == 200
    assert "This event has no participants yet." in page.text


# --- queries that do not grow with the rows shown ------------------------------------------


def statements_for(app: Flask, client: FlaskClient, path: str, **query) -> tuple[int, str]:
    with recorded_statements(app) as statements:
        response = client.get(path, query_string=query or None)
    assert response.status_code == 200
    return len(statements), response.text


def add_sites(api: ApiClient, event_id: int, first: int, count: int) -> None:
    zones = [
        "Asia/Shanghai",
        "America/Detroit",
        "Europe/London",
        "Australia/Sydney",
        "Pacific/Auckland",
        "Asia/Kolkata",
    ]
    countries = ["CN", "US", "GB", "AU", "NZ", "IN"]
    for index in range(first, first + count):
        site = make_institution(
            api, f"University {index:02d}", countries[index % 6], zones[index % 6]
        )
        make_person(api, f"Person {index:02d}", f"p{index}@u{index}.example.org", site["id"])
        api.post(f"/api/v1/events/{event_id}/participants", json={"institution_id": site["id"]})


def test_event_page_and_planner_queries_do_not_grow_with_sites_and_sessions(
    app: Flask, client: FlaskClient, organiser: ApiClient
) -> None:
    event = make_event(organiser, title="Forum", kind="forum", timezone="Europe/London")
    add_sites(organiser, event["id"], 0, 2)
    organiser.post(
        f"/api/v1/events/{event['id']}/sessions",
        json={"title": "Session 0", "start": "2027-03-10T13:00:00Z", "duration_minutes": 60},
    )
    small_page, page = statements_for(app, client, f"/events/{event['id']}")
    assert "Person 01" in page
    small_plan, page = statements_for(
        app, client, f"/events/{event['id']}/planner", **PLAN, day="2027-03-02"
    )
    assert len(grid_rows(page)) == 2

    add_sites(organiser, event["id"], 2, 10)
    for index in range(1, 6):
        organiser.post(
            f"/api/v1/events/{event['id']}/sessions",
            json={
                "title": f"Session {index}",
                "start": f"2027-03-1{index}T13:00:00Z",
                "duration_minutes": 60,
            },
        )
    large_page, page = statements_for(app, client, f"/events/{event['id']}")
    assert "Person 11" in page and "Session 5" in page
    large_plan, page = statements_for(
        app, client, f"/events/{event['id']}/planner", **PLAN, day="2027-03-02"
    )
    assert len(grid_rows(page)) == 12
    assert (large_page, large_plan) == (small_page, small_plan)
