"""Booking the series planner's rotation: confirmed first, then one series with moved dates.

The invitee's invitation and feed are read by every calendar parser the project checks
with, and must give the instants the rotation proposed.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import Any

import sqlalchemy as sa

from forum.directory.models import Person
from forum.events import calendars
from forum.events import rotation_booking
from forum.events.models import EventSession
from forum.extensions import db
from tests.calendars import check_calendar
from tests.calendars import check_email
from tests.conftest import csrf_token
from tests.test_web_series_planner import OPTIONS
from tests.test_web_series_planner import Tables
from tests.test_web_series_planner import series  # noqa: F401  (the planned event fixture)

ROTATION = "/api/v1/scheduling/rotation"


def proposed_starts(series: dict[str, Any]) -> list[str]:  # noqa: F811
    """The UTC starts the rotation API proposes for the planner's OPTIONS."""
    answer = series["api"].post(
        ROTATION,
        json={
            "event_id": series["event"]["id"],
            "first_date": OPTIONS["first_date"],
            "occurrences": int(OPTIONS["occurrences"]),
            "interval_days": int(OPTIONS["interval_days"]),
            "duration_minutes": int(OPTIONS["duration_minutes"]),
            "step_minutes": int(OPTIONS["step_minutes"]),
            "timezone": OPTIONS["timezone"],
            "skip_holidays": True,
        },
    )
    assert answer.status_code == 200, answer.get_json()
    return [o["start"] for o in answer.get_json()["occurrences"]]


def hidden_fields(html: str, form_action: str) -> dict[str, str]:
    """The named inputs of the form posting to ``form_action``."""
    form = html.split(f'action="{form_action}"', 1)[1].split("</form>", 1)[0]
    fields = {}
    for tag in re.findall(r"<input [^>]*>", form):
        attributes = dict(re.findall(r'(\w+)="([^"]*)"', tag))
        if attributes.get("type") == "hidden":
            fields[attributes["name"]] = unescape(attributes.get("value", ""))
    return fields


def confirm(client, series: dict[str, Any]) -> tuple[Any, dict[str, str]]:  # noqa: F811
    """Plan, press "Book this rotation": the confirmation page and its form's fields."""
    planned = client.get(series["path"], query_string=OPTIONS)
    assert planned.status_code == 200, planned.text
    action = f"{series['path']}/book"
    assert "Book this rotation" in planned.text
    fields = hidden_fields(planned.text, action)
    fields["csrf_token"] = csrf_token(planned.text)
    page = client.post(action, data=fields)
    return page, {
        **hidden_fields(page.text, action),
        "csrf_token": csrf_token(page.text),
        "title": "Deans' rotation",
        "provider": "jitsi",
    }


def test_booking_asks_to_confirm_the_dates_first(app, client, series, row_count):  # noqa: F811
    page, _ = confirm(client, series)

    assert page.status_code == 200, page.text
    assert row_count("sessions") == 0
    table = page.text.split('id="rotation-dates"', 1)[1].split("</table>", 1)[0]
    rows = table.split("<tbody>", 1)[1].split("</tr>")[:-1]
    starts = proposed_starts(series)
    assert len(rows) == len(starts)
    moved = 0
    for row, start in zip(rows, starts, strict=True):
        # Each row: the rotation's start, then the rule's time it moves from, if it moves.
        instants = re.findall(r'<time datetime="([^"]+)"', row)
        assert instants[0] == start
        moved += "moved from" in row
    assert 0 < moved < len(starts)
    assert Tables(page.text).tables["rotation-dates"][0][0][0] == "#"
    assert "Book the series and send invitations" in page.text


def test_the_rotation_is_one_series_with_its_moved_dates(app, client, series):  # noqa: F811
    _, fields = confirm(client, series)
    starts = proposed_starts(series)
    assert len(set(s[11:16] for s in starts)) > 1, "the rotation should move the time"

    booked = client.post(f"{series['path']}/book", data=fields)

    assert booked.status_code == 303, booked.text
    with app.app_context():
        [session] = db.session.scalars(sa.select(EventSession)).all()
        assert session.rrule == "FREQ=DAILY;INTERVAL=7;COUNT=5"
        assert session.title == "Deans' rotation"
        assert session.overrides, "the dates the rotation moves are overrides"
        assert len(session.invitations) == 4
        li = db.session.scalars(sa.select(Person).where(Person.name == "Li Wei")).one()
        feed = calendars.feed_url(li).removeprefix(app.config["FORUM_BASE_URL"])

    # One invitation per invitee, read alike by every parser, at the rotation's instants.
    messages = app.extensions["forum_mail_sender"].messages
    recipients = [m["To"].addresses[0].addr_spec for m in messages]
    assert sorted(recipients) == sorted(set(recipients)) and len(recipients) == 4
    for message in messages:
        check_email(bytes(message), method="REQUEST", expect_utc=starts)

    response = client.get(feed)
    assert response.status_code == 200
    check_calendar(response.data, method=None, expect_utc=starts)


