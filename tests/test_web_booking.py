"""The booking form: repeating sessions, the preview of every date, local times the clocks
skip or repeat, and starts in the past."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ApiClient
from tests.conftest import csrf_token
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.helpers import recorded_statements
from tests.test_web import log_in
from tests.test_web_events import field_errors

# Written tables: a refused or previewed booking leaves every one of them as it was.
WRITTEN = ("sessions", "invitations", "video_meetings", "session_overrides")


@pytest.fixture
def organiser(client: FlaskClient, make_organiser) -> ApiClient:
    api = make_organiser(timezone="Europe/London")
    log_in(client, "organiser@example.org")
    return api


@pytest.fixture
def pku_michigan(organiser: ApiClient) -> dict:
    """An event between Peking University (Beijing) and the University of Michigan (Ann
    Arbor), a chair at each."""
    pku = make_institution(organiser, "Peking University", "CN", "Asia/Shanghai")
    umich = make_institution(organiser, "University of Michigan", "US", "America/Detroit")
    li = make_person(organiser, "Li Wei", "li.wei@pku.example.cn", pku["id"])
    smith = make_person(organiser, "Ann Smith", "ann.smith@umich.example.edu", umich["id"])
    event = make_event(organiser, title="PKU–UMich", kind="bilateral", timezone="Asia/Shanghai")
    for person in (li, smith):
        response = organiser.post(
            f"/api/v1/events/{event['id']}/participants",
            json={"person_id": person["id"], "role": "chair"},
        )
        assert response.status_code == 201, response.json
    return {"event": event, "pku": pku, "umich": umich, "li": li, "smith": smith}


def form_path(event: dict) -> str:
    return f"/events/{event['id']}/sessions/new"


def post_booking(client: FlaskClient, event: dict, fields: dict, *, preview: bool = False):
    page = client.get(form_path(event))
    data = {
        "title": "Weekly call",
        "duration_minutes": "60",
        "provider": "jitsi",
        "timezone": "Asia/Shanghai",
        "ends": "count",
        **fields,
        "csrf_token": csrf_token(page.text),
    }
    if preview:
        data["preview"] = "1"
    return client.post(form_path(event), data=data)


def booked(organiser: ApiClient, response) -> dict:
    assert response.status_code == 303, re.findall(r"<li>(.*?)</li>", response.text)
    session_id = int(response.headers["Location"].rsplit("/", 1)[1])
    body = organiser.get(f"/api/v1/sessions/{session_id}").json
    body["invitations"] = organiser.get(f"/api/v1/sessions/{session_id}/invitations").json["items"]
    return body


def sent(app: Flask) -> list:
    """The emails sent so far (the memory sender exists once the first is sent)."""
    sender = app.extensions.get("forum_mail_sender")
    return list(sender.messages) if sender is not None else []


def counts(row_count) -> dict[str, int]:
    return {table: row_count(table) for table in WRITTEN}


def text_of(page: str) -> str:
    """The page's text, tags dropped and spaces collapsed, for phrases split over lines."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


# --- repeats -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "rrule"),
    [
        (
            {"repeat": "weekly", "weekdays": ["WE", "FR"], "count": "6"},
            "FREQ=WEEKLY;BYDAY=WE,FR;COUNT=6",
        ),
        ({"repeat": "weekly", "count": "4"}, "FREQ=WEEKLY;BYDAY=WE;COUNT=4"),
        (
            {"repeat": "weeks", "weeks_apart": "3", "ends": "until", "until": "2027-06-30"},
            "FREQ=WEEKLY;INTERVAL=3;BYDAY=WE;UNTIL=20270630T235959",
        ),
        ({"repeat": "monthly_date", "count": "5"}, "FREQ=MONTHLY;BYMONTHDAY=10;COUNT=5"),
        (
            {"repeat": "monthly_weekday", "month_position": "nth", "count": "5"},
            "FREQ=MONTHLY;BYDAY=2WE;COUNT=5",
        ),
    ],
)
def test_the_repeat_fields_make_the_series_rule(
    client: FlaskClient, organiser: ApiClient, pku_michigan: dict, fields: dict, rrule: str
) -> None:
    # Wednesday 10 March 2027, the second Wednesday of the month.
    response = post_booking(
        client, pku_michigan["event"], {"local_start": "2027-03-10T21:00", **fields}
    )
    body = booked(organiser, response)
    assert body["rrule"] == rrule
    assert body["start"] == "2027-03-10T13:00:00Z"
    assert body["timezone"] == "Asia/Shanghai"
    people = sorted(i["person_id"] for i in body["invitations"])
    assert people == sorted([pku_michigan["li"]["id"], pku_michigan["smith"]["id"]])


