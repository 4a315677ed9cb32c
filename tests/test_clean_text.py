"""Clean text: every input refuses control characters, naming the field; every calendar
file and invitation email carries clean, escaped text, whatever was typed or stored."""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from typing import Any
from urllib.parse import urlsplit

import icalendar
import pytest
import sqlalchemy as sa
import vobject
from hypothesis import HealthCheck
from hypothesis import event as outcome
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from forum.accounts.models import ApiToken
from forum.accounts.models import Organiser
from forum.core import text
from forum.directory.models import Person
from forum.events import calendars as event_calendars
from forum.events.models import Event
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.extensions import db
from tests import calendars
from tests.conftest import ApiClient
from tests.conftest import csrf_token
from tests.factories import EVENTS
from tests.factories import SESSIONS
from tests.factories import book
from tests.factories import created
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.helpers import assert_error
from tests.test_web import log_in

# Characters people paste without seeing them, with the code point a message names.
# Word pastes a vertical tab for Shift+Enter; U+2028 and U+2029 come from text editors and
# JavaScript; NEL from old mainframe text; FS from barcode scanners.
LINE_BREAKS = {"\n": "U+000A", "\r": "U+000D", "\u2028": "U+2028", "\u2029": "U+2029"}
LINE_BREAKS["\x85"] = "U+0085"
CONTROLS = {
    "\x0b": "U+000B",
    "\x0c": "U+000C",
    "\x1b": "U+001B",
    "\x7f": "U+007F",
    "\x1c": "U+001C",
    "\x01": "U+0001",
    "\x9b": "U+009B",
    "\ufeff": "U+FEFF",
}
TAB = {"\t": "U+0009"}
REFUSED_ON_ONE_LINE = {**LINE_BREAKS, **CONTROLS, **TAB}


def message_of(response, field: str) -> str:
    error = assert_error(response, 422, "validation_error", field)
    return error["details"]["fields"][field]


def is_refused(response, field: str, code: str, position: int) -> None:
    message = message_of(response, field)
    assert f"found {code}" in message and f"at position {position}" in message, message


# --- the rule ----------------------------------------------------------------------------------


def test_single_line_text_names_the_character_and_where_it_is():
    assert text.problem("Li We\x0bi") == (
        "must not contain control characters (found U+000B, a vertical tab, at position 6)"
    )
    assert text.problem("Plenary\u2028Day 2") == (
        "must be a single line (found U+2028, a line separator, at position 8)"
    )
    assert text.problem("\ufeffOxford") == (
        "must not contain invisible characters (found U+FEFF, a byte order mark, at position 1)"
    )
    assert "lone surrogate" in text.problem("Li\ud800")
    assert "noncharacters" in text.problem("Li\uffff")
    for char, code in REFUSED_ON_ONE_LINE.items():
        assert f"found {code}" in text.problem(f"ab{char}c"), char


def test_names_are_stored_in_normal_form_c_without_surrounding_space():
    assert text.clean_line("  Jose\u0301 Mu\u0308ller\u3000") == "José Müller"
    # Scripts keep the invisible characters they need: bidirectional marks and isolates
    # (Arabic, Hebrew), zero-width joiners and non-joiners (Persian, emoji sequences).
    for name in ("\u2067جامعة قطر\u2069 (QU)", "\u200fאוניברסיטה", "می\u200cخواهم", "👩\u200d🔬"):
        assert text.clean_line(name) == name


def test_descriptions_keep_line_breaks_as_lf_and_tabs_and_refuse_other_controls():
    typed = "Agenda\r\n1.\tWelcome\r2. Panel\u20283. Q&A\u2029Close\x85End"
    assert text.clean_text(typed) == "Agenda\n1.\tWelcome\n2. Panel\n3. Q&A\nClose\nEnd"
    for char, code in CONTROLS.items():
        assert f"found {code}" in text.problem(f"a\n{char}", multi_line=True)


