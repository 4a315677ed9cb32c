"""Repeating sessions on every provider: the dates each provider's fake gives, read back over
HTTP as a client reads them, against forum's own expansion, across clock changes; and what
becomes of a rule a provider cannot repeat."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest
import requests

from forum.core.recurrence import occurrences
from forum.extensions import db
from forum.providers import accounts
from forum.providers.base import MeetingRequest
from forum.providers.base import RequestRejected
from forum.providers.base import VideoProvider
from forum.providers.fakes.base import RunningFake
from forum.providers.registry import build_provider
from forum.providers.zoom import recurrence_from_rrule
from tests.factories import make_event
from tests.factories import make_session
from tests.fake_setups import google_meet as google_setup
from tests.fake_setups import teams as teams_setup
from tests.fake_setups import webex as webex_setup
from tests.fake_setups import zoom as zoom_setup
from tests.test_meetings import add_zoom
from tests.test_web import log_in
from tests.test_web import section

Instants = list[tuple[dt.datetime, dt.datetime]]
UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Series:
    """A repeating session: its first start (UTC), length, anchor zone and rule."""

    name: str
    start: dt.datetime
    timezone: str
    rrule: str
    minutes: int = 60

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.minutes)

    def ours(self) -> Instants:
        """forum's own dates for the series (forum.core.recurrence)."""
        return list(
            occurrences(start=self.start, end=self.end, timezone=self.timezone, rrule=self.rrule)
        )

    def request(self, marker: str) -> MeetingRequest:
        return MeetingRequest(
            topic=f"Series {self.name}",
            start=self.start,
            end=self.end,
            timezone=self.timezone,
            agenda="Joint seminar",
            rrule=self.rrule,
            marker=f"forum-{marker}",
        )


# Each crosses its zone's clock change where it has one: Detroit springs forward on
# 2027-03-14, London on 2027-03-28, Sydney and Auckland fall back on 2027-04-04.
SERIES = [
    # Wednesdays 21:00 in Beijing: the weekday is Beijing's, not UTC's (13:00 Wednesday).
    Series("weekly-shanghai", at("2027-03-10T13:00"), "Asia/Shanghai", "FREQ=WEEKLY;COUNT=6"),
    # Tuesday 21:00 in Detroit is Wednesday 01:00 UTC: the rule's weekday is Tuesday.
    Series("weekly-detroit-dst", at("2027-03-03T02:00"), "America/Detroit", "FREQ=WEEKLY;COUNT=4"),
    Series(
        "mo-th-detroit-dst",
        at("2027-03-01T19:00"),
        "America/Detroit",
        "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=8",
    ),
    Series(
        "fortnightly-london-dst",
        at("2027-03-03T17:00"),
        "Europe/London",
        "FREQ=WEEKLY;INTERVAL=2;COUNT=5",
    ),
    Series(
        "monthly-15th-sydney-dst",
        at("2027-02-14T22:00"),
        "Australia/Sydney",
        "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=4",
        minutes=90,
    ),
    Series(
        "second-tuesday-auckland-dst",
        at("2027-03-08T19:00"),
        "Pacific/Auckland",
        "FREQ=MONTHLY;BYDAY=2TU;COUNT=4",
    ),
    Series(
        "last-friday-detroit-until",
        at("2027-02-26T15:00"),
        "America/Detroit",
        "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20270701T000000",
    ),
    # 09:00 in Sydney is 22:00 or 23:00 UTC the day before: an UNTIL read as UTC, or a date
    # read as the whole day, would add 19 April.
    Series(
        "weekly-sydney-until-date",
        at("2027-03-21T22:00"),
        "Australia/Sydney",
        "FREQ=WEEKLY;UNTIL=20270419",
    ),
    Series(
        "mo-we-sydney-until",
        at("2027-03-28T23:30"),
        "Australia/Sydney",
        "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270412T093000",
    ),
    # Starts on a Wednesday its rule does not give: forum's first date is the Thursday, which
    # RFC 5545 readers (that count the start as a date) see too only if the series starts there.
    Series(
        "mo-th-from-a-wednesday-auckland",
        at("2027-03-09T20:00"),
        "Pacific/Auckland",
        "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=6",
    ),
    Series(
        "every-3-days-apia", at("2027-03-30T19:00"), "Pacific/Apia", "FREQ=DAILY;INTERVAL=3;COUNT=5"
    ),
]