def test_monthly_on_the_last_weekday(
    client: FlaskClient, organiser: ApiClient, pku_michigan: dict
) -> None:
    # Friday 26 March 2027 is both the fourth and the last Friday of March.
    fields = {"local_start": "2027-03-26T21:00", "repeat": "monthly_weekday", "count": "3"}
    response = post_booking(client, pku_michigan["event"], {**fields, "month_position": "last"})
    assert booked(organiser, response)["rrule"] == "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3"


def test_a_series_and_its_invitations_are_those_of_the_api(
    app: Flask, client: FlaskClient, organiser: ApiClient, pku_michigan: dict
) -> None:
    """The form books through the API's service: same rule, times and invitations."""
    before = len(sent(app))
    response = post_booking(
        client,
        pku_michigan["event"],
        {"local_start": "2027-03-10T21:00", "repeat": "weekly", "count": "4"},
    )
    from_form = booked(organiser, response)
    form_mails = sent(app)[before:]
    response = organiser.post(
        f"/api/v1/events/{pku_michigan['event']['id']}/sessions",
        json={
            "title": "Weekly call",
            "local_start": "2027-03-17T21:00",
            "timezone": "Asia/Shanghai",
            "duration_minutes": 60,
            "rrule": from_form["rrule"],
            "allow_conflicts": True,
        },
    )
    assert response.status_code == 201, response.json
    api_mails = sent(app)[before + len(form_mails) :]
    assert sorted(m["To"] for m in form_mails) == sorted(m["To"] for m in api_mails)
    assert len(form_mails) == 2
    for message in [*form_mails, *api_mails]:
        calendar = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        assert "RRULE:FREQ=WEEKLY;COUNT=4;BYDAY=WE\r\n" in calendar.get_content()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"repeat": "weekly", "weekdays": ["MO", "TU"], "count": "4"},
            "weekdays",
            "The first date is a Wednesday: tick Wednesday too, or start on one of the days "
            "ticked.",
        ),
        (
            {"repeat": "weekly", "count": "2000"},
            "count",
            "That makes 2,000 dates; a series has at most 1,000.",
        ),
        (
            {"repeat": "monthly_date", "ends": "until", "until": "2027-03-01"},
            "until",
            "The last date is before the first (10 March 2027).",
        ),
        (
            {"repeat": "monthly_weekday", "month_position": "last", "count": "3"},
            "month_position",
            "Wednesday 10 March 2027 is not the last Wednesday of its month: choose the other "
            "option, or start on the last one.",
        ),
        (
            {"repeat": "weeks", "weeks_apart": "", "count": "3"},
            "weeks_apart",
            "Give the weeks between dates, from 2 to 52.",
        ),
        ({"repeat": "weekly", "count": ""}, "count", "Give the number of dates, 1 or more."),
    ],
)
def test_a_series_the_rules_refuse_is_explained_at_its_field_and_nothing_is_written(
    client: FlaskClient, pku_michigan: dict, row_count, fields: dict, field: str, message: str
) -> None:
    before = counts(row_count)
    for preview in (False, True):
        response = post_booking(
            client,
            pku_michigan["event"],
            {"local_start": "2027-03-10T21:00", **fields},
            preview=preview,
        )
        assert response.status_code == 422
        assert field_errors(response.text, field) == [message]
    assert counts(row_count) == before


def test_a_series_that_ends_on_a_date_needs_the_date(
    client: FlaskClient, pku_michigan: dict
) -> None:
    response = post_booking(
        client,
        pku_michigan["event"],
        {"local_start": "2027-03-10T21:00", "repeat": "weekly", "ends": "until"},
    )
    assert field_errors(response.text, "until") == [
        "Give the last date (or end after a number of dates)."
    ]


