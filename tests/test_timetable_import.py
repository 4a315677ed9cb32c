"""Timetable import: a term's courses all or nothing, holidays as EXDATEs, DST across the
term, the invitations sent in batches from a cursor, and the command line."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from forum.events.models import Event
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.extensions import db
from forum.timetables import calendar
from forum.timetables import sending
from forum.timetables.models import Term
from forum.timetables.models import TimetableImport
from tests.helpers import assert_error
from tests.smtp_server import smtp_settings

IMPORT = "/api/v1/timetables/import"
HEADER = "course_code,title,teachers,weekday,start,minutes,weeks,students"
BEIJING = {
    "name": "Spring 2020",
    "first_day": "2020-02-17",
    "weeks": "16",
    "timezone": "Asia/Shanghai",
    "country": "CN",
}
TABLES = (
    "terms",
    "timetable_imports",
    "events",
    "event_participants",
    "sessions",
    "video_meetings",
    "invitations",
    "email_messages",
)


@pytest.fixture
def app_settings(request) -> dict[str, Any]:
    return getattr(request, "param", {})


def add_people(api, *people: tuple[str, str, str]) -> None:
    """People (name, email, zone) through the directory import, in English unless told."""
    lines = ["name,email,timezone,locale"]
    lines += [f"{name},{email},{zone},{locale}" for name, email, zone, locale in people]
    response = api.post(
        "/api/v1/people/import",
        data=("\n".join(lines) + "\n").encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.get_json()


@pytest.fixture
def pku(api):
    add_people(
        api,
        ("Wang Fang", "wang.fang@pku.example.org", "Asia/Shanghai", "zh"),
        ("Li Wei", "li.wei@pku.example.org", "Asia/Shanghai", "zh"),
        ("Zhang Min", "zhang.min@pku.example.org", "Asia/Shanghai", "zh"),
        ("Ana Costa", "ana.costa@example.org", "Europe/Lisbon", "en"),
        ("Tom Reid", "tom.reid@example.org", "Europe/London", "en"),
    )
    return api


def post_csv(api, lines: list[str], **term: Any):
    query = {**BEIJING, **term}
    return api.post(
        IMPORT,
        query_string={k: v for k, v in query.items() if v is not None},
        data=("\n".join([HEADER, *lines]) + "\n").encode(),
        headers={"Content-Type": "text/csv"},
    )


def created(response) -> dict[str, Any]:
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- the calendar ------------------------------------------------------------------------------


def test_beijing_2020_holiday_periods_are_qingming_and_labour_day():
    first = dt.date(2020, 2, 17)
    periods = calendar.holiday_periods("CN", None, first, calendar.last_day(first, 16))
    assert [(p.start, p.end) for p in periods] == [
        (dt.date(2020, 4, 4), dt.date(2020, 4, 6)),
        (dt.date(2020, 5, 1), dt.date(2020, 5, 5)),
    ]


def test_weeks_and_meeting_dates():
    assert calendar.parse_weeks("1-8,10-16") == [*range(1, 9), *range(10, 17)]
    assert calendar.parse_weeks("2,4,6") == [2, 4, 6]
    for bad in ("", "0-3", "5-2", "1-x", "1-17"):
        with pytest.raises(ValueError):
            calendar.parse_weeks(bad, term_weeks=16)
    # A term starting on a Wednesday: week 1's Monday is the 6th day.
    assert calendar.meeting_dates(dt.date(2020, 2, 19), 0, [1, 2]) == [
        dt.date(2020, 2, 24),
        dt.date(2020, 3, 2),
    ]


# --- all or nothing ------------------------------------------------------------------------------


def test_one_bad_row_writes_nothing_and_every_problem_is_listed(pku, row_count):
    good = "MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,90,1-16,li.wei@pku.example.org"
    response = post_csv(
        pku,
        [
            good,
            "MATH101,Calculus II,wang.fang@pku.example.org,wed,08:00,90,1-16,",
            "PHYS101,Physics,nobody@pku.example.org,tue,08:00,90,1-16,",
            "CHEM101,Chemistry,wang.fang@pku.example.org,someday,25:00,0,1-20,",
        ],
    )
    error = assert_error(response, 422, "validation_error", "rows")
    rows = {(row["line"], row["field"]) for row in error["details"]["rows"]}
    assert rows == {
        (3, "title"),
        (4, "teachers"),
        (5, "weekday"),
        (5, "start"),
        (5, "minutes"),
        (5, "weeks"),
    }
    messages = {row["field"]: row["message"] for row in error["details"]["rows"]}
    assert "nobody@pku.example.org" in messages["teachers"]
    assert "week 20" in messages["weeks"]
    for table in TABLES:
        assert row_count(table) == 0, table


def test_a_course_code_already_in_the_term_is_refused(pku, row_count):
    line = "MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,90,1-16,li.wei@pku.example.org"
    created(post_csv(pku, [line]))
    before = {table: row_count(table) for table in TABLES}
    again = post_csv(pku, [line.replace("mon", "tue")])
    error = assert_error(again, 422, "validation_error", "rows")
    assert [(r["line"], r["field"]) for r in error["details"]["rows"]] == [(2, "course_code")]
    assert {table: row_count(table) for table in TABLES} == before


def test_a_term_given_again_must_be_the_same_term(pku):
    line = "MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,90,1-16,"
    created(post_csv(pku, [line]))
    other = post_csv(pku, [line.replace("MATH101", "MATH102")], first_day="2020-02-24")
    assert_error(other, 422, "validation_error", "first_day")


def test_term_fields_are_named_when_wrong(pku):
    response = post_csv(
        pku,
        ["MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,90,1-16,"],
        first_day="17/02/2020",
        timezone="Asia/Peking",
        country="ZZ",
        weeks="0",
    )
    assert_error(response, 422, "validation_error", "first_day", "timezone", "country", "weeks")


# --- holidays become EXDATEs -------------------------------------------------------------------


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The dates of 4-6 April and 1-5 May 2020 each weekday's course would have met on.
HOLIDAY_MEETINGS = {
    "mon": ["2020-04-06", "2020-05-04"],
    "tue": ["2020-05-05"],
    "wed": [],
    "thu": [],
    "fri": ["2020-05-01"],
    "sat": ["2020-04-04", "2020-05-02"],
    "sun": ["2020-04-05", "2020-05-03"],
}


@pytest.mark.parametrize("app_settings", [{"MAIL_BACKEND": "smtp"}], indirect=True)
def test_holidays_become_exdates_in_the_session_and_in_the_students_invite(app, pku, smtp_server):
    app.config.update(smtp_settings(smtp_server))
    app.extensions.pop("forum_mail_sender", None)
    lines = [
        f"C{n},Course {day},wang.fang@pku.example.org,{day},10:00,90,1-16,ana.costa@example.org"
        for n, day in enumerate(WEEKDAYS)
    ]
    body = created(post_csv(pku, lines))

    assert body["term"]["excluded_dates"] == [
        {"date": "2020-04-04", "name": "Tomb-Sweeping Day"},
        {"date": "2020-04-05", "name": "Tomb-Sweeping Day"},
        {"date": "2020-04-06", "name": "Tomb-Sweeping Day"},
        {"date": "2020-05-01", "name": "Labor Day"},
        {"date": "2020-05-02", "name": "Labor Day"},
        {"date": "2020-05-03", "name": "Labor Day"},
        {"date": "2020-05-04", "name": "Labor Day"},
        {"date": "2020-05-05", "name": "Labor Day"},
    ]
    assert (body["courses"], body["sessions"], body["invitations_total"]) == (7, 7, 14)
    # 10:00 in Beijing is 02:00 UTC all year.
    with app.app_context():
        stored = {
            code: session
            for code, session in db.session.execute(
                sa.select(Event.course_code, EventSession).join(EventSession.event)
            ).all()
        }
        for n, day in enumerate(WEEKDAYS):
            session = stored[f"C{n}"]
            assert session.exdates == [f"{d}T02:00:00Z" for d in HOLIDAY_MEETINGS[day]], day
            assert session.rrule == f"FREQ=WEEKLY;BYDAY={day[:2].upper()};COUNT=16"
            assert session.event.kind == "series"

    # Everything is sent: the import is small, its batches follow each other inline.
    with app.app_context():
        while sending.send_next_batch(body["id"]).status == "sending":
            pass
    progress = pku.get(f"/api/v1/timetable-imports/{body['id']}").get_json()
    assert (progress["status"], progress["invitations_sent"], progress["progress"]) == (
        "done",
        14,
        1.0,
    )
    invites = [r for r in smtp_server.received if r.rcpt_tos == ["ana.costa@example.org"]]
    assert len(invites) == 7
    with app.app_context():
        from forum.events.models import VideoMeeting

        # No broker: the sender opened each meeting before its first invitations went.
        links = [m.join_url for m in db.session.scalars(sa.select(VideoMeeting))]
        assert len(links) == 7 and all(links)
    for item in invites:
        text = next(p for p in item.message.walk() if p.get_content_type() == "text/plain")
        assert any(link in text.get_content() for link in links)
    found: dict[str, list[str]] = {}
    for item in invites:
        ics = next(p for p in item.message.walk() if p.get_content_type() == "text/calendar")
        event = next(c for c in Calendar.from_ical(ics.get_content()).walk("VEVENT"))
        day = str(event["RRULE"]["BYDAY"][0]).lower()
        exdates = event.get("EXDATE")
        exdates = exdates if isinstance(exdates, list) else [exdates] if exdates else []
        found[day] = sorted(
            d.dt.astimezone(dt.UTC).strftime("%Y-%m-%d") for x in exdates for d in x.dts
        )
    assert found == {day[:2]: dates for day, dates in HOLIDAY_MEETINGS.items()}


def test_no_holidays_when_asked(pku):
    body = created(
        post_csv(
            pku,
            ["MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,90,1-16,"],
            skip_holidays="false",
        )
    )
    assert body["term"]["excluded_dates"] == []


def test_weeks_not_taught_are_exdates_too(app, pku):
    body = created(
        post_csv(pku, ['MATH101,Calculus,wang.fang@pku.example.org,wed,08:00,90,"2-4,6-7",'])
    )
    with app.app_context():
        session = db.session.scalar(sa.select(EventSession))
        # From week 2 (26 February) to week 7, without week 5 (18 March).
        assert session.start == dt.datetime(2020, 2, 26, 0, 0, tzinfo=dt.UTC)
        assert session.rrule == "FREQ=WEEKLY;BYDAY=WE;COUNT=6"
        assert session.exdates == ["2020-03-18T00:00:00Z"]
    assert body["sessions"] == 1


# --- DST across the term -----------------------------------------------------------------------


LONDON = {
    "name": "Summer term 2020",
    "first_day": "2020-03-02",
    "weeks": "8",
    "timezone": "Europe/London",
    "country": "GB",
    "subdivision": "ENG",
}


def test_a_london_term_keeps_its_local_time_across_the_clock_change(app, pku):
    body = created(
        post_csv(
            pku,
            ["ECON1,Economics,tom.reid@example.org,mon,09:00,60,1-8,ana.costa@example.org"],
            **LONDON,
        )
    )
    # Good Friday and Easter Monday (10-13 April 2020) are left out.
    assert [d["date"] for d in body["term"]["excluded_dates"]] == [
        "2020-04-10",
        "2020-04-11",
        "2020-04-12",
        "2020-04-13",
    ]
    with app.app_context():
        from forum.events.occurrences import session_occurrences

        session = db.session.scalar(sa.select(EventSession))
        starts = [o.start for o in session_occurrences(session)]
    assert starts[0] == dt.datetime(2020, 3, 2, 9, 0, tzinfo=dt.UTC)  # GMT
    assert starts[3] == dt.datetime(2020, 3, 23, 9, 0, tzinfo=dt.UTC)
    assert starts[4] == dt.datetime(2020, 3, 30, 8, 0, tzinfo=dt.UTC)  # BST
    assert dt.datetime(2020, 4, 13, 8, 0, tzinfo=dt.UTC) not in starts
    assert len(starts) == 7


def test_a_start_in_the_spring_gap_is_refused(pku, row_count):
    response = post_csv(
        pku,
        ["NIGHT1,Night school,tom.reid@example.org,sun,01:30,60,1-8,"],
        **LONDON,
    )
    error = assert_error(response, 422, "validation_error", "rows")
    [problem] = error["details"]["rows"]
    assert problem["field"] == "start"
    assert "2020-03-29" in problem["message"]
    assert row_count("events") == 0


# --- JSON ------------------------------------------------------------------------------------


def test_a_json_timetable_with_its_term(app, pku):
    document = {
        "term": {**BEIJING, "weeks": 16, "rate_per_minute": 120},
        "courses": [
            {
                "code": "LIT200",
                "title": "World literature",
                "teachers": ["wang.fang@pku.example.org", "tom.reid@example.org"],
                "students": ["li.wei@pku.example.org", "WANG.FANG@pku.example.org"],
                "meetings": [
                    {"weekday": "tue", "start": "14:00", "minutes": 100, "weeks": "1-16"},
                    {"weekday": "thu", "start": "14:00", "minutes": 50, "weeks": "1-8"},
                ],
            }
        ],
    }
    body = created(pku.post(IMPORT, json=document))
    assert (body["courses"], body["sessions"], body["rate_per_minute"]) == (1, 2, 120)
    # A teacher listed as a student too stays a teacher: 3 people in 2 sessions.
    assert body["invitations_total"] == 6
    with app.app_context():
        roles = sorted(
            db.session.execute(
                sa.select(Invitation.role, sa.func.count()).group_by(Invitation.role)
            )
        )
        assert roles == [("chair", 4), ("participant", 2)]


def test_json_problems_are_listed_by_course_index_and_field(pku, row_count):
    document = {
        "term": {**BEIJING, "weeks": 16},
        "courses": [
            {
                "code": "A1",
                "title": "A",
                "meetings": [{"weekday": "mon", "start": "8", "minutes": 50, "weeks": "1"}],
            },
            {"code": "A1", "title": "A", "meetings": []},
            {
                "code": 7,
                "title": "Null\u0000byte",
                "meetings": [{"weekday": "mon", "start": "08:00", "minutes": 50, "weeks": "1"}],
            },
        ],
    }
    error = assert_error(pku.post(IMPORT, json=document), 422, "validation_error", "rows")
    assert {(r["index"], r["field"]) for r in error["details"]["rows"]} == {
        (0, "meetings.0.start"),
        (1, "meetings"),
        (1, "code"),
        (2, "code"),
        (2, "title"),
    }
    assert row_count("events") == 0


# --- batched sending ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app_settings", [{"FORUM_TIMETABLE_INVITES_BATCH": 2, "MAIL_BACKEND": "smtp"}], indirect=True
)
def test_invitations_go_in_batches_from_the_cursor_and_resume_after_a_fault(app, pku, smtp_server):
    app.config.update(smtp_settings(smtp_server))
    app.extensions.pop("forum_mail_sender", None)
    students = ";".join(
        ["li.wei@pku.example.org", "zhang.min@pku.example.org", "ana.costa@example.org"]
    )
    body = created(
        post_csv(
            pku,
            [
                f"MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,90,1-16,{students}",
                f"MATH101,Calculus,wang.fang@pku.example.org,thu,08:00,90,1-16,{students}",
            ],
        )
    )
    import_id = body["id"]
    # The first batch went after the commit (jobs run inline here): two emails, no more.
    assert (body["invitations_total"], body["invitations_sent"]) == (8, 2)
    assert len(smtp_server.received) == 2
    with app.app_context():
        ids = list(db.session.scalars(sa.select(Invitation.id).order_by(Invitation.id)))
        timetable_import = db.session.get(TimetableImport, import_id)
        assert timetable_import.sent_through_id == ids[1]
        # Teachers first, in invitation-id order.
        assert sending.send_next_batch(import_id).sent == 2
        assert db.session.get(TimetableImport, import_id).sent_through_id == ids[3]

    # The worker stops mid-term: the import is recorded as failed, with the error.
    with app.app_context():
        sending._fail(import_id, RuntimeError("the worker was stopped"))
    failed = pku.get(f"/api/v1/timetable-imports/{import_id}").get_json()
    assert failed["status"] == "failed"
    assert "4 of 8" in failed["error"]

    resumed = pku.post(f"/api/v1/timetable-imports/{import_id}/resume")
    assert resumed.status_code == 200, resumed.get_json()
    with app.app_context():
        while sending.send_next_batch(import_id).status == "sending":
            pass
    done = pku.get(f"/api/v1/timetable-imports/{import_id}").get_json()
    assert (done["status"], done["invitations_sent"], done["error"]) == ("done", 8, None)
    # Each invitee got one invite per session: none twice, none left out.
    sent = sorted(r.rcpt_tos[0] for r in smtp_server.received)
    assert len(sent) == 8
    assert sent.count("wang.fang@pku.example.org") == 2
    assert sent.count("li.wei@pku.example.org") == 2


def test_batches_keep_the_rate():
    assert sending.batch_size(600, 50) == 50
    assert sending.batch_size(20, 50) == 20
    # 50 emails at 600 a minute: a batch each 5 seconds, less the time the batch took.
    assert sending.pause_after(50, 600, 1.5) == pytest.approx(3.5)
    assert sending.pause_after(50, 600, 9.0) == 0.0


# --- the command line --------------------------------------------------------------------------


def test_the_command_imports_and_sends_with_a_progress_bar(app, pku, runner, tmp_path):
    path = tmp_path / "spring.csv"
    path.write_text(
        "\n".join(
            [
                HEADER,
                "MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,90,1-16,li.wei@pku.example.org",
                "PHYS101,Physics,wang.fang@pku.example.org,tue,08:00,90,1-16,ana.costa@example.org",
            ]
        )
        + "\n"
    )
    result = runner.invoke(
        args=[
            "forum",
            "import-timetable",
            str(path),
            "--organiser",
            "organiser@example.org",
            "--term-name",
            "Spring 2020",
            "--first-day",
            "2020-02-17",
            "--weeks",
            "16",
            "--timezone",
            "Asia/Shanghai",
            "--country",
            "CN",
            "--rate",
            "6000",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "2 courses" in result.output
    assert "2020-04-04" in result.output
    with app.app_context():
        timetable_import = db.session.scalar(sa.select(TimetableImport))
        assert timetable_import.status == "done"
        assert timetable_import.invitations_sent == 4
        assert len(app.extensions["forum_mail_sender"].messages) == 4


def test_the_command_lists_the_bad_rows_and_writes_nothing(app, pku, runner, tmp_path, row_count):
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "courses": [
                    {
                        "code": "X1",
                        "title": "X",
                        "teachers": ["ghost@example.org"],
                        "meetings": [
                            {"weekday": "mon", "start": "08:00", "minutes": 60, "weeks": "1-3"}
                        ],
                    }
                ]
            }
        )
    )
    args = [
        "forum",
        "import-timetable",
        str(path),
        "--organiser",
        "organiser@example.org",
        "--term-name",
        "T",
        "--first-day",
        "2020-02-17",
        "--weeks",
        "4",
        "--timezone",
        "Asia/Shanghai",
        "--country",
        "CN",
    ]
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert "index 0" in result.output and "teachers" in result.output
    assert "ghost@example.org" in result.output
    for table in TABLES:
        assert row_count(table) == 0, table
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Term.id))) == 0


# --- with a broker: a real worker sends the batches ----------------------------------------


def test_a_real_worker_on_redis_sends_the_batches_at_the_rate(app, pku, smtp_server, database_url):
    from forum import create_app
    from forum.events.models import VideoMeeting
    from tests.celery_worker import REDIS_URL
    from tests.celery_worker import purge_queue
    from tests.celery_worker import redis_available
    from tests.celery_worker import running_worker
    from tests.celery_worker import unique_queue
    from tests.conftest import ApiClient
    from tests.conftest import missing_service

    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    queue = unique_queue()
    broker_app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": app.config["SECRET_KEY"],
            "MAIL_BACKEND": "memory",  # this process queues; the worker sends
            "CELERY_BROKER_URL": REDIS_URL,
            "FORUM_JOBS_QUEUE": queue,
        }
    )
    broker_api = ApiClient(broker_app.test_client(), pku.token, pku.organiser_id)
    worker_env = {
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_SECURITY": "none",
        "MAIL_FROM": "forum <forum@forum.example.org>",
        "FORUM_TIMETABLE_INVITES_BATCH": "2",
    }
    students = "li.wei@pku.example.org;zhang.min@pku.example.org"
    try:
        with running_worker(database_url, queue, extra_env=worker_env):
            body = created(
                post_csv(
                    broker_api,
                    [
                        f"MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,90,1-16,{students}",
                        f"MATH101,Calculus,wang.fang@pku.example.org,thu,08:00,90,1-16,{students}",
                    ],
                    rate_per_minute="240",
                )
            )
            # Queued, not sent: the worker sends 2 every half second (240 a minute).
            assert (body["status"], body["invitations_sent"]) == ("sending", 0)
            deadline = time.monotonic() + 30
            while len(smtp_server.received) < 6 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # and nothing more comes
    finally:
        purge_queue(queue, REDIS_URL)
        with broker_app.app_context():
            db.engine.dispose()
    pairs = sorted((r.rcpt_tos[0], r.message["Subject"]) for r in smtp_server.received)
    assert len(pairs) == 6
    assert sorted({r.rcpt_tos[0] for r in smtp_server.received}) == [
        "li.wei@pku.example.org",
        "wang.fang@pku.example.org",
        "zhang.min@pku.example.org",
    ]
    with app.app_context():
        timetable_import = db.session.get(TimetableImport, body["id"])
        assert (timetable_import.status, timetable_import.invitations_sent) == ("done", 6)
        meetings = db.session.scalars(sa.select(VideoMeeting)).all()
        assert {m.status for m in meetings} == {"created"}
        links = {m.join_url for m in meetings}
    # Each invite carries its meeting's link: the meetings were opened first.
    for item in smtp_server.received:
        text = "".join(
            part.get_content()
            for part in item.message.walk()
            if part.get_content_type() in ("text/plain", "text/calendar")
        )
        assert any(link in text for link in links), links


# --- feed caches -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app_settings",
    [{"FORUM_CACHE_URL": "memory://", "FORUM_TIMETABLE_INVITES_BATCH": 1}],
    indirect=True,
)
def test_the_imported_courses_show_in_the_cached_feeds_of_those_invited(app, pku, client):
    from urllib.parse import urlsplit

    from forum.directory.models import Person
    from forum.events import calendars

    calendars.cache.clear()
    with app.app_context():
        people = {
            p.email: urlsplit(calendars.feed_url(p)) for p in db.session.scalars(sa.select(Person))
        }

    def feed(email: str) -> str:
        url = people[email]
        response = client.get(f"{url.path}?{url.query}" if url.query else url.path)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    # Read (and cached) before the import: empty.
    for email in ("li.wei@pku.example.org", "ana.costa@example.org", "zhang.min@pku.example.org"):
        assert "BEGIN:VEVENT" not in feed(email)
    created(
        post_csv(
            pku,
            [
                "MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,90,1-16,li.wei@pku.example.org",
                "PHYS101,Physics,tom.reid@example.org,tue,08:00,90,1-16,ana.costa@example.org",
            ],
        )
    )
    # The first batch (one invitation) opened MATH101's meeting, an ORM change that drops
    # its people's feeds itself; PHYS101's people are dropped by the import.
    assert "Calculus" in feed("li.wei@pku.example.org")
    assert "Physics" in feed("ana.costa@example.org")
    assert "Physics" in feed("tom.reid@example.org")
    assert "BEGIN:VEVENT" not in feed("zhang.min@pku.example.org")
    calendars.cache.clear()


@pytest.mark.parametrize("app_settings", [{"FORUM_TIMETABLE_INVITES_BATCH": 1}], indirect=True)
def test_without_a_broker_the_periodic_job_sends_a_minutes_worth(app, pku):
    students = "li.wei@pku.example.org;zhang.min@pku.example.org;ana.costa@example.org"
    body = created(
        post_csv(
            pku,
            [f"MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,90,1-16,{students}"],
            rate_per_minute="2",
        )
    )
    assert (body["invitations_total"], body["invitations_sent"]) == (4, 1)
    task = app.extensions["celery"].tasks["forum.resume_timetable_invitations"]
    assert task.apply().result == 2  # the rate: two a minute
    assert task.apply().result == 1  # the last one
    with app.app_context():
        timetable_import = db.session.get(TimetableImport, body["id"])
        assert (timetable_import.status, timetable_import.invitations_sent) == ("done", 4)
        assert len(app.extensions["forum_mail_sender"].messages) == 4


def _broker_settings() -> dict[str, Any]:
    from tests.celery_worker import REDIS_URL
    from tests.celery_worker import unique_queue

    return {"CELERY_BROKER_URL": REDIS_URL, "FORUM_JOBS_QUEUE": unique_queue()}


@pytest.mark.parametrize("app_settings", [_broker_settings()], indirect=True)
def test_with_a_broker_the_command_queues_the_sending_and_names_the_page(
    app, pku, runner, tmp_path
):
    from tests.celery_worker import REDIS_URL
    from tests.celery_worker import purge_queue
    from tests.celery_worker import redis_available
    from tests.conftest import missing_service

    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    path = tmp_path / "spring.csv"
    path.write_text(
        f"{HEADER}\n"
        "MATH101,Calculus,wang.fang@pku.example.org,mon,08:00,90,1-16,li.wei@pku.example.org\n"
    )
    try:
        result = runner.invoke(
            args=[
                "forum",
                "import-timetable",
                str(path),
                "--organiser",
                "organiser@example.org",
                "--term-name",
                "Spring 2020",
                "--first-day",
                "2020-02-17",
                "--weeks",
                "16",
                "--timezone",
                "Asia/Shanghai",
                "--country",
                "CN",
            ]
        )
    finally:
        purge_queue(app.config["FORUM_JOBS_QUEUE"], REDIS_URL)
    assert result.exit_code == 0, result.output
    with app.app_context():
        timetable_import = db.session.scalar(sa.select(TimetableImport))
        assert (timetable_import.status, timetable_import.invitations_sent) == ("sending", 0)
    assert f"/timetable-imports/{timetable_import.id}" in result.output
    assert "Sending invitations" not in result.output


def test_a_start_that_happens_twice_when_clocks_go_back_is_refused(pku):
    response = post_csv(
        pku,
        ["NIGHT2,Night school,tom.reid@example.org,sun,01:30,60,1-4,"],
        **{**LONDON, "name": "Autumn 2020", "first_day": "2020-10-05", "weeks": "4"},
    )
    error = assert_error(response, 422, "validation_error", "rows")
    [problem] = error["details"]["rows"]
    assert problem["field"] == "start"
    assert "2020-10-25" in problem["message"]
