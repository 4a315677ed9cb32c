"""Organiser pages through the real endpoints: login, logout, home, API docs, error pages."""

from __future__ import annotations

import datetime as dt
import html
import re
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from forum.core.errors import NotFound
from tests.conftest import ApiClient
from tests.conftest import csrf_token
from tests.helpers import recorded_statements

PASSWORD = "secret-password"


def log_in(client: FlaskClient, email: str, password: str = PASSWORD, *, next_path: str = ""):
    page = client.get("/login", query_string={"next": next_path} if next_path else None)
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "next": next_path,
            "csrf_token": csrf_token(page.text),
        },
    )


def create_event(api: ApiClient, title: str, timezone: str = "Asia/Shanghai", **fields) -> int:
    response = api.post(
        "/api/v1/events", json={"title": title, "kind": "bilateral", "timezone": timezone, **fields}
    )
    assert response.status_code == 201, response.json
    return response.json["id"]


def book(api: ApiClient, event_id: int, local_start: str, timezone: str, title: str = "Call"):
    response = api.post(
        f"/api/v1/events/{event_id}/sessions",
        json={
            "title": title,
            "local_start": local_start,
            "timezone": timezone,
            "duration_minutes": 60,
        },
    )
    assert response.status_code == 201, response.json
    return response.json


def shown(instant: dt.datetime, zone: str) -> str:
    """How a page must write ``instant`` for a viewer in ``zone``, computed here from zoneinfo."""
    local = instant.astimezone(ZoneInfo(zone))
    # A zone whose id does not name the place its time is known by comes with that place.
    place = {"Asia/Shanghai": "Beijing", "Asia/Qatar": "Doha"}.get(zone)
    return f"{local:%a %d %b %Y %H:%M} ({f'{place}, {zone}' if place else zone})"


def section(page: str, heading_id: str) -> str:
    """The HTML from one section heading to the next, to check what a section shows."""
    start = page.index(f'id="{heading_id}"')
    end = page.find("<h2", start + 1)
    return page[start : end if end != -1 else len(page)]


# --- login -------------------------------------------------------------------------------