def test_dates_the_clocks_skip_are_refused_or_left_out(
    client: FlaskClient, organiser: ApiClient, pku_michigan: dict, row_count
) -> None:
    # Sundays at 02:30 in Ann Arbor: 14 March 2027 has no 02:30.
    fields = {
        "local_start": "2027-03-07T02:30",
        "timezone": "America/Detroit",
        "repeat": "weekly",
        "count": "3",
    }
    before = counts(row_count)
    response = post_booking(client, pku_michigan["event"], fields)
    assert response.status_code == 422
    assert field_errors(response.text, "skip_invalid_local_times") == [
        "The series meets at 02:30, which the clocks in America/Detroit skip or repeat on "
        "Sun 14 Mar 2027. Choose another time, or tick “Leave out…” to book the series "
        "without those dates."
    ]
    assert counts(row_count) == before
    response = post_booking(
        client, pku_michigan["event"], {**fields, "skip_invalid_local_times": "y"}
    )
    body = booked(organiser, response)
    assert body["rrule"] == "FREQ=WEEKLY;BYDAY=SU;COUNT=3"
    # 02:30 read by the offset before the change: 07:30 UTC.
    assert body["exdates"] == ["2027-03-14T07:30:00Z"]


# --- the preview -------------------------------------------------------------------------


def preview_rows(page: str) -> list[str]:
    return [text_of(row) for row in re.findall(r'<tr id="date-\d+"[^>]*>(.*?)</tr>', page, re.S)]


def moves(page: str) -> list[str]:
    return [text_of(row) for row in re.findall(r'<tr class="preview-move">(.*?)</tr>', page, re.S)]


def test_the_preview_lists_every_date_at_every_site_and_writes_nothing(
    app: Flask, client: FlaskClient, pku_michigan: dict, row_count
) -> None:
    emails = len(sent(app))
    before = counts(row_count)
    # Weekly on Wednesdays at 21:00 in Beijing across the US clock change of 14 March.
    response = post_booking(
        client,
        pku_michigan["event"],
        {"local_start": "2027-03-03T21:00", "repeat": "weekly", "count": "4"},
        preview=True,
    )
    assert response.status_code == 200
    assert counts(row_count) == before
    assert len(sent(app)) == emails
    rows = preview_rows(response.text)
    assert rows == [
        "1 Wed 03 Mar 2027 21:00 Wed 03 Mar 2027 13:00 (Europe/London) 13:00 UTC "
        "Wed 03 Mar 21:00 late Wed 03 Mar 08:00 early",
        "2 Wed 10 Mar 2027 21:00 Wed 10 Mar 2027 13:00 (Europe/London) 13:00 UTC "
        "Wed 10 Mar 21:00 late Wed 10 Mar 08:00 early",
        "3 Wed 17 Mar 2027 21:00 Wed 17 Mar 2027 13:00 (Europe/London) 13:00 UTC "
        "Wed 17 Mar 21:00 late Wed 17 Mar 09:00 working hours",
        "4 Wed 24 Mar 2027 21:00 Wed 24 Mar 2027 13:00 (Europe/London) 13:00 UTC "
        "Wed 24 Mar 21:00 late Wed 24 Mar 09:00 working hours",
    ]
    # The hour's move, just above the first date it applies to.
    assert moves(response.text) == [
        "Time change: University of Michigan: from Wed 17 Mar 2027 the session starts at "
        "09:00 (America/Detroit), 1 hour later than the usual 08:00: clocks in "
        "America/Detroit go forward on Sun 14 Mar 2027."
    ]
    page = response.text
    assert page.index("preview-move") < page.index('id="date-3"')
    assert page.index('id="date-2"') < page.index("preview-move")


def test_the_preview_says_when_a_sites_hour_moves_and_when_it_comes_back(
    client: FlaskClient, pku_michigan: dict
) -> None:
    # The 10th of each month at 21:00 in Beijing, February to December 2027: Ann Arbor's
    # 08:00 is 09:00 from April (clocks forward on 14 March) until November (back on 7th).
    response = post_booking(
        client,
        pku_michigan["event"],
        {"local_start": "2027-02-10T21:00", "repeat": "monthly_date", "count": "11"},
        preview=True,
    )
    assert response.status_code == 200
    assert moves(response.text) == [
        "Time change: University of Michigan: from Sat 10 Apr 2027 the session starts at "
        "09:00 (America/Detroit), 1 hour later than the usual 08:00: clocks in "
        "America/Detroit go forward on Sun 14 Mar 2027.",
        "Time change: University of Michigan: from Wed 10 Nov 2027 the session starts at its "
        "usual 08:00 (America/Detroit) again: clocks in America/Detroit go back on "
        "Sun 07 Nov 2027.",
    ]
    page = response.text
    assert page.index('id="date-2"') < page.index("preview-move") < page.index('id="date-3"')


