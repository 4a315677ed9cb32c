"""The series planner page through the test client: the rotation and DST tables, refusals."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.test_api_scheduling import created
from tests.test_api_scheduling import make_institution
from tests.test_api_scheduling import make_person
from tests.test_web import log_in

ROTATION = "/api/v1/scheduling/rotation"
DST_PREVIEW = "/api/v1/scheduling/dst-preview"
HOSTILE = "<script>alert(\"x\")</script> & 'Uni'"


class Tables(HTMLParser):
    """Every table with an id: its rows, each a list of (text, attributes) per cell."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, dict[str, str]]]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "table" and "id" in found:
            self._table = found["id"]
            self.tables[self._table] = []
        elif self._table and tag == "tr":
            self.tables[self._table].append([])
        elif self._table and tag in ("th", "td"):
            self._cell = []
            self.tables[self._table][-1].append(("", found))
        elif self._cell is not None and tag in ("span", "time"):
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif self._cell is not None and tag in ("th", "td"):
            text = " ".join("".join(self._cell).split())
            row = self.tables[self._table][-1]
            row[-1] = (text, row[-1][1])
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def series(api, client) -> dict[str, Any]:
    """An event in Beijing with people at Peking, Michigan, Qatar and Sydney, logged in."""
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    umich = make_institution(
        api, "University of Michigan", "US", "America/Detroit", subdivision="MI"
    )
    qu = make_institution(api, "Qatar University", "QA", "Asia/Qatar")
    usyd = make_institution(api, HOSTILE, "AU", "Australia/Sydney", subdivision="NSW")
    event = created(
        api.post(
            "/api/v1/events",
            json={"title": "Deans' call", "kind": "bilateral", "timezone": "Asia/Shanghai"},
        )
    )
    for name, institution in (
        ("Li Wei", pku),
        ("Jane Smith", umich),
        ("Hamad Al-Kuwari", qu),
        ("Mai Nguyen", usyd),
    ):
        person = make_person(api, name, institution["id"])
        api.post(
            f"/api/v1/events/{event['id']}/participants",
            json={"person_id": person["id"], "required": True},
        )
    assert log_in(client, "organiser@example.org").status_code == 302
    return {"event": event, "path": f"/events/{event['id']}/series-planner", "api": api}


OPTIONS = {
    "planned": "1",
    "first_date": "2027-03-02",
    "occurrences": "5",
    "interval_days": "7",
    "duration_minutes": "60",
    "step_minutes": "60",
    "timezone": "Asia/Shanghai",
    "skip_holidays": "y",
}


def plan_page(client, path: str, **changes: str) -> Any:
    return client.get(path, query_string={**OPTIONS, **changes})


def test_the_form_links_back_to_the_event(client, series):
    page = client.get(series["path"])

    assert page.status_code == 200
    text = page.text
    assert f'href="/events/{series["event"]["id"]}"' in text
    for name in ("first_date", "occurrences", "interval_days", "duration_minutes", "timezone"):
        assert f'<label for="{name}">' in text
    assert 'value="Asia/Shanghai"' in text
    # No inline scripts or styles (the pages' CSP allows neither), no CSRF token on a GET.
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)
    assert "style=" not in text and "<style" not in text
    assert 'name="csrf_token"' not in text.split('class="card series-form"')[1].split("</form>")[0]
    assert 'id="rotation"' not in text


def test_the_rotation_table_agrees_with_the_api(client, series):
    page = plan_page(client, series["path"])
    api_answer = series["api"].post(
        ROTATION,
        json={
            "event_id": series["event"]["id"],
            "first_date": "2027-03-02",
            "occurrences": 5,
            "interval_days": 7,
            "duration_minutes": 60,
            "step_minutes": 60,
            "timezone": "Asia/Shanghai",
            "skip_holidays": True,
        },
    )

    assert page.status_code == 200, page.text
    assert api_answer.status_code == 200
    plan = api_answer.get_json()
    tables = Tables(page.text).tables
    header, *rows = tables["rotation"]
    sites = [s["name"] for s in plan["sites"]]
    assert [text.split(" ")[0] for text, _ in header[2:]] == [name.split(" ")[0] for name in sites]
    assert len(rows) == len(plan["occurrences"]) == 5
    for row, occurrence in zip(rows, plan["occurrences"], strict=True):
        local = dt.datetime.fromisoformat(occurrence["local_start"])
        start = dt.datetime.fromisoformat(occurrence["start"])
        assert row[0][0].startswith(local.strftime("%a %d %b %Y %H:%M"))
        # The UTC start names its own day: 23:00 UTC is the day before in Beijing.
        assert row[1][0] == start.strftime("%a %d %b %H:%M")
        assert row[1][1] == {"class": "utc"}
        by_site = {s["name"]: s for s in occurrence["sites"]}
        for (text, attrs), name in zip(row[2:], sites, strict=True):
            expected = by_site[name]
            site_local = dt.datetime.fromisoformat(expected["local_start"])
            assert attrs["data-category"] == expected["category"]
            assert text.startswith(site_local.strftime("%a %d %b %H:%M"))

    _, *burden = tables["burden"]
    body, footer = burden[:-1], burden[-1]
    fixed = {s["site"]: s["total"] for s in plan["fixed"]["sites"]} if plan["fixed"] else {}
    assert [(r[0][0], int(r[2][0]), int(r[3][0])) for r in body] == [
        (s["name"], s["total"], s["nights"]) for s in plan["sites"]
    ]
    assert [r[4][0] for r in body] == [str(fixed.get(s["site"], "–")) for s in plan["sites"]]
    assert footer[1][0] == f"{plan['max_burden']} / {plan['total_burden']}"
    if plan["fixed"]:
        assert f"Keeping one time, {plan['fixed']['local_time']} in Asia/Shanghai" in page.text


