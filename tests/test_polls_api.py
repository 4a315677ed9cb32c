"""Polls through the API: open one (the engine's best slots or typed times in any zone),
answer from the participant's link, remind, close, finalise into a booked session.

The people are the demo's: Peking University (Beijing), the University of Tokyo, the
University of Michigan (Ann Arbor) and the University of Auckland, so that one instant is
a different day for some of them.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import itertools
from typing import Any

import pytest
import sqlalchemy as sa

from forum.extensions import db
from forum.polls.models import Poll
from forum.webhooks.outbound import WebhookDelivery
from tests.factories import created
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.helpers import assert_error

# 23:30 in Beijing on Wednesday 10 March 2027: Wednesday 10:30 in Ann Arbor (EST, before
# the US clock change of 14 March), Thursday 04:30 in Auckland (NZDT).
LATE_BEIJING = "2027-03-10T15:30:00Z"


@pytest.fixture
def people(api) -> dict[str, Any]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    tokyo = make_institution(api, "University of Tokyo", "JP", "Asia/Tokyo")
    umich = make_institution(api, "University of Michigan", "US", "America/Detroit")
    auckland = make_institution(api, "University of Auckland", "NZ", "Pacific/Auckland")
    return {
        "li": make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"]),
        "sato": make_person(api, "Sato Hanako", "sato@u-tokyo.example.org", tokyo["id"]),
        "smith": make_person(api, "Jane Smith", "jsmith@umich.example.org", umich["id"]),
        "ngata": make_person(api, "Aroha Ngata", "a.ngata@auckland.example.org", auckland["id"]),
    }


@pytest.fixture
def event(api, people) -> dict[str, Any]:
    found = make_event(api, title="PKU - UTokyo cooperation", kind="bilateral")
    for key in ("li", "sato"):
        created(
            api.post(
                f"/api/v1/events/{found['id']}/participants",
                json={"person_id": people[key]["id"], "role": "participant", "required": True},
            )
        )
    return found


def polls_url(event: dict[str, Any]) -> str:
    return f"/api/v1/events/{event['id']}/polls"


def typed(*starts: str) -> list[dict[str, str]]:
    return [{"start": start} for start in starts]


def emails(app, kind_words: str, address: str | None = None) -> list[email.message.Message]:
    found = []
    for message in app.extensions["forum_mail_sender"].messages:
        if kind_words in str(message["Subject"]) and (address is None or address in message["To"]):
            found.append(message)
    return found


def text_of(message) -> str:
    message = email.message_from_bytes(bytes(message), policy=email.policy.default)
    return message.get_body(preferencelist=("plain",)).get_content()


def agenda_token(app, person_id: int) -> str:
    from forum.directory.models import Person
    from forum.events import calendars

    with app.app_context():
        return calendars.agenda_token(db.session.get(Person, person_id))


def ballot_url(app, person: dict[str, Any], poll: dict[str, Any]) -> str:
    return f"/api/v1/p/{agenda_token(app, person['id'])}/polls/{poll['id']}"


def vote(client, app, person, poll, answers: dict[int, str], **extra: Any):
    body = {"votes": [{"option_id": k, "answer": v} for k, v in answers.items()], **extra}
    return client.put(ballot_url(app, person, poll), json=body)


# --- opening -----------------------------------------------------------------------------


def test_a_poll_on_the_engines_best_slots_asks_the_events_participants(app, api, event, people):
    response = api.post(
        polls_url(event),
        json={
            "title": "Spring coordination call",
            "from_search": {
                "duration_minutes": 60,
                "window_start": "2027-03-08",
                "window_end": "2027-03-12",
                "limit": 3,
            },
        },
    )
    poll = created(response)
    assert poll["source"] == "engine"
    assert poll["status"] == "open"
    assert poll["duration_minutes"] == 60
    assert len(poll["options"]) == 3
    # Three different choices, not three neighbours of one time (09:00, 09:30, 10:00).
    starts = sorted(dt.datetime.fromisoformat(o["start"]) for o in poll["options"])
    assert all(
        later - earlier > dt.timedelta(hours=1) for earlier, later in itertools.pairwise(starts)
    )
    # The engine's best slots for Beijing and Tokyo: working hours at both sites.
    for option in poll["options"]:
        categories = {site["name"]: site["category"] for site in option["sites"]}
        assert categories == {"Peking University": "working", "University of Tokyo": "working"}
    assert sorted(p["person_id"] for p in poll["people"]) == sorted(
        [people["li"]["id"], people["sato"]["id"]]
    )
    assert sorted(poll["not_answered"]) == sorted([people["li"]["id"], people["sato"]["id"]])
    assert poll["summary"].startswith("2 of 2 required people have not answered yet.")
    # Each person asked gets the invitation to answer, with their own zone first.
    (to_sato,) = emails(app, "When can you meet?", "sato@u-tokyo.example.org")
    body = text_of(to_sato)
    assert "(Asia/Tokyo)" in body.split("1. ", 1)[1].splitlines()[0]
    assert f"/p/{agenda_token(app, people['sato']['id'])}/polls/{poll['id']}" in body


def test_typed_times_in_any_zone_and_the_day_each_site_sees(app, api, client, event, people):
    for key in ("smith", "ngata"):
        created(
            api.post(
                f"/api/v1/events/{event['id']}/participants",
                json={"person_id": people[key]["id"], "role": "participant", "required": False},
            )
        )
    poll = created(
        api.post(
            polls_url(event),
            json={
                "title": "Late call",
                "options": [
                    {"local_start": "2027-03-10T23:30:00", "timezone": "Asia/Shanghai"},
                    {"start": "2027-03-11T01:00:00Z"},
                ],
                "duration_minutes": 45,
            },
        )
    )
    assert [o["start"] for o in poll["options"]] == [LATE_BEIJING, "2027-03-11T01:00:00Z"]
    assert poll["source"] == "typed"

    smith = client.get(ballot_url(app, people["smith"], poll)).get_json()
    ngata = client.get(ballot_url(app, people["ngata"], poll)).get_json()
    li = client.get(ballot_url(app, people["li"], poll)).get_json()
    assert (li["options"][0]["local_start"], li["options"][0]["weekday"]) == (
        "2027-03-10T23:30:00",
        "Wed",
    )
    assert (smith["options"][0]["local_start"], smith["options"][0]["weekday"]) == (
        "2027-03-10T10:30:00",
        "Wed",
    )
    assert (ngata["options"][0]["local_start"], ngata["options"][0]["weekday"]) == (
        "2027-03-11T04:30:00",
        "Thu",
    )
    # Each person's own time first, then the event's home zone and UTC.
    assert ngata["options"][0]["times"][0].startswith("Thu 11 Mar 2027 04:30")
    assert ngata["options"][0]["times"][-1] == "Wed 10 Mar 2027 15:30–16:15 (UTC)"
    # The emails say the same days.
    (to_smith,) = emails(app, "When can you meet?", "jsmith@umich.example.org")
    assert "Wed 10 Mar 2027 10:30–11:15 (America/Detroit)" in text_of(to_smith)
    (to_ngata,) = emails(app, "When can you meet?", "a.ngata@auckland.example.org")
    assert "Thu 11 Mar 2027 04:30–05:15 (Pacific/Auckland)" in text_of(to_ngata)
    # 09:00 on Thursday in Beijing is still Wednesday evening in Ann Arbor, and Thursday
    # afternoon in Auckland: the day wraps back for one, forward for the other.
    assert (smith["options"][1]["local_start"], smith["options"][1]["weekday"]) == (
        "2027-03-10T20:00:00",
        "Wed",
    )
    assert li["options"][1]["times"][0].startswith("Thu 11 Mar 2027 09:00")
    assert ngata["options"][1]["times"][0].startswith("Thu 11 Mar 2027 14:00")
    assert "Wed 10 Mar 2027 20:00–20:45 (America/Detroit)" in text_of(to_smith)
    # The participant's page says the same days, each person's first.
    smith_page = client.get(ballot_url(app, people["smith"], poll).replace("/api/v1", "")).text
    ngata_page = client.get(ballot_url(app, people["ngata"], poll).replace("/api/v1", "")).text
    assert "Wednesday 10 March 2027" in smith_page
    assert "Thursday 11 March 2027" not in smith_page
    assert "Thursday 11 March 2027" in ngata_page
    assert "Wednesday 10 March 2027" not in ngata_page
    # A zone asked for on the link shows the times there.
    in_tokyo = client.get(ballot_url(app, people["smith"], poll) + "?tz=Asia/Tokyo").get_json()
    assert in_tokyo["options"][0]["local_start"] == "2027-03-11T00:30:00"
    assert in_tokyo["timezone"] == "Asia/Tokyo"


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        (typed("2020-03-26T13:00:00Z", "2027-03-10T13:00:00Z"), "options.0", "has passed"),
        (
            # The same instant, once as UTC and once as Tokyo's wall clock.
            [
                {"start": "2027-03-10T01:00:00Z"},
                {"local_start": "2027-03-10T10:00:00", "timezone": "Asia/Tokyo"},
            ],
            "options.1",
            "the same time as options.0",
        ),
        (
            typed(
                *[f"2027-04-{day:02d}T{hour:02d}:00:00Z" for day in range(1, 27) for hour in (1, 3)]
            ),
            "options",
            "at most 50",
        ),
        ([], "options", "at least one"),
        (
            # 02:30 does not exist in Ann Arbor on 14 March 2027: the clocks jump to 03:00.
            [{"local_start": "2027-03-14T02:30:00", "timezone": "America/Detroit"}],
            "options.0.local_start",
            "",
        ),
    ],
)
def test_bad_options_are_refused_naming_them_and_nothing_is_written(
    app, api, event, options, field, words, row_count
):
    response = api.post(polls_url(event), json={"title": "Call", "options": options})
    body = assert_error(response, 422, response.get_json()["error"]["code"], field)
    assert words in body["details"]["fields"][field]
    assert row_count("polls") == 0
    assert row_count("poll_options") == 0
    assert row_count("email_messages") == 0


def test_a_closing_time_after_the_first_option_is_refused(api, event, row_count):
    response = api.post(
        polls_url(event),
        json={
            "title": "Call",
            "options": typed("2027-03-10T01:00:00Z"),
            "closes_at": "2027-03-11T00:00:00Z",
        },
    )
    assert_error(response, 422, "validation_error", "closes_at")
    assert row_count("polls") == 0


def test_an_event_without_participants_needs_invitees(api, people, row_count):
    empty = make_event(api, title="Empty", kind="bilateral")
    response = api.post(
        polls_url(empty), json={"title": "Call", "options": typed("2027-03-10T01:00:00Z")}
    )
    assert_error(response, 422, "validation_error", "invitees")
    response = api.post(
        polls_url(empty),
        json={
            "title": "Call",
            "options": typed("2027-03-10T01:00:00Z"),
            "invitees": [invitee(people["smith"])],
        },
    )
    assert [p["name"] for p in created(response)["people"]] == ["Jane Smith"]


# --- answering ---------------------------------------------------------------------------


@pytest.fixture
def poll(api, event) -> dict[str, Any]:
    return created(
        api.post(
            polls_url(event),
            json={
                "title": "Spring coordination call",
                "options": typed(
                    "2027-03-09T01:00:00Z", "2027-03-10T01:00:00Z", "2027-03-11T06:00:00Z"
                ),
            },
        )
    )


def test_answers_are_recorded_changed_and_counted(app, api, client, poll, people):
    first, second, third = (o["id"] for o in poll["options"])
    response = vote(
        client, app, people["li"], poll, {first: "yes", second: "no"}, comment="Not Wed"
    )
    assert response.status_code == 200, response.get_json()
    assert [o["answer"] for o in response.get_json()["options"]] == ["yes", "no", None]
    # Changed until the poll closes.
    vote(client, app, people["li"], poll, {second: "if_need_be", third: "yes"})
    vote(client, app, people["sato"], poll, {first: "no", second: "yes", third: "yes"})

    found = api.get(f"/api/v1/polls/{poll['id']}").get_json()
    counts = [(o["yes"], o["if_need_be"], o["no"]) for o in found["options"]]
    assert counts == [(1, 0, 1), (1, 1, 0), (2, 0, 0)]
    assert found["suiting_option_ids"] == [second, third]
    assert found["everyone_required_answered"] is True
    assert found["not_answered"] == []
    assert found["summary"] == (
        "Everyone required has answered. 2 options suit every required person."
    )
    li = next(p for p in found["people"] if p["person_id"] == people["li"]["id"])
    assert li["comment"] == "Not Wed"
    assert li["answers"] == {str(first): "yes", str(second): "if_need_be", str(third): "yes"}
    # 06:00 UTC is 14:00 in Beijing and 15:00 in Tokyo: working hours for both.
    assert li["categories"][str(third)] == "working"


def test_no_option_suiting_every_required_person_is_said_plainly(app, api, client, poll, people):
    first, second, third = (o["id"] for o in poll["options"])
    vote(client, app, people["li"], poll, {first: "yes", second: "no", third: "no"})
    vote(client, app, people["sato"], poll, {first: "no", second: "yes", third: "no"})
    found = api.get(f"/api/v1/polls/{poll['id']}").get_json()
    assert found["suiting_option_ids"] == []
    assert "No option suits every required person" in found["summary"]


def test_a_tampered_link_or_someone_not_asked_is_refused(app, client, poll, people, row_count):
    url = ballot_url(app, people["li"], poll)
    option = poll["options"][0]["id"]
    body = {"votes": [{"option_id": option, "answer": "yes"}]}
    assert client.put(url[:-10] + "x" + url[-9:], json=body).status_code == 404
    tampered = url.replace("/p/", "/p/A", 1)
    assert client.put(tampered, json=body).status_code == 404
    # Ann Arbor was not asked: her own valid link does not reach this poll.
    assert client.put(ballot_url(app, people["smith"], poll), json=body).status_code == 404
    assert row_count("poll_votes") == 0


def test_votes_for_another_polls_option_or_unknown_answers_are_refused(
    app, api, client, event, poll, people, row_count
):
    other = created(
        api.post(
            polls_url(event), json={"title": "Other", "options": typed("2027-05-01T01:00:00Z")}
        )
    )
    response = vote(client, app, people["li"], poll, {other["options"][0]["id"]: "yes"})
    assert_error(response, 422, "validation_error", f"votes.{other['options'][0]['id']}")
    response = client.put(
        ballot_url(app, people["li"], poll),
        json={"votes": [{"option_id": poll["options"][0]["id"], "answer": "maybe"}]},
    )
    assert response.status_code == 422
    assert row_count("poll_votes") == 0


def test_votes_after_the_close_are_refused_and_nothing_is_written(
    app, api, client, poll, people, row_count
):
    option = poll["options"][0]["id"]
    # The closing time has passed (set in the database: the test cannot wait for it).
    with app.app_context():
        db.session.execute(
            sa.update(Poll)
            .where(Poll.id == poll["id"])
            .values(closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
        db.session.commit()
    response = vote(client, app, people["li"], poll, {option: "yes"})
    assert_error(response, 409, "poll_closed")
    assert "stopped taking answers" in response.get_json()["error"]["message"]
    assert row_count("poll_votes") == 0
    assert api.post(f"/api/v1/polls/{poll['id']}/remind").status_code == 409
    # The organiser can still choose a time from the answers given.
    assert (
        api.post(f"/api/v1/polls/{poll['id']}/finalize", json={"option_id": option}).status_code
        == 201
    )


# --- reminding, closing, finalising ------------------------------------------------------


def test_reminders_go_only_to_those_who_have_not_answered_once_a_day(
    app, api, client, poll, people
):
    vote(client, app, people["li"], poll, {poll["options"][0]["id"]: "yes"})
    response = api.post(f"/api/v1/polls/{poll['id']}/remind")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["reminded"] == [people["sato"]["id"]]
    assert len(emails(app, "Reminder: when can you meet?")) == 1
    assert emails(app, "Reminder: when can you meet?", "sato@u-tokyo.example.org")
    again = api.post(f"/api/v1/polls/{poll['id']}/remind")
    body = assert_error(again, 409, "reminded_recently")
    assert "next_reminder_at" in body["details"]
    assert len(emails(app, "Reminder: when can you meet?")) == 1


def test_closing_a_poll_tells_everyone_and_stops_answers_and_finalising(
    app, api, client, poll, people, row_count
):
    response = api.delete(f"/api/v1/polls/{poll['id']}")
    assert response.status_code == 200
    assert response.get_json()["status"] == "closed"
    assert len(emails(app, "Poll closed")) == 2
    assert_error(
        vote(client, app, people["li"], poll, {poll["options"][0]["id"]: "yes"}), 409, "poll_closed"
    )
    response = api.post(
        f"/api/v1/polls/{poll['id']}/finalize", json={"option_id": poll["options"][0]["id"]}
    )
    assert_error(response, 409, "poll_closed")
    assert row_count("sessions") == 0
    assert_error(api.delete(f"/api/v1/polls/{poll['id']}"), 409, "poll_closed")


def test_finalising_books_the_session_and_tells_everyone(app, api, client, poll, people):
    first, second, third = (o["id"] for o in poll["options"])
    vote(client, app, people["li"], poll, {first: "yes", second: "yes"})
    vote(client, app, people["sato"], poll, {first: "no", second: "yes"})
    response = api.post(f"/api/v1/polls/{poll['id']}/finalize", json={"option_id": second})
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    session = answer["session"]
    assert session["start"] == "2027-03-10T01:00:00Z"
    assert session["end"] == "2027-03-10T02:00:00Z"
    assert session["title"] == "Spring coordination call"
    assert session["meeting"]["provider"] == "jitsi"
    assert session["meeting"]["join_url"].startswith("https://")
    assert answer["poll"]["status"] == "finalized"
    assert answer["poll"]["session_id"] == session["id"]
    assert answer["poll"]["chosen_option_id"] == second
    invitations = api.get(f"/api/v1/sessions/{session['id']}/invitations").get_json()
    assert sorted(i["person_id"] for i in invitations["items"]) == sorted(
        [people["li"]["id"], people["sato"]["id"]]
    )
    # Everyone is told which time was chosen, and gets the session's invitation.
    for address in ("li.wei@pku.example.org", "sato@u-tokyo.example.org"):
        assert len(emails(app, "Time chosen", address)) == 1
        assert len(emails(app, "Invitation:", address)) == 1
    (to_li,) = emails(app, "Time chosen", "li.wei@pku.example.org")
    assert "Wed 10 Mar 2027 09:00–10:00 (Beijing, Asia/Shanghai)" in text_of(to_li)
    # A second finalisation is refused; nothing more is booked.
    again = api.post(f"/api/v1/polls/{poll['id']}/finalize", json={"option_id": first})
    assert_error(again, 409, "poll_finalized")
    assert api.get(f"/api/v1/events/{poll['event_id']}/sessions").get_json()["total"] == 1


def test_a_finalisation_the_booking_refuses_keeps_the_poll_open(
    app, api, poll, event, people, row_count
):
    other = make_event(api, title="Board", kind="bilateral")
    make_session(
        api,
        other["id"],
        start="2027-03-10T01:30:00Z",
        invitees=[invitee(people["li"], role="chair")],
    )
    # Li chairs the poll's session too, so the two overlap for a chair.
    with app.app_context():
        from forum.polls.models import PollInvitee

        db.session.execute(
            sa.update(PollInvitee)
            .where(PollInvitee.poll_id == poll["id"], PollInvitee.person_id == people["li"]["id"])
            .values(role="chair")
        )
        db.session.commit()
    sessions_before = row_count("sessions")
    response = api.post(
        f"/api/v1/polls/{poll['id']}/finalize", json={"option_id": poll["options"][1]["id"]}
    )
    assert_error(response, 409, "conflict")
    assert row_count("sessions") == sessions_before
    assert api.get(f"/api/v1/polls/{poll['id']}").get_json()["status"] == "open"
    assert not emails(app, "Time chosen")


def test_finalising_an_option_of_another_poll_is_refused(api, event, poll, row_count):
    response = api.post(f"/api/v1/polls/{poll['id']}/finalize", json={"option_id": 999999})
    assert_error(response, 422, "validation_error", "option_id")
    assert row_count("sessions") == 0


def test_another_organiser_cannot_see_or_change_the_poll(make_organiser, poll):
    stranger = make_organiser("stranger@example.org")
    assert stranger.get(f"/api/v1/polls/{poll['id']}").status_code == 404
    assert stranger.delete(f"/api/v1/polls/{poll['id']}").status_code == 404
    response = stranger.post(
        f"/api/v1/polls/{poll['id']}/finalize", json={"option_id": poll["options"][0]["id"]}
    )
    assert response.status_code == 404


def test_outbound_events_tell_the_organisers_systems(app, api, client, event, people):
    created(
        api.post(
            "/api/v1/webhook-subscriptions",
            json={
                "url": "https://hooks.example.org/forum",
                "event_types": ["poll.created", "poll.answered", "poll.finalized"],
            },
        )
    )
    found = created(
        api.post(polls_url(event), json={"title": "Call", "options": typed("2027-03-10T01:00:00Z")})
    )
    option = found["options"][0]["id"]
    vote(client, app, people["li"], found, {option: "yes"})
    api.post(f"/api/v1/polls/{found['id']}/finalize", json={"option_id": option})
    with app.app_context():
        types = db.session.scalars(
            sa.select(WebhookDelivery.type).order_by(WebhookDelivery.id)
        ).all()
    assert types == ["poll.created", "poll.answered", "poll.finalized"]


def test_at_the_closing_time_everyone_is_told_once_and_the_organiser_gets_the_summary(
    app, api, client, poll, people
):
    first = poll["options"][0]["id"]
    vote(client, app, people["li"], poll, {first: "yes"})
    with app.app_context():
        db.session.execute(
            sa.update(Poll)
            .where(Poll.id == poll["id"])
            .values(closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
        db.session.commit()
    task = app.extensions["celery"].tasks["forum.close_due_polls"]
    assert task.apply().result == 1
    assert task.apply().result == 0  # once only
    told = emails(app, "Answers closed")
    assert sorted(m["To"].addresses[0].addr_spec for m in told) == [
        "li.wei@pku.example.org",
        "sato@u-tokyo.example.org",
    ]
    assert "will choose a time from the answers" in text_of(told[0])
    (summary,) = emails(app, "Answers are in", "organiser@example.org")
    body = summary.get_content()
    assert "1 of 2 required people have not answered yet." in body
    assert f"/polls/{poll['id']}" in body
    # The organiser can still book a time from the answers.
    assert api.get(f"/api/v1/polls/{poll['id']}").get_json()["status"] == "open"


def test_without_times_the_engine_offers_its_best_leaving_days_to_answer(api, event):
    poll = created(api.post(polls_url(event), json={"title": "Call"}))
    assert poll["source"] == "engine"
    assert len(poll["options"]) == 5
    now = dt.datetime.now(dt.UTC)
    first = min(dt.datetime.fromisoformat(o["start"]) for o in poll["options"])
    # From three days ahead in the event's zone (two days and a bit at the least).
    assert first - now > dt.timedelta(days=2)
    closes = dt.datetime.fromisoformat(poll["closes_at"])
    assert now + dt.timedelta(days=1) < closes <= first - dt.timedelta(hours=1)


def test_reading_a_poll_takes_as_many_queries_for_six_people_as_for_two(
    app, api, client, event, people
):
    from tests.helpers import recorded_statements
    from tests.test_web import log_in

    def queries(poll_id: int) -> tuple[int, int]:
        with recorded_statements(app) as api_statements:
            assert api.get(f"/api/v1/polls/{poll_id}").status_code == 200
        with recorded_statements(app) as page_statements:
            assert client.get(f"/polls/{poll_id}").status_code == 200
        return len(api_statements), len(page_statements)

    options = typed("2027-03-09T01:00:00Z", "2027-03-10T01:00:00Z", "2027-03-11T06:00:00Z")
    two = created(api.post(polls_url(event), json={"title": "Two", "options": options}))
    extra = [
        make_person(
            api, f"Person {n}", f"person{n}@u-tokyo.example.org", people["sato"]["institution_id"]
        )
        for n in range(2)
    ]
    six = created(
        api.post(
            polls_url(event),
            json={
                "title": "Six",
                "options": options,
                "invitees": [invitee(p) for p in (*people.values(), *extra)],
            },
        )
    )
    assert len(six["people"]) == 6
    log_in(client, "organiser@example.org", "secret-password")
    assert queries(six["id"]) == queries(two["id"])


def test_the_engines_view_of_each_option_is_the_same_however_the_options_are_spaced(api, event):
    # Three times on the half hour (the engine reads them in one search over their span)
    # and the same three with one more at 7 past (each read on its own).
    times = ["2027-03-10T01:00:00Z", "2027-03-10T15:30:00Z", "2027-03-13T02:00:00Z"]
    spaced = created(api.post(polls_url(event), json={"title": "A", "options": typed(*times)}))
    odd = created(
        api.post(
            polls_url(event),
            json={"title": "B", "options": typed(*times, "2027-03-12T03:07:00Z")},
        )
    )

    def view(poll: dict[str, Any]) -> dict[str, list[tuple[str, str, str]]]:
        return {
            o["start"]: [(s["name"], s["local_start"], s["category"]) for s in o["sites"]]
            for o in poll["options"]
        }

    assert view(spaced) == {start: view(odd)[start] for start in times}
    # 09:00 in Beijing on a Wednesday; 23:30 there; a Saturday.
    assert [sites[0][2] for sites in view(spaced).values()] == ["working", "night", "weekend"]
    person = spaced["people"][0]
    assert [person["categories"][str(o["id"])] for o in spaced["options"]] == [
        "working",
        "night",
        "weekend",
    ]
