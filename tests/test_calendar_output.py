"""Every calendar file and invite email the product emits, read by independent parsers.

Each file is parsed by icalendar, vobject and recurring-ical-events (and the icalcheck
harness: ical.js, libical, a byte-level lint), and all must agree on the UTC start of every
occurrence. The series cross the 2020 clock changes: weekly in America/Detroit (8 March)
and in Europe/London (29 March), both kept at their local wall-clock time.
"""

from __future__ import annotations

import email
import email.policy
from typing import Any

import icalendar
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from forum.calendar import ical
from forum.calendar.writer import to_bytes
from forum.directory.models import Person
from forum.events import calendars
from forum.events.models import Event
from forum.events.models import EventSession
from forum.extensions import db
from forum.providers import accounts
from tests.calendars import check_calendar
from tests.calendars import check_email
from tests.factories import SESSIONS
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session

DETROIT_WEEKLY = [
    "2020-02-24T15:00:00Z",
    "2020-03-02T15:00:00Z",
    "2020-03-09T14:00:00Z",  # Detroit is on EDT from 8 March: 10:00 local is 14:00 UTC
    "2020-03-16T14:00:00Z",
    "2020-03-23T14:00:00Z",
    "2020-03-30T14:00:00Z",
]
LONDON_WEEKLY = [
    "2020-03-16T09:00:00Z",
    "2020-03-23T09:00:00Z",
    "2020-03-30T08:00:00Z",  # BST from 29 March: 09:00 local is 08:00 UTC
    "2020-04-06T08:00:00Z",
]


@pytest.fixture
def world(api) -> dict[str, Any]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    umich = make_institution(api, "University of Michigan", "US", "America/Detroit")
    oxford = make_institution(api, "University of Oxford", "GB", "Europe/London")
    auckland = make_institution(api, "University of Auckland", "NZ", "Pacific/Auckland")
    return {
        "li": make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"]),
        "smith": make_person(api, "Jane Smith", "jsmith@umich.example.org", umich["id"]),
        "brown": make_person(api, "Tom Brown", "tom.brown@ox.example.org", oxford["id"]),
        "ngata": make_person(api, "Aroha Ngata", "a.ngata@auckland.example.org", auckland["id"]),
    }


def sent(app) -> list[email.message.EmailMessage]:
    return app.extensions["forum_mail_sender"].messages


def raw(message) -> bytes:
    return message.as_bytes(policy=email.policy.SMTP)


def emails_to(app, address: str) -> list[bytes]:
    return [raw(m) for m in sent(app) if address in str(m["To"])]


def feed_of(app, client, person_id: int) -> bytes:
    with app.app_context():
        url = calendars.feed_url(db.session.get(Person, person_id))
    response = client.get(url.removeprefix(app.config["FORUM_BASE_URL"]))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    return response.data


def detroit_series(api, world, **fields: Any) -> dict[str, Any]:
    event = make_event(
        api, title="Michigan-Peking exchange", kind="exchange", timezone="Asia/Shanghai"
    )
    return make_session(
        api,
        event["id"],
        title="Weekly case review",
        local_start="2020-02-24T10:00:00",
        timezone="America/Detroit",
        rrule="FREQ=WEEKLY;COUNT=6",
        invitees=[invitee(world["smith"], "chair"), invitee(world["li"])],
        **fields,
    )


def test_invite_of_a_detroit_series_across_the_us_clock_change(app, api, world):
    detroit_series(api, world)
    [li_mail] = emails_to(app, "li.wei@pku.example.org")
    [part, attachment] = check_email(li_mail, method="REQUEST", expect_utc=DETROIT_WEEKLY)
    assert part == attachment
    calendar = icalendar.Calendar.from_ical(part)
    [vevent] = calendar.walk("VEVENT")
    assert vevent["DTSTART"].params["TZID"] == "America/Detroit"
    assert b"RRULE:FREQ=WEEKLY;COUNT=6" in part
    [attendee] = [vevent["ATTENDEE"]]
    assert str(attendee) == "mailto:li.wei@pku.example.org"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION" and attendee.params["RSVP"] == "TRUE"
    assert str(vevent["ORGANIZER"]) == "mailto:organiser@example.org"
    # Each invitee sees only themself: no other address in their file.
    assert b"jsmith@umich" not in part