def test_the_preview_marks_holidays_clashes_and_clock_changes(
    client: FlaskClient, organiser: ApiClient, pku_michigan: dict, row_count
) -> None:
    # Another event whose weekly board call the Michigan chair chairs, Thursdays at 13:30
    # UTC from 11 November; the one of 18 November is cancelled.
    other = make_event(organiser, title="Michigan board", kind="bilateral")
    organiser.post(
        f"/api/v1/events/{other['id']}/participants",
        json={"person_id": pku_michigan["smith"]["id"], "role": "chair"},
    )
    response = organiser.post(
        f"/api/v1/events/{other['id']}/sessions",
        json={
            "title": "Board call",
            "start": "2027-11-11T13:30:00Z",
            "duration_minutes": 60,
            "rrule": "FREQ=WEEKLY;COUNT=3",
        },
    )
    assert response.status_code == 201, response.json
    response = organiser.delete(
        f"/api/v1/sessions/{response.json['id']}/occurrences/2027-11-18T13:30:00Z"
    )
    assert response.status_code in (200, 204), response.json
    before = counts(row_count)
    # Sundays at 01:30 in Ann Arbor from 31 October: 7 November's 01:30 happens twice.
    response = post_booking(
        client,
        pku_michigan["event"],
        {
            "local_start": "2027-10-31T01:30",
            "timezone": "America/Detroit",
            "repeat": "weekly",
            "count": "3",
        },
        preview=True,
    )
    assert response.status_code == 200
    rows = preview_rows(response.text)
    assert (
        "Clock change: 01:30 happens twice in America/Detroit that day: clocks go back; "
        in (rows[1])
    )
    assert "Clock change" not in rows[0] and "Clock change" not in rows[2]
    # 1 October, China's National Day, at 21:00 in Beijing; and a clash on 11 November.
    response = post_booking(
        client,
        pku_michigan["event"],
        {"local_start": "2027-10-01T21:00", "repeat": "monthly_date", "count": "2"},
        preview=True,
    )
    rows = preview_rows(response.text)
    assert "public holiday" in rows[0]
    assert "Public holiday at Peking University." in rows[0]
    assert "Public holiday" not in rows[1]
    response = post_booking(
        client,
        pku_michigan["event"],
        {"local_start": "2027-11-04T21:00", "repeat": "weekly", "count": "4"},
        preview=True,
    )
    rows = preview_rows(response.text)
    clash = "Clash: Ann Smith (chair) is already chair in “Board call” from 13:30 to 14:30 UTC."
    assert [clash in row for row in rows] == [False, True, False, True]
    assert all(row.count("Clash") <= 1 for row in rows)
    assert counts(row_count) == before


def test_preview_queries_do_not_grow_with_dates_and_sites(
    app: Flask, client: FlaskClient, organiser: ApiClient, pku_michigan: dict
) -> None:
    event = pku_michigan["event"]

    def statements(count: int) -> int:
        page = client.get(form_path(event))
        data = {
            "title": "Call",
            "duration_minutes": "60",
            "provider": "jitsi",
            "timezone": "Asia/Shanghai",
            "local_start": "2027-03-03T21:00",
            "repeat": "weekly",
            "ends": "count",
            "count": str(count),
            "preview": "1",
            "csrf_token": csrf_token(page.text),
        }
        with recorded_statements(app) as recorded:
            response = client.post(form_path(event), data=data)
        assert response.status_code == 200
        assert len(preview_rows(response.text)) == count
        return len(recorded)

    def book_other(title: str, start: str) -> None:
        response = organiser.post(
            f"/api/v1/events/{event['id']}/sessions",
            json={
                "title": title,
                "start": start,
                "duration_minutes": 60,
                "allow_conflicts": True,
            },
        )
        assert response.status_code == 201, response.json

    # A clash on the first date, then more sites and clashes on more dates.
    book_other("Other", "2027-03-03T13:00:00Z")
    small = statements(2)
    zones = ["Europe/London", "Australia/Sydney", "Asia/Kolkata", "Pacific/Auckland"]
    countries = ["GB", "AU", "IN", "NZ"]
    for index, (zone, country) in enumerate(zip(zones, countries, strict=True)):
        site = make_institution(organiser, f"University {index}", country, zone)
        person = make_person(
            organiser, f"Person {index}", f"p{index}@u{index}.example.org", site["id"]
        )
        organiser.post(
            f"/api/v1/events/{event['id']}/participants",
            json={"person_id": person["id"], "role": "speaker"},
        )
        book_other(f"Other {index}", f"2027-03-{10 + 7 * index}T13:00:00Z")
    assert statements(40) == small


