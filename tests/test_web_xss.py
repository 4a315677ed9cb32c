"""Text from organisers and the directory is shown as text on every page, never run."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from forum.directory.models import Person
from forum.events import calendars
from forum.events.models import Invitation
from forum.extensions import db
from tests.conftest import ApiClient
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.test_web import log_in

TITLE = """Forum <script>alert("title")</script> & 'quotes' "here" <img src=x onerror=alert(1)>"""
NAME = """Ann O'Neil "<script>alert('name')</script>" <b onmouseover=alert(2)>"""
SITE = """Université <script>alert('site')</script> "Libre" d'Europe"""
MARKUP = re.compile(r"<script>alert|<img src=x|<b onmouseover", re.I)


@pytest.fixture
def hostile(app: Flask, client: FlaskClient, make_organiser) -> dict:
    api: ApiClient = make_organiser(timezone="Europe/London")
    site = make_institution(api, SITE, "BE", "Europe/Brussels")
    person = make_person(api, NAME, "ann@example.be", site["id"])
    event = make_event(
        api, title=TITLE, kind="bilateral", timezone="Europe/Brussels", description=TITLE
    )
    api.post(f"/api/v1/events/{event['id']}/participants", json={"institution_id": site["id"]})
    session = api.post(
        f"/api/v1/events/{event['id']}/sessions",
        json={"title": TITLE, "start": "2027-03-29T09:00:00Z", "duration_minutes": 60},
    ).json
    with app.app_context():
        found = db.session.get(Person, person["id"])
        invitation = db.session.scalar(
            sa.select(Invitation).where(Invitation.person_id == found.id)
        )
        links = {"agenda": calendars.agenda_url(found), "rsvp": calendars.rsvp_url(invitation)}
    log_in(client, "organiser@example.org")
    return {"event": event["id"], "session": session["id"], **links}


def pages(hostile: dict) -> list[str]:
    event = hostile["event"]
    return [
        "/",
        "/events",
        f"/events/{event}",
        f"/events/{event}/edit",
        f"/events/{event}/sessions/new",
        f"/events/{event}/planner?searched=1&duration_minutes=60&start=2027-03-29&days=2"
        "&step_minutes=60&timezone=Europe/Brussels&skip_holidays=y",
        f"/events/{event}/series-planner",
        f"/sessions/{hostile['session']}",
        urlsplit(hostile["agenda"]).path,
        urlsplit(hostile["rsvp"]).path,
    ]


def test_titles_and_names_are_escaped_on_every_page(client: FlaskClient, hostile: dict) -> None:
    shown = {"title": 0, "name": 0, "site": 0}
    for path in pages(hostile):
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.text
        assert not MARKUP.search(page), path
        # Shown as text: the escaped form is there wherever the text is.
        shown["title"] += "Forum &lt;script&gt;alert(" in page
        shown["name"] += "Ann O&#39;Neil &#34;&lt;script&gt;" in page
        shown["site"] += "Université &lt;script&gt;alert(" in page
    # Every page names the event or session; the people and site appear where listed.
    assert shown["title"] >= 8, shown
    assert shown["name"] >= 2, shown
    assert shown["site"] >= 3, shown