def test_the_series_cross_their_zones_clock_changes() -> None:
    """The cases are what they claim: forum's dates keep the local time across the change."""
    crossing = {
        "weekly-detroit-dst",
        "mo-th-detroit-dst",
        "fortnightly-london-dst",
        "monthly-15th-sydney-dst",
        "second-tuesday-auckland-dst",
        "last-friday-detroit-until",
        "weekly-sydney-until-date",
        "mo-we-sydney-until",
    }
    for series in SERIES:
        ours = series.ours()
        offsets = {start.astimezone(_zone(series)).utcoffset() for start, _ in ours}
        assert (len(offsets) == 2) == (series.name in crossing), series.name
        local_times = {start.astimezone(_zone(series)).time() for start, _ in ours}
        assert len(local_times) == 1, series.name
    by_name = {series.name: series for series in SERIES}
    assert [s.date().isoformat() for s, _ in by_name["weekly-sydney-until-date"].ours()] == [
        "2027-03-21",
        "2027-03-28",
        "2027-04-04",
        "2027-04-11",
    ]
    assert len(by_name["last-friday-detroit-until"].ours()) == 5
    wednesday = by_name["mo-th-from-a-wednesday-auckland"]
    assert wednesday.ours()[0][0] == wednesday.start + dt.timedelta(days=1)


def _zone(series: Series):
    from zoneinfo import ZoneInfo

    return ZoneInfo(series.timezone)


# --- the providers, each behind its fake --------------------------------------------------


@dataclass
class Provider:
    """An adapter on its fake, and how a client reads the fake's dates for a meeting."""

    kind: str
    fake: RunningFake
    adapter: VideoProvider
    read: Callable[[VideoProvider, str], Instants]


def _adapter(setup: ModuleType, fake: RunningFake) -> VideoProvider:
    settings = replace(setup.settings(fake.url), timeout_seconds=5, backoff_seconds=0.01)
    return build_provider(settings, sleep=lambda _seconds: None)


def _zoom_dates(adapter: Any, external_id: str) -> Instants:
    """GET /meetings/{id}: Zoom's ``occurrences`` of a type 8 meeting."""
    meeting = adapter.http.request("GET", f"/meetings/{external_id}").json()
    return [
        (start := _instant(o["start_time"]), start + dt.timedelta(minutes=o["duration"]))
        for o in meeting["occurrences"]
    ]


def _webex_dates(adapter: Any, external_id: str) -> Instants:
    """The series' scheduled meetings (List Meetings with meetingSeriesId), page by page."""
    params: dict[str, Any] | None = {
        "meetingSeriesId": external_id,
        "meetingType": "scheduledMeeting",
        "from": "2027-01-01T00:00:00Z",
        "to": "2028-01-01T00:00:00Z",
        "max": 3,  # small pages: the Link header must be followed
    }
    path = "/meetings"
    dates: Instants = []
    while True:
        response = adapter.http.request("GET", path, params=params)
        items = response.json()["items"]
        assert all(item["meetingSeriesId"] == external_id for item in items)
        dates += [(_instant(item["start"]), _instant(item["end"])) for item in items]
        following = response.links.get("next", {}).get("url")
        if not following:
            return dates
        path, params = following.removeprefix(adapter.settings.api_base_url), None


def _google_dates(adapter: Any, external_id: str) -> Instants:
    """events.instances of the event, page by page."""
    host = google_setup.HOSTS[0]
    path = f"/calendar/v3/calendars/{host}/events/{external_id}/instances"
    params: dict[str, Any] = {
        "timeMin": "2027-01-01T00:00:00Z",
        "timeMax": "2028-01-01T00:00:00Z",
        "maxResults": 3,
    }
    dates: Instants = []
    while True:
        page = adapter.http(host).request("GET", path, params=params).json()
        dates += [
            (_instant(i["start"]["dateTime"]), _instant(i["end"]["dateTime"]))
            for i in page["items"]
        ]
        if "nextPageToken" not in page:
            return dates
        params["pageToken"] = page["nextPageToken"]


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


DATE_READERS = {"zoom": _zoom_dates, "webex": _webex_dates, "google_meet": _google_dates}
SETUPS = {"zoom": zoom_setup, "webex": webex_setup, "google_meet": google_setup}


@pytest.fixture(scope="module", params=sorted(DATE_READERS))
def provider(request) -> Iterator[Provider]:
    setup = SETUPS[request.param]
    with RunningFake(setup.make_fake()) as fake:
        adapter = _adapter(setup, fake)
        yield Provider(request.param, fake, adapter, DATE_READERS[request.param])