def test_scrubbing_stored_text_never_fails_and_leaves_clean_text_alone():
    assert text.scrub_line("Plenary\u2028Day\x0b2\x1b\r\n") == "Plenary Day 2 "
    assert text.scrub_text("a\r\nb\x0cc\u2029d\x7f") == "a\nb c\nd"
    clean = "Forum; Leaders, East\\West"
    assert text.scrub_line(clean) is clean
    assert text.scrub_line("x\ud800") == "x\ufffd"


# --- every input: the API ----------------------------------------------------------------------


@pytest.fixture
def directory(api: ApiClient) -> dict[str, Any]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    li = make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"])
    event = make_event(api, title="PKU-Tokyo exchange", kind="bilateral", timezone="Asia/Shanghai")
    session = make_session(api, event["id"], invitees=[invitee(li)])
    return {"pku": pku, "li": li, "event": event, "session": session}


# Every single-line field of the API: (method, path, body around it, field as details name it).
def _single_line_fields(d: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]]:
    institution = {"name": "Kyoto University", "country": "JP", "timezone": "Asia/Tokyo"}
    person = {"name": "Sato Yuki", "email": "sato@kyoto.example.jp"}
    blackout = {"start_date": "2027-08-01", "end_date": "2027-08-31", "reason": "Summer"}
    return [
        ("POST", "/api/v1/institutions", institution, "name"),
        ("POST", "/api/v1/institutions", {**institution, "short_name": "KU"}, "short_name"),
        (
            "POST",
            "/api/v1/institutions",
            {**institution, "blackouts": [blackout]},
            "blackouts.0.reason",
        ),
        ("PATCH", f"/api/v1/institutions/{d['pku']['id']}", {"name": "PKU"}, "name"),
        ("POST", "/api/v1/people", {**person, "institution_id": d["pku"]["id"]}, "name"),
        (
            "POST",
            "/api/v1/people",
            {**person, "timezone": "UTC", "role_title": "Dean"},
            "role_title",
        ),
        ("PATCH", f"/api/v1/people/{d['li']['id']}", {"name": "Li"}, "name"),
        ("POST", EVENTS, {"title": "Forum", "kind": "forum"}, "title"),
        ("PATCH", f"{EVENTS}/{d['event']['id']}", {"title": "Forum"}, "title"),
        (
            "POST",
            f"{EVENTS}/{d['event']['id']}/sessions",
            {"title": "Panel", "start": "2027-04-01T08:00:00Z", "duration_minutes": 30},
            "title",
        ),
        ("PATCH", f"{SESSIONS}/{d['session']['id']}", {"title": "Panel"}, "title"),
        (
            "POST",
            "/api/v1/webhook-subscriptions",
            {"url": "https://hooks.example.org/forum", "event_types": ["session.scheduled"]},
            "url",
        ),
    ]


