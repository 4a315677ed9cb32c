"""`forum seed-semester`: a term at PKU's scale of spring 2020, here at a tiny size.

What a user of the seeded database would check: the counts asked for, the same data for the
same seed, teachers abroad in other countries and real zones, the Qingming and Labour Day
dates left out, a student's feed, and a signed Zoom delivery recorded as attendance.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter

import icalendar
import pytest
import sqlalchemy as sa

from forum.core.times import format_instant
from forum.demo import semester
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events import calendars
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import VideoMeeting
from forum.extensions import db
from forum.providers.fakes import webhooks as deliveries
from forum.timetables.models import Term
from tests.factories import SESSIONS

SECRET = "seeded-zoom-webhook-secret"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
TINY = {
    "--courses": 30,
    "--teachers": 14,
    "--abroad": 6,
    "--students": 60,
    "--per-student": 3,
    "--weeks": 16,
    "--seed": 7,
}
PINNED_DIGEST = "90954dc4b753c3fdd51f01f0f2370ccbf5477995773a988c6dca3c951ce22dc9"
QINGMING = [dt.date(2020, 4, 4), dt.date(2020, 4, 5), dt.date(2020, 4, 6)]
LABOUR_DAY = [dt.date(2020, 5, d) for d in range(1, 6)]


def seed(runner, *extra: str, **sizes: int):
    options = {**TINY, **{f"--{k.replace('_', '-')}": v for k, v in sizes.items()}}
    args = ["forum", "seed-semester", "--zoom-webhook-secret", SECRET, *extra]
    for name, value in options.items():
        args += [name, str(value)]
    return runner.invoke(args=args)


@pytest.fixture
def seeded(app, runner, api):
    """The tiny term, owned by the API client's organiser."""
    result = seed(runner, "--organiser", "organiser@example.org")
    assert result.exit_code == 0, result.output
    return result


def term_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Term.id).where(Term.name == "Spring 2020"))


def test_the_counts_are_those_asked_for(app, seeded):
    assert "14 teachers (8 in Beijing, 6 abroad in 6 countries" in seeded.output
    assert "60 students" in seeded.output
    with app.app_context():
        term = db.session.scalar(sa.select(Term))
        assert (term.name, term.first_day, term.weeks, term.timezone, term.country) == (
            "Spring 2020",
            dt.date(2020, 2, 17),
            16,
            "Asia/Shanghai",
            "CN",
        )
        people = db.session.scalars(
            sa.select(Person).where(Person.email.like("%.semester.example.org"))
        ).all()
        assert len(people) == 14 + 60
        assert len({p.email.lower() for p in people}) == len(people)
        students = [p for p in people if "@stu.pku." in p.email]
        assert len(students) == 60
        assert {p.locale for p in students} == {"zh-Hans"}

        courses = db.session.scalars(sa.select(Event).where(Event.term_id == term.id)).all()
        assert len(courses) == 30
        assert len({c.course_code for c in courses}) == 30
        assert all(c.kind == "series" and c.default_provider == "zoom" for c in courses)
        roles = Counter(
            (event_id, role)
            for event_id, role in db.session.execute(
                sa.select(EventParticipant.event_id, EventParticipant.role)
            )
        )
        assert all(1 <= roles[(c.id, "chair")] <= 2 for c in courses)
        taken = Counter(
            db.session.scalars(
                sa.select(EventParticipant.person_id).where(EventParticipant.role == "participant")
            )
        )
        assert set(taken) <= {s.id for s in students}
        assert all(2 <= taken[s.id] <= 4 for s in students)  # about 3 each
        assert len(set(roles[(c.id, "participant")] for c in courses)) > 3  # sizes vary

        sessions = db.session.scalars(sa.select(EventSession)).all()
        assert {len(c.sessions) for c in courses} <= {1, 2}
        for session in sessions:
            assert session.rrule.startswith("FREQ=WEEKLY;BYDAY=")
            local = session.start.astimezone(SHANGHAI)
            assert local.strftime("%H:%M") in ("08:00", "10:10", "13:00", "15:10", "18:40")
            assert 50 <= (session.end - session.start).total_seconds() / 60 <= 110
            # Everyone of the course is invited to each of its meetings, in their role.
            invited = {(i.person_id, i.role) for i in session.invitations}
            members = {(p.person_id, p.role) for p in session.event.participants}
            assert invited == members
        meetings = db.session.scalars(sa.select(VideoMeeting)).all()
        assert len(meetings) == len(sessions)
        assert {(m.provider, m.status) for m in meetings} == {("zoom", "created")}
        assert len({m.external_id for m in meetings}) == len(meetings)
        for meeting in meetings:
            assert meeting.external_id.isdigit() and len(meeting.external_id) == 11
            assert meeting.join_url.startswith(f"https://pku.zoom.us/j/{meeting.external_id}?")
    assert f"{len(sessions)} weekly sessions" in seeded.output
    assert f"{len(meetings)} Zoom meetings on account 'pku-zoom'" in seeded.output