def test_a_london_series_keeps_9am_across_the_european_clock_change(app, api, world, client):
    event = make_event(api, title="Oxford-Peking seminar", timezone="Europe/London")
    make_session(
        api,
        event["id"],
        title="Seminar",
        local_start="2020-03-16T09:00:00",
        timezone="Europe/London",
        rrule="FREQ=WEEKLY;UNTIL=20200406T235959",
        invitees=[invitee(world["brown"], "speaker"), invitee(world["ngata"])],
    )
    [mail] = emails_to(app, "a.ngata@auckland.example.org")
    [part, _] = check_email(mail, method="REQUEST", expect_utc=LONDON_WEEKLY)
    # UNTIL is written in UTC, as RFC 5545 requires with a zoned DTSTART.
    assert b"UNTIL=20200406T225959Z" in part
    check_calendar(
        feed_of(app, client, world["ngata"]["id"]), method=None, expect_utc=LONDON_WEEKLY
    )


def test_update_moves_every_date_and_raises_sequence(app, api, world):
    series = detroit_series(api, world)
    sent(app).clear()
    response = api.patch(
        f"{SESSIONS}/{series['id']}",
        json={"local_start": "2020-02-24T11:00:00", "timezone": "America/Detroit"},
    )
    assert response.status_code == 200, response.get_json()
    [mail] = emails_to(app, "li.wei@pku.example.org")
    later = [t.replace("T15:", "T16:").replace("T14:", "T15:") for t in DETROIT_WEEKLY]
    [part, _] = check_email(mail, method="REQUEST", expect_utc=later)
    [vevent] = icalendar.Calendar.from_ical(part).walk("VEVENT")
    assert vevent["UID"] == series["ical_uid"]
    assert vevent["SEQUENCE"] == 1
    assert email.message_from_bytes(mail)["Subject"].startswith("Updated invitation")