def _with(body: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    """``body`` with ``value`` typed into the middle of ``field`` (a dotted path)."""
    body = json.loads(json.dumps(body))
    *parents, last = field.split(".")
    target: Any = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    original = target[last]
    target[last] = original[:2] + value + original[2:]
    return body


FIELD_CASES = [
    "institution name",
    "institution short_name",
    "blackout reason",
    "institution name, changed",
    "person name",
    "person role_title",
    "person name, changed",
    "event title",
    "event title, changed",
    "session title",
    "session title, changed",
    "webhook subscription url",
]


@pytest.mark.parametrize("case", range(len(FIELD_CASES)), ids=FIELD_CASES)
def test_every_single_line_field_refuses_each_character_naming_it(api, directory, row_count, case):
    method, path, body, field = _single_line_fields(directory)[case]
    tables = ("institutions", "people", "events", "sessions", "webhook_subscriptions")
    before = {table: row_count(table) for table in tables}
    for char, code in REFUSED_ON_ONE_LINE.items():
        response = api._call(method, path, json=_with(body, field, char))
        is_refused(response, field, code, 3)
    assert {table: row_count(table) for table in tables} == before
    if method == "PATCH":
        assert api.get(path).get_json()[field] == directory_value(directory, path, field)


def directory_value(directory: dict[str, Any], path: str, field: str) -> Any:
    kind = path.split("/")[3]
    found = {"institutions": "pku", "people": "li", "events": "event", "sessions": "session"}
    return directory[found[kind]][field]


def test_the_session_title_is_refused_when_moving_one_occurrence(api, directory):
    event = directory["event"]
    series = make_session(
        api,
        event["id"],
        title="Weekly call",
        start="2027-05-03T08:00:00Z",
        rrule="FREQ=WEEKLY;COUNT=3",
        invitees=[invitee(directory["li"])],
    )
    first = api.get(f"{SESSIONS}/{series['id']}/occurrences").get_json()["items"][0]
    response = api.patch(
        f"{SESSIONS}/{series['id']}/occurrences/{first['recurrence_id']}",
        json={"title": "Week\x0bone"},
    )
    is_refused(response, "title", "U+000B", 5)


def test_descriptions_take_line_breaks_and_tabs_and_refuse_other_controls(
    api, client, directory, row_count
):
    typed = " Agenda\r\n1.\tWelcome\r2. Panel\u20283. Q&A\u2029Close\x85End "
    response = api.post(EVENTS, json={"title": "Forum", "kind": "forum", "description": typed})
    event = created(response)
    assert event["description"] == "Agenda\n1.\tWelcome\n2. Panel\n3. Q&A\nClose\nEnd"
    before = row_count("events")
    for char, code in CONTROLS.items():
        body = {"title": "Forum", "kind": "forum", "description": f"Agenda\n{char}"}
        is_refused(api.post(EVENTS, json=body), "description", code, 8)
        patched = api.patch(f"{EVENTS}/{event['id']}", json={"description": f"ab{char}"})
        is_refused(patched, "description", code, 3)
    assert row_count("events") == before
    # Each line of the description arrives as a line in the calendars.
    make_session(api, event["id"], invitees=[invitee(directory["li"])])
    calendar = client.get(local(event["calendar_url"])).data
    vevent = icalendar.Calendar.from_ical(calendar).walk("VEVENT")[0]
    assert "Agenda\n1.\tWelcome\n2. Panel\n3. Q&A\nClose\nEnd" in str(vevent["DESCRIPTION"])


def test_text_is_stored_as_typed_in_normal_form_c_without_surrounding_space(api):
    pku = make_institution(api, "  Universite\u0301 de Gene\u0300ve ", "CH", "Europe/Zurich")
    assert pku["name"] == "Université de Genève"
    spaces = api.post(
        "/api/v1/people", json={"name": "   ", "email": "a@b.example", "timezone": "UTC"}
    )
    assert message_of(spaces, "name") == "must not be empty"


def test_a_lone_surrogate_is_refused_not_a_server_error(api, row_count):
    body = b'{"name": "Li \\ud800", "email": "li@pku.example.org", "timezone": "UTC"}'
    response = api.post("/api/v1/people", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert row_count("people") == 0


def test_provider_hosts_refuse_control_characters(app, api):
    with app.app_context():
        db.session.get(Organiser, api.organiser_id).is_admin = True
        db.session.commit()
    body = {"name": "zoom-main", "kind": "zoom", "account_id": "acc", "client_id": "cid"}
    body |= {"client_secret": "secret", "hosts": ["host1@uni.example", "ho\x1bst2@uni.example"]}
    is_refused(api.post("/api/v1/provider-accounts", json=body), "hosts.1", "U+001B", 3)
    body |= {"hosts": ["host1@uni.example"], "account_id": "acc\u2028x"}
    is_refused(api.post("/api/v1/provider-accounts", json=body), "account_id", "U+2028", 4)


# --- every input: pages, imports, commands ------------------------------------------------------


def page_errors(page: str, field: str) -> str:
    start = page.find(f'id="{field}-errors"')
    assert start != -1, f"no errors shown at {field}"
    return page[start : page.find("</ul>", start)]


def test_the_pages_refuse_the_same_characters_at_their_fields(client, make_organiser, row_count):
    api = make_organiser()
    log_in(client, "organiser@example.org")
    form = client.get("/events/new")
    data = {"title": "Forum\x0bDay", "kind": "forum", "timezone": "UTC", "csrf_token": ""}
    data |= {"default_provider": "jitsi", "description": "", "organisers": ""}
    data["csrf_token"] = csrf_token(form.text)
    response = client.post("/events/new", data=data)
    assert response.status_code == 422
    assert "found U+000B, a vertical tab, at position 6" in page_errors(response.text, "title")
    data |= {"title": "Forum", "description": "Line one\r\nLine\x1b two"}
    response = client.post("/events/new", data=data)
    assert response.status_code == 422
    assert "found U+001B" in page_errors(response.text, "description")
    assert row_count("events") == 0

    event = make_event(api, title="Forum", kind="forum", timezone="UTC")
    form = client.get(f"/events/{event['id']}/sessions/new")
    response = client.post(
        f"/events/{event['id']}/sessions/new",
        data={
            "title": "Panel\u2028Day 2",
            "local_start": "2027-04-01T09:00",
            "timezone": "UTC",
            "duration_minutes": "60",
            "provider": "jitsi",
            "csrf_token": csrf_token(form.text),
        },
    )
    assert response.status_code == 422
    assert "found U+2028, a line separator, at position 6" in page_errors(response.text, "title")
    assert row_count("sessions") == 0

    tokens = client.get("/tokens")
    response = client.post(
        "/tokens", data={"name": "laptop\x1bkey", "csrf_token": csrf_token(tokens.text)}
    )
    assert response.status_code == 422
    assert "found U+001B, an escape, at position 7" in page_errors(response.text, "name")


def test_the_provider_and_subscription_pages_refuse_control_characters(
    app, client, make_organiser, row_count
):
    api = make_organiser()
    with app.app_context():
        db.session.get(Organiser, api.organiser_id).is_admin = True
        db.session.commit()
    log_in(client, "organiser@example.org")
    form = client.get("/providers/new/zoom")
    fields = {"name": "uni-zoom", "account_id": "acc", "client_id": "cid", "client_secret": "s"}
    fields |= {"hosts": "host1@uni.example\nho\x1bst2@uni.example", "api_base_url": ""}
    response = client.post(
        "/providers/new/zoom", data={**fields, "csrf_token": csrf_token(form.text)}
    )
    assert response.status_code == 422
    assert "found U+001B, an escape, at position 3" in page_errors(response.text, "hosts")
    fields |= {"hosts": "host1@uni.example", "api_base_url": "https://api.zoom\x7f.us/v2"}
    response = client.post(
        "/providers/new/zoom", data={**fields, "csrf_token": csrf_token(form.text)}
    )
    assert response.status_code == 422
    assert "found U+007F, a delete" in page_errors(response.text, "api_base_url")
    assert row_count("provider_accounts") == 0

    page = client.get("/webhook-subscriptions")
    response = client.post(
        "/webhook-subscriptions",
        data={
            "url": "https://hooks.example.org/\x0bforum",
            "event_types": "session.scheduled",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.status_code == 422
    assert "found U+000B, a vertical tab" in page_errors(response.text, "url")
    assert row_count("webhook_subscriptions") == 0


def test_an_import_lists_each_row_with_an_unclean_field(api, row_count):
    csv_body = (
        "name,email,institution,timezone,role_title\n"
        '"Li\x0bWei",li@pku.example.org,,Asia/Shanghai,Professor\n'
        "Sato Yuki,sato@kyoto.example.jp,,Asia/Tokyo,Dean\x7f\n"
        "Jane Smith,jane@umich.example.org,,America/Detroit,Chair\n"
    )
    response = api.post(
        "/api/v1/people/import", data=csv_body.encode(), headers={"Content-Type": "text/csv"}
    )
    rows = assert_error(response, 422, "validation_error", "rows")["details"]["rows"]
    assert [(row["line"], row["field"]) for row in rows] == [(2, "name"), (3, "role_title")]
    assert "found U+000B, a vertical tab, at position 3" in rows[0]["message"]
    assert "found U+007F, a delete, at position 5" in rows[1]["message"]

    # JSON may carry what CSV cannot: lone surrogates, written as escapes.
    json_body = (
        b'[{"name": "Kyoto University", "country": "JP"},'
        b' {"name": "Qatar \\ud800University", "country": "QA"},'
        b' {"name": "Tokyo\\u2028University", "country": "JP", "short_name": "U\\u001bT"}]'
    )
    response = api.post(
        "/api/v1/institutions/import", data=json_body, headers={"Content-Type": "application/json"}
    )
    rows = assert_error(response, 422, "validation_error", "rows")["details"]["rows"]
    assert [(row["index"], row["field"]) for row in rows] == [
        (1, "name"),
        (2, "name"),
        (2, "short_name"),
    ]
    assert "lone surrogate" in rows[0]["message"]
    assert "found U+2028" in rows[1]["message"]
    assert row_count("people") == 0 and row_count("institutions") == 0


def test_the_commands_refuse_names_with_control_characters(app, runner, make_organiser):
    make_organiser()
    result = runner.invoke(
        args=["forum", "create-organiser", "new@example.org", "--name", "Ann\x0bLee"]
    )
    assert result.exit_code == 2
    assert "found U+000B, a vertical tab, at position 4" in result.output
    result = runner.invoke(
        args=["forum", "create-token", "organiser@example.org", "--name", "ci\u2028key"]
    )
    assert result.exit_code == 2
    assert "must be a single line" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Organiser.id))) == 1
        assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 1


# --- every output: calendars and emails --------------------------------------------------------


def local(url: str) -> str:
    """A link forum gives, as a path for the test client."""
    return urlsplit(url)._replace(scheme="", netloc="").geturl()


def feed_of(app, client, person_id: int) -> bytes:
    with app.app_context():
        url = event_calendars.feed_url(db.session.get(Person, person_id))
    response = client.get(local(url))
    assert response.status_code == 200
    return response.data


def invitations_to(app, address: str) -> list[email.message.EmailMessage]:
    """The emails sent to ``address``, as a mail client reads them (bytes parsed back)."""
    sent = app.extensions["forum_mail_sender"].messages
    return [
        email.message_from_bytes(m.as_bytes(policy=email.policy.SMTP), policy=email.policy.default)
        for m in sent
        if address in str(m["To"])
    ]


def display_name(message: email.message.EmailMessage, header: str) -> str:
    """The name in an address header, read as mail clients read it.

    A long or non-ASCII name is written as encoded words (each at most 75 characters) on
    folded lines, and RFC 2047 drops the white space between two of them; the address
    parser of Python's email package keeps a space there, so such a name is decoded from
    the header's source. A plain or quoted ASCII name is read by that parser.
    """
    source = email.message_from_bytes(message.as_bytes(), policy=email.policy.compat32)
    phrase = source[header].rpartition("<")[0].strip()
    if "=?" not in phrase:
        return message[header].addresses[0].display_name
    return str(email.header.make_header(email.header.decode_header(phrase)))


def calendar_part(message: email.message.EmailMessage, method: str) -> bytes:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == method
    return part.get_payload(decode=True)


def as_text(value: Any) -> str:
    """A property read as TEXT by icalendar, which leaves NAME and X-WR- properties raw."""
    raw = value.to_ical().decode() if hasattr(value, "to_ical") else str(value)
    component = icalendar.Event.from_ical(f"BEGIN:VEVENT\r\nSUMMARY:{raw}\r\nEND:VEVENT\r\n")
    return str(component["SUMMARY"])


def check_batch(files: list[tuple[bytes, str | None]]) -> None:
    """Each file through the Python parsers, then all of them through icalcheck at once.

    icalcheck checks each file against the METHOD it carries (REQUEST, PUBLISH or none,
    which the Python checks have matched with what it should be).
    """
    for data, method in files:
        calendars._python_checks(data, method, None, 5)
    if not calendars.icalcheck_built():
        pytest.fail(calendars.ICALCHECK_MISSING)
    folder = tempfile.mkdtemp(prefix="clean-text-")
    paths = []
    for number, (data, _) in enumerate(files):
        path = os.path.join(folder, f"{number}.ics")
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)
    try:
        proc = subprocess.run(
            [sys.executable, str(calendars.ICALCHECK), *paths, "--json", "--occurrences", "5"],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "ICALCHECK_PYTHON": sys.executable},
            check=False,
        )
    finally:
        for path in paths:
            os.unlink(path)
        os.rmdir(folder)
    assert proc.returncode == 0, calendars._report(json.loads(proc.stdout)) + proc.stderr