def test_a_clash_is_shown_and_can_be_overridden(app, client, series):  # noqa: F811
    _, fields = confirm(client, series)
    starts = proposed_starts(series)
    # Li Wei chairs another session at the rotation's third date.
    api = series["api"]
    li = api.get("/api/v1/people", query_string={"q": "Li Wei"}).get_json()
    li_id = next(p["id"] for p in li["items"] if p["name"] == "Li Wei")
    other = api.post(
        "/api/v1/events", json={"title": "Other call", "kind": "bilateral", "timezone": "UTC"}
    ).get_json()
    made = api.post(
        f"/api/v1/events/{other['id']}/sessions",
        json={
            "title": "Board meeting",
            "start": starts[2],
            "duration_minutes": 30,
            "provider": "jitsi",
            "invitees": [{"person_id": li_id, "role": "chair"}],
        },
    )
    assert made.status_code == 201, made.get_json()
    fields["title"] = "Deans' rotation"

    clashed = client.post(f"{series['path']}/book", data=fields)

    assert clashed.status_code == 409, clashed.text
    assert "Board meeting" in clashed.text and "Clashes" in clashed.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventSession)) == 1

    fields = {
        **hidden_fields(clashed.text, f"{series['path']}/book"),
        **{
            "csrf_token": csrf_token(clashed.text),
            "title": "Deans' rotation",
            "provider": "jitsi",
            "allow_conflicts": "y",
        },
    }
    booked = client.post(f"{series['path']}/book", data=fields)
    assert booked.status_code == 303, booked.text


def test_a_changed_plan_is_shown_again_not_booked(app, client, series, row_count):  # noqa: F811
    _, fields = confirm(client, series)
    fields["starts"] = "2027-03-02T01:00:00Z"

    again = client.post(f"{series['path']}/book", data=fields)

    assert again.status_code == 409
    assert "check its dates again" in again.text
    assert row_count("sessions") == 0


def test_booking_needs_the_csrf_token(client, series, row_count):  # noqa: F811
    _, fields = confirm(client, series)
    del fields["csrf_token"]

    refused = client.post(f"{series['path']}/book", data=fields)

    assert refused.status_code in (400, 422)
    assert row_count("sessions") == 0


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_the_rule_keeps_the_time_most_dates_keep_across_a_clock_change():
    starts = [utc("2027-03-08T15:00"), utc("2027-03-15T14:00"), utc("2027-03-22T13:00")]

    held = rotation_booking.series_for(starts, timezone="America/Detroit", interval_days=7)

    # 10:00 in Detroit on the first two dates (before and after the change), 09:00 on the third.
    assert held.local_start == dt.datetime(2027, 3, 8, 10, 0)
    assert held.rrule == "FREQ=DAILY;INTERVAL=7;COUNT=3"
    assert held.moved == ((utc("2027-03-22T14:00"), utc("2027-03-22T13:00")),)


def test_a_time_the_clocks_skip_on_one_date_is_not_the_rule_s():
    # 01:30 in London on the first and last dates, but 01:30 does not exist on 28 March.
    starts = [utc("2027-03-21T01:30"), utc("2027-03-28T02:00"), utc("2027-04-04T00:30")]

    held = rotation_booking.series_for(starts, timezone="Europe/London", interval_days=7)

    assert held.local_start == dt.datetime(2027, 3, 21, 3, 0)
    assert held.moved == (
        (utc("2027-03-21T03:00"), utc("2027-03-21T01:30")),
        (utc("2027-04-04T02:00"), utc("2027-04-04T00:30")),
    )


def test_a_missing_title_keeps_the_dates_on_the_page(client, series, row_count):  # noqa: F811
    _, fields = confirm(client, series)
    fields["title"] = " "

    refused = client.post(f"{series['path']}/book", data=fields)

    assert refused.status_code == 422
    assert "Give the series a title." in refused.text
    assert 'id="rotation-dates"' in refused.text
    assert row_count("sessions") == 0