@pytest.mark.parametrize("series", SERIES, ids=[s.name for s in SERIES])
def test_the_provider_s_dates_are_forum_s(provider: Provider, series: Series) -> None:
    request = series.request(f"{provider.kind}-{series.name}")
    created = provider.adapter.create_meeting(replace(request, host=SETUPS[provider.kind].HOSTS[0]))
    assert provider.read(provider.adapter, created.external_id) == series.ours()
    assert created.data.get("recurrence_note") is None


@pytest.mark.parametrize("series", SERIES[:3], ids=[s.name for s in SERIES[:3]])
def test_a_moved_series_gives_the_provider_s_dates_anew(provider: Provider, series: Series):
    host = SETUPS[provider.kind].HOSTS[0]
    first = replace(series.request(f"moved-{provider.kind}-{series.name}"), host=host)
    created = provider.adapter.create_meeting(first)
    moved = Series(
        series.name,
        series.start + dt.timedelta(days=1, hours=2),
        series.timezone,
        "FREQ=WEEKLY;BYDAY=TU,FR;COUNT=5",
    )
    provider.adapter.update_meeting(
        created.external_id, replace(moved.request(first.marker), host=host)
    )
    assert provider.read(provider.adapter, created.external_id) == moved.ours()


def test_a_series_made_a_single_session_again_has_one_date(provider: Provider) -> None:
    series = SERIES[2]
    request = replace(
        series.request(f"single-{provider.kind}"), host=SETUPS[provider.kind].HOSTS[0]
    )
    created = provider.adapter.create_meeting(request)
    provider.adapter.update_meeting(created.external_id, replace(request, rrule=None))
    single = Series(series.name, series.start, series.timezone, "")
    assert single.ours() == series.ours()[:1]
    if provider.kind == "zoom":
        # A Zoom meeting that no longer repeats is type 2 and lists no occurrences.
        meeting = provider.adapter.http.request("GET", f"/meetings/{created.external_id}")
        assert meeting.json()["type"] == 2 and "recurrence" not in meeting.json()
    else:
        assert provider.read(provider.adapter, created.external_id) == single.ours()


def test_teams_holds_a_series_as_one_meeting_with_a_note() -> None:
    with RunningFake(teams_setup.make_fake()) as fake:
        adapter = _adapter(teams_setup, fake)
        series = SERIES[2]
        created = adapter.create_meeting(series.request("teams-series"))
        [stored] = fake.app.state.meetings.values()
        # One meeting from the first date to the end of the last: its link outlives them all.
        ours = series.ours()
        assert _instant(stored["startDateTime"]) == ours[0][0]
        assert _instant(stored["endDateTime"]) == ours[-1][1]
        assert "recurrence" not in stored
        note = created.data["recurrence_note"]
        assert "one Teams meeting" in note and "serves every date" in note
        # Made a single session again, the note goes.
        single = adapter.update_meeting(
            created.external_id, replace(series.request("teams-series"), rrule=None)
        )
        assert single.data["recurrence_note"] is None


def test_the_teams_fake_refuses_a_recurrence_as_graph_does() -> None:
    with RunningFake(teams_setup.make_fake()) as fake:
        adapter = _adapter(teams_setup, fake)
        user = fake.app.object_id(teams_setup.HOSTS[0])
        response = requests.post(
            f"{fake.url}/v1.0/users/{user}/onlineMeetings",
            json={
                "subject": "x",
                "startDateTime": "2027-03-01T19:00:00Z",
                "endDateTime": "2027-03-01T20:00:00Z",
                "recurrence": {"pattern": {"type": "weekly"}},
            },
            headers={"Authorization": f"Bearer {adapter.tokens.get().value}"},
            timeout=5,
        )
        assert response.status_code == 400
        assert "'recurrence' does not exist" in response.json()["error"]["message"]


# --- the fakes are no more lenient than the providers -----------------------------------


@pytest.fixture(scope="module")
def zoom() -> Iterator[tuple[RunningFake, Any]]:
    with RunningFake(zoom_setup.make_fake()) as fake:
        yield fake, _adapter(zoom_setup, fake)