def vobject_calendar(data: bytes) -> Any:
    calendars._reset_vobject_zones()
    try:
        return vobject.readOne(data.decode())
    finally:
        calendars._reset_vobject_zones()


SEPARATORS = "Forum; Leaders, East\\West"


def test_name_and_calendar_name_carry_separators_every_parser_reads_back(app, api, client):
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    chen = make_person(api, "Chen, Li; PKU\\Beijing", "chen.li@pku.example.org", pku["id"])
    event = make_event(api, title=SEPARATORS, kind="forum", timezone="Asia/Shanghai")
    make_session(api, event["id"], title="Panel; one, two\\three", invitees=[invitee(chen)])
    event_file = client.get(local(event["calendar_url"])).data
    feed = feed_of(app, client, chen["id"])
    [invitation] = invitations_to(app, "chen.li@pku.example.org")
    invite = calendar_part(invitation, "REQUEST")

    assert b"\r\nNAME:Forum\\; Leaders\\, East\\\\West\r\n" in event_file
    assert b"\r\nX-WR-CALNAME:Forum\\; Leaders\\, East\\\\West\r\n" in event_file
    for data, name in ((event_file, SEPARATORS), (feed, "forum: Chen, Li; PKU\\Beijing")):
        parsed = icalendar.Calendar.from_ical(data)
        assert as_text(parsed["NAME"]) == name
        assert as_text(parsed["X-WR-CALNAME"]) == name
        read = vobject_calendar(data)
        assert read.contents["name"][0].value == name
        assert read.contents["x-wr-calname"][0].value == name
        assert str(parsed.walk("VEVENT")[0]["SUMMARY"]) == "Panel; one, two\\three"
    attendee = icalendar.Calendar.from_ical(invite).walk("VEVENT")[0]["ATTENDEE"]
    assert attendee.params["CN"] == "Chen, Li; PKU\\Beijing"
    assert invitation["To"].addresses[0].display_name == "Chen, Li; PKU\\Beijing"
    # ical.js and libical read them too, and the lint finds every TEXT escaped.
    check_batch([(event_file, "PUBLISH"), (feed, None), (invite, "REQUEST")])