def test_the_same_seed_gives_the_same_data_and_a_second_run_needs_replace(app, runner, seeded):
    first = semester_digest(app)

    again = seed(runner)
    assert again.exit_code != 0
    assert "already holds a seeded semester" in again.output
    assert "--replace" in again.output
    assert semester_digest(app) == first  # nothing was written

    replaced = seed(runner, "--replace", "--digest", "--organiser", "organiser@example.org")
    assert replaced.exit_code == 0, replaced.output
    assert "replaced the earlier seed: deleted" in replaced.output
    assert semester_digest(app) == first
    assert f"digest {first}" in replaced.output

    other = seed(runner, "--replace", "--organiser", "organiser@example.org", seed=8)
    assert other.exit_code == 0, other.output
    assert semester_digest(app) != first
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Term.id))) == 1
        assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 30


def test_the_tiny_term_is_the_same_on_either_backend(app, seeded):
    # Pinned: SQLite and PostgreSQL runs of this module must both find it. A change to the
    # generator or its lists changes it on purpose; take the new value from --digest.
    assert semester_digest(app) == PINNED_DIGEST


def semester_digest(app) -> str:
    with app.app_context():
        return semester.digest(term_id(app))


def test_bad_sizes_are_refused_by_name(runner):
    result = seed(runner, abroad=20, teachers=10)
    assert result.exit_code == 2
    assert "--abroad" in result.output


def test_teachers_abroad_teach_from_other_countries_in_real_zones(app, seeded):
    zones = zoneinfo.available_timezones()
    with app.app_context():
        abroad = db.session.execute(
            sa.select(Person, Institution)
            .join(Institution, Person.institution_id == Institution.id)
            .where(Person.email.like("%.semester.example.org"), Institution.country != "CN")
        ).all()
        assert len(abroad) == 6
        assert len({institution.country for _p, institution in abroad}) == 6
        for person, institution in abroad:
            assert person.timezone == institution.timezone
            assert person.timezone in zones and person.timezone != "Asia/Shanghai"
            chairs = db.session.scalar(
                sa.select(sa.func.count(EventParticipant.id)).where(
                    EventParticipant.person_id == person.id, EventParticipant.role == "chair"
                )
            )
            assert chairs >= 1


def test_the_full_size_abroad_spans_31_countries_on_five_continents():
    plan = semester.plan_term(semester.Size(courses=200, teachers=100, students=0))
    abroad = plan.people[:60]
    assert all(p.site.country != "CN" for p in abroad)
    assert all(p.site.country == "CN" for p in plan.people[60:])
    assert len({p.site.country for p in abroad}) == 31
    assert len({p.site.continent for p in abroad}) == 5
    zones = {p.site.timezone for p in abroad}
    assert zones <= zoneinfo.available_timezones()
    assert {
        "America/Detroit",
        "Asia/Tokyo",
        "Asia/Qatar",
        "Pacific/Auckland",
        "Europe/London",
        "Australia/Sydney",
    } <= zones
    assert next(p.site.city for p in abroad if p.site.timezone == "America/Detroit") == (
        "Ann Arbor"
    )


