"""The organiser's session page through the real endpoints: times at every site, the meeting
(retried on the fake Zoom), answers, attendance from real webhook deliveries, resending and
cancelling."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from forum.core.errors import Conflict
from forum.events import calendars
from forum.events import services
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import VideoMeeting
from forum.extensions import db
from forum.notifications.dispatch import release_held_emails
from forum.providers import accounts
from forum.providers.fakes import webhooks as deliveries
from forum.providers.fakes.base import RunningFake
from forum.providers.fakes.zoom import FakeZoomProvider
from tests.conftest import ApiClient
from tests.conftest import csrf_token
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.fake_setups.zoom import ACCOUNT_ID
from tests.fake_setups.zoom import CLIENT_ID
from tests.fake_setups.zoom import CLIENT_SECRET
from tests.fake_setups.zoom import add_signing_account
from tests.helpers import recorded_statements
from tests.test_meetings import add_zoom
from tests.test_web import log_in
from tests.test_web import section

ORGANISER = "organiser@example.org"
WEBHOOK_SECRET = "zoom-secret-token-for-webhooks"
MEETING_ID = 92674392836

# Institutions across the date line and on both sides of spring's clock changes.
SITES = (
    ("Wayne State University", "US", "America/Detroit"),
    ("University College London", "GB", "Europe/London"),
    ("The University of Sydney", "AU", "Australia/Sydney"),
    ("Peking University", "CN", "Asia/Shanghai"),
    ("The University of Auckland", "NZ", "Pacific/Auckland"),
)


def page_of(client: FlaskClient, session_id: int) -> str:
    response = client.get(f"/sessions/{session_id}")
    assert response.status_code == 200, response.text
    return response.text


def post_form(client: FlaskClient, path: str, session_id: int, **fields: Any):
    """POST a form of the session page with the token the page carries."""
    token = csrf_token(page_of(client, session_id))
    return client.post(path, data={"csrf_token": token, **fields})


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash[^"]*">(.*?)</p>', page)]


def calendar_of(message) -> icalendar.Calendar:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return icalendar.Calendar.from_ical(part.get_payload(decode=True))


def sent(app: Flask) -> list:
    return app.extensions["forum_mail_sender"].messages


@pytest.fixture
def api(make_organiser) -> ApiClient:
    return make_organiser(timezone="America/Detroit")


@pytest.fixture
def people(api) -> list[dict[str, Any]]:
    found = []
    for index, (name, country, zone) in enumerate(SITES):
        institution = make_institution(api, name, country, zone)
        found.append(
            make_person(api, f"Person {index}", f"p{index}@uni.example", institution["id"])
        )
    # Nobody's institution, a day ahead of everyone (UTC+14).
    response = api.post(
        "/api/v1/people",
        json={
            "name": "Teiti Line",
            "email": "teiti@line.example",
            "timezone": "Pacific/Kiritimati",
        },
    )
    assert response.status_code == 201, response.get_json()
    found.append(response.get_json())
    return found


def book_for(api, people, **fields: Any) -> dict:
    """A session of a new event (home zone Asia/Shanghai) with ``people`` invited."""
    if "local_start" not in fields:
        fields.setdefault("start", "2030-03-12T13:00:00Z")
    event = make_event(api, title="Rectors' forum", timezone="Asia/Shanghai")
    return make_session(api, event["id"], invitees=[invitee(p) for p in people], **fields)


@pytest.fixture
def logged_in(client: FlaskClient, api) -> FlaskClient:
    log_in(client, ORGANISER)
    return client


# --- access ------------------------------------------------------------------------------


def test_the_page_needs_a_login_and_other_organisers_get_404(
    client: FlaskClient, api, make_organiser, people
) -> None:
    session = book_for(api, people)
    response = client.get(f"/sessions/{session['id']}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")

    make_organiser("other@example.org", name="Oscar Other")
    log_in(client, "other@example.org")
    page = client.get(f"/sessions/{session['id']}")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert "Plenary" not in page.text
    assert client.get("/sessions/999999").status_code == 404
    token = csrf_token(client.get("/").text)
    for action in ("meeting/retry", "invites/resend", "cancel"):
        response = client.post(f"/sessions/{session['id']}/{action}", data={"csrf_token": token})
        assert response.status_code == 404, action
    assert api.get(f"/api/v1/sessions/{session['id']}").get_json()["status"] == "scheduled"


def test_a_post_without_its_csrf_token_is_refused(logged_in, api, people, app) -> None:
    session = book_for(api, people)
    before = len(sent(app))
    for action in ("invites/resend", "cancel", "meeting/retry"):
        response = logged_in.post(f"/sessions/{session['id']}/{action}")
        assert response.status_code == 400, action
        assert "form had expired" in response.text
    assert api.get(f"/api/v1/sessions/{session['id']}").get_json()["status"] == "scheduled"
    assert len(sent(app)) == before


# --- times -------------------------------------------------------------------------------


def local(instant: dt.datetime, zone: str) -> str:
    return f"{instant.astimezone(ZoneInfo(zone)):%a %d %b %Y %H:%M}"


def site_rows(page: str) -> dict[str, tuple[str, str, str, str]]:
    """Site name: (zone, local start, local end, category) as the times table shows them."""
    table = section(page, "sites-heading")
    rows = re.findall(
        r'<th scope="row">(.*?)</th>\s*<td>(.*?)</td>\s*<td class="site-time">(.*?)</td>\s*'
        r'<td class="site-time">(.*?)</td>\s*<td><span class="category category-(\w+)">',
        table,
    )
    return {html.unescape(name): tuple(rest) for name, *rest in rows}


@pytest.mark.parametrize(
    ("start", "categories"),
    [
        # Detroit moved to summer time two days before; London, Sydney and Auckland have not
        # changed yet: Sydney and Auckland are already on Wednesday.
        (
            "2030-03-12T13:00:00Z",
            {
                "Wayne State University": "working",
                "University College London": "working",
                "The University of Sydney": "night",
                "Peking University": "late",
                "The University of Auckland": "night",
                "Teiti Line": "night",
            },
        ),
        # London is on summer time since 31 March; Sydney and Auckland still on theirs
        # until 7 April.
        (
            "2030-04-02T08:00:00Z",
            {
                "Wayne State University": "night",
                "University College London": "working",
                "The University of Sydney": "late",
                "Peking University": "working",
                "The University of Auckland": "late",
                "Teiti Line": "night",
            },
        ),
    ],
    ids=["detroit-changed", "london-changed"],
)
def test_every_site_sees_its_own_local_time(
    logged_in, api, people, start: str, categories: dict[str, str]
) -> None:
    session = book_for(api, people, start=start, duration_minutes=60)
    page = page_of(logged_in, session["id"])
    rows = site_rows(page)
    begin = dt.datetime.fromisoformat(start)
    end = begin + dt.timedelta(minutes=60)
    zones = {name: zone for name, _, zone in SITES} | {"Teiti Line": "Pacific/Kiritimati"}
    assert set(rows) == set(zones)
    for name, zone in zones.items():
        assert rows[name] == (zone, local(begin, zone), local(end, zone), categories[name]), name
    # The offsets really differ from winter's: Detroit is UTC-4 and Sydney UTC+11 here.
    if start.startswith("2030-03"):
        assert rows["Wayne State University"][1] == "Tue 12 Mar 2030 09:00"
        assert rows["The University of Sydney"][1] == "Wed 13 Mar 2030 00:00"
    assert rows["Teiti Line"][1].startswith("Wed" if start.startswith("2030-03") else "Tue")

    # Grouped by country: each country heads its own rows.
    table = section(page, "sites-heading")
    for country in ("United States", "Britain (UK)", "Australia", "China", "New Zealand"):
        assert f'<th scope="rowgroup" colspan="6">{country}</th>' in table
    assert '<th scope="rowgroup" colspan="6">No institution</th>' in table

    assert f'<a href="/events/{session["event_id"]}">Rectors&#39; forum</a>' in page

    # The session's own times: the organiser's zone first, then the event's and UTC.
    when = section(page, "when-heading")
    viewer = f"{begin.astimezone(ZoneInfo('America/Detroit')):%a %d %b %Y %H:%M} (America/Detroit)"
    home = (
        f"{begin.astimezone(ZoneInfo('Asia/Shanghai')):%a %d %b %Y %H:%M} (Beijing, Asia/Shanghai)"
    )
    utc = f"{begin:%a %d %b %Y %H:%M} (UTC)"
    assert when.index(viewer) < when.index(home) < when.index(utc)


def test_a_series_shows_its_rule_its_next_dates_and_sites_at_the_next_one(
    logged_in, api, people
) -> None:
    now = dt.datetime.now(dt.UTC)
    first = (now - dt.timedelta(weeks=2)).astimezone(ZoneInfo("Asia/Shanghai"))
    first = first.replace(hour=21, minute=0, second=0, microsecond=0)
    session = book_for(
        api,
        people[:2],
        local_start=first.replace(tzinfo=None).isoformat(),
        timezone="Asia/Shanghai",
        rrule="FREQ=WEEKLY;COUNT=8",
    )
    page = page_of(logged_in, session["id"])
    assert "FREQ=WEEKLY;COUNT=8" in page
    assert "Every week" in page
    dates = [first + dt.timedelta(weeks=n) for n in range(8)]
    coming = [d for d in dates if d + dt.timedelta(hours=1) > now][:5]
    shown = section(page, "when-heading")
    for date in coming:
        assert f"{local(date, 'America/Detroit')} (America/Detroit)" in shown
    assert (
        f"{local(dates[0], 'America/Detroit')} (America/Detroit)"
        not in shown.split("Next meetings")[1]
    )
    rows = site_rows(page)
    # Wall-clock 21:00 in Beijing every week; Detroit's hour follows its own clock changes.
    assert rows["Wayne State University"][1] == local(coming[0], "America/Detroit")


# --- the meeting -------------------------------------------------------------------------


@pytest.fixture
def zoom() -> Iterator[RunningFake]:
    fake = FakeZoomProvider(
        hosts=("host1@uni.example",),
        account_id=ACCOUNT_ID,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    with RunningFake(fake) as running:
        yield running


def test_retry_turns_a_failed_meeting_into_an_open_one(
    logged_in, api, people, runner, zoom
) -> None:
    add_zoom(runner, zoom, hosts=("host1@uni.example",))
    zoom.app.faults.add("status", status=503, count=50, method="POST")
    session = book_for(api, people[:2], provider="zoom")
    assert session["meeting"]["status"] == "failed"

    page = page_of(logged_in, session["id"])
    meeting = section(page, "meeting-heading")
    assert "failed" in meeting
    assert "<dd>Zoom</dd>" in meeting  # the provider by its name
    assert session["meeting"]["error"] in html.unescape(meeting)
    assert 'action="/sessions/{}/meeting/retry"'.format(session["id"]) in meeting
    assert "data-busy=" in meeting
    assert "data-refresh-seconds" not in page

    zoom.app.faults.clear()
    response = post_form(logged_in, f"/sessions/{session['id']}/meeting/retry", session["id"])
    assert response.status_code == 303
    assert response.headers["Location"] == f"/sessions/{session['id']}"
    page = logged_in.get(response.headers["Location"]).text
    assert "The meeting is open." in flashes(page)
    meeting = section(page, "meeting-heading")
    opened = api.get(f"/api/v1/sessions/{session['id']}").get_json()["meeting"]
    assert opened["status"] == "created"
    assert html.escape(opened["join_url"]) in meeting
    assert html.escape(opened["host_url"]) in meeting
    assert opened["passcode"] in meeting
    assert "host1@uni.example" in meeting
    assert "/meeting/retry" not in meeting

    # Nothing left to retry: the refusal comes back as a message.
    response = logged_in.post(
        f"/sessions/{session['id']}/meeting/retry", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 303
    assert any(
        "nothing to retry" in text
        for text in flashes(logged_in.get(f"/sessions/{session['id']}").text)
    )


def test_a_meeting_being_opened_reloads_the_page_until_it_is_ready(
    app, logged_in, api, people
) -> None:
    session = book_for(api, people[:1])
    assert "data-refresh-seconds" not in page_of(logged_in, session["id"])
    with app.app_context():
        meeting = db.session.scalar(
            sa.select(VideoMeeting).where(VideoMeeting.session_id == session["id"])
        )
        meeting.status = "pending"
        db.session.commit()
    page = page_of(logged_in, session["id"])
    assert re.search(r'data-refresh-seconds="\d+"', page)
    assert "being opened" in page
    # Without JavaScript: a link that reloads.
    assert f'<a href="/sessions/{session["id"]}">Refresh now</a>' in page


# --- answers -----------------------------------------------------------------------------


def rsvp_path(app: Flask, session_id: int, person_id: int) -> str:
    with app.app_context():
        invitation = db.session.scalar(
            sa.select(Invitation).where(
                Invitation.session_id == session_id, Invitation.person_id == person_id
            )
        )
        return calendars.rsvp_url(invitation).removeprefix(app.config["FORUM_BASE_URL"])


def test_answer_counts_match_the_answers_given(app, client, api, people) -> None:
    session = book_for(api, people)
    answers = ["accepted", "accepted", "declined", "tentative", None, None]
    for person, answer in zip(people, answers, strict=True):
        if answer:
            response = client.post(
                rsvp_path(app, session["id"], person["id"]), data={"answer": answer}
            )
            assert response.status_code == 303
    log_in(client, ORGANISER)
    page = page_of(client, session["id"])
    found = re.findall(
        r'<li class="rsvp-count rsvp-([a-z-]+)"><span class="rsvp-number">(\d+)</span>', page
    )
    assert dict(found) == {"accepted": "2", "tentative": "1", "declined": "1", "needs-action": "2"}
    rows = re.findall(
        r'<th scope="row">(Person \d|Teiti Line) .*?</th>'
        r'.*?<span class="rsvp-answer rsvp-([a-z-]+)">',
        section(page, "rsvp-heading"),
        re.S,
    )
    assert [state for _, state in rows] == [a or "needs-action" for a in answers]
    assert "Wayne State University" in section(page, "rsvp-heading")


# --- attendance --------------------------------------------------------------------------


def use_zoom_meeting(app: Flask, session_id: int) -> int:
    """Make the session's meeting a Zoom meeting, whose deliveries are signed; its id."""
    with app.app_context():
        if not accounts.accounts():
            add_signing_account(WEBHOOK_SECRET)
        meeting = db.session.scalar(
            sa.select(VideoMeeting).where(VideoMeeting.session_id == session_id)
        )
        meeting_id = MEETING_ID + session_id
        meeting.provider, meeting.external_id, meeting.status = "zoom", str(meeting_id), "created"
        db.session.commit()
    return meeting_id