@pytest.mark.parametrize("name", ["\\", "Wang\\Wei", "Li\\"])
def test_a_backslash_in_a_name_keeps_the_attendees_parameters(app, api, name):
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    someone = make_person(api, name, "someone@pku.example.org", pku["id"])
    event = make_event(api, title="Panel", kind="forum", timezone="Asia/Shanghai")
    make_session(api, event["id"], title="Panel", invitees=[invitee(someone)])
    [invitation] = invitations_to(app, "someone@pku.example.org")
    invite = calendar_part(invitation, "REQUEST")

    attendee = icalendar.Calendar.from_ical(invite).walk("VEVENT")[0]["ATTENDEE"]
    assert attendee.params["CN"] == name
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert vobject_calendar(invite).vevent.attendee.params["CN"] == [name]
    check_batch([(invite, "REQUEST")])


def store_as_before_the_rule(app, **values: tuple[type, int, dict[str, str]]) -> None:
    """Write text straight into rows, as it was stored before the rule."""
    with app.app_context():
        for model, row_id, columns in values.values():
            db.session.execute(sa.update(model).where(model.id == row_id).values(**columns))
        db.session.commit()


def no_controls(data: bytes) -> bool:
    unfolded = data.replace(b"\r\n ", b"").decode()
    return not any(
        unicodedata.category(char) in ("Cc", "Zl", "Zp") and char not in "\t\r\n"
        for char in unfolded
    )


