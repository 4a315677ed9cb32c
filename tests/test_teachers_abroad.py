"""The teachers-abroad report of a term: who teaches at an early, late, night, weekend or
holiday hour of their own (Detroit, London, Auckland, Tokyo teaching Peking University's
spring 2020 term from Beijing's timetable), and the nearest weekly time that spares them.

The term is Peking University's spring 2020: 16 weeks from Monday 17 February 2020, classes
written in Asia/Shanghai, China's public holidays left out (5 May, a Tuesday, among them).
Everyone keeps the directory's default hours: working 09:00-18:00 on their country's working
days, acceptable 07:00-22:00.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from flask import Flask

from forum.api.term_reports import TeachersAbroadOut
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.extensions import db
from forum.timetables.models import Term
from tests.conftest import csrf_token
from tests.factories import make_institution
from tests.factories import make_person
from tests.helpers import assert_error

BEIJING = ZoneInfo("Asia/Shanghai")
FIRST_DAY = dt.date(2020, 2, 17)
WEEKS = 16
LAST_DAY = FIRST_DAY + dt.timedelta(days=7 * WEEKS - 1)
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
CN_HOLIDAYS = sorted(
    (day, name)
    for day, name in holidays.country_holidays("CN", years=2020).items()
    if FIRST_DAY <= day <= LAST_DAY
)


def _utc(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Timetable:
    """A term of Peking University and its courses, written straight into the tables."""

    def __init__(self, app: Flask, api) -> None:
        self.app = app
        self.api = api
        pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
        self.pku = pku["id"]
        self.institutions = {"CN": self.pku}
        self.people: dict[str, int] = {}
        self.students = [
            make_person(api, f"Student {n}", f"student{n}@pku.example", self.pku)["id"]
            for n in range(3)
        ]
        with app.app_context():
            term = Term(
                name="Spring 2020",
                owner_id=api.organiser_id,
                institution_id=self.pku,
                timezone="Asia/Shanghai",
                country="CN",
                subdivision="BJ",
                first_day=FIRST_DAY,
                weeks=WEEKS,
                skip_holidays=True,
                excluded_dates=[{"date": d.isoformat(), "name": n} for d, n in CN_HOLIDAYS],
            )
            db.session.add(term)
            db.session.commit()
            self.term_id = term.id

    def teacher(self, name: str, email: str, country: str, zone: str) -> int:
        if country not in self.institutions:
            self.institutions[country] = make_institution(
                self.api, f"University in {zone}", country, zone
            )["id"]
        person = make_person(self.api, name, email, self.institutions[country], timezone=zone)
        self.people[email] = person["id"]
        return person["id"]

    def course(
        self,
        code: str,
        title: str,
        teacher: int,
        *,
        weekday: int,
        start: str,
        minutes: int,
        students: list[int] | None = None,
        also: tuple[int, ...] = (),
    ) -> int:
        """A weekly course meeting on ``weekday`` (Monday 0) at ``start`` in Beijing, every
        week of the term but China's holidays (and on the weekdays ``also``, in one rule);
        its session id."""
        first = FIRST_DAY + dt.timedelta(days=weekday)
        hour, minute = map(int, start.split(":"))
        local = dt.datetime.combine(first, dt.time(hour, minute), tzinfo=BEIJING)
        dates = [
            day + dt.timedelta(weeks=k)
            for k in range(WEEKS)
            for day in (first, *(FIRST_DAY + dt.timedelta(days=d) for d in also))
        ]
        holidays_here = {d for d, _n in CN_HOLIDAYS}
        exdates = [
            _utc(dt.datetime.combine(d, local.timetz())) for d in dates if d in holidays_here
        ]
        with self.app.app_context():
            event = Event(
                title=title,
                kind="series",
                owner_id=self.api.organiser_id,
                timezone="Asia/Shanghai",
                term_id=self.term_id,
                course_code=code,
            )
            session = EventSession(
                event=event,
                title=title,
                start=local.astimezone(dt.UTC),
                end=(local + dt.timedelta(minutes=minutes)).astimezone(dt.UTC),
                timezone="Asia/Shanghai",
                rrule="FREQ=WEEKLY;BYDAY="
                + ",".join(WEEKDAY_CODES[d] for d in (weekday, *also))
                + f";COUNT={WEEKS * (1 + len(also))}",
                exdates=exdates,
            )
            session.invitations.append(Invitation(person_id=teacher, role="chair"))
            event.participants.append(EventParticipant(person_id=teacher, role="chair"))
            for student in self.students if students is None else students:
                session.invitations.append(Invitation(person_id=student, role="participant"))
                event.participants.append(EventParticipant(person_id=student, role="participant"))
            db.session.add(event)
            db.session.commit()
            return session.id

    def report(self, **params: Any) -> dict[str, Any]:
        response = self.api.get(
            f"/api/v1/terms/{self.term_id}/teachers-abroad", query_string=params
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture
def timetable(app: Flask, api) -> Timetable:
    return Timetable(app, api)


def log_in(client, email: str) -> None:
    page = client.get("/login").text
    response = client.post(
        "/login",
        data={"email": email, "password": "secret-password", "csrf_token": csrf_token(page)},
    )
    assert response.status_code in (302, 303), response.text


def _teacher(report: dict[str, Any], email: str) -> dict[str, Any]:
    [found] = [t for t in report["teachers"] if t["email"] == email]
    return found


def test_a_teacher_in_detroit_at_9_in_beijing_is_late_then_at_night_from_8_march(timetable):
    teacher = timetable.teacher("Dana Detroit", "dana@umich.example", "US", "America/Detroit")
    # Two periods of Peking University's timetable, 09:00-10:40, every Tuesday.
    timetable.course("PHYS101", "Mechanics", teacher, weekday=1, start="09:00", minutes=100)

    report = timetable.report()

    assert report["term"]["id"] == timetable.term_id
    # The answer is what the API document says (its schema is made from this model).
    TeachersAbroadOut.model_validate(report)
    dana = _teacher(report, "dana@umich.example")
    assert (dana["country"], dana["timezone"]) == ("US", "America/Detroit")
    [meeting] = dana["meetings"]
    assert (meeting["course_code"], meeting["course_title"]) == ("PHYS101", "Mechanics")
    assert (meeting["weekday"], meeting["local_start"], meeting["local_end"]) == (
        "Tue",
        "09:00",
        "10:40",
    )
    # 15 Tuesdays: 16 weeks but 5 May (Labour Day holidays).
    assert meeting["occurrences"] == 15
    # Monday evening in Detroit: 20:00 under EST, 21:00 once Detroit's clocks go forward on
    # Sunday 8 March (Beijing's do not): a class past 22:00 is outside acceptable hours.
    assert [
        (r["weekday"], r["local_start"], r["local_end"], r["from"], r["occurrences"])
        for r in meeting["local_times"]
    ] == [
        ("Mon", "20:00", "21:40", "2020-02-17", 3),
        ("Mon", "21:00", "22:40", "2020-03-09", 12),
    ]
    # And two of those Mondays are the United States' public holidays: Presidents' Day
    # (17 February) and Memorial Day (25 May).
    assert meeting["categories"] == {"night": 12, "holiday": 2, "late": 3}
    assert meeting["worst"] == "night"
    assert dana["worst"] == "night"
    # Detroit's 09:00-18:00 and Beijing's never meet (12 or 13 hours apart), and a
    # 100-minute class that keeps Beijing's students in 09:00-18:00 ends after 22:00 in
    # Detroit from 8 March (Beijing 09:00 is 21:00 there): no weekly time is better.
    assert meeting["suggestion"] is None
    assert meeting["no_suggestion"]["code"] == "students_hours"
    assert meeting["students"] == 3


def test_detroit_one_hour_later_is_offered_the_hour_before_in_acceptable_hours(timetable):
    teacher = timetable.teacher("Dana Detroit", "dana@umich.example", "US", "America/Detroit")
    timetable.course("MATH201", "Analysis", teacher, weekday=2, start="10:00", minutes=60)

    [meeting] = _teacher(timetable.report(), "dana@umich.example")["meetings"]

    # Tuesday 21:00-22:00 in Detroit (late), then 22:00-23:00 from 8 March (night).
    assert [(r["local_start"], r["from"]) for r in meeting["local_times"]] == [
        ("21:00", "2020-02-18"),
        ("22:00", "2020-03-10"),
    ]
    assert meeting["worst"] == "night"
    # 09:00 in Beijing, an hour earlier: 20:00 then 21:00 in Detroit, within acceptable
    # hours (late) on every date; the students stay in their working hours.
    suggestion = meeting["suggestion"]
    assert (suggestion["weekday"], suggestion["local_start"], suggestion["local_end"]) == (
        "Wed",
        "09:00",
        "10:00",
    )
    assert suggestion["shift_minutes"] == -60
    assert suggestion["teacher_hours"] == "acceptable"
    assert suggestion["categories"] == {"late": 16}
    assert [
        (r["weekday"], r["local_start"], r["local_end"]) for r in suggestion["local_times"]
    ] == [
        ("Tue", "20:00", "21:00"),
        ("Tue", "21:00", "22:00"),
    ]


def test_a_teacher_in_beijing_is_not_listed(timetable):
    home = timetable.teacher("Li Wei", "li.wei@pku.example", "CN", "Asia/Shanghai")
    # Even at 19:00 (late for them): the report is about teachers abroad.
    timetable.course("CHEM101", "Chemistry", home, weekday=0, start="19:00", minutes=100)
    away = timetable.teacher("Dana Detroit", "dana@umich.example", "US", "America/Detroit")
    timetable.course("PHYS101", "Mechanics", away, weekday=1, start="09:00", minutes=100)

    report = timetable.report()

    assert [t["email"] for t in report["teachers"]] == ["dana@umich.example"]
    assert report["total"] == 1


def test_a_teacher_in_london_moves_an_hour_on_29_march(timetable):
    teacher = timetable.teacher("Lee London", "lee@ucl.example", "GB", "Europe/London")
    timetable.course("HIST110", "Modern history", teacher, weekday=1, start="09:00", minutes=100)

    [meeting] = _teacher(timetable.report(), "lee@ucl.example")["meetings"]

    # 01:00 GMT, then 02:00 once London's clocks go forward on Sunday 29 March.
    assert [
        (r["weekday"], r["local_start"], r["local_end"], r["from"], r["until"], r["occurrences"])
        for r in meeting["local_times"]
    ] == [
        ("Tue", "01:00", "02:40", "2020-02-18", "2020-03-24", 6),
        ("Tue", "02:00", "03:40", "2020-03-31", "2020-06-02", 9),
    ]
    assert meeting["categories"] == {"night": 15}
    # London's 09:00-18:00 meets Beijing's for an hour at most (17:00-18:00 in winter):
    # too short for 100 minutes. The nearest time within acceptable hours: Tuesday 15:00 in
    # Beijing, 07:00 then 08:00 in London (early), the students at 15:00-16:40.
    suggestion = meeting["suggestion"]
    assert (suggestion["weekday"], suggestion["local_start"], suggestion["shift_minutes"]) == (
        "Tue",
        "15:00",
        360,
    )
    assert suggestion["teacher_hours"] == "acceptable"
    assert [(r["local_start"], r["from"]) for r in suggestion["local_times"]] == [
        ("07:00", "2020-02-18"),
        ("08:00", "2020-03-31"),
    ]
    assert suggestion["categories"] == {"early": 15}


def test_a_one_period_class_for_london_is_moved_into_working_hours(timetable):
    teacher = timetable.teacher("Lee London", "lee@ucl.example", "GB", "Europe/London")
    timetable.course("HIST120", "Seminar", teacher, weekday=2, start="09:00", minutes=50)

    [meeting] = _teacher(timetable.report(), "lee@ucl.example")["meetings"]

    # 17:00 in Beijing: 09:00 in London in winter, 10:00 in summer; students until 17:50.
    suggestion = meeting["suggestion"]
    assert (suggestion["weekday"], suggestion["local_start"], suggestion["local_end"]) == (
        "Wed",
        "17:00",
        "17:50",
    )
    assert suggestion["teacher_hours"] == "working"
    assert suggestion["categories"] == {}


def test_a_rule_of_two_days_a_week_moves_both_by_the_same_time(timetable):
    teacher = timetable.teacher("Lee London", "lee@ucl.example", "GB", "Europe/London")
    # Tuesdays and Thursdays at 09:00 in Beijing, in one rule.
    timetable.course(
        "HIST130", "Tutorial", teacher, weekday=1, also=(3,), start="09:00", minutes=50
    )

    [meeting] = _teacher(timetable.report(), "lee@ucl.example")["meetings"]

    # 31 dates (5 May is left out); each local time of the teacher once, from its first date.
    assert meeting["occurrences"] == 31
    assert [(r["weekday"], r["local_start"], r["from"]) for r in meeting["local_times"]] == [
        ("Tue", "01:00", "2020-02-18"),
        ("Thu", "01:00", "2020-02-20"),
        ("Tue", "02:00", "2020-03-31"),
        ("Thu", "02:00", "2020-04-02"),
    ]
    # Both days at 17:00 in Beijing: 09:00, then 10:00 in London.
    suggestion = meeting["suggestion"]
    assert (suggestion["weekday"], suggestion["local_start"], suggestion["shift_minutes"]) == (
        "Tue",
        "17:00",
        480,
    )
    assert [(r["weekday"], r["local_start"]) for r in suggestion["local_times"]] == [
        ("Tue", "09:00"),
        ("Thu", "09:00"),
        ("Tue", "10:00"),
        ("Thu", "10:00"),
    ]


def test_a_teacher_in_auckland_teaches_on_their_saturday(timetable):
    teacher = timetable.teacher(
        "Aroha Auckland", "aroha@auckland.example", "NZ", "Pacific/Auckland"
    )
    # Friday evening in Beijing.
    timetable.course("LAW300", "Comparative law", teacher, weekday=4, start="19:00", minutes=100)

    [meeting] = _teacher(timetable.report(), "aroha@auckland.example")["meetings"]

    assert meeting["weekday"] == "Fri"
    # Saturday 00:00 in Auckland under daylight time; from 5 April (clocks back) Friday
    # 23:00, running into Saturday.
    assert [
        (r["weekday"], r["local_start"], r["local_end"], r["from"], r["occurrences"])
        for r in meeting["local_times"]
    ] == [
        ("Sat", "00:00", "01:40", "2020-02-22", 7),
        ("Fri", "23:00", "00:40", "2020-04-10", 8),
    ]
    # Every one at night and on a weekend; Good Friday (10 April) and Anzac Day (Saturday
    # 25 April) are New Zealand's public holidays.
    assert meeting["categories"] == {"night": 15, "holiday": 2, "weekend": 15}
    assert meeting["worst"] == "night"
    # Friday 11:15 would do but for Good Friday: the nearest time in working hours on every
    # date is Thursday 11:15 in Beijing, 16:15 then 15:15 in Auckland.
    suggestion = meeting["suggestion"]
    assert (suggestion["weekday"], suggestion["local_start"], suggestion["local_end"]) == (
        "Thu",
        "11:15",
        "12:55",
    )
    assert suggestion["shift_minutes"] == -(31 * 60 + 45)
    assert suggestion["teacher_hours"] == "working"
    assert [(r["weekday"], r["local_start"]) for r in suggestion["local_times"]] == [
        ("Thu", "16:15"),
        ("Thu", "15:15"),
    ]


def test_a_teacher_in_tokyo_is_listed_for_the_late_class_only(timetable):
    teacher = timetable.teacher("Hana Tokyo", "hana@u-tokyo.example", "JP", "Asia/Tokyo")
    timetable.course("JPN100", "Japanese", teacher, weekday=1, start="09:00", minutes=100)
    timetable.course("JPN200", "Japanese II", teacher, weekday=1, start="17:00", minutes=100)

    hana = _teacher(timetable.report(), "hana@u-tokyo.example")

    # 10:00 in Tokyo is working hours; 18:00-19:40 is late, every week (Japan keeps no DST).
    [meeting] = hana["meetings"]
    assert meeting["course_code"] == "JPN200"
    assert [
        (r["local_start"], r["local_end"], r["occurrences"]) for r in meeting["local_times"]
    ] == [("18:00", "19:40", 15)]
    assert meeting["categories"] == {"late": 15}
    # 15:15 in Beijing ends at 17:55 in Tokyo.
    suggestion = meeting["suggestion"]
    assert (suggestion["local_start"], suggestion["shift_minutes"]) == ("15:15", -105)
    assert suggestion["teacher_hours"] == "working"


def test_a_suggestion_keeps_clear_of_the_teacher_s_other_courses(timetable):
    teacher = timetable.teacher("Hana Tokyo", "hana@u-tokyo.example", "JP", "Asia/Tokyo")
    timetable.course("JPN200", "Japanese II", teacher, weekday=1, start="17:00", minutes=100)
    # Another course of hers on Tuesday 14:00-15:40 in Beijing rules out 15:15.
    timetable.course("JPN300", "Japanese III", teacher, weekday=1, start="14:00", minutes=100)

    [meeting] = _teacher(timetable.report(), "hana@u-tokyo.example")["meetings"]

    # 15:15 clashes, 15:45 ends after 18:00 in Tokyo: the nearest free time in her working
    # hours ends before the other course, at 12:15-13:55.
    suggestion = meeting["suggestion"]
    assert (suggestion["local_start"], suggestion["local_end"]) == ("12:15", "13:55")
    assert suggestion["shift_minutes"] == -285


def test_a_student_abroad_is_kept_no_worse_off_and_does_not_block_the_others(timetable):
    teacher = timetable.teacher("Hana Tokyo", "hana@u-tokyo.example", "JP", "Asia/Tokyo")
    # A student following from Detroit: 04:00 there now (night), 02:15 at 15:15 (night too).
    away = timetable.teacher("Sam Student", "sam@pku.example", "US", "America/Detroit")
    timetable.course(
        "JPN200",
        "Japanese II",
        teacher,
        weekday=1,
        start="17:00",
        minutes=100,
        students=[*timetable.students, away],
    )

    [meeting] = _teacher(timetable.report(), "hana@u-tokyo.example")["meetings"]

    assert meeting["students"] == 4
    assert meeting["suggestion"]["local_start"] == "15:15"


def _course_rows(report: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            t["email"],
            m["course_code"],
            m["weekday"],
            m["local_start"],
            m["worst"],
            m["suggestion"]["local_start"] if m["suggestion"] else "",
        )
        for t in report["teachers"]
        for m in t["meetings"]
    ]


def _csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith("\ufeff".encode())  # a byte order mark for spreadsheets
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_the_csv_has_the_json_s_rows_and_runs_no_formula(timetable):
    detroit = timetable.teacher("=HYPERLINK(1)", "dana@umich.example", "US", "America/Detroit")
    timetable.course("PHYS101", "@SUM(A1)", detroit, weekday=1, start="09:00", minutes=100)
    london = timetable.teacher("Lee London", "lee@ucl.example", "GB", "Europe/London")
    timetable.course("HIST110", "Modern history", london, weekday=1, start="09:00", minutes=100)
    timetable.course("HIST120", "-1+2", london, weekday=2, start="09:00", minutes=50)
    auckland = timetable.teacher("Aroha", "aroha@auckland.example", "NZ", "Pacific/Auckland")
    timetable.course("LAW300", "Law", auckland, weekday=4, start="19:00", minutes=100)

    report = timetable.report()
    path = f"/api/v1/terms/{timetable.term_id}/teachers-abroad"
    by_path = _csv_rows(timetable.api.get(path + ".csv"))
    by_format = _csv_rows(timetable.api.get(path, query_string={"format": "csv"}))

    assert by_path == by_format
    assert [
        (
            row["email"],
            row["course_code"],
            row["weekday"],
            row["local_start"],
            row["worst"],
            row["suggested_start"],
        )
        for row in by_path
    ] == _course_rows(report)
    assert len(by_path) == 4
    titles = {row["course_code"]: row["course_title"] for row in by_path}
    assert titles["PHYS101"] == "'@SUM(A1)"
    assert titles["HIST120"] == "'-1+2"
    assert {row["teacher"] for row in by_path} >= {"'=HYPERLINK(1)"}
    [phys] = [row for row in by_path if row["course_code"] == "PHYS101"]
    assert phys["teacher_local_times"] == (
        "Mon 20:00-21:40 from 2020-02-17 (3); Mon 21:00-22:40 from 2020-03-09 (12)"
    )
    assert phys["categories"] == "night 12; holiday 2; late 3"


def test_the_report_is_paginated_worst_off_first(timetable):
    tokyo = timetable.teacher("Hana Tokyo", "hana@u-tokyo.example", "JP", "Asia/Tokyo")
    timetable.course("JPN200", "Japanese II", tokyo, weekday=1, start="17:00", minutes=100)
    london = timetable.teacher("Lee London", "lee@ucl.example", "GB", "Europe/London")
    timetable.course("HIST110", "Modern history", london, weekday=1, start="09:00", minutes=100)

    first = timetable.report(page=1, per_page=1)
    second = timetable.report(page=2, per_page=1)

    assert (first["total"], first["page"], first["per_page"]) == (2, 1, 1)
    assert [t["email"] for t in first["teachers"]] == ["lee@ucl.example"]  # night
    assert [t["email"] for t in second["teachers"]] == ["hana@u-tokyo.example"]  # late
    assert second["teachers"][0]["meetings"][0]["suggestion"] is not None


def test_another_organiser_gets_404(timetable, make_organiser):
    other = make_organiser("other@example.org")
    path = f"/api/v1/terms/{timetable.term_id}/teachers-abroad"

    for url in (path, path + ".csv", "/api/v1/terms/9999/teachers-abroad"):
        assert_error(other.get(url), 404, "not_found")
    # Ids beyond the column's range name nothing; no token, no report.
    assert_error(other.get("/api/v1/terms/2147483648/teachers-abroad"), 404, "not_found")
    assert_error(timetable.api.client.get(path), 401, "unauthorized")
    assert_error(
        timetable.api.client.get(path, headers={"Authorization": "Bearer nope"}),
        401,
        "invalid_token",
    )
    assert_error(
        timetable.api.get(path, query_string={"format": "xls"}), 422, "validation_error", "format"
    )


def test_the_page_is_for_the_term_s_organiser(timetable, client, make_organiser):
    teacher = timetable.teacher("Dana Detroit", "dana@umich.example", "US", "America/Detroit")
    timetable.course("PHYS101", "Mechanics", teacher, weekday=1, start="09:00", minutes=100)
    page = f"/terms/{timetable.term_id}/teachers-abroad"

    assert client.get(page).status_code == 302  # to the login page
    log_in(client, "organiser@example.org")
    html = client.get(page).text
    assert "Dana Detroit" in html and "PHYS101" in html
    # In the reader's language: weekdays and dates written the Japanese way.
    japanese = client.get(page, headers={"Accept-Language": "ja"}).text
    assert 'lang="ja"' in japanese
    assert "月 20:00–21:40" in japanese  # Monday evening in Detroit
    csv_download = client.get(page + ".csv")
    assert [row["email"] for row in _csv_rows(csv_download)] == ["dana@umich.example"]

    make_organiser("other@example.org")
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    log_in(client, "other@example.org")
    assert client.get(page).status_code == 404
    assert client.get(page + ".csv").status_code == 404


def test_the_api_document_describes_the_report(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]

    report = paths["/api/v1/terms/{term_id}/teachers-abroad"]["get"]
    assert set(report["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert {p["name"] for p in report["parameters"]} == {"term_id", "page", "per_page", "format"}
    assert {"401", "404", "422", "429"} <= set(report["responses"])
    download = paths["/api/v1/terms/{term_id}/teachers-abroad.csv"]["get"]
    assert list(download["responses"]["200"]["content"]) == ["text/csv"]
