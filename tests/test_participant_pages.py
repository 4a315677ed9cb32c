"""Participants' pages at secret links: the agenda, its zone switcher, RSVP and calendar links."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from forum.db import now_utc
from forum.directory.models import Person
from forum.events import calendars
from forum.events.models import VideoMeeting
from forum.extensions import db
from forum.i18n import zone_text
from tests.factories import SESSIONS
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session

EVIL = "<script>alert(1)</script> \"quoted\" and 'single'"
JOIN = "https://video.example.org/j/81234567890"


# --- reading pages ---------------------------------------------------------------------------


class Node:
    """An element of a parsed page: tag, attributes, children (nodes and text)."""

    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join("".join(parts).split())

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def find_all(self, tag: str, cls: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, str):
                continue
            if (
                child.tag == tag
                and (cls is None or cls in child.classes())
                and all(child.attrs.get(k) == v for k, v in attrs.items())
            ):
                found.append(child)
            found.extend(child.find_all(tag, cls, **attrs))
        return found

    def find(self, tag: str, cls: str | None = None, **attrs: str) -> Node:
        [node] = self.find_all(tag, cls, **attrs)
        return node

    def link(self, text: str) -> str:
        [href] = [a.attrs["href"] for a in self.find_all("a") if a.text() == text]
        return href


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: bytes | str) -> Node:
    builder = TreeBuilder()
    builder.feed(html.decode() if isinstance(html, bytes) else html)
    builder.close()
    return builder.root


class Page:
    """A participant page as a reader sees it."""

    def __init__(self, response) -> None:
        assert response.status_code == 200, response.status_code
        assert response.mimetype == "text/html"
        self.response = response
        self.html = response.get_data(as_text=True)
        self.root = parse(self.html)
        self.text = self.root.find("main").text()

    def items(self) -> list[Node]:
        return self.root.find_all("li", "agenda-item")

    def item(self, title: str) -> Node:
        [item] = [i for i in self.items() if item_title(i) == title]
        return item

    def titles(self) -> list[str]:
        return [item_title(i) for i in self.items()]

    def flashes(self) -> list[str]:
        return [
            p.text()
            for div in self.root.find_all("div", "flashes")
            for p in div.children
            if not isinstance(p, str)
        ]


def item_title(item: Node) -> str:
    heading = item.find("h3")
    return "".join(c for c in heading.children if isinstance(c, str)).strip()


def when_lines(node: Node) -> list[str]:
    time = node.find("time")
    return [time.find("span", "when-main").text()] + [
        s.text() for s in time.find_all("span", "when-also")
    ]


def answer_buttons(node: Node) -> list[str]:
    return [b.attrs["value"] for b in node.find_all("button") if b.attrs.get("name") == "answer"]


def inline_scripts(html: str) -> list[str]:
    """Scripts written into the page rather than loaded from a file of ours."""
    return [
        script.text() or "(empty, no src)"
        for script in parse(html).find_all("script")
        if script.text() or not script.attrs.get("src")
    ]


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


# --- the world -------------------------------------------------------------------------------


def day_at(days: int, hour: int = 13) -> dt.datetime:
    """``days`` from now at ``hour``:00 UTC: inside the agenda's coming months."""
    return (now_utc() + dt.timedelta(days=days)).replace(hour=hour, minute=0, second=0)