@pytest.fixture
def booked(api) -> dict[str, Any]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    li = make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"])
    event = make_event(api, title="Forum", kind="forum", timezone="Asia/Shanghai")
    session = make_session(api, event["id"], title="Plenary", invitees=[invitee(li)])
    return {"li": li, "event": event, "session": session}


def test_rows_stored_before_the_rule_are_written_without_control_characters(
    app, api, client, booked
):
    li, event, session = booked["li"], booked["event"], booked["session"]
    # A name pasted from Word, titles from an editor, a description from a terminal.
    store_as_before_the_rule(
        app,
        person=(Person, li["id"], {"name": "Li\x0bWei\x1b"}),
        event=(
            Event,
            event["id"],
            {"title": "Forum\u2028Day\x7f 2", "description": "Line\x0cone\rLine\x85two"},
        ),
        session=(EventSession, session["id"], {"title": "Plenary\x1c\u2029opening\t"}),
        organiser=(Organiser, api.organiser_id, {"name": "Olga\x0b"}),
    )
    moved = api.patch(f"{SESSIONS}/{session['id']}", json={"start": "2027-03-11T13:00:00Z"})
    assert moved.status_code == 200, moved.get_json()
    with app.app_context():
        invitation = db.session.scalar(
            sa.select(Invitation).where(Invitation.session_id == session["id"])
        )
        invite = event_calendars.invite_file(invitation, method="REQUEST")
    event_file = client.get(local(event["calendar_url"])).data
    feed = feed_of(app, client, li["id"])
    download = client.get(local(session["calendar_url"])).data
    for data in (invite, event_file, feed, download):
        assert no_controls(data)
        vevent = icalendar.Calendar.from_ical(data).walk("VEVENT")[0]
        assert str(vevent["SUMMARY"]) == "Plenary  opening "
        assert "Plenary  opening \nForum Day 2\nLine one\nLine\ntwo" in str(vevent["DESCRIPTION"])
    assert as_text(icalendar.Calendar.from_ical(event_file)["NAME"]) == "Forum Day 2"
    assert as_text(icalendar.Calendar.from_ical(feed)["NAME"]) == "forum: Li Wei"
    attendee = icalendar.Calendar.from_ical(invite).walk("VEVENT")[0]["ATTENDEE"]
    assert attendee.params["CN"] == "Li Wei"
    check_batch([(invite, "REQUEST"), (event_file, "PUBLISH"), (feed, None), (download, None)])


