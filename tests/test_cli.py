"""The forum CLI: organisers and tokens, and the demo data."""

from __future__ import annotations

import sqlalchemy as sa

from forum.accounts import services as accounts
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events.models import Event
from forum.events.models import EventSession
from forum.extensions import db
from tests.conftest import csrf_token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_create_organiser_prints_a_working_token(runner, client):
    result = runner.invoke(
        args=[
            "forum",
            "create-organiser",
            "Ada@Example.org",
            "--name",
            "Ada",
            "--timezone",
            "Europe/London",
        ]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("fm_") and len(token) > 40
    response = client.get("/api/v1/events", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json()["total"] == 0


def test_create_organiser_refuses_a_duplicate_and_a_bad_zone(runner):
    assert runner.invoke(args=["forum", "create-organiser", "ada@example.org"]).exit_code == 0
    again = runner.invoke(args=["forum", "create-organiser", "ADA@example.org"])
    assert again.exit_code != 0
    assert "exists" in again.output
    bad_zone = runner.invoke(args=["forum", "create-organiser", "bo@x.org", "--timezone", "GMT"])
    assert bad_zone.exit_code != 0
    assert "timezone" in bad_zone.output


def test_tokens_can_be_added_listed_and_revoked(runner, client):
    runner.invoke(args=["forum", "create-organiser", "ada@example.org"])
    result = runner.invoke(args=["forum", "create-token", "ada@example.org", "--name", "crm"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert client.get("/api/v1/events", headers=bearer(token)).status_code == 200

    listing = runner.invoke(args=["forum", "list-tokens", "ada@example.org"]).output
    assert "crm" in listing
    assert token not in listing  # only a prefix is ever shown again
    token_id = next(line.split("\t")[0] for line in listing.splitlines() if "crm" in line)

    revoked = runner.invoke(args=["forum", "revoke-token", "ada@example.org", token_id])
    assert revoked.exit_code == 0, revoked.output
    response = client.get("/api/v1/events", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"


def test_create_token_for_an_unknown_organiser_fails(runner):
    result = runner.invoke(args=["forum", "create-token", "nobody@example.org"])
    assert result.exit_code != 0
    assert "no organiser" in result.output


def test_seed_demo_builds_the_three_situations_and_can_run_again(runner, app):
    first = runner.invoke(args=["forum", "seed-demo"])
    assert first.exit_code == 0, first.output

    with app.app_context():
        counts = {
            model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Institution, Person, Event, EventSession)
        }
        assert counts["Event"] >= 3
        kinds = set(db.session.scalars(sa.select(Event.kind)))
        assert {"forum", "bilateral", "exchange"} <= kinds

        forum = db.session.scalar(sa.select(Event).where(Event.kind == "forum"))
        institutions = {p.person.institution for p in forum.participants}
        assert len(institutions) == 40
        assert len({i.country for i in institutions}) == 18
        names = {i.name for i in institutions}
        for required in (
            "Peking University",
            "University of Tokyo",
            "Qatar University",
            "University of Michigan",
        ):
            assert any(required.lower() in name.lower() for name in names), required

        exchange = db.session.scalar(sa.select(Event).where(Event.kind == "exchange"))
        zones = {p.person.timezone for p in exchange.participants}
        assert {"Asia/Shanghai", "America/Detroit"} <= zones
        cities = {p.person.institution.name for p in exchange.participants}
        assert any("Wuhan" in name for name in cities)

    second = runner.invoke(args=["forum", "seed-demo"])
    assert second.exit_code == 0, second.output
    assert "0 institutions, 0 people, 0 events, 0 sessions added" in second.output
    with app.app_context():
        for model in (Institution, Person, Event, EventSession):
            count = db.session.scalar(sa.select(sa.func.count()).select_from(model))
            assert count == counts[model.__name__]


def test_the_demo_organiser_sees_the_demo_events_through_the_api(runner, client):
    runner.invoke(args=["forum", "seed-demo"])
    token = runner.invoke(args=["forum", "create-token", "organiser@forum.example.org"]).stdout
    events = client.get("/api/v1/events", headers=bearer(token.strip())).get_json()
    assert events["total"] >= 3
    forum = next(e for e in events["items"] if e["kind"] == "forum")
    participants = client.get(
        f"/api/v1/events/{forum['id']}/participants?per_page=200", headers=bearer(token.strip())
    ).get_json()
    assert len({p["institution_id"] for p in participants["items"]}) == 40
    assert len({p["country"] for p in participants["items"]}) == 18


# --- administrators ----------------------------------------------------------------------------

ADMIN_PAGE = "/providers/new/zoom"


def log_in(client, email: str, password: str) -> None:
    page = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 302, response.text


def test_create_organiser_admin_makes_an_administrator_who_opens_the_admin_pages(runner, client):
    result = runner.invoke(
        args=["forum", "create-organiser", "it@uni.example", "--password", "a long one", "--admin"]
    )
    assert result.exit_code == 0, result.output
    assert "Created administrator it@uni.example" in result.output
    log_in(client, "it@uni.example", "a long one")
    page = client.get(ADMIN_PAGE)
    assert page.status_code == 200
    assert "Zoom" in page.text
    assert "you are an administrator" in client.get("/inbox").text


def test_set_admin_turns_an_organiser_into_an_administrator_and_back(runner, client):
    runner.invoke(args=["forum", "create-organiser", "ada@uni.example", "--password", "pw-ada-1"])
    log_in(client, "ada@uni.example", "pw-ada-1")
    assert client.get(ADMIN_PAGE).status_code == 403

    on = runner.invoke(args=["forum", "set-admin", "ADA@uni.example"])
    assert on.exit_code == 0, on.output
    assert on.output.strip() == "ada@uni.example is now an administrator."
    assert client.get(ADMIN_PAGE).status_code == 200

    off = runner.invoke(args=["forum", "set-admin", "ada@uni.example", "--off"])
    assert off.exit_code == 0, off.output
    assert off.output.strip() == "ada@uni.example is no longer an administrator."
    assert client.get(ADMIN_PAGE).status_code == 403


def test_set_admin_of_an_unknown_email_fails_and_says_so(runner):
    result = runner.invoke(args=["forum", "set-admin", "nobody@uni.example"])
    assert result.exit_code != 0
    assert "no organiser with email nobody@uni.example" in result.output


def test_the_demo_organiser_administers_the_demo_and_owns_its_directory(runner, app, client):
    result = runner.invoke(args=["forum", "seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Log in at /login as organiser@forum.example.org / forum-demo" in result.output
    with app.app_context():
        organiser = accounts.find_organiser("organiser@forum.example.org")
        assert organiser.is_admin
        for model in (Institution, Person):
            creators = set(db.session.scalars(sa.select(model.created_by_id).distinct()))
            assert creators == {organiser.id}
    log_in(client, "organiser@forum.example.org", "forum-demo")
    assert client.get(ADMIN_PAGE).status_code == 200