# --- local times the clocks skip or repeat -----------------------------------------------


def test_a_start_that_happens_twice_offers_both_instants(
    client: FlaskClient, organiser: ApiClient, pku_michigan: dict, row_count
) -> None:
    fields = {"local_start": "2027-11-07T01:30", "timezone": "America/Detroit"}
    before = counts(row_count)
    response = post_booking(client, pku_michigan["event"], fields)
    assert response.status_code == 422
    assert counts(row_count) == before
    assert field_errors(response.text, "fold") == [
        "01:30 happens twice in America/Detroit on Sunday 7 November 2027, as the clocks go "
        "back that night: choose which of the two."
    ]
    choices = re.findall(
        r'name="fold" type="radio" value="(\d)"> <label for="fold-\d">(.*?)</label>', response.text
    )
    assert choices == [
        ("0", "01:30 EDT, 05:30 UTC"),
        ("1", "01:30 EST, 06:30 UTC"),
    ]
    response = post_booking(client, pku_michigan["event"], {**fields, "fold": "1"})
    assert booked(organiser, response)["start"] == "2027-11-07T06:30:00Z"
    response = post_booking(
        client, pku_michigan["event"], {**fields, "fold": "0", "allow_conflicts": "y"}
    )
    assert booked(organiser, response)["start"] == "2027-11-07T05:30:00Z"


def test_a_series_at_a_repeated_time_keeps_the_first_instant(
    client: FlaskClient, pku_michigan: dict, row_count
) -> None:
    before = counts(row_count)
    fields = {
        "local_start": "2027-11-07T01:30",
        "timezone": "America/Detroit",
        "fold": "1",
        "repeat": "weekly",
        "count": "2",
    }
    response = post_booking(client, pku_michigan["event"], fields)
    assert response.status_code == 422
    assert field_errors(response.text, "fold") == [
        "A repeating session at a time that happens twice keeps the first of the two, as "
        "calendars read it: choose the first."
    ]
    assert counts(row_count) == before


def test_a_start_the_clocks_skip_is_explained(
    client: FlaskClient, pku_michigan: dict, row_count
) -> None:
    before = counts(row_count)
    response = post_booking(
        client,
        pku_michigan["event"],
        {"local_start": "2027-03-14T02:30", "timezone": "America/Detroit"},
    )
    assert response.status_code == 422
    assert field_errors(response.text, "local_start") == [
        "02:30 does not exist in America/Detroit on Sunday 14 March 2027: the clocks jump "
        "from 02:00 to 03:00 that night. Choose a time before 02:00 or from 03:00."
    ]
    assert 'name="fold"' not in response.text
    assert counts(row_count) == before


# --- starts in the past ------------------------------------------------------------------


def test_a_start_in_the_past_is_booked_only_once_confirmed(
    client: FlaskClient, organiser: ApiClient, pku_michigan: dict, row_count
) -> None:
    fields = {"local_start": "2020-03-10T21:00"}
    before = counts(row_count)
    assert 'name="confirm_past"' not in client.get(form_path(pku_michigan["event"])).text
    response = post_booking(client, pku_michigan["event"], fields)
    assert response.status_code == 422
    assert field_errors(response.text, "confirm_past") == [
        "This starts on Tuesday 10 March 2020 at 21:00 (Beijing, Asia/Shanghai), which is in the "
        "past. Tick the box to book it all the same."
    ]
    assert "Yes, book it in the past; the invitations will be sent" in response.text
    assert counts(row_count) == before
    body = booked(
        organiser, post_booking(client, pku_michigan["event"], {**fields, "confirm_past": "y"})
    )
    assert body["start"] == "2020-03-10T13:00:00Z"
    assert len(body["invitations"]) == 2


def test_a_one_off_in_the_past_previews_its_date_and_asks_for_the_confirmation(
    client: FlaskClient, pku_michigan: dict, row_count
) -> None:
    before = counts(row_count)
    response = post_booking(
        client, pku_michigan["event"], {"local_start": "2020-03-10T21:00"}, preview=True
    )
    assert response.status_code == 200
    assert preview_rows(response.text) == [
        "1 Tue 10 Mar 2020 21:00 Tue 10 Mar 2020 13:00 (Europe/London) 13:00 UTC "
        "Tue 10 Mar 21:00 late Tue 10 Mar 09:00 working hours"
    ]
    assert field_errors(response.text, "confirm_past") == [
        "This starts in the past: tick the box to book it all the same."
    ]
    assert counts(row_count) == before