def test_stored_control_characters_never_reach_an_email_header(app, api, booked):
    li, session = booked["li"], booked["session"]
    store_as_before_the_rule(
        app,
        person=(Person, li["id"], {"name": "\ufeffLi\x1b[31m Wei\x7f"}),
        session=(EventSession, session["id"], {"title": "Plenary\x9b\x07 opening"}),
        organiser=(Organiser, api.organiser_id, {"name": "Olga\x1b"}),
    )
    app.extensions["forum_mail_sender"].messages.clear()
    moved = api.patch(f"{SESSIONS}/{session['id']}", json={"start": "2027-03-11T13:00:00Z"})
    assert moved.status_code == 200, moved.get_json()

    [update] = invitations_to(app, "li.wei@pku.example.org")
    assert update["Subject"].startswith("Updated invitation: Plenary opening (Thu 11 Mar 2027")
    assert update["To"].addresses[0].display_name == "Li[31m Wei"
    assert update["From"].addresses[0].display_name == "Olga via forum"
    assert update["Reply-To"].addresses[0].display_name == "Olga"
    for name in ("Subject", "To", "From", "Reply-To"):
        assert not any(unicodedata.category(char) == "Cc" for char in str(update[name])), name
    invite = calendar_part(update, "REQUEST")
    assert no_controls(invite)
    check_batch([(invite, "REQUEST")])


# --- any text at all ---------------------------------------------------------------------------