def test_the_dst_table_shows_where_ann_arbor_moves(client, series):
    # Kept at 21:00 in Beijing on Tuesdays: Michigan moves on 14 March, Sydney on 4 April.
    page = plan_page(client, series["path"], occurrences="6", local_time="21:00")
    preview = (
        series["api"]
        .post(
            DST_PREVIEW,
            json={
                "event_id": series["event"]["id"],
                "local_start": "2027-03-02T21:00",
                "timezone": "Asia/Shanghai",
                "rrule": "FREQ=DAILY;INTERVAL=7;COUNT=6",
            },
        )
        .get_json()
    )

    assert page.status_code == 200, page.text
    _, *rows = Tables(page.text).tables["dst"]
    by_name = {row[0][0]: row for row in rows}
    assert [row[0][0] for row in rows] == [s["name"] for s in preview["sites"]]
    michigan = by_name["University of Michigan"]
    assert (michigan[1][0], michigan[2][0]) == ("America/Detroit", "Tue 02 Mar 08:00")
    assert michigan[3][0] == (
        "Tue 16 Mar 2027 – Tue 06 Apr 2027 (4 occurrences): Tue 16 Mar 09:00, +60 min"
        " — clocks in America/Detroit go forward on Sun 14 Mar 2027 at 02:00 (to 03:00)"
    )
    sydney = by_name[HOSTILE]
    assert sydney[3][0] == (
        "Tue 06 Apr 2027: Tue 06 Apr 23:00, -60 min"
        " — clocks in Australia/Sydney go back on Sun 04 Apr 2027 at 03:00 (to 02:00)"
    )
    assert by_name["Peking University"][3][0] == "The same local time throughout"
    assert by_name["Qatar University"][3][0] == "The same local time throughout"


def test_names_are_escaped(client, series):
    page = plan_page(client, series["path"], local_time="21:00")

    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;Uni&#39;" in page.text
    assert HOSTILE in [row[0][0] for row in Tables(page.text).tables["burden"]]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"occurrences": "99"}, "occurrences", "From 1 to 52 occurrences."),
        ({"occurrences": ""}, "occurrences", "Give the number of occurrences."),
        ({"interval_days": "0"}, "interval_days", "From 1 to 31 days."),
        ({"duration_minutes": "2000"}, "duration_minutes", "From 1 to 1440 minutes."),
        ({"first_date": "2027-02-30"}, "first_date", "Not a valid date value."),
        ({"timezone": "Mars/Base"}, "timezone", "unknown time zone"),
        ({"step_minutes": "7"}, "step_minutes", "Not a valid choice."),
        # 02:30 on 14 March 2027 does not exist in Detroit: the service names local_start.
        (
            {"timezone": "America/Detroit", "first_date": "2027-03-14", "local_time": "02:30"},
            "local_time",
            "does not exist in America/Detroit",
        ),
    ],
)
def test_bad_options_are_shown_next_to_their_field(client, series, changes, field, message):
    page = plan_page(client, series["path"], **changes)

    assert page.status_code == 422
    errors = re.search(rf'<ul class="field-errors" id="{field}-errors">(.*?)</ul>', page.text, re.S)
    assert errors, page.text
    assert message in errors.group(1).replace("&#39;", "'")
    assert f'aria-describedby="{field}-errors' in page.text
    # A refused preview time still shows the rotation, which does not depend on it.
    assert ('id="rotation"' in page.text) == (field == "local_time")
    assert 'id="dst"' not in page.text


def test_an_event_without_participants_is_refused_above_the_form(client, series):
    empty = created(
        series["api"].post(
            "/api/v1/events", json={"title": "Empty", "kind": "bilateral", "timezone": "UTC"}
        )
    )

    page = plan_page(client, f"/events/{empty['id']}/series-planner")

    assert page.status_code == 422
    assert 'id="form-errors"' in page.text
    assert "the event has no participants" in page.text


def test_the_page_needs_a_login_and_the_organisers_own_event(app, client, make_organiser, series):
    path = series["path"]
    make_organiser("other@example.org")
    client.post("/logout", data={"csrf_token": _csrf(client)})
    assert client.get(path).status_code == 302

    assert log_in(client, "other@example.org").status_code == 302
    assert client.get(path).status_code == 404
    assert plan_page(client, path).status_code == 404


def _csrf(client) -> str:
    page = client.get("/")
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