def test_moving_and_cancelling_one_occurrence(app, api, world, client):
    series = detroit_series(api, world)
    sent(app).clear()
    occurrences = f"{SESSIONS}/{series['id']}/occurrences"
    moved = api.patch(
        f"{occurrences}/2020-03-16T14:00:00Z", json={"local_start": "2020-03-17T09:00:00"}
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["status"] == "moved"
    [mail] = emails_to(app, "li.wei@pku.example.org")
    # The REQUEST carries the override alone, with a SEQUENCE above the series'.
    [part, _] = check_email(mail, method="REQUEST", expect_utc=["2020-03-17T13:00:00Z"])
    [override] = icalendar.Calendar.from_ical(part).walk("VEVENT")
    assert override["RECURRENCE-ID"].dt.isoformat() == "2020-03-16T10:00:00-04:00"
    assert override["RECURRENCE-ID"].params["TZID"] == "America/Detroit"
    assert override["SEQUENCE"] == 1

    sent(app).clear()
    assert api.delete(f"{occurrences}/2020-03-23T14:00:00Z").status_code == 200
    [mail] = emails_to(app, "li.wei@pku.example.org")
    [part, _] = check_email(mail, method="CANCEL", expect_utc=["2020-03-23T14:00:00Z"])
    [cancelled] = icalendar.Calendar.from_ical(part).walk("VEVENT")
    assert cancelled["STATUS"] == "CANCELLED" and cancelled["SEQUENCE"] == 2

    expected = [
        "2020-02-24T15:00:00Z",
        "2020-03-02T15:00:00Z",
        "2020-03-09T14:00:00Z",
        "2020-03-17T13:00:00Z",  # moved from the 16th
        "2020-03-30T14:00:00Z",  # the 23rd is cancelled
    ]
    feed = feed_of(app, client, world["li"]["id"])
    check_calendar(feed, method=None, expect_utc=expected)
    assert b"EXDATE;TZID=America/Detroit:20200323T100000" in feed

    listed = api.get(f"{occurrences}?per_page=10").get_json()["items"]
    assert [o["status"] for o in listed] == [
        "scheduled",
        "scheduled",
        "scheduled",
        "moved",
        "cancelled",
        "scheduled",
    ]


def test_cancel_sends_method_cancel_to_everyone(app, api, world):
    series = detroit_series(api, world)
    sent(app).clear()
    assert api.delete(f"{SESSIONS}/{series['id']}").get_json()["sequence"] == 1
    assert {str(m["To"]).split("<")[-1].rstrip(">") for m in sent(app)} == {
        "li.wei@pku.example.org",
        "jsmith@umich.example.org",
    }
    for message in sent(app):
        [part, _] = check_email(raw(message), method="CANCEL", expect_utc=DETROIT_WEEKLY)
        [vevent] = icalendar.Calendar.from_ical(part).walk("VEVENT")
        assert (vevent["STATUS"], vevent["SEQUENCE"]) == ("CANCELLED", 1)
    # Cancelling again sends nothing more.
    sent(app).clear()
    api.delete(f"{SESSIONS}/{series['id']}")
    assert sent(app) == []


def test_event_calendar_is_a_publish_with_every_session(app, api, world, client):
    series = detroit_series(api, world)
    one_off = make_session(
        api,
        series["event_id"],
        title="Closing",
        start="2020-04-01T12:00:00Z",
        invitees=[invitee(world["li"])],
    )
    event = api.get(f"/api/v1/events/{series['event_id']}").get_json()
    response = client.get(event["calendar_url"].removeprefix(app.config["FORUM_BASE_URL"]))
    assert response.status_code == 200
    check_calendar(
        response.data,
        method="PUBLISH",
        expect_utc=[*DETROIT_WEEKLY, "2020-04-01T12:00:00Z"],
    )
    assert b"ATTENDEE" not in response.data and b"ORGANIZER" in response.data
    # A one-off session is written in UTC.
    assert b"DTSTART:20200401T120000Z" in response.data
    single = client.get(one_off["calendar_url"].removeprefix(app.config["FORUM_BASE_URL"]))
    check_calendar(single.data, method=None, expect_utc=["2020-04-01T12:00:00Z"])
    assert b"ORGANIZER" not in single.data


def test_wrong_tokens_get_nothing(app, api, world, client):
    series = detroit_series(api, world)
    event = api.get(f"/api/v1/events/{series['event_id']}").get_json()
    path = event["calendar_url"].removeprefix(app.config["FORUM_BASE_URL"])
    assert client.get(path[:-3] + "abc").status_code == 404
    assert client.get(path.split("?")[0]).status_code == 404
    assert client.get("/ical/feeds/1-0.abcdef.ics").status_code == 404
    session_path = series["calendar_url"].removeprefix(app.config["FORUM_BASE_URL"])
    assert client.get(session_path.replace(series["ical_uid"], "other@forum")).status_code == 404


def test_the_host_link_never_reaches_a_participant(app, api, world, client):
    # A self-hosted Jitsi with JWT: participants' links carry a guest token, the host's
    # link (organisers only) a moderator token.
    with app.app_context():
        accounts.add_account(
            name="uni-jitsi",
            kind="jitsi",
            jitsi_base_url="https://meet.example.org",
            client_id="forum-app",
            client_secret="jitsi-app-secret-0123456789",
        )
        db.session.commit()
    series = detroit_series(api, world)
    meeting = api.get(f"{SESSIONS}/{series['id']}").get_json()["meeting"]
    join, host = meeting["join_url"], meeting["host_url"]
    assert join.startswith("https://meet.example.org/") and "?jwt=" in join
    host_token = host.split("?jwt=")[1]
    assert host_token != join.split("?jwt=")[1]
    api.patch(f"{SESSIONS}/{series['id']}", json={"title": "Weekly case review (renamed)"})
    # Every part of every email, decoded (text, HTML, calendar, attachment).
    outputs = [
        part.get_payload(decode=True)
        for message in sent(app)
        for part in message.walk()
        if not part.is_multipart()
    ]
    assert len(outputs) == 16  # invites and updates to two people, four parts each
    outputs.append(feed_of(app, client, world["li"]["id"]))
    event = api.get(f"/api/v1/events/{series['event_id']}").get_json()
    outputs.append(
        client.get(event["calendar_url"].removeprefix(app.config["FORUM_BASE_URL"])).data
    )
    outputs.append(client.get(f"/p/{agenda_token_of(app, world['li']['id'])}").data)
    for output in outputs:
        # Folded lines and base64 parts: compare with line breaks and folds taken out.
        flat = output.replace(b"\r\n ", b"").replace(b"\r\n", b"")
        assert host_token.encode() not in flat
    [part, _] = check_email(emails_to(app, "li.wei@pku.example.org")[-1], method="REQUEST")
    [vevent] = icalendar.Calendar.from_ical(part).walk("VEVENT")
    join = api.get(f"{SESSIONS}/{series['id']}").get_json()["meeting"]["join_url"]
    assert str(vevent["LOCATION"]) == join and str(vevent["URL"]) == join
    assert str(vevent["CONFERENCE"]) == join and vevent["CONFERENCE"].params["VALUE"] == "URI"
    assert f"Join: {join}" in str(vevent["DESCRIPTION"])


def agenda_token_of(app, person_id: int) -> str:
    with app.app_context():
        return calendars.agenda_token(db.session.get(Person, person_id))


def test_descriptions_give_times_in_the_readers_zone_home_zone_and_utc(app, api, world, client):
    detroit_series(api, world)
    [part, _] = check_email(emails_to(app, "li.wei@pku.example.org")[0], method="REQUEST")
    description = str(icalendar.Calendar.from_ical(part).walk("VEVENT")[0]["DESCRIPTION"])
    # Li reads it in Beijing (the event's home zone too), then UTC.
    assert "Mon 24 Feb 2020 23:00–Tue 25 Feb 2020 00:00 (Beijing, Asia/Shanghai)" in description
    assert "Mon 24 Feb 2020 15:00–16:00 (UTC)" in description
    # The clock change moves the Beijing time of the Detroit series: the description says so.
    assert "from Mon 09 Mar 2020 it is 22:00 in Asia/Shanghai" in description
    [smith, _] = check_email(emails_to(app, "jsmith@umich.example.org")[0], method="REQUEST")
    smith_text = str(icalendar.Calendar.from_ical(smith).walk("VEVENT")[0]["DESCRIPTION"])
    assert smith_text.index("(America/Detroit)") < smith_text.index("(Beijing, Asia/Shanghai)")


# --- injection and the writer ---------------------------------------------------------------


def test_line_breaks_typed_into_titles_are_refused_by_the_api(api, world):
    event = make_event(api)
    response = api.post(
        f"/api/v1/events/{event['id']}/sessions",
        json={
            "title": "Plenary\r\nATTENDEE:mailto:evil@example.org",
            "start": "2027-01-01T10:00:00Z",
            "duration_minutes": 60,
        },
    )
    assert response.status_code == 422


EVIL = 'Dr. Chen, Li; "the" chair\r\nATTENDEE:mailto:evil@example.org\r\n X-INJECTED:1\nEND:VEVENT'


def test_line_breaks_and_folds_stored_anyway_cannot_add_a_property(app, api, world, client):
    series = detroit_series(api, world)
    with app.app_context():
        # Straight into the database, past the API's checks: the writer must hold alone.
        session = db.session.get(EventSession, series["id"])
        session.title = EVIL
        db.session.get(Event, series["event_id"]).description = EVIL
        db.session.get(Person, world["li"]["id"]).name = EVIL
        db.session.commit()
    sent(app).clear()
    with app.app_context():
        invitation = next(
            i
            for i in db.session.get(EventSession, series["id"]).invitations
            if i.person_id == world["li"]["id"]
        )
        files = [
            calendars.invite_file(invitation, method="REQUEST"),
            calendars.invite_file(invitation, method="CANCEL"),
        ]
    files.append(feed_of(app, client, world["li"]["id"]))
    for data in files:
        parsed = icalendar.Calendar.from_ical(data)
        for vevent in parsed.walk("VEVENT"):
            assert "X-INJECTED" not in vevent
            attendees = vevent.get("ATTENDEE", [])
            assert not isinstance(attendees, list) or len(attendees) <= 1
            summary = str(vevent["SUMMARY"])
            assert "\n" not in summary and "\r" not in summary
            assert "X-INJECTED:1" in summary or "X-INJECTED:1" in str(vevent["DESCRIPTION"])
        addresses = [
            str(value)
            for vevent in parsed.walk("VEVENT")
            for name in ("ATTENDEE", "ORGANIZER")
            for value in (
                vevent.get(name) if isinstance(vevent.get(name), list) else [vevent.get(name)]
            )
            if value is not None
        ]
        assert "mailto:evil@example.org" not in addresses
        assert len(parsed.walk("VEVENT")) == 1
    attendee = icalendar.Calendar.from_ical(files[0]).walk("VEVENT")[0]["ATTENDEE"]
    assert str(attendee) == "mailto:li.wei@pku.example.org"
    # The name arrives whole, its line breaks turned into spaces, its quotes kept (RFC 6868).
    assert attendee.params["CN"] == EVIL.replace("\r\n", " ").replace("\n", " ")


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)