def _zoom_series(zoom, series: Series, recurrence: dict[str, Any]) -> requests.Response:
    fake, adapter = zoom
    return requests.post(
        f"{fake.url}/v2/users/{zoom_setup.HOSTS[0]}/meetings",
        json={
            "topic": series.name,
            "type": 8,
            "start_time": series.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": series.minutes,
            "timezone": series.timezone,
            "recurrence": recurrence,
        },
        headers={
            "Authorization": f"Bearer {adapter.tokens.get().value}",
            "Accept": "application/json",
        },
        timeout=5,
    )


def test_the_zoom_mapping_gives_forum_s_dates_and_a_wrong_one_does_not(zoom) -> None:
    fake, adapter = zoom
    series = SERIES[1]  # Tuesday evenings in Detroit, Wednesday in UTC
    right = recurrence_from_rrule(series.rrule, series.start, series.timezone)
    assert right["weekly_days"] == "3"  # Tuesday, counting from 1 = Sunday
    made = _zoom_series(zoom, series, right)
    assert _zoom_dates(adapter, str(made.json()["id"])) == series.ours()
    # Monday = 1 (ISO's count), or the weekday in UTC: other dates, which the comparison sees.
    for wrong_days in ("2", "4"):
        made = _zoom_series(zoom, series, {**right, "weekly_days": wrong_days})
        assert made.status_code == 201
        assert _zoom_dates(adapter, str(made.json()["id"])) != series.ours()


def test_the_zoom_fake_refuses_what_zoom_refuses(zoom) -> None:
    series = SERIES[0]
    weekly = {"type": 2, "repeat_interval": 1, "weekly_days": "4"}
    for recurrence, field in [
        ({"type": 2, "repeat_interval": 1, "end_times": 4}, "recurrence.weekly_days"),
        ({**weekly, "end_times": 51}, "recurrence.end_times"),
        ({**weekly, "end_times": 0}, "recurrence.end_times"),
        (
            {**weekly, "end_times": 3, "end_date_time": "2027-04-01T00:00:00Z"},
            "recurrence.end_times",
        ),
        ({**weekly, "end_date_time": "2027-04-01"}, "recurrence.end_date_time"),
        ({**weekly, "repeat_interval": 13}, "recurrence.repeat_interval"),
    ]:
        response = _zoom_series(zoom, series, recurrence)
        assert response.status_code == 400, recurrence
        assert response.json()["errors"] == [{"field": field, "message": "Invalid field."}]


def test_a_zoom_series_without_an_end_has_one_date_and_never_more_than_fifty(zoom) -> None:
    _fake, adapter = zoom
    series = SERIES[0]
    weekly = {"type": 2, "repeat_interval": 1, "weekly_days": "4"}
    # end_times "defaults to 1" (Zoom's docs): a client that leaves the end out gets one date.
    made = _zoom_series(zoom, series, weekly)
    assert _zoom_dates(adapter, str(made.json()["id"])) == series.ours()[:1]
    made = _zoom_series(zoom, series, {**weekly, "end_date_time": "2029-01-01T00:00:00Z"})
    assert len(_zoom_dates(adapter, str(made.json()["id"]))) == 50


def test_a_zoom_until_is_the_last_date_s_start_in_utc() -> None:
    series = next(s for s in SERIES if s.name == "weekly-sydney-until-date")
    recurrence = recurrence_from_rrule(series.rrule, series.start, series.timezone)
    assert recurrence["end_date_time"] == "2027-04-11T23:00:00Z"  # 09:00 AEST, 12 April
    assert "end_times" not in recurrence


def test_a_zoom_series_zoom_cannot_repeat_is_one_meeting_with_no_fixed_time(zoom) -> None:
    fake, adapter = zoom
    series = Series(
        "second-tuesday-by-setpos",
        at("2027-03-09T13:00"),
        "Asia/Shanghai",
        "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2;COUNT=3",
    )
    created = adapter.create_meeting(replace(series.request("setpos"), host=zoom_setup.HOSTS[0]))
    meeting = adapter.http.request("GET", f"/meetings/{created.external_id}").json()
    assert meeting["type"] == 3 and "occurrences" not in meeting
    assert "BYSETPOS" in created.data["recurrence_note"]


@pytest.fixture(scope="module")
def webex() -> Iterator[tuple[RunningFake, Any]]:
    with RunningFake(webex_setup.make_fake()) as fake:
        yield fake, _adapter(webex_setup, fake)


