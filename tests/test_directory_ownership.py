"""Who may change the shared directory, and the record of what was changed."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from forum import create_app
from forum.accounts.models import Organiser
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.extensions import db
from tests.conftest import ApiClient
from tests.conftest import csrf_token
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.helpers import assert_error
from tests.test_directory_import import hidden_upload
from tests.test_directory_import import preview_row
from tests.test_directory_import import upload
from tests.test_web import log_in

PEOPLE = "/api/v1/people"
INSTITUTIONS = "/api/v1/institutions"
ADA = "ada@pku.example.org"
BO = "bo@other.example.org"
CHAIR = "li.wei@pku.example.org"
MONDAY_ONLY = {"mon": [["10:00", "12:00"]]}
# As stored: a week given replaces the whole week.
MONDAY_ONLY_WEEK = {"mon": [["10:00", "12:00"]]} | {
    day: [] for day in ("tue", "wed", "thu", "fri", "sat", "sun")
}


@pytest.fixture
def ada(make_organiser) -> ApiClient:
    return make_organiser(ADA, name="Ada")


@pytest.fixture
def bo(make_organiser) -> ApiClient:
    return make_organiser(BO, name="Bo")


@pytest.fixture
def adas(ada) -> dict:
    """An institution and its chair, added by Ada."""
    pku = make_institution(ada, "Peking University", "CN", "Asia/Shanghai")
    return {"pku": pku, "li": make_person(ada, "Li Wei", CHAIR, pku["id"])}


def make_admin(app: Flask, organiser: ApiClient) -> None:
    with app.app_context():
        db.session.get(Organiser, organiser.organiser_id).is_admin = True
        db.session.commit()


def history(api: ApiClient, path: str, **params) -> dict:
    response = api.get(f"{path}/history", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def assert_forbidden(response, creator: str | None) -> None:
    error = assert_error(response, 403, "forbidden")
    assert error["details"]["created_by"] == creator
    if creator is None:
        assert "only administrators may change" in error["message"]
    else:
        assert f"added to the directory by {creator}" in error["message"]
        assert "co-organisers of their events and administrators" in error["message"]


def test_another_organiser_cannot_change_or_delete_them_and_nothing_changes(ada, bo, adas):
    person = f"{PEOPLE}/{adas['li']['id']}"
    institution = f"{INSTITUTIONS}/{adas['pku']['id']}"
    before = ada.get(person).get_json(), ada.get(institution).get_json()

    assert_forbidden(bo.patch(person, json={"email": "li@attacker.example"}), ADA)
    assert_forbidden(bo.patch(person, json={"working_hours": MONDAY_ONLY}), ADA)
    busy = [{"start": "2027-03-10T13:00:00Z", "end": "2027-03-10T15:00:00Z"}]
    assert_forbidden(bo.put(f"{person}/availability", json={"busy": busy}), ADA)
    assert_forbidden(bo.put(f"{person}/availability", json={"ics_url": None}), ADA)
    ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//x//EN\r\nEND:VCALENDAR\r\n"
    uploaded = bo.post(
        f"{person}/availability/ics", data=ics, headers={"Content-Type": "text/calendar"}
    )
    assert_forbidden(uploaded, ADA)
    assert_forbidden(bo.delete(person), ADA)
    assert_forbidden(bo.patch(institution, json={"timezone": "Asia/Tokyo"}), ADA)
    assert_forbidden(bo.patch(institution, json={"blackouts": []}), ADA)
    assert_forbidden(bo.delete(institution), ADA)

    assert (ada.get(person).get_json(), ada.get(institution).get_json()) == before
    assert history(bo, person)["total"] == 0
    assert history(bo, institution)["total"] == 0


def test_another_organiser_may_still_read_invite_and_book_them(ada, bo, adas):
    assert bo.get(f"{PEOPLE}/{adas['li']['id']}").status_code == 200
    assert bo.get(PEOPLE, query_string={"email": CHAIR}).get_json()["total"] == 1
    event = make_event(bo, title="Bo's forum")
    added = bo.post(
        f"/api/v1/events/{event['id']}/participants",
        json={"institution_id": adas["pku"]["id"], "role": "chair"},
    )
    assert added.status_code == 201, added.get_json()
    session = make_session(bo, event["id"], start="2027-03-10T01:00:00Z")
    invited = bo.get(f"/api/v1/sessions/{session['id']}/invitations").get_json()
    assert [i["person_id"] for i in invited["items"]] == [adas["li"]["id"]]


def test_the_co_organisers_of_the_creators_events_may_change_them(ada, bo, adas):
    person = f"{PEOPLE}/{adas['li']['id']}"
    # Bo naming Ada a co-organiser of Bo's event gives Bo nothing over Ada's entries.
    make_event(bo, title="Bo's event", organisers=[ADA])
    assert_forbidden(bo.patch(person, json={"role_title": "President"}), ADA)

    # Ada naming Bo a co-organiser of Ada's event does.
    make_event(ada, title="Ada's event", organisers=[BO])
    changed = bo.patch(person, json={"email": "li.wei@pku.example.net"})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["email"] == "li.wei@pku.example.net"
    institution = f"{INSTITUTIONS}/{adas['pku']['id']}"
    assert bo.patch(institution, json={"subdivision": "BJ"}).status_code == 200
    assert bo.put(f"{person}/availability", json={"working_hours": MONDAY_ONLY}).status_code == 200


def test_an_administrator_may_change_and_delete_anyones_entries(app, ada, bo, adas):
    make_admin(app, bo)
    person = f"{PEOPLE}/{adas['li']['id']}"
    assert bo.patch(person, json={"email": "li.wei@pku.example.net"}).status_code == 200
    assert bo.delete(person).status_code == 204
    assert bo.delete(f"{INSTITUTIONS}/{adas['pku']['id']}").status_code == 204


def test_entries_without_a_creator_are_for_administrators(app, runner, ada, bo, tmp_path):
    # The command line imports on no one's behalf unless told --as.
    people = tmp_path / "people.csv"
    people.write_text("name,email,timezone\nGuest,guest@example.org,Europe/London\n")
    assert runner.invoke(args=["forum", "import-people", str(people)]).exit_code == 0
    [guest] = ada.get(PEOPLE, query_string={"email": "guest@example.org"}).get_json()["items"]
    path = f"{PEOPLE}/{guest['id']}"

    assert_forbidden(ada.patch(path, json={"email": "guest@example.net"}), None)
    make_admin(app, bo)
    assert bo.patch(path, json={"email": "guest@example.net"}).status_code == 200
    [change] = history(ada, path)["items"]
    assert change["changed_by"]["email"] == BO


def test_the_history_records_who_when_and_the_values_before_and_after(app, ada, bo, adas):
    person = f"{PEOPLE}/{adas['li']['id']}"
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ada.patch(person, json={"email": "li.wei@pku.example.net", "role_title": "President"})
    busy = [{"start": "2027-03-10T13:00:00Z", "end": "2027-03-10T15:00:00Z"}]
    ada.put(
        f"{person}/availability",
        json={"working_hours": MONDAY_ONLY, "busy": busy, "ics_url": "https://cal.example/li.ics"},
    )
    # Giving the same values again changes nothing and records nothing.
    ada.put(f"{person}/availability", json={"working_hours": MONDAY_ONLY})

    # Any organiser may read it, newest first.
    page = history(bo, person)
    assert page["total"] == 4
    by_field = {change["field"]: change for change in page["items"]}
    assert [c["field"] for c in page["items"][:3]] == ["ics_url", "busy", "working_hours"]
    assert page["items"][3]["field"] == "email"
    assert by_field["email"]["old"] == CHAIR
    assert by_field["email"]["new"] == "li.wei@pku.example.net"
    assert by_field["working_hours"]["old"]["mon"] == [["09:00", "18:00"]]
    assert by_field["working_hours"]["new"] == MONDAY_ONLY_WEEK
    assert by_field["busy"] == {
        **by_field["busy"],
        "old": [],
        "new": [
            {"start": "2027-03-10T13:00:00Z", "end": "2027-03-10T15:00:00Z", "source": "manual"}
        ],
    }
    assert by_field["ics_url"]["old"] is None
    assert by_field["ics_url"]["new"] == "https://cal.example/li.ics"
    for change in page["items"]:
        assert change["changed_by"] == {"id": ada.organiser_id, "email": ADA, "name": "Ada"}
        at = dt.datetime.fromisoformat(change["changed_at"])
        assert change["changed_at"].endswith("Z")
        assert start <= at <= dt.datetime.now(dt.UTC)
    # Paginated as every list.
    second = history(bo, person, page=2, per_page=3)
    assert (second["total"], second["page"], second["per_page"]) == (4, 2, 3)
    assert [c["field"] for c in second["items"]] == ["email"]

    institution = f"{INSTITUTIONS}/{adas['pku']['id']}"
    blackout = {"start_date": "2027-07-01", "end_date": "2027-08-31", "reason": "Summer"}
    ada.patch(institution, json={"timezone": "Asia/Urumqi", "blackouts": [blackout]})
    changes = {c["field"]: c for c in history(ada, institution)["items"]}
    assert set(changes) == {"timezone", "blackouts"}
    assert (changes["timezone"]["old"], changes["timezone"]["new"]) == (
        "Asia/Shanghai",
        "Asia/Urumqi",
    )
    assert (changes["blackouts"]["old"], changes["blackouts"]["new"]) == ([], [blackout])


def test_history_of_an_unknown_person_is_404(ada):
    assert_error(ada.get(f"{PEOPLE}/999/history"), 404, "not_found")
    assert_error(ada.get(f"{INSTITUTIONS}/999/history"), 404, "not_found")


def test_changing_a_chairs_email_to_divert_the_update_fails_at_the_first_step(app, ada, bo, adas):
    event = make_event(ada, title="PKU - UTokyo", kind="bilateral", timezone="Asia/Shanghai")
    session = make_session(
        ada,
        event["id"],
        start="2027-03-10T01:00:00Z",
        invitees=[{"person_id": adas["li"]["id"], "role": "chair", "required": True}],
    )
    sent = app.extensions["forum_mail_sender"].messages
    assert [m["To"].addresses[0].addr_spec for m in sent] == [CHAIR]

    attack = bo.patch(f"{PEOPLE}/{adas['li']['id']}", json={"email": "li@attacker.example"})
    assert_forbidden(attack, ADA)
    moved = ada.patch(f"/api/v1/sessions/{session['id']}", json={"start": "2027-03-11T01:00:00Z"})
    assert moved.status_code == 200, moved.get_json()

    [invite, update] = sent
    assert update["Subject"].startswith("Updated invitation")
    assert update["To"].addresses[0].addr_spec == CHAIR
    assert not any("attacker" in str(m["To"]) for m in sent)


# --- bulk import -------------------------------------------------------------------------


def import_csv(api: ApiClient, kind: str, text: str):
    return api.post(
        f"/api/v1/{kind}/import", data=text.encode(), headers={"Content-Type": "text/csv"}
    )


def test_an_import_refuses_rows_that_change_someone_elses_entries(ada, bo, adas):
    file = (
        "name,email,institution,working_hours\n"
        f"Li Wei,{CHAIR},Peking University,mon 10:00-12:00\n"
        "Mei Chen,mei.chen@other.example.org,Peking University,\n"
    )
    refused = import_csv(bo, "people", file)
    error = assert_error(refused, 422, "validation_error", "rows")
    [problem] = error["details"]["rows"]
    assert (problem["line"], problem["field"]) == (2, "email")
    assert (
        f"Li Wei (id {adas['li']['id']}) was added to the directory by {ADA}"
        in (problem["message"])
    )
    assert bo.get(PEOPLE).get_json()["total"] == 1  # nothing was written
    li = bo.get(f"{PEOPLE}/{adas['li']['id']}").get_json()
    assert li["working_hours"]["mon"] == [["09:00", "18:00"]]

    institutions = "name,country,timezone\nPeking University,CN,Asia/Urumqi\n"
    error = assert_error(import_csv(bo, "institutions", institutions), 422, "validation_error")
    assert error["details"]["rows"][0]["field"] == "name"

    # A row that matches Ada's person but changes nothing passes; the new row is Bo's.
    unchanged = (
        "name,email,institution\n"
        f"Li Wei,{CHAIR},\n"
        "Mei Chen,mei.chen@other.example.org,Peking University\n"
    )
    result = import_csv(bo, "people", unchanged)
    assert result.status_code == 200, result.get_json()
    assert (result.get_json()["created"], result.get_json()["unchanged"]) == (1, 1)
    mei = result.get_json()["rows"][1]["id"]
    assert_forbidden(ada.patch(f"{PEOPLE}/{mei}", json={"role_title": "Dean"}), BO)
    assert bo.patch(f"{PEOPLE}/{mei}", json={"role_title": "Dean"}).status_code == 200


def test_an_import_by_the_creator_is_recorded_in_the_history(ada, bo, adas):
    file = f"name,email,working_hours\nLi Wei,{CHAIR},mon 10:00-12:00\n"
    result = import_csv(ada, "people", file)
    assert result.status_code == 200, result.get_json()
    assert result.get_json()["updated"] == 1
    [change] = history(bo, f"{PEOPLE}/{adas['li']['id']}")["items"]
    assert change["field"] == "working_hours"
    assert change["old"]["mon"] == [["09:00", "18:00"]]
    assert change["new"] == MONDAY_ONLY_WEEK
    assert change["changed_by"]["email"] == ADA


def test_the_command_line_imports_as_the_organiser_it_is_told(app, runner, ada, bo, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("name,email,timezone\nGuest,guest@example.org,Europe/London\n")
    unknown = runner.invoke(args=["forum", "import-people", "--as", "nobody@x.org", str(people)])
    assert unknown.exit_code != 0
    assert "no organiser with email nobody@x.org" in unknown.output

    written = runner.invoke(args=["forum", "import-people", "--as", BO, str(people)])
    assert written.exit_code == 0, written.output
    [guest] = bo.get(PEOPLE).get_json()["items"]
    assert_forbidden(ada.patch(f"{PEOPLE}/{guest['id']}", json={"role_title": "x"}), BO)
    assert bo.patch(f"{PEOPLE}/{guest['id']}", json={"role_title": "x"}).status_code == 200

    # As Ada, a row changing Bo's guest is refused, and listed.
    people.write_text("name,email,timezone\nGuest,guest@example.org,Asia/Tokyo\n")
    refused = runner.invoke(args=["forum", "import-people", "--as", ADA, str(people)])
    assert refused.exit_code != 0
    assert f"line 2: email: Guest (id {guest['id']}) was added to the directory by {BO}" in (
        refused.output
    )


# --- the migration -----------------------------------------------------------------------


@pytest.mark.parametrize("organisers", [1, 2])
def test_the_migration_gives_existing_entries_the_sole_organiser(
    empty_database,  # noqa: F811
    organisers,
):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade(revision="0007")
        with db.engine.begin() as connection:
            for number in range(organisers):
                connection.execute(
                    sa.text(
                        "INSERT INTO organisers (email, name, timezone, is_admin, created_at)"
                        " VALUES (:email, 'x', 'UTC', false, CURRENT_TIMESTAMP)"
                    ),
                    {"email": f"o{number}@example.org"},
                )
            connection.execute(
                sa.text(
                    "INSERT INTO institutions (name, short_name, country, timezone,"
                    " created_at, updated_at) VALUES ('PKU', '', 'CN', 'Asia/Shanghai',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO people (name, email, timezone, role_title, working_hours,"
                    " acceptable_hours, link_version, revision, created_at, updated_at)"
                    " VALUES ('Li Wei', 'li@example.org', 'Asia/Shanghai', '', '{}', '{}',"
                    " 0, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        upgrade()
        first = db.session.scalar(sa.select(sa.func.min(Organiser.id)))
        expected = first if organisers == 1 else None
        assert db.session.scalar(sa.select(Person.created_by_id)) == expected
        assert db.session.scalar(sa.select(Institution.created_by_id)) == expected
        db.session.remove()
        db.engine.dispose()


# --- the import page ---------------------------------------------------------------------


def test_the_import_page_refuses_rows_of_others_and_imports_as_the_logged_in_organiser(
    client, ada, bo, adas
):
    assert log_in(client, BO).status_code == 302
    header = "name,email,institution,timezone,role_title,working_hours,acceptable_hours"
    refused = upload(client, "people", f"{header}\nLi Wei,{CHAIR},,,Dean,,\n")
    assert refused.status_code == 200
    assert hidden_upload(refused.text) is None  # nothing to confirm
    assert f"was added to the directory by {ADA}" in preview_row(refused.text, 2)

    preview = upload(client, "people", f"{header}\nMei Chen,mei@other.example.org,,UTC,,,\n")
    confirmed = client.post(
        "/directory/import/confirm",
        data={"csrf_token": csrf_token(preview.text), "upload": hidden_upload(preview.text)},
    )
    assert confirmed.status_code == 303
    [mei] = bo.get(PEOPLE, query_string={"email": "mei@other.example.org"}).get_json()["items"]
    assert_forbidden(ada.patch(f"{PEOPLE}/{mei['id']}", json={"role_title": "Dean"}), BO)
    assert ada.get(f"{PEOPLE}/{adas['li']['id']}").get_json()["role_title"] == ""