@settings(max_examples=150, deadline=None)
@given(
    summary=text,
    description=text,
    name=text,
    join=st.sampled_from([None, "https://j.example.org/a,b;c"]),
)
def test_the_writer_gives_the_bytes_icalendar_gives(summary, description, name, join):
    import datetime as dt

    entry = ical.SessionEntry(
        uid="u1@forum",
        sequence=3,
        summary=summary or "x",
        description=description,
        start=dt.datetime(2027, 3, 1, 13, tzinfo=dt.UTC),
        end=dt.datetime(2027, 3, 1, 14, tzinfo=dt.UTC),
        timezone="America/Detroit",
        rrule="FREQ=WEEKLY;COUNT=3",
        join_url=join,
        organizer=ical.Person("o@example.org", name or "o"),
        attendees=(ical.Attendee("a@example.org", name, "chair", True, "accepted"),),
    )
    components = ical.session_components(
        entry, stamp=dt.datetime(2027, 1, 1, tzinfo=dt.UTC), scheduling=True, organizer=True
    )
    calendar = icalendar.Calendar()
    calendar.add("prodid", ical.PRODID)
    calendar.add("version", "2.0")
    for component in components:
        calendar.add_component(component)
    assert to_bytes(calendar) == calendar.to_ical()
    parsed = icalendar.Calendar.from_ical(to_bytes(calendar)).walk("VEVENT")[0]
    # icalendar reads a typed "\N" as a line break, as RFC 5545 section 3.3.11 allows.
    expected = description.replace("\\N", "\n").replace("\r\n", "\n").replace("\r", "\n")
    assert str(parsed["DESCRIPTION"]) == expected