def test_login_page_has_a_form_with_a_csrf_token(client: FlaskClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert csrf_token(response.text)
    assert '<label for="email">' in response.text
    assert '<label for="password">' in response.text
    assert 'name="viewport"' in response.text
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("email", "password"),
    [("organiser@example.org", "wrong-password-123"), ("nobody@example.org", PASSWORD)],
    ids=["wrong password", "unknown email"],
)
def test_failed_login_says_so_without_naming_the_cause(
    client: FlaskClient, make_organiser, email: str, password: str
) -> None:
    make_organiser()
    response = log_in(client, email, password)
    assert response.status_code == 200
    assert "That email and password do not match an organiser account." in response.text
    assert 'role="alert"' in response.text
    # The typed password never comes back in the page.
    assert password not in response.text
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(client: FlaskClient, make_organiser) -> None:
    make_organiser()
    client.get("/login")
    response = client.post("/login", data={"email": "organiser@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "form had expired" in response.text
    assert client.get("/").status_code == 302


def test_login_is_case_insensitive_on_the_email(client: FlaskClient, make_organiser) -> None:
    make_organiser()
    response = log_in(client, "Organiser@Example.ORG")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_anonymous_home_redirects_to_login_with_next(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2F"


def test_login_goes_back_to_the_page_asked_for(client: FlaskClient, make_organiser) -> None:
    make_organiser()
    page = client.get("/login?next=/api/v1/docs")
    assert 'name="next" type="hidden" value="/api/v1/docs"' in page.text
    response = log_in(client, "organiser@example.org", next_path="/api/v1/docs")
    assert response.status_code == 302
    assert response.headers["Location"] == "/api/v1/docs"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/\r\nSet-Cookie: stolen=1",
    ],
)
def test_login_never_redirects_off_site(client: FlaskClient, make_organiser, target: str) -> None:
    make_organiser()
    page = client.get("/login", query_string={"next": target})
    assert 'name="next" type="hidden" value=""' in page.text
    # Posted straight in the form too, as a forged page would.
    response = log_in(client, "organiser@example.org", next_path=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logged_in_login_page_goes_home(client: FlaskClient, make_organiser) -> None:
    make_organiser()
    log_in(client, "organiser@example.org")
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


# --- logout ------------------------------------------------------------------------------


def test_logout_needs_a_post_with_a_csrf_token(client: FlaskClient, make_organiser) -> None:
    make_organiser()
    log_in(client, "organiser@example.org")

    response = client.get("/logout")
    assert response.status_code == 405
    assert response.mimetype == "text/html"
    assert "POST" in response.headers["Allow"]
    assert client.get("/").status_code == 200

    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200

    home = client.get("/")
    response = client.post("/logout", data={"csrf_token": csrf_token(home.text)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "You are logged out." in client.get("/login").text
    assert client.get("/").status_code == 302


# --- home --------------------------------------------------------------------------------


def test_home_without_events_explains_how_to_start(client: FlaskClient, make_organiser) -> None:
    make_organiser()
    log_in(client, "organiser@example.org")
    page = client.get("/").text
    assert 'No events yet. <a href="/events/new">Create one</a>' in page
    assert "<code>POST /api/v1/events</code>" in page
    assert "No upcoming sessions." in page


def test_home_shows_the_organisers_name_and_logout_button(
    client: FlaskClient, make_organiser
) -> None:
    make_organiser(name="Olga Organiser")
    log_in(client, "organiser@example.org")
    page = client.get("/").text
    assert "Olga Organiser" in page
    assert 'action="/logout"' in page
    assert 'href="/api/v1/docs"' in page


@pytest.mark.parametrize(
    ("viewer_zone", "home_zone", "local_start"),
    [
        # Detroit moves to summer time that very morning; Shanghai has no DST.
        ("America/Detroit", "Asia/Shanghai", "2030-03-10T21:00"),
        # Either side of the date line: the same wall-clock time, a day apart.
        ("Pacific/Kiritimati", "Pacific/Honolulu", "2030-06-03T09:00"),
        ("Europe/London", "Europe/London", "2030-10-27T09:00"),
    ],
)
def test_home_shows_each_start_in_viewer_home_and_utc(
    client: FlaskClient, make_organiser, viewer_zone: str, home_zone: str, local_start: str
) -> None:
    api = make_organiser(timezone=viewer_zone)
    event_id = create_event(api, "Peking–Tokyo rectors", timezone=home_zone)
    book(api, event_id, local_start, home_zone, title="Spring plenary")
    log_in(client, "organiser@example.org")

    page = client.get("/").text
    upcoming = section(page, "upcoming-heading")
    assert "Spring plenary" in upcoming
    assert "Peking–Tokyo rectors" in upcoming
    start = dt.datetime.fromisoformat(local_start).replace(tzinfo=ZoneInfo(home_zone))
    expected = [shown(start, viewer_zone), shown(start, home_zone), shown(start, "UTC")]
    positions = [upcoming.index(text) for text in expected]
    # The viewer's own zone comes first.
    assert positions[0] == min(positions)
    for text in set(expected):
        assert upcoming.count(text) == 1
    events = section(page, "events-heading")
    assert "Peking–Tokyo rectors" in events
    assert home_zone in events


def test_expected_times_are_what_a_person_would_write() -> None:
    """The helper above against times worked out by hand, so the test checks something."""
    start = dt.datetime(2030, 3, 10, 21, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert shown(start, "America/Detroit") == "Sun 10 Mar 2030 09:00 (America/Detroit)"
    assert shown(start, "UTC") == "Sun 10 Mar 2030 13:00 (UTC)"
    honolulu = dt.datetime(2030, 6, 3, 9, 0, tzinfo=ZoneInfo("Pacific/Honolulu"))
    assert shown(honolulu, "Pacific/Kiritimati") == "Tue 04 Jun 2030 09:00 (Pacific/Kiritimati)"


def test_home_shows_the_next_date_of_a_series_that_began_in_the_past(
    client: FlaskClient, make_organiser
) -> None:
    api = make_organiser(timezone="America/Detroit")
    event_id = create_event(api, "Beijing - Ann Arbor exchange", timezone="Asia/Shanghai")
    now = dt.datetime.now(dt.UTC)
    # Weekly at 21:00 in Beijing, starting three weeks ago, for ten weeks.
    first = (now - dt.timedelta(weeks=3)).astimezone(ZoneInfo("Asia/Shanghai"))
    first = first.replace(hour=21, minute=0, second=0, microsecond=0)
    response = api.post(
        f"/api/v1/events/{event_id}/sessions",
        json={
            "title": "Weekly case conference",
            "local_start": first.replace(tzinfo=None).isoformat(),
            "timezone": "Asia/Shanghai",
            "duration_minutes": 60,
            "rrule": "FREQ=WEEKLY;COUNT=10",
        },
    )
    assert response.status_code == 201, response.json
    log_in(client, "organiser@example.org")

    upcoming = section(client.get("/").text, "upcoming-heading")
    assert "Weekly case conference" in upcoming
    dates = [first + dt.timedelta(weeks=n) for n in range(10)]
    following = next(d for d in dates if d + dt.timedelta(hours=1) > now)
    assert shown(following, "America/Detroit") in upcoming
    assert shown(dates[0], "America/Detroit") not in upcoming


def test_home_lists_counts_and_only_the_organisers_events(
    client: FlaskClient, make_organiser
) -> None:
    olga = make_organiser()
    other = make_organiser("other@example.org", name="Oscar Other", timezone="Asia/Tokyo")
    mine = create_event(olga, "Peking–Qatar cooperation")
    create_event(other, "Tokyo private planning")
    institution = olga.post(
        "/api/v1/institutions", json={"name": "Qatar University", "country": "QA"}
    ).json
    for index in range(3):
        person = olga.post(
            "/api/v1/people",
            json={
                "name": f"Expert {index}",
                "email": f"expert{index}@qu.example",
                "institution_id": institution["id"],
            },
        ).json
        added = olga.post(f"/api/v1/events/{mine}/participants", json={"person_id": person["id"]})
        assert added.status_code == 201, added.json
    book(olga, mine, "2030-05-05T15:00", "Asia/Shanghai")
    cancelled = book(olga, mine, "2030-05-12T15:00", "Asia/Shanghai")
    assert olga.delete(f"/api/v1/sessions/{cancelled['id']}").status_code == 200

    log_in(client, "organiser@example.org")
    page = client.get("/").text
    assert "Tokyo private planning" not in page
    events = section(page, "events-heading")
    row = events[events.index("Peking–Qatar cooperation") :]
    row = row[: row.index("</tr>")]
    cells = re.findall(r'<td class="num">(\d+)</td>', row)
    assert cells == ["3", "1"]
    assert "bilateral" in row


def test_home_escapes_titles(client: FlaskClient, make_organiser) -> None:
    api = make_organiser()
    title = """<script>alert(1)</script> "Rector's" forum"""
    event_id = create_event(api, title)
    book(api, event_id, "2030-05-05T15:00", "Asia/Shanghai", title='<img src=x onerror="x()">')
    log_in(client, "organiser@example.org")
    page = client.get("/").text
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;Rector&#39;s&#34; forum" in page
    assert "&lt;img src=x onerror=&#34;x()&#34;&gt;" in page


def count_queries(app: Flask, client: FlaskClient, path: str) -> tuple[int, str]:
    with recorded_statements(app) as statements:
        response = client.get(path)
    assert response.status_code == 200
    return len(statements), response.text


def test_home_query_count_does_not_grow_with_events(
    app: Flask, client: FlaskClient, make_organiser
) -> None:
    api = make_organiser(timezone="America/Detroit")
    institution = api.post(
        "/api/v1/institutions",
        json={"name": "Peking University", "country": "CN", "timezone": "Asia/Shanghai"},
    ).json
    person = api.post(
        "/api/v1/people",
        json={"name": "Li Wei", "email": "li@pku.example", "institution_id": institution["id"]},
    ).json

    def add_event(index: int) -> None:
        event_id = create_event(api, f"Exchange {index:02d}")
        added = api.post(
            f"/api/v1/events/{event_id}/participants", json={"person_id": person["id"]}
        )
        assert added.status_code == 201, added.json
        book(api, event_id, f"2030-04-{index + 1:02d}T09:00", "Asia/Shanghai", f"Call {index:02d}")
        book(api, event_id, f"2030-05-{index + 1:02d}T09:00", "Asia/Shanghai", f"Call {index:02d}b")

    add_event(0)
    log_in(client, "organiser@example.org")
    with_one, page = count_queries(app, client, "/")
    assert "Exchange 00" in page

    for index in range(1, 10):
        add_event(index)
    with_ten, page = count_queries(app, client, "/")
    assert all(f"Exchange {index:02d}" in page for index in range(10))
    assert all(f"Call {index:02d}" in page for index in range(10))
    assert with_ten == with_one, f"{with_one} queries with 1 event, {with_ten} with 10"


# --- API docs ----------------------------------------------------------------------------


def test_docs_page_lists_every_path_and_method(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.text
    assert 'href="/api/v1/openapi.json"' in page
    # Only the site's own script file, no inline code (the page's CSP forbids it).
    assert re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S) == [
        (' src="/static/forum.js" defer', "")
    ]
    for path, item in document["paths"].items():
        for method in item:
            assert f'id="{item[method]["operationId"]}"' in page
            heading = f"{method.upper()}</span> <code>{html.escape(path)}</code>"
            assert heading in page, (method, path)


def test_docs_page_resolves_request_bodies(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs").text
    start = page.index('id="post_events_event_id_sessions"')
    operation = page[start : page.index("</section>", start)]
    assert "JSON body: SessionCreate" in operation
    assert "<code>event_id</code>" in operation
    for field_name in ("title", "local_start", "timezone", "duration_minutes", "invitees"):
        assert f"<code>{field_name}</code>" in operation
    assert "&#34;Asia/Shanghai&#34;" in operation
    assert 'href="#schema-InviteeIn"' in operation
    assert "201 Created" in operation
    assert 'id="schema-InviteeIn"' in page


# --- error pages -------------------------------------------------------------------------


def test_unknown_web_path_is_an_html_404(client: FlaskClient) -> None:
    response = client.get("/no/such/<page>")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Page not found" in response.text
    assert "<page>" not in response.text


def test_unknown_api_path_stays_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    response = client.delete("/api/v1/openapi.json")
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"


def test_service_errors_and_crashes_on_pages_are_html(app: Flask) -> None:
    # Routes added for this test only: no web page raises these yet.
    def missing():
        raise NotFound("no event <b>7</b>")

    def crash():
        raise RuntimeError("boom")

    app.add_url_rule("/test-missing", view_func=missing)
    app.add_url_rule("/test-crash", view_func=crash)
    client = app.test_client()

    response = client.get("/test-missing")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "<b>7</b>" not in response.text

    response = client.get("/test-crash")
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "Something went wrong on our side" in response.text
    assert "boom" not in response.text