def _webex_series(webex, series: Series, recurrence: str) -> requests.Response:
    _fake, adapter = webex
    return adapter.http.request(
        "POST",
        "/meetings",
        json={
            "title": series.name,
            "start": series.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": series.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "timezone": series.timezone,
            "recurrence": recurrence,
            "hostEmail": webex_setup.HOSTS[0],
        },
        expected=(200, 400),
    )


def test_webex_keeps_only_the_first_day_of_a_monthly_rule_so_forum_refuses_it(webex) -> None:
    _fake, adapter = webex
    series = Series(
        "10th-and-20th",
        at("2027-03-10T01:00"),
        "Asia/Shanghai",
        "FREQ=MONTHLY;BYMONTHDAY=10,20;COUNT=4",
    )
    # What Webex does with it: "partially supported" as BYMONTHDAY=10 (Webex's docs).
    made = _webex_series(webex, series, series.rrule)
    assert made.json()["recurrence"] == "FREQ=MONTHLY;BYMONTHDAY=10;COUNT=4"
    assert _webex_dates(adapter, made.json()["id"]) != series.ours()
    calls = len(webex[0].app.state.calls)
    with pytest.raises(RequestRejected, match="BYMONTHDAY=10,20 would lose dates"):
        adapter.create_meeting(replace(series.request("10-20"), host=webex_setup.HOSTS[0]))
    assert len(webex[0].app.state.calls) == calls