def deliver(client: FlaskClient, meeting_id: int, event: str, **obj: Any) -> None:
    meeting = deliveries.zoom_meeting_object(meeting_id, id_as_string=True, uuid="u==", **obj)
    headers, body = deliveries.zoom_delivery(WEBHOOK_SECRET, event, meeting)
    response = client.post("/webhooks/zoom", data=body, headers=headers)
    assert response.status_code == 200, response.get_json()


def attend(
    client: FlaskClient, meeting_id: int, name: str, address: str | None, user_id: str, minutes: int
) -> None:
    """Someone joins at 13:02 UTC and leaves ``minutes`` later."""
    joined = deliveries.zoom_participant(
        name,
        address,
        join_time="2030-03-12T13:02:00Z",
        user_id=user_id,
        participant_uuid=f"uuid-{user_id}",
    )
    deliver(client, meeting_id, "meeting.participant_joined", participant=joined)
    left_at = dt.datetime(2030, 3, 12, 13, 2, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
    left = deliveries.zoom_participant(
        name,
        address,
        leave_time=left_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        user_id=user_id,
        participant_uuid=f"uuid-{user_id}",
    )
    deliver(client, meeting_id, "meeting.participant_left", participant=left)


def test_attendance_shows_who_joined_for_how_long_and_guests(app, client, api, people) -> None:
    session = book_for(api, people)
    meeting_id = use_zoom_meeting(app, session["id"])
    log_in(client, ORGANISER)
    assert 'id="attendance-heading"' not in page_of(client, session["id"])

    deliver(client, meeting_id, "meeting.started", start_time="2030-03-12T13:01:00Z")
    attend(client, meeting_id, "P0", "p0@uni.example", "1", 55)
    attend(client, meeting_id, "Visiting Scholar", "", "9", 30)
    page = page_of(client, session["id"])
    attendance = section(page, "attendance-heading")
    assert "1 of 6 invitees joined; 1 guests." in " ".join(attendance.split())
    rows = re.findall(
        r'<th scope="row">(.*?)</th>\s*<td>(.*?)</td>\s*<td class="num">(\d+)</td>',
        attendance,
        re.S,
    )
    assert [(name, minutes) for name, _, minutes in rows] == [
        ("Person 0", "55"),
        ("Visiting Scholar", "30"),
    ]
    assert "invitee" in rows[0][1] and "guest" in rows[1][1]
    assert '<span class="status status-live">live</span>' in page


# --- resending and cancelling --------------------------------------------------------------


def test_resend_emails_the_same_invitation_again(app, logged_in, api, people) -> None:
    session = book_for(api, people)
    first = list(sent(app))
    assert len(first) == len(people)
    uid = str(calendar_of(first[0]).walk("VEVENT")[0]["UID"])
    sequence = int(calendar_of(first[0]).walk("VEVENT")[0]["SEQUENCE"])

    response = post_form(logged_in, f"/sessions/{session['id']}/invites/resend", session["id"])
    assert response.status_code == 303
    page = logged_in.get(response.headers["Location"]).text
    assert "The invitation is being emailed again to 6 invitees." in flashes(page)
    again = sent(app)[len(first) :]
    assert sorted(m["To"].addresses[0].addr_spec for m in again) == sorted(
        p["email"].lower() for p in people
    )
    for message in again:
        calendar = calendar_of(message)
        [entry] = calendar.walk("VEVENT")
        assert str(calendar["METHOD"]) == "REQUEST"
        assert (str(entry["UID"]), int(entry["SEQUENCE"])) == (uid, sequence)
    assert api.get(f"/api/v1/sessions/{session['id']}").get_json()["sequence"] == sequence

    # One invitee, from their row.
    response = post_form(
        logged_in,
        f"/sessions/{session['id']}/invites/resend",
        session["id"],
        person_id=str(people[2]["id"]),
    )
    assert response.status_code == 303
    [one] = sent(app)[len(first) + len(people) :]
    assert one["To"].addresses[0].addr_spec == people[2]["email"]
    assert int(calendar_of(one).walk("VEVENT")[0]["SEQUENCE"]) == sequence
    page = logged_in.get(f"/sessions/{session['id']}").text
    assert "The invitation is being emailed again to Person 2." in flashes(page)


def test_resend_to_someone_not_invited_sends_nothing(app, logged_in, api, people) -> None:
    session = book_for(api, people[:2])
    before = len(sent(app))
    response = post_form(
        logged_in,
        f"/sessions/{session['id']}/invites/resend",
        session["id"],
        person_id=str(people[3]["id"]),
    )
    assert response.status_code == 303
    assert any(
        "not invited" in text for text in flashes(logged_in.get(f"/sessions/{session['id']}").text)
    )
    bad = post_form(
        logged_in, f"/sessions/{session['id']}/invites/resend", session["id"], person_id="x"
    )
    assert bad.status_code == 400
    assert len(sent(app)) == before


def test_cancel_cancels_and_emails_cancellations(app, logged_in, api, people) -> None:
    session = book_for(api, people)
    page = page_of(logged_in, session["id"])
    actions = section(page, "actions-heading")
    assert f'action="/sessions/{session["id"]}/cancel" data-confirm="' in actions
    before = len(sent(app))

    response = post_form(logged_in, f"/sessions/{session['id']}/cancel", session["id"])
    assert response.status_code == 303
    page = logged_in.get(response.headers["Location"]).text
    assert "The session is cancelled; every invitee is being told." in flashes(page)
    assert '<span class="status status-cancelled">cancelled</span>' in page
    assert 'id="actions-heading"' not in page
    assert "/invites/resend" not in page
    cancels = sent(app)[before:]
    assert len(cancels) == len(people)
    for message in cancels:
        assert str(calendar_of(message)["METHOD"]) == "CANCEL"
    assert api.get(f"/api/v1/sessions/{session['id']}").get_json()["status"] == "cancelled"

    # Again (a second tab): nothing more is sent.
    response = logged_in.post(
        f"/sessions/{session['id']}/cancel", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 303
    assert len(sent(app)) == before + len(people)
    # Nothing to resend to for a cancelled session.
    response = logged_in.post(
        f"/sessions/{session['id']}/invites/resend", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 303
    assert len(sent(app)) == before + len(people)


# --- escaping and queries ----------------------------------------------------------------


def test_titles_and_names_are_escaped(app, logged_in, api) -> None:
    nasty = """<script>alert(1)</script> "Rector's" """
    institution = make_institution(api, nasty + "University", "GB", "Europe/London")
    person = make_person(api, nasty + "Name", "nasty@uni.example", institution["id"])
    session = book_for(api, [person], title=nasty + "Title")
    meeting_id = use_zoom_meeting(app, session["id"])
    deliver(logged_in, meeting_id, "meeting.started", start_time="2030-03-12T13:01:00Z")
    attend(logged_in, meeting_id, nasty + "Guest", "", "9", 10)
    page = page_of(logged_in, session["id"])
    assert "<script>alert(1)</script>" not in page
    assert "<script" not in page.split("</head>")[1]
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &#34;Rector&#39;s&#34; "
    for text in ("Title", "Name", "University", "Guest"):
        assert escaped + text in page, text
    assert 'style="' not in page


def make_people(api, count: int, offset: int) -> list[dict[str, Any]]:
    found = []
    for index in range(count):
        name, country, zone = SITES[index % len(SITES)]
        institution = make_institution(api, f"{name} {offset + index}", country, zone)
        found.append(
            make_person(
                api, f"Member {offset + index}", f"m{offset + index}@uni.example", institution["id"]
            )
        )
    return found


def test_the_number_of_queries_does_not_grow_with_invitees_sites_or_attendance(
    app, logged_in, api
) -> None:
    def measure(count: int, offset: int) -> int:
        people = make_people(api, count, offset)
        session = book_for(api, people)
        meeting_id = use_zoom_meeting(app, session["id"])
        deliver(logged_in, meeting_id, "meeting.started", start_time="2030-03-12T13:01:00Z")
        for person in people:
            attend(logged_in, meeting_id, person["name"], person["email"], str(person["id"]), 20)
        attend(logged_in, meeting_id, "Guest", "", "guest", 5)
        page_of(logged_in, session["id"])  # warm caches (holiday tables, templates)
        with recorded_statements(app) as statements:
            page = page_of(logged_in, session["id"])
        assert page.count('<td class="site-time">') == 2 * count
        assert f"{count} of {count} invitees joined" in page
        return len(statements)

    with_two = measure(2, 0)
    with_thirty = measure(30, 100)
    assert with_thirty == with_two, f"{with_two} statements with 2 invitees, {with_thirty} with 30"


# --- the resend service --------------------------------------------------------------------


def test_a_resend_after_a_change_keeps_the_changed_sequence(app, api, people) -> None:
    session = book_for(api, people[:2])
    moved = api.patch(f"/api/v1/sessions/{session['id']}", json={"start": "2030-03-13T13:00:00Z"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["sequence"] == 1
    before = len(sent(app))
    with app.app_context():
        assert services.resend_invitations(db.session.get(EventSession, session["id"])) == 2
        db.session.commit()
    again = sent(app)[before:]
    assert len(again) == 2
    for message in again:
        [entry] = calendar_of(message).walk("VEVENT")
        assert (str(entry["UID"]), int(entry["SEQUENCE"])) == (session["ical_uid"], 1)
        assert entry.decoded("DTSTART") == dt.datetime(2030, 3, 13, 13, tzinfo=dt.UTC)
    assert api.get(f"/api/v1/sessions/{session['id']}").get_json()["sequence"] == 1


def test_a_resend_while_the_meeting_opens_waits_for_its_link(app, api, people) -> None:
    session = book_for(api, people[:2])
    before = len(sent(app))
    with app.app_context():
        row = db.session.get(EventSession, session["id"])
        row.meeting.status = "pending"
        assert services.resend_invitations(row, person_id=people[1]["id"]) == 1
        db.session.commit()
    assert len(sent(app)) == before
    with app.app_context():
        # What the meeting job does once the meeting is open.
        db.session.get(EventSession, session["id"]).meeting.status = "created"
        assert release_held_emails(session["id"]) == 1
        db.session.commit()
    [message] = sent(app)[before:]
    assert message["To"].addresses[0].addr_spec == people[1]["email"]


def test_a_cancelled_session_is_not_resent(app, api, people) -> None:
    session = book_for(api, people[:1])
    assert api.delete(f"/api/v1/sessions/{session['id']}").status_code == 200
    with app.app_context(), pytest.raises(Conflict):
        services.resend_invitations(db.session.get(EventSession, session["id"]))


def test_a_series_shows_the_dates_it_leaves_out(logged_in, api, people) -> None:
    # 02:30 in Detroit does not exist on 8 March 2020 (clocks jump from 02:00 to 03:00).
    session = book_for(
        api,
        people[:1],
        local_start="2020-03-01T02:30:00",
        timezone="America/Detroit",
        rrule="FREQ=WEEKLY;COUNT=3",
        skip_invalid_local_times=True,
    )
    assert session["exdates"] == ["2020-03-08T07:30:00Z"]

    when = html.unescape(section(page_of(logged_in, session["id"]), "when-heading"))

    assert "Left out" in when
    assert "Sun 08 Mar 2020 02:30" in when