def test_qingming_and_labour_day_are_left_out_of_the_sessions_they_fall_on(app, seeded):
    with app.app_context():
        term = db.session.scalar(sa.select(Term))
        left_out = {item["date"]: item["name"] for item in term.excluded_dates}
        for day in QINGMING + LABOUR_DAY:
            assert day.isoformat() in left_out
        affected = Counter()
        for session in db.session.scalars(sa.select(EventSession)):
            local = session.start.astimezone(SHANGHAI)
            weeks = int(session.rrule.rsplit("COUNT=", 1)[1])
            last = local.date() + dt.timedelta(weeks=weeks - 1)
            expected = {
                format_instant(dt.datetime.combine(day, local.time(), SHANGHAI))
                for day in QINGMING + LABOUR_DAY
                if day.weekday() == local.weekday() and local.date() <= day <= last
            }
            assert set(session.exdates) == expected, session.title
            for day in QINGMING + LABOUR_DAY:
                if format_instant(dt.datetime.combine(day, local.time(), SHANGHAI)) in expected:
                    affected[day] += 1
        # Monday 6 April, Friday 1 May, Monday 4 May and Tuesday 5 May each have sessions.
        for day in (dt.date(2020, 4, 6), dt.date(2020, 5, 1), dt.date(2020, 5, 4)):
            assert affected[day] > 0, day


def test_a_students_feed_lists_their_courses(app, client, seeded):
    with app.app_context():
        student = db.session.scalar(
            sa.select(Person)
            .join(Invitation, Invitation.person_id == Person.id)
            .where(Person.email.like("%@stu.pku.semester.example.org"))
            .group_by(Person.id)
            .order_by(sa.func.count(Invitation.id).desc(), Person.id)
            .limit(1)
        )
        sessions = db.session.scalars(
            sa.select(EventSession)
            .join(Invitation, Invitation.session_id == EventSession.id)
            .where(Invitation.person_id == student.id)
        ).all()
        expected = {(s.title, s.start) for s in sessions}
        exdates = {s.start: set(s.exdates) for s in sessions}
        token = calendars.feed_token(student)
    response = client.get(f"/ical/feeds/{token}.ics")
    assert response.status_code == 200
    feed = icalendar.Calendar.from_ical(response.data)
    events = [c for c in feed.walk("VEVENT") if "RECURRENCE-ID" not in c]
    assert {(str(e["SUMMARY"]), e.decoded("DTSTART").astimezone(dt.UTC)) for e in events} == (
        expected
    )
    for event in events:
        assert str(event["RRULE"].to_ical().decode()).startswith("FREQ=WEEKLY")
        left_out = set()
        raw = event.get("EXDATE") or []
        for item in raw if isinstance(raw, list) else [raw]:
            left_out |= {format_instant(d.dt) for d in item.dts}
        assert left_out == exdates[event.decoded("DTSTART").astimezone(dt.UTC)]


def test_a_signed_zoom_join_of_a_seeded_meeting_is_recorded_as_attendance(app, api, client, seeded):
    with app.app_context():
        invitation = db.session.scalar(
            sa.select(Invitation).where(Invitation.role == "participant").order_by(Invitation.id)
        )
        session = invitation.session
        student = invitation.person
        meeting_id = int(session.meeting.external_id)
        session_id, name, email = session.id, student.name, student.email
        joined_at = session.start + dt.timedelta(minutes=3)
    participant = deliveries.zoom_participant(
        name, email, join_time=joined_at, user_id="101", participant_uuid="uuid-101"
    )
    headers, body = deliveries.zoom_delivery(
        SECRET,
        "meeting.participant_joined",
        deliveries.zoom_meeting_object(
            meeting_id,
            id_as_string=True,
            topic=session.title,
            start_time=session.start,
            timezone="Asia/Shanghai",
            participant=participant,
        ),
    )
    response = client.post("/webhooks/zoom", data=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"received": 1, "duplicates": 0}

    page = api.get(f"{SESSIONS}/{session_id}/attendance")
    assert page.status_code == 200
    [present] = page.get_json()["items"]
    assert (present["person_id"], present["guest"]) == (invitation.person_id, False)
    assert present["stays"][0]["joined"] == format_instant(joined_at)

    wrong = deliveries.zoom_delivery(
        "not-the-secret",
        "meeting.participant_joined",
        deliveries.zoom_meeting_object(meeting_id, id_as_string=True, participant=participant),
    )
    assert client.post("/webhooks/zoom", data=wrong[1], headers=wrong[0]).status_code >= 400