def test_the_webex_and_google_fakes_refuse_a_local_until(webex) -> None:
    series = next(s for s in SERIES if s.name == "weekly-sydney-until-date")
    response = _webex_series(webex, series, "FREQ=WEEKLY;UNTIL=20270419T000000")
    assert response.status_code == 400
    assert response.json()["message"] == "The input parameters contain invalid items."
    with RunningFake(google_setup.make_fake()) as fake:
        adapter = _adapter(google_setup, fake)
        host = google_setup.HOSTS[0]
        body = {
            "summary": "x",
            "start": {"dateTime": "2027-03-22T09:00:00+11:00", "timeZone": series.timezone},
            "end": {"dateTime": "2027-03-22T10:00:00+11:00", "timeZone": series.timezone},
        }
        for recurrence, message in [
            (["RRULE:FREQ=WEEKLY;UNTIL=20270419T000000"], "Invalid recurrence rule."),
            (["FREQ=WEEKLY;COUNT=3"], "Invalid recurrence rule."),
        ]:
            refused = adapter.http(host).request(
                "POST",
                f"/calendar/v3/calendars/{host}/events",
                json={**body, "recurrence": recurrence},
                expected=(200, 400),
            )
            assert refused.status_code == 400
            assert refused.json()["error"]["message"] == message
        no_zone = {
            "summary": "x",
            "start": {"dateTime": "2027-03-22T09:00:00+11:00"},
            "end": {"dateTime": "2027-03-22T10:00:00+11:00"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
        }
        refused = adapter.http(host).request(
            "POST", f"/calendar/v3/calendars/{host}/events", json=no_zone, expected=(400,)
        )
        assert refused.json()["error"]["message"] == "Missing time zone definition for start time."


# --- what an organiser sees ------------------------------------------------------------------


def test_the_session_page_shows_why_a_zoom_series_is_one_meeting(app, api, client, runner) -> None:
    with RunningFake(zoom_setup.make_fake()) as fake:
        add_zoom(runner, fake)
        event = make_event(api, title="PKU-UTokyo", kind="bilateral", default_provider="zoom")
        session = make_session(
            api,
            event["id"],
            title="Second Tuesdays",
            start="2027-03-09T13:00:00Z",
            timezone="Asia/Shanghai",
            rrule="FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2;COUNT=3",
            provider="zoom",
        )
        meeting = session["meeting"]
        assert meeting["status"] == "created" and meeting["join_url"]
        [stored] = fake.app.state.meetings.values()
        assert stored["type"] == 3
    log_in(client, "organiser@example.org")
    page = client.get(f"/sessions/{session['id']}").text
    shown = html.unescape(section(page, "meeting-heading"))
    assert "Repeats" in shown
    assert "Zoom cannot repeat a meeting by BYSETPOS" in shown
    assert "its link serves every date" in shown


def _add_account(app, setup: ModuleType, fake: RunningFake) -> None:
    """The fake's account in forum's store, as `forum provider add` would make it."""
    settings = setup.settings(fake.url)
    fields = {
        name: getattr(settings, name)
        for name in (
            "account_id",
            "tenant_id",
            "client_id",
            "client_secret",
            "token",
            "api_base_url",
            "oauth_url",
        )
        if getattr(settings, name, None)
    }
    with app.app_context():
        accounts.add_account(
            name=f"uni-{setup.KIND}".replace("_", "-"),
            kind=setup.KIND,
            hosts=list(settings.hosts),
            options=dict(settings.options) or None,
            **fields,
        )
        db.session.commit()


def _series_page(api, client, provider: str, rrule: str) -> tuple[dict[str, Any], str]:
    event = make_event(api, title="PKU-UTokyo", kind="bilateral", default_provider=provider)
    session = make_session(
        api,
        event["id"],
        title="Joint seminar",
        start="2027-03-10T01:00:00Z",
        timezone="Asia/Shanghai",
        rrule=rrule,
        provider=provider,
    )
    log_in(client, "organiser@example.org")
    page = client.get(f"/sessions/{session['id']}").text
    return session["meeting"], html.unescape(section(page, "meeting-heading"))


def test_a_webex_series_webex_would_cut_fails_with_the_reason_on_the_page(app, api, client) -> None:
    with RunningFake(webex_setup.make_fake()) as fake:
        _add_account(app, webex_setup, fake)
        meeting, shown = _series_page(api, client, "webex", "FREQ=MONTHLY;BYMONTHDAY=10,20;COUNT=6")
        assert fake.app.state.meetings == {}
    assert meeting["status"] == "failed"
    assert "Webex keeps only the first day or date of a monthly rule" in meeting["error"]
    assert "Problem" in shown and meeting["error"] in shown


def test_a_teams_series_shows_that_one_link_serves_every_date(app, api, client) -> None:
    with RunningFake(teams_setup.make_fake()) as fake:
        _add_account(app, teams_setup, fake)
        meeting, shown = _series_page(api, client, "teams", "FREQ=WEEKLY;COUNT=6")
        assert len(fake.app.state.meetings) == 1
    assert meeting["status"] == "created"
    assert "Repeats" in shown and "whose link serves every date" in shown


def test_a_lost_webex_series_is_found_at_its_first_date_not_made_twice() -> None:
    series = next(s for s in SERIES if s.name == "mo-th-from-a-wednesday-auckland")
    with RunningFake(webex_setup.make_fake()) as fake:
        settings = replace(
            webex_setup.settings(fake.url), timeout_seconds=0.6, backoff_seconds=0.01
        )
        adapter = build_provider(settings, sleep=lambda _seconds: None)
        fake.app.faults.add("lost-answer", delay=1.0, method="POST", path=webex_setup.CREATE_PATH)
        created = adapter.create_meeting(
            replace(series.request("lost-webex"), host=webex_setup.HOSTS[0])
        )
        assert list(fake.app.state.meetings) == [created.external_id]
        assert _webex_dates(adapter, created.external_id) == series.ours()


def test_the_calendar_fake_leaves_out_an_exdate_and_refuses_lines_it_does_not_model() -> None:
    series = next(s for s in SERIES if s.name == "mo-th-detroit-dst")
    ours = series.ours()
    # 19:00 UTC on 1 March is 14:00 in Detroit; the fourth date, 11 March, is left out.
    left_out = ours[3][0].astimezone(_zone(series)).strftime("%Y%m%dT%H%M%S")
    with RunningFake(google_setup.make_fake()) as fake:
        adapter = _adapter(google_setup, fake)
        host = google_setup.HOSTS[0]
        body = {
            "id": "edate00001",
            "summary": "x",
            "start": {"dateTime": "2027-03-01T14:00:00-05:00", "timeZone": series.timezone},
            "end": {"dateTime": "2027-03-01T15:00:00-05:00", "timeZone": series.timezone},
            "recurrence": [
                f"RRULE:{series.rrule}",
                f"EXDATE;TZID={series.timezone}:{left_out}",
            ],
        }
        events = f"/calendar/v3/calendars/{host}/events"
        adapter.http(host).request("POST", events, json=body, expected=(200,))
        assert _google_dates(adapter, "edate00001") == ours[:3] + ours[4:]
        for line in ("RDATE:20270305T190000Z", "EXDATE:20270311T140000"):
            refused = adapter.http(host).request(
                "POST",
                events,
                json={**body, "id": "edate00002", "recurrence": [f"RRULE:{series.rrule}", line]},
                expected=(400,),
            )
            assert refused.json()["error"]["message"] == "Invalid recurrence rule."