def iso(instant: dt.datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def shown(start: dt.datetime, zone: str, minutes: int = 60) -> str:
    """How a page writes a meeting in a zone: weekday, date, start–end and the zone's name."""
    local = start.astimezone(ZoneInfo(zone))
    end = local + dt.timedelta(minutes=minutes)
    return f"{local:%a %d %b %Y %H:%M}–{end:%H:%M} ({zone_text(zone)})"


@pytest.fixture
def world(api) -> dict[str, Any]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    umich = make_institution(api, "University of Michigan", "US", "America/Detroit")
    return {
        "li": make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"]),
        "smith": make_person(api, "Jane Smith", "jsmith@umich.example.org", umich["id"]),
        # The event's home zone: India keeps no summer time, so its times are fixed.
        "event": make_event(api, title="Delhi education forum", timezone="Asia/Kolkata"),
    }


def book(api, world, title: str, start: dt.datetime, *people: str, **fields: Any) -> dict:
    return make_session(
        api,
        world["event"]["id"],
        title=title,
        start=iso(start),
        duration_minutes=60,
        invitees=[invitee(world[name]) for name in people],
        **fields,
    )


def person_url(app, person_id: int, which=calendars.agenda_url) -> str:
    with app.app_context():
        url = which(db.session.get(Person, person_id))
    return url.removeprefix(app.config["FORUM_BASE_URL"])


def local(app, url: str) -> str:
    """A link as printed in a page or an email, as the test client's path."""
    return url.removeprefix(app.config["FORUM_BASE_URL"])


def agenda(app, client, person_id: int, **query: str) -> Page:
    return Page(client.get(person_url(app, person_id), query_string=query))


def set_join_url(app, session_id: int, join_url: str | None, passcode: str | None = None) -> None:
    with app.app_context():
        meeting = db.session.scalar(
            sa.select(VideoMeeting).where(VideoMeeting.session_id == session_id)
        )
        meeting.join_url, meeting.passcode = join_url, passcode
        db.session.commit()


def answers(api, session_id: int) -> dict[int, dict[str, Any]]:
    response = api.get(f"{SESSIONS}/{session_id}/invitations")
    assert response.status_code == 200
    return {item["person_id"]: item for item in response.get_json()["items"]}


def rsvp_links(app, address: str) -> dict[str, str]:
    """The answer links of the latest invite email to ``address``, from its text part."""
    messages = [m for m in app.extensions["forum_mail_sender"].messages if address in m["To"]]
    message = email.message_from_bytes(messages[-1].as_bytes(), policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = dict(re.findall(r"^\s+(Accept|Maybe|Decline): (\S+)\s*$", text, re.MULTILINE))
    assert set(found) == {"Accept", "Maybe", "Decline"}, text
    return found


# --- the agenda ------------------------------------------------------------------------------


def test_agenda_lists_only_the_persons_coming_sessions_in_their_zone_first(app, api, client, world):
    plenary = day_at(10)
    book(api, world, "Opening plenary", plenary, "li", "smith")
    book(api, world, "Michigan workshop", day_at(12), "smith")
    book(api, world, "Last week's meeting", day_at(-7), "li")
    book(api, world, "Beyond the horizon", day_at(200), "li")

    page = agenda(app, client, world["li"]["id"])
    assert page.root.find("h1").text() == "Sessions for Li Wei"
    assert page.titles() == ["Opening plenary"]
    item = page.item("Opening plenary")
    # Beijing first (UTC+8), then the event's home zone (India, UTC+5:30), then UTC.
    day = f"{plenary:%a %d %b %Y}"
    assert when_lines(item) == [
        f"{day} 21:00–22:00 (Beijing, Asia/Shanghai)",
        f"{day} 18:30–19:30 (Asia/Kolkata)",
        f"{day} 13:00–14:00 (UTC)",
    ]
    assert item.find("time").attrs["datetime"] == iso(plenary)
    assert "Delhi education forum" in item.text()
    assert "your role: participant" in item.text()
    assert "not answered yet" in item.text()
    assert answer_buttons(item) == ["accepted", "tentative", "declined"]

    smith = agenda(app, client, world["smith"]["id"])
    assert smith.titles() == ["Opening plenary", "Michigan workshop"]
    assert when_lines(smith.item("Opening plenary"))[0] == shown(plenary, "America/Detroit")
    assert "Li Wei" not in smith.html


def test_join_button_only_when_the_meeting_has_a_join_link(app, api, client, world):
    with_link = book(api, world, "Plenary", day_at(5), "li")
    without = book(api, world, "Coffee", day_at(6), "li")
    set_join_url(app, with_link["id"], JOIN, passcode="271828")
    set_join_url(app, without["id"], None)  # as when the provider failed to open it

    page = agenda(app, client, world["li"]["id"])
    plenary = page.item("Plenary")
    assert plenary.link("Join") == JOIN
    assert "Passcode: 271828" in plenary.text()
    assert [a.text() for a in page.item("Coffee").find_all("a") if a.text() == "Join"] == []


def test_cancelled_session_and_occurrence_are_marked_and_cannot_be_answered(
    app, api, client, world
):
    first = day_at(3)
    series = book(api, world, "Weekly review", first, "li", rrule="FREQ=WEEKLY;COUNT=3")
    dropped_at = day_at(4)
    dropped = book(api, world, "Dropped talk", dropped_at, "li")
    second = first + dt.timedelta(days=7)
    assert api.delete(f"{SESSIONS}/{series['id']}/occurrences/{iso(second)}").status_code == 200
    assert api.delete(f"{SESSIONS}/{dropped['id']}").status_code == 200
    # Written after the changes, whose meeting updates give a Jitsi room its own link.
    set_join_url(app, series["id"], JOIN)
    set_join_url(app, dropped["id"], JOIN)

    page = agenda(app, client, world["li"]["id"])
    items = page.items()
    assert [(item_title(i), i.find("time").attrs["datetime"]) for i in items] == [
        ("Weekly review", iso(first)),
        ("Dropped talk", iso(dropped_at)),
        ("Weekly review", iso(second)),
        ("Weekly review", iso(first + dt.timedelta(days=14))),
    ]
    cancelled = [i for i in items if i.find_all("span", "badge")]
    assert [i.find("span", "badge").text() for i in cancelled] == ["cancelled", "cancelled"]
    assert cancelled == [items[1], items[2]]
    for item in cancelled:
        assert answer_buttons(item) == []
        assert "Join" not in item.text()
    for item in (items[0], items[3]):
        assert answer_buttons(item) == ["accepted", "tentative", "declined"]
        assert item.link("Join") == JOIN
        assert "Your answer for the whole series: not answered yet." in item.text()


def test_wrong_tampered_or_revoked_agenda_links_are_404(app, api, client, world):
    book(api, world, "Plenary", day_at(5), "li")
    path = person_url(app, world["li"]["id"])
    assert client.get(path).status_code == 200
    token = path.removeprefix("/p/")
    value, _, signature = token.partition(".")
    smith_id = world["smith"]["id"]
    for wrong in (
        "nonsense",
        value,  # no signature
        f"{value}.{signature[:-2]}",  # cut
        f"{smith_id}-0.{signature}",  # another person, Li's signature
        f"{value}.{signature.swapcase()}",
    ):
        assert client.get(f"/p/{wrong}").status_code == 404, wrong
    # A feed link's token is no agenda token.
    feed = person_url(app, world["li"]["id"], calendars.feed_url)
    feed_token = feed.removeprefix("/ical/feeds/").removesuffix(".ics")
    assert client.get(f"/p/{feed_token}").status_code == 404

    with app.app_context():
        db.session.get(Person, world["li"]["id"]).link_version += 1
        db.session.commit()
    assert client.get(path).status_code == 404
    new_path = person_url(app, world["li"]["id"])
    assert new_path != path
    assert agenda(app, client, world["li"]["id"]).titles() == ["Plenary"]


# --- the zone switcher ----------------------------------------------------------------------


def test_zone_switcher_shows_the_chosen_zone_first(app, api, client, world):
    start = day_at(9)
    book(api, world, "Plenary", start, "li")
    page = agenda(app, client, world["li"]["id"], tz="America/Detroit")
    detroit = start.astimezone(ZoneInfo("America/Detroit"))
    hours = {dt.timedelta(hours=-4): "09:00–10:00", dt.timedelta(hours=-5): "08:00–09:00"}
    assert when_lines(page.item("Plenary")) == [
        f"{detroit:%a %d %b %Y} {hours[detroit.utcoffset()]} (America/Detroit)",
        f"{start:%a %d %b %Y} 18:30–19:30 (Asia/Kolkata)",
        f"{start:%a %d %b %Y} 13:00–14:00 (UTC)",
    ]
    assert "Times are shown in America/Detroit (your own zone is Asia/Shanghai)" in page.text
    select = page.root.find("select", name="tz")
    [selected] = [o.attrs["value"] for o in select.find_all("option") if "selected" in o.attrs]
    assert selected == "America/Detroit"
    # The select has its label, and the form works without JavaScript: a GET to the agenda.
    label = page.root.find("label", **{"for": select.attrs["id"]})
    assert label.text() == "Show times in"
    form = page.root.find("form", "zone-switcher")
    assert form.attrs["method"] == "get"
    assert form.attrs["action"] == person_url(app, world["li"]["id"])
    suggested = [
        o.attrs["value"] for o in select.find("optgroup", label="Your zones").find_all("option")
    ]
    assert suggested == ["Asia/Kolkata", "Asia/Shanghai", "UTC"]


def test_a_fixed_date_in_detroit_summer_time_and_in_beijing(app, api, client, world):
    # The RSVP page takes the same ?tz= and shows any date, however far away.
    session = book(api, world, "Spring plenary", dt.datetime(2027, 3, 15, 13, tzinfo=dt.UTC), "li")
    link = local(app, rsvp_links(app, "li.wei@pku.example.org")["Accept"]).split("?")[0]
    page = Page(client.get(link, query_string={"tz": "America/Detroit"}))
    assert when_lines(page.root) == [
        "Mon 15 Mar 2027 09:00–10:00 (America/Detroit)",  # EDT since 14 March
        "Mon 15 Mar 2027 18:30–19:30 (Asia/Kolkata)",
        "Mon 15 Mar 2027 13:00–14:00 (UTC)",
    ]
    page = Page(client.get(link))
    assert when_lines(page.root)[0] == "Mon 15 Mar 2027 21:00–22:00 (Beijing, Asia/Shanghai)"
    assert session["title"] == page.root.find("h1").text()


def test_the_rsvp_page_of_a_running_series_shows_its_next_meeting(app, api, client, world):
    first = day_at(-14)
    book(api, world, "Weekly call", first, "li", rrule="FREQ=WEEKLY;COUNT=6")
    link = local(app, rsvp_links(app, "li.wei@pku.example.org")["Accept"]).split("?")[0]
    page = Page(client.get(link, query_string={"tz": "UTC"}))
    coming = first + dt.timedelta(days=14)
    if coming + dt.timedelta(hours=1) <= now_utc():
        coming += dt.timedelta(days=7)
    assert when_lines(page.root)[0] == shown(coming, "UTC")
    assert "next meeting" in page.root.find("p", "when").text()


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Auckland"])
def test_a_zone_across_the_date_line_shows_the_next_day(app, api, client, world, zone):
    start = day_at(8)
    book(api, world, "Plenary", start, "li")
    page = agenda(app, client, world["li"]["id"], tz=zone)
    lines = when_lines(page.item("Plenary"))
    next_day = start + dt.timedelta(days=1)
    # Kiritimati is UTC+14 all year; Auckland UTC+12, or +13 in its summer: past midnight.
    offset = start.astimezone(ZoneInfo(zone)).utcoffset()
    hours = {dt.timedelta(hours=h): f"{h - 11:02}:00–{h - 10:02}:00" for h in (12, 13, 14)}
    assert lines[0] == f"{next_day:%a %d %b %Y} {hours[offset]} ({zone})"
    assert lines[-1] == f"{start:%a %d %b %Y} 13:00–14:00 (UTC)"


@pytest.mark.parametrize(
    ("asked", "problem"),
    [
        ("EST", "'EST' is an abbreviation or a fixed offset"),
        ("Etc/GMT+5", "'Etc/GMT+5' is an abbreviation or a fixed offset"),
        ("Nowhere/Land", "unknown time zone 'Nowhere/Land'"),
    ],
)
def test_an_unusable_zone_is_named_and_the_persons_zone_is_used(
    app, api, client, world, asked, problem
):
    start = day_at(9)
    book(api, world, "Plenary", start, "li")
    page = agenda(app, client, world["li"]["id"], tz=asked)
    [message] = page.flashes()
    assert problem in message
    assert "Times are shown in Asia/Shanghai" in message
    assert when_lines(page.item("Plenary"))[0] == shown(start, "Asia/Shanghai")
    select = page.root.find("select", name="tz")
    assert [o.attrs["value"] for o in select.find_all("option") if "selected" in o.attrs] == [
        "Asia/Shanghai"
    ]
    # The message is for this page only: the next one does not repeat it.
    assert agenda(app, client, world["li"]["id"]).flashes() == []


# --- RSVP ------------------------------------------------------------------------------------


def test_the_emailed_rsvp_link_asks_and_only_a_post_answers(app, api, client, world):
    session = book(api, world, "Plenary", day_at(6), "li", "smith")
    li, smith = world["li"]["id"], world["smith"]["id"]
    links = rsvp_links(app, "li.wei@pku.example.org")

    # Opening the link (as a mail scanner would) changes nothing.
    page = Page(client.get(local(app, links["Accept"])))
    assert page.root.find("h1").text() == "Plenary"
    assert "Li Wei, your answer so far: not answered yet." in page.text
    assert "Confirm your answer:" in page.text
    assert answer_buttons(page.root) == ["accepted"]
    assert answers(api, session["id"])[li]["rsvp"] == "needs-action"
    assert answers(api, session["id"])[li]["rsvp_at"] is None

    form = page.root.find("form", "rsvp")
    assert form.attrs["method"] == "post"
    for answer, words in [
        ("accepted", "you accepted"),
        ("tentative", "you said maybe"),
        ("declined", "you declined"),
    ]:
        response = client.post(form.attrs["action"], data={"answer": answer})
        assert response.status_code == 303
        assert response.headers["Location"] == local(app, links["Accept"]).split("?")[0]
        after = Page(client.get(response.headers["Location"]))
        assert f"your answer so far: {words}." in after.text
        assert any("your answer" in f and "is recorded" in f for f in after.flashes())
        seen = answers(api, session["id"])
        assert seen[li]["rsvp"] == answer
        assert seen[li]["rsvp_at"].endswith("Z")
        answered_at = dt.datetime.fromisoformat(seen[li]["rsvp_at"])
        assert abs(answered_at - now_utc()) < dt.timedelta(minutes=1)
        assert seen[smith]["rsvp"] == "needs-action"

    # The "Maybe" and "Decline" links of the email lead to their own question.
    page = Page(client.get(local(app, links["Decline"])))
    assert answer_buttons(page.root) == ["declined"]
    assert "Another answer" in page.text
    page = Page(client.get(local(app, links["Decline"]).split("?")[0]))
    assert "Will you come?" in page.text
    assert answer_buttons(page.root) == ["accepted", "tentative", "declined"]


@pytest.mark.parametrize("answer", ["maybe", "", "ACCEPTED", "needs-action"])
def test_an_invalid_answer_is_refused_with_a_message(app, api, client, world, answer):
    session = book(api, world, "Plenary", day_at(6), "li")
    link = local(app, rsvp_links(app, "li.wei@pku.example.org")["Accept"]).split("?")[0]
    response = client.post(link, data={"answer": answer})
    assert response.status_code == 303
    page = Page(client.get(response.headers["Location"]))
    [message] = page.flashes()
    assert "must be one of accepted, tentative, declined" in message
    assert "not answered yet" in page.text
    assert answers(api, session["id"])[world["li"]["id"]]["rsvp"] == "needs-action"


def test_answering_a_cancelled_session_is_refused(app, api, client, world):
    session = book(api, world, "Plenary", day_at(6), "li")
    link = local(app, rsvp_links(app, "li.wei@pku.example.org")["Accept"]).split("?")[0]
    assert api.delete(f"{SESSIONS}/{session['id']}").status_code == 200

    page = Page(client.get(link))
    assert "This session is cancelled: there is nothing to answer." in page.text
    assert answer_buttons(page.root) == []
    response = client.post(link, data={"answer": "accepted"})
    assert response.status_code == 303
    page = Page(client.get(response.headers["Location"]))
    assert page.flashes() == ["this session is cancelled"]
    assert answers(api, session["id"])[world["li"]["id"]]["rsvp"] == "needs-action"


def test_an_rsvp_link_answers_for_its_own_invitation_only(app, api, client, world):
    session = book(api, world, "Plenary", day_at(6), "li", "smith")
    li, smith = world["li"]["id"], world["smith"]["id"]
    li_link = local(app, rsvp_links(app, "li.wei@pku.example.org")["Accept"]).split("?")[0]
    smith_link = local(app, rsvp_links(app, "jsmith@umich.example.org")["Accept"]).split("?")[0]
    assert li_link != smith_link

    client.post(li_link, data={"answer": "declined", "person_id": str(smith)})
    seen = answers(api, session["id"])
    assert (seen[li]["rsvp"], seen[smith]["rsvp"]) == ("declined", "needs-action")
    assert "Jane Smith" not in Page(client.get(li_link)).html

    # Li's signature on another invitation's number does not open it.
    value, _, signature = li_link.removeprefix("/rsvp/").partition(".")
    smith_value = smith_link.removeprefix("/rsvp/").partition(".")[0]
    for wrong in (f"{smith_value}.{signature}", value, f"{value}.x{signature}", "1.2.3"):
        assert client.get(f"/rsvp/{wrong}").status_code == 404
        assert client.post(f"/rsvp/{wrong}", data={"answer": "accepted"}).status_code == 404
    # Nor does an agenda token.
    agenda_token = person_url(app, smith).removeprefix("/p/")
    assert client.post(f"/rsvp/{agenda_token}", data={"answer": "accepted"}).status_code == 404
    seen = answers(api, session["id"])
    assert (seen[li]["rsvp"], seen[smith]["rsvp"]) == ("declined", "needs-action")


def test_the_agenda_buttons_answer_and_come_back_to_the_agenda(app, api, client, world):
    session = book(api, world, "Plenary", day_at(6), "li")
    path = person_url(app, world["li"]["id"])
    page = agenda(app, client, world["li"]["id"])
    form = page.item("Plenary").find("form", "rsvp")
    assert form.attrs["method"] == "post"
    hidden = {i.attrs["name"]: i.attrs["value"] for i in form.find_all("input")}
    response = client.post(form.attrs["action"], data={**hidden, "answer": "tentative"})
    assert response.status_code == 303
    # The page opens at the session answered.
    anchor = "answer-" + session["ical_uid"].replace("@", "-")
    assert response.headers["Location"] == f"{path}#{anchor}"

    page = Page(client.get(path))
    item = page.item("Plenary")
    assert item.attrs["id"] == anchor
    assert "you said maybe" in item.text()
    pressed = [b.text() for b in item.find_all("button") if b.attrs["aria-pressed"] == "true"]
    assert pressed == ["Maybe"]
    assert page.flashes() == ["Thank you: your answer to “Plenary” is recorded: you said maybe."]
    assert answers(api, session["id"])[world["li"]["id"]]["rsvp"] == "tentative"


def test_the_agenda_buttons_keep_the_chosen_zone(app, api, client, world):
    book(api, world, "Plenary", day_at(6), "li")
    page = agenda(app, client, world["li"]["id"], tz="America/Detroit")
    form = page.item("Plenary").find("form", "rsvp")
    hidden = {i.attrs["name"]: i.attrs["value"] for i in form.find_all("input")}
    response = client.post(form.attrs["action"], data={**hidden, "answer": "accepted"})
    assert response.status_code == 303
    page = Page(client.get(response.headers["Location"]))
    assert when_lines(page.item("Plenary"))[0].endswith("(America/Detroit)")


def test_rescheduling_resets_the_answers(app, api, client, world):
    session = book(api, world, "Plenary", day_at(6), "li")
    link = local(app, rsvp_links(app, "li.wei@pku.example.org")["Accept"]).split("?")[0]
    client.post(link, data={"answer": "accepted"})
    assert "you accepted" in agenda(app, client, world["li"]["id"]).item("Plenary").text()

    later = day_at(7)
    response = api.patch(f"{SESSIONS}/{session['id']}", json={"start": iso(later)})
    assert response.status_code == 200, response.get_json()
    seen = answers(api, session["id"])[world["li"]["id"]]
    assert (seen["rsvp"], seen["rsvp_at"]) == ("needs-action", None)
    item = agenda(app, client, world["li"]["id"]).item("Plenary")
    assert item.find("time").attrs["datetime"] == iso(later)
    assert "not answered yet" in item.text()
    assert "your answer so far: not answered yet." in Page(client.get(link)).text


# --- calendar links --------------------------------------------------------------------------


def test_subscribe_and_feed_links(app, api, client, world):
    book(api, world, "Plenary", day_at(6), "li")
    page = agenda(app, client, world["li"]["id"])
    subscribe = page.root.find("section", "subscribe")
    webcal = subscribe.find("a", "button").attrs["href"]
    feed = subscribe.link("Calendar feed link")
    assert webcal.startswith("webcal://")
    assert feed.startswith("https://") or feed.startswith("http://")
    assert webcal.removeprefix("webcal://") == feed.split("://", 1)[1]
    response = client.get(local(app, feed))
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert b"SUMMARY:Plenary" in response.data


def test_add_to_calendar_links_of_a_one_off_session(app, api, client, world):
    start = day_at(6)
    session = book(api, world, "Plenary", start, "li")
    set_join_url(app, session["id"], JOIN)
    item = agenda(app, client, world["li"]["id"]).item("Plenary")

    google = item.link("Google Calendar")
    assert google.startswith("https://calendar.google.com/calendar/render?")
    query = query_of(google)
    assert query["action"] == "TEMPLATE"
    assert query["text"] == "Plenary"
    day = f"{start:%Y%m%d}"
    assert query["dates"] == f"{day}T130000Z/{day}T140000Z"
    assert query["location"] == JOIN
    assert JOIN in query["details"]
    assert "recur" not in query

    outlook = item.link("Outlook on the web")
    assert outlook.startswith("https://outlook.office.com/calendar/0/deeplink/compose?")
    query = query_of(outlook)
    assert query["subject"] == "Plenary"
    assert query["startdt"] == f"{start:%Y-%m-%d}T13:00:00Z"
    assert query["enddt"] == f"{start:%Y-%m-%d}T14:00:00Z"
    assert query["location"] == JOIN

    response = client.get(local(app, item.link("Download .ics file")))
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert f"UID:{session['ical_uid']}".encode() in response.data
    assert f"DTSTART:{day}T130000Z".encode() in response.data


def test_add_to_calendar_links_of_a_series(app, api, client, world):
    start = day_at(4)
    session = make_session(
        api,
        world["event"]["id"],
        title="Weekly review",
        local_start=start.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M:%S"),
        timezone="Asia/Shanghai",
        duration_minutes=90,
        rrule="FREQ=WEEKLY;COUNT=3",
        invitees=[invitee(world["li"])],
    )
    page = agenda(app, client, world["li"]["id"])
    items = page.items()
    assert len(items) == 3
    day = f"{start:%Y%m%d}"
    for number, item in enumerate(items):
        query = query_of(item.link("Google Calendar"))
        # The whole series, from its first date, keeping Beijing's wall-clock time.
        assert query["dates"] == f"{day}T130000Z/{day}T143000Z"
        assert query["recur"] == "RRULE:FREQ=WEEKLY;COUNT=3"
        assert query["ctz"] == "Asia/Shanghai"
        # Outlook takes one date: this one.
        this = start + dt.timedelta(days=7 * number)
        assert query_of(item.link("Outlook on the web"))["startdt"] == iso(this)
        response = client.get(local(app, item.link("Download .ics file")))
        assert response.status_code == 200
        assert response.mimetype == "text/calendar"
        assert b"RRULE:FREQ=WEEKLY;COUNT=3" in response.data
        assert session["ical_uid"].encode() in response.data


# --- escaping, headers, no JavaScript, no login ---------------------------------------------


def test_names_and_titles_are_shown_as_text(app, api, client, world):
    institution = make_institution(api, "Institut <b>", "FR", "Europe/Paris")
    person = make_person(api, EVIL, "evil@example.org", institution["id"])
    event = make_event(api, title=EVIL, timezone="Asia/Kolkata")
    make_session(
        api,
        event["id"],
        title=EVIL,
        start=iso(day_at(5)),
        duration_minutes=60,
        invitees=[invitee(person)],
    )
    page = agenda(app, client, person["id"])
    link = local(app, rsvp_links(app, "evil@example.org")["Accept"])
    rsvp = Page(client.get(link))
    for html in (page.html, rsvp.html):
        assert inline_scripts(html) == []
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert page.root.find("h1").text() == f"Sessions for {EVIL}"
    [item] = page.items()
    assert item_title(item) == EVIL
    assert EVIL in item.text()
    # Inside attributes too: the Google link carries the title whole.
    assert query_of(item.link("Google Calendar"))["text"] == EVIL
    assert rsvp.root.find("h1").text() == EVIL
    assert rsvp.root.find("p", "muted").text() == EVIL
    assert f"{EVIL}, your answer so far" in rsvp.text


def test_pages_carry_security_headers_and_run_no_script(app, api, client, world):
    book(api, world, "Plenary", day_at(5), "li")
    path = person_url(app, world["li"]["id"])
    link = local(app, rsvp_links(app, "li.wei@pku.example.org")["Accept"])
    for response in (client.get(path), client.get(link), client.get(path + "?tz=EST")):
        assert response.status_code == 200
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "script-src" not in policy or "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "same-origin"
        html = response.get_data(as_text=True)
        # Scripts only from our own files, which the policy allows; nothing inline.
        assert inline_scripts(html) == []
        scripts = [s.attrs["src"] for s in parse(html).find_all("script")]
        assert scripts and all(src.startswith("/static/") for src in scripts), scripts
        assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
        assert "javascript:" not in html.lower()


def test_participant_pages_offer_no_organiser_login(app, api, client, world):
    book(api, world, "Plenary", day_at(5), "li")
    link = local(app, rsvp_links(app, "li.wei@pku.example.org")["Accept"])
    for response in (client.get(person_url(app, world["li"]["id"])), client.get(link)):
        page = Page(response)
        nav = page.root.find("nav")
        assert "Log in" not in nav.text()
        assert not [a for a in page.root.find_all("a") if a.attrs["href"].endswith("/login")]


def test_a_wrong_participant_link_offers_no_organiser_login(client):
    response = client.get("/p/1-0.not-a-real-signature")
    assert response.status_code == 404
    assert "Log in" not in response.get_data(as_text=True)
