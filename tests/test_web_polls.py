"""Poll pages through the real endpoints: the participant answers from their link (in any
zone, changed until the close, refused after it), the organiser opens a poll three ways
(the engine's best slots, typed times, the planner's ticked slots), reads the answers,
reminds, closes and books one of its times."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from forum.directory.models import Person
from forum.events import calendars
from forum.extensions import db
from forum.polls.models import Poll
from forum.polls.models import PollVote
from tests.conftest import ApiClient
from tests.conftest import csrf_token
from tests.factories import created
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.test_web import log_in
from tests.test_web import section

ORGANISER = "organiser@example.org"
# 09:00 in Beijing, 10:00 in Tokyo; 23:30 in Beijing on Wednesday 10 March 2027 is
# Wednesday 15:30 in London and Thursday 00:30 in Tokyo.
STARTS = ("2027-03-09T01:00:00Z", "2027-03-10T15:30:00Z", "2027-03-11T06:00:00Z")


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash[^"]*">(.*?)</p>', page)]


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
def people(api: ApiClient) -> dict[str, Any]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    tokyo = make_institution(api, "University of Tokyo", "JP", "Asia/Tokyo")
    return {
        "li": make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"]),
        "sato": make_person(api, "Sato Hanako", "sato@u-tokyo.example.org", tokyo["id"]),
    }


@pytest.fixture
def event(api: ApiClient, people) -> dict[str, Any]:
    found = make_event(api, title="PKU - UTokyo cooperation", kind="bilateral")
    for key in ("li", "sato"):
        created(
            api.post(
                f"/api/v1/events/{found['id']}/participants",
                json={"person_id": people[key]["id"], "role": "participant", "required": True},
            )
        )
    return found


@pytest.fixture
def poll(api: ApiClient, event) -> dict[str, Any]:
    return created(
        api.post(
            f"/api/v1/events/{event['id']}/polls",
            json={"title": "Spring call", "options": [{"start": s} for s in STARTS]},
        )
    )


def ballot_path(app: Flask, person: dict[str, Any], poll: dict[str, Any]) -> str:
    with app.app_context():
        token = calendars.agenda_token(db.session.get(Person, person["id"]))
    return f"/p/{token}/polls/{poll['id']}"


def votes(app: Flask, person: dict[str, Any]) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(PollVote.answer)
                .where(PollVote.person_id == person["id"])
                .order_by(PollVote.option_id)
            )
        )


def organiser_post(client: FlaskClient, page_path: str, path: str, **fields: Any):
    token = csrf_token(client.get(page_path).text)
    return client.post(path, data={"csrf_token": token, **fields})


# --- the participant -------------------------------------------------------------------------


def test_a_participant_answers_in_their_zone_and_changes_an_answer(
    app, client, poll, people
) -> None:
    path = ballot_path(app, people["sato"], poll)
    first, second, third = (o["id"] for o in poll["options"])
    page = client.get(path)
    assert page.status_code == 200
    shown = text_of(page.text)
    # Tokyo's own day and time first, then the event's home zone (Beijing) and UTC.
    assert "Thursday 11 March 2027 00:30–01:30 Asia/Tokyo" in shown
    assert "Wed 10 Mar 2027 23:30–Thu 11 Mar 2027 00:30 (Beijing, Asia/Shanghai)" in shown
    assert "Wed 10 Mar 2027 15:30–16:30 (UTC)" in shown
    assert shown.count("Save my answers") == 1
    assert page.text.count('<fieldset class="ballot-option') == 3

    # In London's zone, kept through the POST.
    london = client.get(path + "?tz=Europe/London")
    assert "Wednesday 10 March 2027 15:30–16:30 Europe/London" in text_of(london.text)
    response = client.post(
        path,
        data={
            "tz": "Europe/London",
            f"answer-{first}": "yes",
            f"answer-{second}": "if_need_be",
            f"answer-{third}": "no",
            "comment": "Thursdays are best",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(path + "?tz=Europe/London")
    page = client.get(response.headers["Location"])
    assert flashes(page.text)[0].startswith("Your answers are saved")
    assert f'name="answer-{second}" value="if_need_be" checked' in page.text
    assert votes(app, people["sato"]) == ["yes", "if_need_be", "no"]

    # Changed before the close: one answer, the others and the comment stay.
    client.post(path, data={f"answer-{third}": "yes", "comment": "Thursdays are best"})
    assert votes(app, people["sato"]) == ["yes", "if_need_be", "yes"]

    # The agenda lists the poll at the top, answered.
    agenda = client.get(path.split("/polls/")[0])
    waiting = section(agenda.text, "polls-heading")
    assert "Spring call" in waiting and "You have answered" in waiting
    assert f'href="{path}"' in waiting


def test_a_wrong_answer_is_shown_by_its_time_and_nothing_is_written(
    app, client, poll, people, row_count
) -> None:
    path = ballot_path(app, people["li"], poll)
    first, second, _ = (o["id"] for o in poll["options"])
    response = client.post(path, data={f"answer-{first}": "yes", f"answer-{second}": "maybe"})
    assert response.status_code == 422
    problem = re.search(
        rf'<ul class="field-errors" id="option-{second}-errors"><li>(.*?)</li>', response.text
    )
    assert problem and problem.group(1) == "Choose Yes, If need be or No."
    # What was chosen stays chosen on the page.
    assert f'name="answer-{first}" value="yes" checked' in response.text
    assert client.post(path, data={}).status_code == 422
    assert row_count("poll_votes") == 0


def test_after_the_close_answers_are_refused_and_shown_read_only(
    app, client, poll, people, row_count
) -> None:
    path = ballot_path(app, people["li"], poll)
    option = poll["options"][0]["id"]
    with app.app_context():
        db.session.execute(
            sa.update(Poll)
            .where(Poll.id == poll["id"])
            .values(closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
        db.session.commit()
    response = client.post(path, data={f"answer-{option}": "yes"})
    assert response.status_code == 409
    assert "Your answers were not saved: this poll stopped taking answers" in response.text
    assert row_count("poll_votes") == 0
    page = client.get(path)
    assert "This poll stopped taking answers" in text_of(page.text)
    assert "Save my answers" not in page.text
    assert "Your answer: no answer" in text_of(page.text)


def test_a_tampered_link_or_a_person_not_asked_gets_404(app, api, client, poll, people) -> None:
    path = ballot_path(app, people["li"], poll)
    assert client.get(path.replace("/p/", "/p/A", 1)).status_code == 404
    assert client.post(path.replace("/p/", "/p/A", 1), data={}).status_code == 404
    institution = make_institution(api, "University of Michigan", "US", "America/Detroit")
    smith = make_person(api, "Jane Smith", "jsmith@umich.example.org", institution["id"])
    assert client.get(ballot_path(app, smith, poll)).status_code == 404
    assert client.get(path.rsplit("/", 1)[0] + "/999999").status_code == 404


# --- the organiser -----------------------------------------------------------------------------


def test_an_organiser_opens_a_poll_on_the_engines_best_slots(client, event, people) -> None:
    log_in(client, ORGANISER)
    new = f"/events/{event['id']}/polls/new"
    form = client.get(new)
    assert form.status_code == 200
    assert re.search(r'checked[^>]*value="engine"', form.text)
    response = organiser_post(
        client,
        new,
        new,
        title="Spring call",
        duration_minutes="60",
        source="engine",
        limit="3",
        window_start="2027-03-08",
        window_end="2027-03-12",
    )
    assert response.status_code == 303, text_of(response.text)[:2000]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "2 of 2 required people have not answered yet." in shown
    assert page.text.count('<th scope="col" class="option') == 3
    # Grouped by country, then institution; each cell says the answer and the hour's kind.
    assert shown.index("China") < shown.index("Peking University") < shown.index("Li Wei")
    assert shown.count("no answer yet") == 6
    assert "working hours" in shown
    event_page = client.get(f"/events/{event['id']}")
    polls = section(event_page.text, "polls-heading")
    assert "Spring call" in polls and "0 of 2" in polls


def test_typed_times_are_checked_row_by_row_and_nothing_is_written(
    client, event, row_count
) -> None:
    log_in(client, ORGANISER)
    new = f"/events/{event['id']}/polls/new"
    token = csrf_token(client.get(new).text)
    # Row 1 is empty; 02:30 does not exist in Ann Arbor on 14 March 2027; row 4 has passed.
    rows = {
        "local_start": ["", "2027-03-10T09:00", "2027-03-14T02:30", "2020-01-01T09:00"],
        "timezone": ["Asia/Tokyo", "Asia/Tokyo", "America/Detroit", "Asia/Tokyo"],
    }
    fields = {"csrf_token": token, "title": "Call", "duration_minutes": "45", "source": "typed"}
    response = client.post(new, data={**fields, **rows})
    assert response.status_code == 422
    summary = text_of(response.text.split('id="form-errors"', 1)[1].split("</div>", 1)[0])
    assert "Time 3 :" in summary and "Time 4 :" in summary and "Time 2" not in summary
    row_3 = re.search(r'id="option-2-errors"><li>(.*?)</li>', response.text).group(1)
    assert "does not exist" in row_3 or "2027-03-14" in row_3
    assert "has passed" in re.search(r'id="option-3-errors"><li>(.*?)</li>', response.text).group(1)
    assert row_count("polls") == 0
    # The rows come back as typed; "Add a row" gives one more.
    more = client.post(new, data={**fields, **rows, "add_row": "1"})
    assert more.text.count('name="local_start"') == 5
    assert 'value="2027-03-14T02:30"' in more.text

    rows["local_start"][2:] = ["2027-03-14T09:00", ""]
    response = client.post(new, data={**fields, **rows})
    assert response.status_code == 303
    page = text_of(client.get(response.headers["Location"]).text)
    # The organiser's zone (Beijing) first: 09:00 Tokyo is 08:00 Beijing.
    assert "Wed 10 Mar 2027 08:00–08:45 (Beijing, Asia/Shanghai)" in page
    assert "typed times" in page


def test_times_ticked_in_the_planner_open_a_poll(client, event) -> None:
    log_in(client, ORGANISER)
    planner = client.get(f"/events/{event['id']}/planner")
    assert 'form="poll-from-planner"' in planner.text
    ticked = re.findall(
        r'name="poll_start" value="([^"]+)" form="poll-from-planner"', planner.text
    )[:2]
    assert len(ticked) == 2
    new = f"/events/{event['id']}/polls/new"
    token = csrf_token(planner.text)
    form = client.post(
        new,
        data={
            "csrf_token": token,
            "from_planner": "1",
            "duration_minutes": "60",
            "poll_start": ticked,
        },
    )
    assert form.status_code == 200
    assert re.search(r'checked[^>]*value="planner"', form.text)
    assert form.text.count('name="poll_start"') == 2
    response = client.post(
        new,
        data={
            "csrf_token": token,
            "title": "Picked",
            "duration_minutes": "60",
            "source": "planner",
            "poll_start": ticked,
        },
    )
    assert response.status_code == 303
    page = text_of(client.get(response.headers["Location"]).text)
    assert "the planner" in page


def test_bad_poll_fields_are_shown_by_the_field(client, event, row_count) -> None:
    log_in(client, ORGANISER)
    new = f"/events/{event['id']}/polls/new"
    fields = {"duration_minutes": "60", "source": "engine", "window_start": "2027-03-12"}
    response = organiser_post(client, new, new, title="", window_end="2027-03-08", **fields)
    assert response.status_code == 422
    assert 'id="title-errors"' in response.text
    response = organiser_post(client, new, new, title="Call", window_end="2027-03-08", **fields)
    assert response.status_code == 422
    problem = re.search(r'id="window_end-errors">\s*<li>(.*?)</li>', response.text).group(1)
    assert html.unescape(problem) == "Must be after the “From” date."
    response = organiser_post(
        client,
        new,
        new,
        title="Call",
        window_end="2027-03-16",
        closes_local="2020-01-01T10:00",
        **fields,
    )
    assert response.status_code == 422
    problem = re.search(r'id="closes_local-errors">\s*<li>(.*?)</li>', response.text).group(1)
    # Read in the organiser's zone (Beijing): 10:00 there is 02:00 UTC.
    assert problem == "2020-01-01T02:00:00Z has passed."
    assert row_count("polls") == 0


def test_the_organiser_reminds_closes_and_books_a_time(
    app, api, client, event, poll, people
) -> None:
    first, second, _ = (o["id"] for o in poll["options"])
    client.post(
        ballot_path(app, people["li"], poll),
        data={f"answer-{first}": "yes", f"answer-{second}": "no", "comment": "Not Wed night"},
    )
    log_in(client, ORGANISER)
    page_path = f"/polls/{poll['id']}"
    page = client.get(page_path)
    shown = text_of(page.text)
    assert "Li Wei : Not Wed night" in text_of(section(page.text, "comments-heading"))
    assert "1 yes 0 if need be 0 no 1 not yet" in shown
    waiting = text_of(section(page.text, "waiting-heading"))
    assert "Sato Hanako" in waiting and "Li Wei" not in waiting

    remind = organiser_post(client, page_path, f"/polls/{poll['id']}/remind")
    assert remind.status_code == 303
    reminded = client.get(page_path).text
    assert flashes(reminded) == ["A reminder is being emailed to Sato Hanako."]
    # Until a day has passed the page offers no second reminder, and says when it can go.
    waiting = text_of(section(reminded, "waiting-heading"))
    assert "Remind them" not in waiting
    assert "The next one can go from" in waiting
    organiser_post(client, page_path, f"/polls/{poll['id']}/remind")
    [refused] = flashes(client.get(page_path).text)
    assert "at most one a day" in refused

    booked = organiser_post(client, page_path, f"/polls/{poll['id']}/finalize", option_id=first)
    assert booked.status_code == 303
    assert re.search(r"/sessions/\d+$", booked.headers["Location"])
    session_page = client.get(booked.headers["Location"])
    assert "is booked at the time chosen in the poll" in flashes(session_page.text)[0]
    page = client.get(page_path)
    assert "Booked:" in text_of(page.text)
    assert f'href="{booked.headers["Location"]}"' in page.text
    assert "Book this time" not in page.text
    # The participant's page says so and shows the chosen time.
    ballot = text_of(client.get(ballot_path(app, people["sato"], poll)).text)
    assert "a time was chosen" in ballot
    assert "Tue 09 Mar 2027 10:00–11:00 (Asia/Tokyo)" in ballot

    # Another poll, closed without booking.
    other = created(
        api.post(
            f"/api/v1/events/{event['id']}/polls",
            json={"title": "Other", "options": [{"start": "2027-05-01T01:00:00Z"}]},
        )
    )
    other_path = f"/polls/{other['id']}"
    organiser_post(client, other_path, f"/polls/{other['id']}/close")
    page = client.get(other_path)
    assert "The poll is closed without booking a time" in flashes(page.text)[0]
    assert "closed without booking a time" in text_of(page.text)


def test_another_organiser_cannot_see_or_change_the_poll(
    client, make_organiser, event, poll
) -> None:
    make_organiser("other@example.org", name="Otto Other")
    log_in(client, "other@example.org")
    assert client.get(f"/polls/{poll['id']}").status_code == 404
    assert client.get(f"/events/{event['id']}/polls/new").status_code == 404
    token = csrf_token(client.get("/").text)
    for action in ("remind", "close", "finalize"):
        response = client.post(
            f"/polls/{poll['id']}/{action}",
            data={"csrf_token": token, "option_id": poll["options"][0]["id"]},
        )
        assert response.status_code == 404, action