# Arbitrary text, and text made of what calendars and headers find hardest: separators,
# quotes, carets, backslashes, bidirectional and joining marks, combining accents, emoji.
TRICKY = list(";,\\\"^:<>&'\u202e\u2067\u200d\u200c\u0301\u3000\u00a0") + ["👩", "🔬", "北", "京"]
clean_names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"))
    | st.sampled_from(TRICKY),
    max_size=40,
)
# Arbitrary text one time in five: each field is refused now and then, and about half of
# the sessions get booked, for their files and emails to be checked.
any_text = st.one_of(st.text(max_size=40), *[clean_names] * 4)
# Descriptions: any text, or lines of text without controls, joined by any line break.
any_description = st.text(max_size=200) | st.lists(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40),
    max_size=5,
).flatmap(
    lambda lines: st.sampled_from(["\n", "\r\n", "\r", "\u2028", "\x85"]).map(
        lambda end: end.join(lines)
    )
)
KNOWN_REFUSALS = (
    "must not contain",
    "must be a single line",
    "must not be empty",
)
_numbers = itertools.count()


def _refused(response, *fields: str) -> bool:
    """True if the request was refused for the text of one of ``fields`` (the example ends)."""
    if response.status_code == 201:
        return False
    named = assert_error(response, 422, "validation_error")["details"]["fields"]
    assert named and set(named) <= set(fields), named
    outcome(f"refused at {re.sub(r'/[0-9]+', '/{id}', response.request.path)}: {', '.join(named)}")
    for message in named.values():
        assert message.startswith(KNOWN_REFUSALS), message
    return True


def _stored(given: str) -> str:
    return unicodedata.normalize("NFC", given).strip()


@settings(
    max_examples=24,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    institution=any_text,
    person=any_text,
    event_title=any_text,
    description=any_description,
    title=any_text,
)
def test_any_text_is_refused_naming_its_field_or_written_so_every_parser_reads_it(
    app, api, client, institution, person, event_title, description, title
):
    number = next(_numbers)
    # Names are unique in the directory; every example adds its own.
    response = api.post(
        "/api/v1/institutions",
        json={"name": f"{institution} #{number}", "country": "CN", "timezone": "Asia/Shanghai"},
    )
    if _refused(response, "name"):
        return
    assert response.get_json()["name"] == _stored(f"{institution} #{number}")
    address = f"person{number}@example.org"
    body = {
        "name": person,
        "email": address,
        "institution_id": response.get_json()["id"],
        "locale": "en",  # the checks below read the English subject
    }
    response = api.post("/api/v1/people", json=body)
    if _refused(response, "name"):
        return
    someone = response.get_json()
    assert someone["name"] == _stored(person)
    body = {"title": event_title, "kind": "forum", "description": description}
    response = api.post(EVENTS, json=body)
    if _refused(response, "title", "description"):
        return
    event = response.get_json()
    response = book(api, event["id"], title=title, invitees=[invitee(someone)])
    if _refused(response, "title"):
        return
    session = response.get_json()
    assert session["title"] == _stored(title)

    [invitation] = invitations_to(app, address)
    assert display_name(invitation, "To") == someone["name"]
    assert invitation["To"].addresses[0].addr_spec == address
    assert invitation["Subject"].startswith(f"Invitation: {session['title']} (")
    invite = calendar_part(invitation, "REQUEST")
    event_file = client.get(local(event["calendar_url"])).data
    feed = feed_of(app, client, someone["id"])
    for data in (invite, event_file, feed):
        vevent = icalendar.Calendar.from_ical(data).walk("VEVENT")
        assert [str(v["SUMMARY"]) for v in vevent] == [session["title"]]
    assert as_text(icalendar.Calendar.from_ical(event_file)["NAME"]) == event["title"]
    assert vobject_calendar(feed).contents["x-wr-calname"][0].value == f"forum: {someone['name']}"
    attendee = icalendar.Calendar.from_ical(invite).walk("VEVENT")[0]["ATTENDEE"]
    assert attendee.params["CN"] == someone["name"]
    check_batch([(invite, "REQUEST"), (event_file, "PUBLISH"), (feed, None)])
    outcome("booked, invited, written")
