"""Reminders before each occurrence: once per invitee, occurrence and lead, with real
databases, the real job and its inline email jobs, read back from the memory sender.

The job runs "as of" a moment (its ``at``), as an operator may run it; invitations are
recorded at the real time of the test, before every session booked here.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from forum.core.times import format_instant
from forum.db import now_utc
from forum.extensions import db
from forum.notifications.models import EmailMessage
from forum.reminders import reminders
from forum.reminders.models import SessionReminder
from tests.factories import SESSIONS
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.test_web import log_in
from tests.test_web_events import post_form

START = dt.datetime(2027, 3, 10, 13, 0, tzinfo=dt.UTC)  # Wed 21:00 in Beijing


@pytest.fixture
def people(api) -> dict[str, dict[str, Any]]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    umich = make_institution(api, "University of Michigan", "US", "America/Detroit")
    return {
        "li": make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"]),
        "smith": make_person(api, "Jane Smith", "jsmith@umich.example.org", umich["id"]),
    }


def person_in(api, zone: str, name: str) -> dict[str, Any]:
    email = name.lower().replace(" ", ".") + "@example.org"
    return make_person(api, name, email, None, timezone=zone)


def book_call(api, invitees: list[dict[str, Any]], *, start=START, **fields) -> dict[str, Any]:
    event_fields = {k: fields.pop(k) for k in ("reminder_minutes", "timezone") if k in fields}
    event = make_event(
        api,
        title="PKU-Michigan exchange",
        kind="exchange",
        **{"timezone": "Asia/Shanghai", **event_fields},
    )
    return make_session(
        api,
        event["id"],
        title="Case conference",
        start=format_instant(start),
        invitees=invitees,
        **fields,
    )


def remind(app, at: dt.datetime | None) -> dict[str, int]:
    task = app.extensions["celery"].tasks["forum.send_reminders"]
    return task.apply(kwargs={"at": format_instant(at) if at else None}).get()


def sent_reminders(app) -> list:
    return [
        m
        for m in app.extensions["forum_mail_sender"].messages
        if m["Subject"].startswith("Reminder:")
    ]


def to(app, address: str) -> list:
    return [m for m in sent_reminders(app) if address in m["To"]]


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def recorded(app) -> list[tuple[int, int]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(SessionReminder.person_id, SessionReminder.lead_minutes).order_by(
                SessionReminder.id
            )
        )
        return [tuple(row) for row in rows]


def refused_field(response) -> None:
    """A 422 whose details name reminder_minutes (or one of its values)."""
    assert response.status_code == 422, response.get_json()
    fields = response.get_json()["error"]["details"]["fields"]
    assert fields and all(name.startswith("reminder_minutes") for name in fields), fields


# --- once each ---------------------------------------------------------------------------------


def test_each_invitee_gets_each_lead_once_however_often_the_job_runs(app, api, people):
    book_call(api, [invitee(people["li"], "chair"), invitee(people["smith"], "speaker")])

    assert remind(app, START - dt.timedelta(hours=25)) == {"sent": 0, "failed": 0}
    assert remind(app, START - dt.timedelta(hours=23, minutes=59)) == {"sent": 2, "failed": 0}
    assert remind(app, START - dt.timedelta(hours=22)) == {"sent": 0, "failed": 0}
    day_ahead = sent_reminders(app)
    assert sorted(m["To"].addresses[0].addr_spec for m in day_ahead) == [
        "jsmith@umich.example.org",
        "li.wei@pku.example.org",
    ]
    assert all("starts in 24 hours" in m["Subject"] for m in day_ahead)

    # The hour-ahead reminder comes after the day-ahead one.
    assert remind(app, START - dt.timedelta(minutes=59))["sent"] == 2
    assert remind(app, START - dt.timedelta(minutes=30))["sent"] == 0
    assert remind(app, START + dt.timedelta(minutes=5))["sent"] == 0  # started: none
    hour_ahead = sent_reminders(app)[2:]
    assert all("starts in 1 hour " in m["Subject"] for m in hour_ahead)
    assert len(sent_reminders(app)) == 4
    assert sorted(lead for _, lead in recorded(app)) == [60, 60, 1440, 1440]
    with app.app_context():
        statuses = db.session.scalars(
            sa.select(EmailMessage.status).where(EmailMessage.kind == "reminder")
        ).all()
    assert statuses == ["sent"] * 4


def test_two_workers_at_once_send_each_reminder_once(app, api, people):
    others = [person_in(api, "Europe/London", f"Guest {n}") for n in range(4)]
    book_call(api, [invitee(p) for p in (people["li"], people["smith"], *others)])
    at = START - dt.timedelta(minutes=50)
    barrier = threading.Barrier(3)
    results: list[Any] = []

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            try:
                run = reminders.send_reminders(now=at)
                # A worker that met the other's rows skips them: nothing fails.
                results.append(run.failed or len(run.sent))
            except Exception as error:  # noqa: BLE001 (reported below)
                results.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 6
    assert len(sent_reminders(app)) == 6
    assert sorted(m["To"].addresses[0].addr_spec for m in sent_reminders(app)) == sorted(
        p["email"] for p in (people["li"], people["smith"], *others)
    )
    assert len(recorded(app)) == 6


def test_only_the_shortest_due_lead_goes_when_the_job_was_down(app, api, people):
    book_call(api, [invitee(people["li"])])

    # Down for a day: at 45 minutes before, both leads are due; one email goes, and says
    # how soon the meeting really starts.
    assert remind(app, START - dt.timedelta(minutes=45))["sent"] == 1
    assert remind(app, START - dt.timedelta(minutes=40))["sent"] == 0
    [message] = sent_reminders(app)
    assert "starts in 45 minutes" in message["Subject"]
    assert recorded(app) == [(people["li"]["id"], 60)]


def test_someone_invited_three_hours_ahead_gets_the_hour_reminder_only(app, api, people):
    start = now_utc() + dt.timedelta(hours=3)
    book_call(api, [invitee(people["li"])], start=start)

    assert remind(app, None)["sent"] == 0  # the day-ahead moment passed before they were invited
    assert remind(app, start - dt.timedelta(hours=2))["sent"] == 0
    assert remind(app, start - dt.timedelta(minutes=59))["sent"] == 1
    [message] = sent_reminders(app)
    assert "starts in 1 hour" in message["Subject"]


def test_a_cancelled_date_of_a_series_and_a_cancelled_session_get_none(app, api, people):
    series = book_call(api, [invitee(people["li"])], rrule="FREQ=WEEKLY;COUNT=3")
    second = START + dt.timedelta(weeks=1)
    response = api.delete(f"{SESSIONS}/{series['id']}/occurrences/{format_instant(second)}")
    assert response.status_code in (200, 204), response.get_json()

    assert remind(app, START - dt.timedelta(minutes=30))["sent"] == 1
    assert remind(app, second - dt.timedelta(minutes=30))["sent"] == 0
    third = START + dt.timedelta(weeks=2)
    assert remind(app, third - dt.timedelta(minutes=30))["sent"] == 1

    single = book_call(api, [invitee(people["smith"])], start=START + dt.timedelta(days=30))
    assert api.delete(f"{SESSIONS}/{single['id']}").status_code in (200, 204)
    assert remind(app, START + dt.timedelta(days=30, minutes=-30))["sent"] == 0
    assert not to(app, "jsmith@umich.example.org")


def test_a_moved_date_is_reminded_at_its_new_time_under_its_original_start(app, api, people):
    series = book_call(
        api, [invitee(people["li"])], rrule="FREQ=WEEKLY;COUNT=2", reminder_minutes=[60]
    )
    second = START + dt.timedelta(weeks=1)
    moved = second + dt.timedelta(hours=2)
    response = api.patch(
        f"{SESSIONS}/{series['id']}/occurrences/{format_instant(second)}",
        json={"start": format_instant(moved), "duration_minutes": 60},
    )
    assert response.status_code == 200, response.get_json()

    assert remind(app, second - dt.timedelta(minutes=30))["sent"] == 0  # no longer then
    assert remind(app, moved - dt.timedelta(minutes=30))["sent"] == 1
    [message] = sent_reminders(app)
    assert "Wed 17 Mar 2027 23:00" in text_of(message)  # 15:00Z in Beijing
    with app.app_context():
        [row] = db.session.scalars(sa.select(SessionReminder)).all()
        assert row.occurrence_start == second


def test_a_person_with_reminders_off_gets_none(app, api, people):
    response = api.patch(f"/api/v1/people/{people['smith']['id']}", json={"reminders": False})
    assert response.status_code == 200 and response.get_json()["reminders"] is False
    book_call(api, [invitee(people["li"]), invitee(people["smith"])])

    assert remind(app, START - dt.timedelta(minutes=30))["sent"] == 1
    assert to(app, "li.wei@pku.example.org")
    assert not to(app, "jsmith@umich.example.org")


def test_an_event_chooses_its_leads(app, api, people):
    session = book_call(api, [invitee(people["li"])], reminder_minutes=[120])
    event_id = session["event_id"]
    assert api.get(f"/api/v1/events/{event_id}").get_json()["reminder_minutes"] == [120]

    assert remind(app, START - dt.timedelta(hours=23))["sent"] == 0
    assert remind(app, START - dt.timedelta(minutes=119))["sent"] == 1
    assert remind(app, START - dt.timedelta(minutes=30))["sent"] == 0
    [message] = sent_reminders(app)
    assert "starts in 2 hours" in message["Subject"]

    quiet = book_call(
        api, [invitee(people["smith"])], start=START + dt.timedelta(days=1), reminder_minutes=[]
    )
    assert api.get(f"/api/v1/events/{quiet['event_id']}").get_json()["reminder_minutes"] == []
    assert remind(app, START + dt.timedelta(days=1, minutes=-30))["sent"] == 0


@pytest.mark.parametrize(
    "value",
    [[4], [40321], [60, 60], [10, 20, 30, 40, 50, 60], ["60"], [60.5], 60, [True]],
)
def test_bad_reminder_minutes_are_refused_naming_the_field(api, row_count, value):
    response = api.post(
        "/api/v1/events", json={"title": "T", "kind": "forum", "reminder_minutes": value}
    )
    refused_field(response)
    assert row_count("events") == 0


def test_reminder_minutes_change_with_a_patch_and_a_person_is_created_with_reminders_off(api):
    event = make_event(api, reminder_minutes=[60, 2880])
    assert event["reminder_minutes"] == [2880, 60]  # longest first
    changed = api.patch(f"/api/v1/events/{event['id']}", json={"reminder_minutes": [30]})
    assert changed.get_json()["reminder_minutes"] == [30]
    refused = api.patch(f"/api/v1/events/{event['id']}", json={"reminder_minutes": [1]})
    refused_field(refused)
    person = make_person(api, "Quiet", "quiet@example.org", None, timezone="UTC", reminders=False)
    assert person["reminders"] is False


def test_the_command_sends_as_of_a_moment_and_says_what_it_sent(app, api, people, runner):
    book_call(api, [invitee(people["li"])])
    at = format_instant(START - dt.timedelta(minutes=45))

    result = runner.invoke(args=["forum", "send-reminders", "--at", at])

    assert result.exit_code == 0, result.output
    assert "reminded li.wei@pku.example.org of session" in result.output
    assert "1 reminders sent" in result.output
    again = runner.invoke(args=["forum", "send-reminders", "--at", at])
    assert "0 reminders sent" in again.output
    bad = runner.invoke(args=["forum", "send-reminders", "--at", "tomorrow"])
    assert bad.exit_code == 2


# --- what the email says -----------------------------------------------------------------------


def test_the_reminder_shows_the_time_where_the_reader_is_then_home_and_utc(app, api, people):
    book_call(api, [invitee(people["li"], "chair"), invitee(people["smith"], "speaker")])
    remind(app, START - dt.timedelta(minutes=58))

    [smith] = to(app, "jsmith@umich.example.org")
    body = text_of(smith)
    lines = [line.strip() for line in body.splitlines() if "(" in line and "Mar 2027" in line]
    assert lines == [
        "Wed 10 Mar 2027 08:00–09:00 (America/Detroit)",
        "Wed 10 Mar 2027 21:00–22:00 (Beijing, Asia/Shanghai)",
        "Wed 10 Mar 2027 13:00–14:00 (UTC)",
    ]
    assert "starts in 1 hour" in body
    assert "Your role: speaker" in body
    assert "Join: https://" in body
    assert "/agenda/" in body or "agenda" in body
    html = html_of(smith)
    assert "<strong>Wed 10 Mar 2027 08:00–09:00 (America/Detroit)</strong>" in html
    assert 'href="https://' in html
    assert smith.get_content_type() == "multipart/alternative"
    assert not any(part.get_content_type() == "text/calendar" for part in smith.walk())

    [li] = to(app, "li.wei@pku.example.org")
    assert "Your role: chair" in text_of(li)
    assert [line.strip() for line in text_of(li).splitlines() if "Mar 2027 " in line] == [
        "Wed 10 Mar 2027 21:00–22:00 (Beijing, Asia/Shanghai)",
        "Wed 10 Mar 2027 13:00–14:00 (UTC)",
    ]


@pytest.mark.parametrize(
    ("local_start", "zone", "expected"),
    [
        # 23:30 in Beijing is already Thursday in Auckland (NZDT, UTC+13).
        ("2027-03-10T23:30:00", "Pacific/Auckland", "Thu 11 Mar 2027 04:30–05:00"),
        # 08:30 in Beijing is still Tuesday evening in Ann Arbor (EST, UTC-5).
        ("2027-03-10T08:30:00", "America/Detroit", "Tue 09 Mar 2027 19:30–20:00"),
    ],
)
def test_a_day_that_wraps_shows_the_readers_own_date(app, api, local_start, zone, expected):
    reader = person_in(api, zone, "Far Reader")
    event = make_event(api, title="Deans' call", kind="bilateral", timezone="Asia/Shanghai")
    session = make_session(
        api,
        event["id"],
        local_start=local_start,
        timezone="Asia/Shanghai",
        duration_minutes=30,
        invitees=[invitee(reader)],
    )
    start = dt.datetime.fromisoformat(session["start"].replace("Z", "+00:00"))
    remind(app, start - dt.timedelta(minutes=30))

    [message] = sent_reminders(app)
    first = text_of(message).split(":\n", 1)[1].splitlines()[0].strip()
    assert first == f"{expected} ({zone})"
    assert f"Wed 10 Mar 2027 {local_start[11:16]}" in text_of(message)  # Beijing, home zone


def test_a_weekly_series_across_clock_changes_keeps_beijing_time_and_moves_elsewhere(app, api):
    readers = {
        zone: person_in(api, zone, f"Reader {n}")
        for n, zone in enumerate(
            [
                "America/Detroit",
                "Australia/Sydney",
                "Europe/London",
                "Pacific/Apia",
                "Asia/Shanghai",
            ]
        )
    }
    event = make_event(api, title="Case series", kind="series", timezone="Asia/Shanghai")
    make_session(
        api,
        event["id"],
        local_start="2027-03-10T21:00:00",
        timezone="Asia/Shanghai",
        rrule="FREQ=WEEKLY;COUNT=5",
        invitees=[invitee(p) for p in readers.values()],
    )
    for week in range(5):
        assert remind(app, START + dt.timedelta(weeks=week, minutes=-30))["sent"] == 5

    def firsts(zone: str) -> list[str]:
        return [
            text_of(m).split(":\n", 1)[1].splitlines()[0].strip()
            for m in to(app, readers[zone]["email"])
        ]

    assert firsts("America/Detroit") == [  # EDT from 14 March
        "Wed 10 Mar 2027 08:00–09:00 (America/Detroit)",
        "Wed 17 Mar 2027 09:00–10:00 (America/Detroit)",
        "Wed 24 Mar 2027 09:00–10:00 (America/Detroit)",
        "Wed 31 Mar 2027 09:00–10:00 (America/Detroit)",
        "Wed 07 Apr 2027 09:00–10:00 (America/Detroit)",
    ]
    assert firsts("Australia/Sydney") == [  # AEDT until 4 April
        "Thu 11 Mar 2027 00:00–01:00 (Australia/Sydney)",
        "Thu 18 Mar 2027 00:00–01:00 (Australia/Sydney)",
        "Thu 25 Mar 2027 00:00–01:00 (Australia/Sydney)",
        "Thu 01 Apr 2027 00:00–01:00 (Australia/Sydney)",
        "Wed 07 Apr 2027 23:00–Thu 08 Apr 2027 00:00 (Australia/Sydney)",
    ]
    assert firsts("Europe/London") == [  # BST from 28 March
        "Wed 10 Mar 2027 13:00–14:00 (Europe/London)",
        "Wed 17 Mar 2027 13:00–14:00 (Europe/London)",
        "Wed 24 Mar 2027 13:00–14:00 (Europe/London)",
        "Wed 31 Mar 2027 14:00–15:00 (Europe/London)",
        "Wed 07 Apr 2027 14:00–15:00 (Europe/London)",
    ]
    assert firsts("Pacific/Apia") == [  # UTC+13 across the date line, no DST
        f"Thu {day} 2027 02:00–03:00 (Pacific/Apia)"
        for day in ("11 Mar", "18 Mar", "25 Mar", "01 Apr", "08 Apr")
    ]
    assert firsts("Asia/Shanghai") == [
        f"Wed {day} 2027 21:00–22:00 (Beijing, Asia/Shanghai)"
        for day in ("10 Mar", "17 Mar", "24 Mar", "31 Mar", "07 Apr")
    ]


def test_the_event_form_sets_the_leads(app, client, api):
    assert log_in(client, "organiser@example.org").status_code == 302
    page = client.get("/events/new").text
    assert 'value="1440, 60"' in page

    response = post_form(
        client,
        "/events/new",
        {
            "title": "Board",
            "kind": "forum",
            "timezone": "Asia/Shanghai",
            "default_provider": "jitsi",
            "reminder_minutes": "120, 15",
        },
    )
    assert response.status_code == 303, response.text
    event_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert api.get(f"/api/v1/events/{event_id}").get_json()["reminder_minutes"] == [120, 15]
    assert 'value="120, 15"' in client.get(f"/events/{event_id}/edit").text

    refused = post_form(
        client,
        f"/events/{event_id}/edit",
        {
            "title": "Board",
            "kind": "forum",
            "timezone": "Asia/Shanghai",
            "default_provider": "jitsi",
            "status": "active",
            "reminder_minutes": "soon",
        },
    )
    assert refused.status_code == 422
    assert "whole number" in refused.text
    assert api.get(f"/api/v1/events/{event_id}").get_json()["reminder_minutes"] == [120, 15]