SYDNEY_WEEKLY = [
    "2020-03-22T22:00:00Z",  # Monday 09:00 AEDT (+11)
    "2020-03-29T22:00:00Z",
    "2020-04-05T23:00:00Z",  # AEST (+10) from 5 April
    "2020-04-12T23:00:00Z",
]


def test_a_sydney_series_read_across_the_date_line(app, api, client):
    sydney = make_institution(api, "University of Sydney", "AU", "Australia/Sydney")
    kiribati = make_institution(api, "University of the South Pacific", "KI", "Pacific/Kiritimati")
    chair = make_person(api, "Emma Jones", "e.jones@sydney.example.org", sydney["id"])
    guest = make_person(api, "Teiti Tabai", "t.tabai@usp.example.org", kiribati["id"])
    event = make_event(api, title="Pacific network", timezone="Australia/Sydney")
    make_session(
        api,
        event["id"],
        title="Network call",
        local_start="2020-03-23T09:00:00",
        timezone="Australia/Sydney",
        rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=4",
        invitees=[invitee(chair, "chair"), invitee(guest)],
    )
    [mail] = emails_to(app, "t.tabai@usp.example.org")
    [part, _] = check_email(mail, method="REQUEST", expect_utc=SYDNEY_WEEKLY)
    description = str(icalendar.Calendar.from_ical(part).walk("VEVENT")[0]["DESCRIPTION"])
    # Kiritimati (UTC+14) reads Monday 12:00 while Sydney is on summer time, then 13:00.
    assert "Mon 23 Mar 2020 12:00–13:00 (Pacific/Kiritimati)" in description
    assert "from Mon 06 Apr 2020 it is 13:00 in Pacific/Kiritimati" in description
    check_calendar(feed_of(app, client, guest["id"]), method=None, expect_utc=SYDNEY_WEEKLY)


folded_text = st.text(
    st.sampled_from(["a", " ", "\\", "^", ",", ";", "é", "北", "𝄞", "\n", '"']), max_size=600
)


@settings(max_examples=300, deadline=None)
@given(value=folded_text)
def test_long_lines_fold_exactly_as_icalendar_folds_them(value):
    event = icalendar.Event()
    event.add("description", value)
    event.add("summary", value.replace("\n", " ") or "x")
    assert to_bytes(event) == event.to_ical()


def test_an_answer_shows_as_partstat_in_the_next_invite(app, api, world, client):
    series = detroit_series(api, world)
    with app.app_context():
        invitation = next(
            i
            for i in db.session.get(EventSession, series["id"]).invitations
            if i.person_id == world["li"]["id"]
        )
        link = calendars.rsvp_url(invitation).removeprefix(app.config["FORUM_BASE_URL"])
    assert client.post(link, data={"answer": "tentative"}).status_code == 303
    sent(app).clear()
    api.patch(f"{SESSIONS}/{series['id']}", json={"title": "Weekly case review (2020)"})
    [mail] = emails_to(app, "li.wei@pku.example.org")
    [part, _] = check_email(mail, method="REQUEST", expect_utc=DETROIT_WEEKLY)
    attendee = icalendar.Calendar.from_ical(part).walk("VEVENT")[0]["ATTENDEE"]
    assert attendee.params["PARTSTAT"] == "TENTATIVE"
    # A new time asks again: the answer was for the old one.
    sent(app).clear()
    api.patch(f"{SESSIONS}/{series['id']}", json={"duration_minutes": 90})
    [mail] = emails_to(app, "li.wei@pku.example.org")
    [part, _] = check_email(mail, method="REQUEST", expect_utc=DETROIT_WEEKLY)
    attendee = icalendar.Calendar.from_ical(part).walk("VEVENT")[0]["ATTENDEE"]
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
