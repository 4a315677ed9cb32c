"""Invitations and feeds in the reader's language: Chinese, Japanese, French and Arabic
titles and descriptions, folded at 75 octets on character boundaries, read alike by every
parser (icalendar, vobject, recurring-ical-events and the icalcheck harness).

One session invites four people who read four languages: each gets their email and their
calendar text in their own language, with the dates written their way, at the same time.
"""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any

import icalendar
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from forum.calendar.writer import _fold
from forum.directory.models import Person
from forum.events import calendars
from forum.extensions import db
from tests.calendars import check_calendar
from tests.calendars import check_email
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session

# Weekly at 21:00 in Beijing: 13:00 UTC.
WEEKLY_UTC = ["2027-03-10T13:00:00Z", "2027-03-17T13:00:00Z", "2027-03-24T13:00:00Z"]

LANGUAGES: dict[str, dict[str, str]] = {
    "zh-Hans": {
        "zone": "Asia/Shanghai",
        "country": "CN",
        "institution": "北京大学",
        "name": "张丽华",
        "title": "北京大学与东京大学关于气候变化、公共卫生与数据共享合作研究的联合视频会议"
        "（第一次全体会议）",
        "description": "本次会议由北京大学国际合作部主办，邀请各合作院校的校长、院长与教授参加。"
        "会议将讨论联合研究项目的进展；数据共享协议的草案，以及下一学年的交流安排。"
        "请各位参会者提前阅读会议材料，并准备五分钟的发言。",
        # The first meeting as this reader reads it: in Beijing, written in Chinese.
        "when": "2027年3月10日 星期三 21:00–22:00",
    },
    "ja": {
        "zone": "Asia/Tokyo",
        "country": "JP",
        "institution": "東京大学",
        "name": "山田花子",
        "title": "東京大学と北京大学による気候変動・公衆衛生・データ共有に関する共同研究のための"
        "ビデオ会議（第1回全体会議）",
        "description": "本会議は東京大学国際本部が主催し、各協定校の学長、学部長および教授の皆様を"
        "お招きいたします。共同研究の進捗、データ共有協定の草案、次年度の交流計画について"
        "議論いたします。事前に資料をご一読のうえ、五分間のご発言をご準備ください。",
        "when": "2027年3月10日(水) 22:00–23:00",
    },
    "fr": {
        "zone": "Europe/Paris",
        "country": "FR",
        "institution": "Aix-Marseille Université",
        "name": "Élodie Lefèvre",
        "title": "Séance plénière d’ouverture : coopération scientifique sur le climat, la santé "
        "publique et l’échange de données entre universités partenaires",
        "description": "Cette séance, organisée par la direction des relations internationales "
        "d’Aix-Marseille Université, réunit présidents, doyens et professeurs des établissements "
        "partenaires ; elle portera sur l’avancement des projets communs, le projet d’accord "
        "d’échange de données et le calendrier des échanges de l’année prochaine.",
        "when": "mer. 10 mars 2027 14:00–15:00",
    },
    "ar": {
        "zone": "Asia/Qatar",
        "country": "QA",
        "institution": "جامعة قطر",
        "name": "فاطمة الكواري",
        "title": "الجلسة العامة الافتتاحية للتعاون العلمي بين جامعة قطر والجامعات الشريكة في "
        "مجالات المناخ والصحة العامة وتبادل البيانات",
        "description": "تنظم هذه الجلسة إدارة العلاقات الدولية في جامعة قطر، ويشارك فيها رؤساء "
        "الجامعات والعمداء والأساتذة من المؤسسات الشريكة، وتتناول سير المشاريع المشتركة، "
        "ومسودة اتفاقية تبادل البيانات؛ وجدول التبادل للعام الدراسي المقبل.",
        "when": "الأربعاء، 10 مارس 2027 16:00–17:00",
    },
}


def sent(app) -> list[email.message.EmailMessage]:
    return app.extensions["forum_mail_sender"].messages


def raw(message) -> bytes:
    return message.as_bytes(policy=email.policy.SMTP)


def reader(api, app, locale: str) -> dict[str, Any]:
    """A person of an institution where ``locale`` is read, who reads it."""
    language = LANGUAGES[locale]
    institution = make_institution(
        api, language["institution"], language["country"], language["zone"]
    )
    address = f"reader.{locale.lower()}@uni-{language['country'].lower()}.example.org"
    person = make_person(api, language["name"], address, institution["id"])
    with app.app_context():
        db.session.get(Person, person["id"]).locale = locale
        db.session.commit()
    return person


def book(api, title: str, description: str, invitees: list[dict]) -> dict[str, Any]:
    event = make_event(api, title=title, description=description, timezone="Asia/Shanghai")
    return make_session(
        api,
        event["id"],
        title=title,
        local_start="2027-03-10T21:00:00",
        timezone="Asia/Shanghai",
        rrule="FREQ=WEEKLY;COUNT=3",
        invitees=invitees,
    )


def unfolded(calendar: bytes) -> str:
    return re.sub(rb"\r\n[ \t]", b"", calendar).decode("utf-8")


def assert_folded_on_characters(calendar: bytes) -> None:
    """Every content line at most 75 octets, and each one whole UTF-8 on its own: a fold
    never falls inside a character."""
    lines = calendar.removesuffix(b"\r\n").split(b"\r\n")
    long_lines = [line for line in lines if len(line) > 75]
    assert not long_lines, long_lines
    for line in lines:
        line.decode("utf-8")  # raises if a fold split a character
    # The long texts were folded at all (the test would prove nothing otherwise).
    assert any(line.startswith(b" ") for line in lines)


def calendar_parts(message) -> list[bytes]:
    return [
        part.get_payload(decode=True)
        for part in message.walk()
        if part.get_content_type() in ("text/calendar", "application/ics")
    ]


@pytest.mark.parametrize("locale", list(LANGUAGES))
def test_an_invitation_in_each_language_folds_on_characters_and_parses_alike(app, api, locale):
    language = LANGUAGES[locale]
    person = reader(api, app, locale)
    book(api, language["title"], language["description"], [invitee(person, "speaker")])

    [message] = [m for m in sent(app) if person["email"] in str(m["To"])]
    assert message["Content-Language"] == locale
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f'<html lang="{locale}"' in html
    assert (' dir="rtl"' in html) == (locale == "ar")
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert language["when"] in text
    assert language["when"] in str(message["Subject"])

    parts = calendar_parts(message)
    assert len(parts) == 2 and parts[0] == parts[1]
    for part in parts:
        assert_folded_on_characters(part)
    calendar = icalendar.Calendar.from_ical(parts[0])
    [event] = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == language["title"]
    description = str(event["DESCRIPTION"])
    assert language["title"] in description
    assert language["description"] in description
    assert language["when"] in description
    # The whole message, read by the four parsers: METHOD, folding, the same dates.
    check_email(raw(message), method="REQUEST", expect_utc=WEEKLY_UTC)


def test_one_session_invites_four_readers_each_in_their_language(app, api):
    people = {locale: reader(api, app, locale) for locale in LANGUAGES}
    book(
        api,
        LANGUAGES["zh-Hans"]["title"],
        LANGUAGES["ar"]["description"],
        [invitee(person) for person in people.values()],
    )
    for locale, person in people.items():
        [message] = [m for m in sent(app) if person["email"] in str(m["To"])]
        assert message["Content-Language"] == locale
        [part, attachment] = calendar_parts(message)
        assert part == attachment
        assert_folded_on_characters(part)
        # The reader's zone first, written their way, in the email and in the calendar.
        assert LANGUAGES[locale]["when"] in message.get_body(("plain",)).get_content()
        assert LANGUAGES[locale]["when"] in unfolded(part).replace("\\,", ",")
        check_calendar(part, method="REQUEST", expect_utc=WEEKLY_UTC)


def test_a_personal_feed_is_in_its_readers_language(app, api, client):
    person = reader(api, app, "ja")
    language = LANGUAGES["ja"]
    book(api, language["title"], language["description"], [invitee(person)])
    with app.app_context():
        url = calendars.feed_url(db.session.get(Person, person["id"]))
    response = client.get(url.removeprefix(app.config["FORUM_BASE_URL"]))
    assert response.status_code == 200
    feed = response.data
    assert_folded_on_characters(feed)
    [event] = icalendar.Calendar.from_ical(feed).walk("VEVENT")
    assert language["when"] in str(event["DESCRIPTION"])
    check_calendar(feed, method=None, expect_utc=WEEKLY_UTC)

    # The reader changes language: the feed follows at once.
    with app.app_context():
        db.session.get(Person, person["id"]).locale = "fr"
        db.session.commit()
    feed = client.get(url.removeprefix(app.config["FORUM_BASE_URL"])).data
    [event] = icalendar.Calendar.from_ical(feed).walk("VEVENT")
    assert "mer. 10 mars 2027 22:00–23:00" in str(event["DESCRIPTION"])


# Scripts of one, two, three and four octets, and the characters iCalendar escapes.
TEXT = st.lists(
    st.sampled_from(list("aé中日本語ق€𠀀\\;,^ ") + ["ليلة", "séance", "会議", "\\n", "\\\\"]),
    max_size=200,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(head=st.sampled_from(["SUMMARY", "DESCRIPTION", "X-WR-CALNAME", "ATTENDEE;CN=é"]), text=TEXT)
def test_folding_keeps_characters_whole_and_lines_short(head: str, text: str) -> None:
    line = f"{head}:{text}".encode()
    folded = _fold(line)
    physical = folded.split(b"\r\n")
    for number, piece in enumerate(physical):
        assert len(piece) <= 75
        piece.decode("utf-8")
        if number:
            assert piece.startswith(b" ")
    assert folded.replace(b"\r\n ", b"") == line


def english_words_left(text: str, *known: str) -> list[str]:
    """The Latin words of ``text`` once links, addresses, zone ids and the given names and
    titles are taken out: what a reader of Chinese or Japanese would find untranslated."""
    for value in known:
        text = text.replace(value, " ")
    text = re.sub(r"(https?|webcal)://\S+|\S+@\S+|[A-Z][a-z]+/[A-Za-z_]+|\bUTC\b", " ", text)
    return re.findall(r"[A-Za-z]{2,}", text)


def test_tokyo_reads_japanese_with_tokyo_time_first_and_beijing_chinese_with_beijing_first(
    app, api
):
    tokyo, beijing = reader(api, app, "ja"), reader(api, app, "zh-Hans")
    title = "PKU–UTokyo strategic partnership"
    event = make_event(api, title=title, timezone="Asia/Shanghai")
    make_session(
        api,
        event["id"],
        title=title,
        local_start="2027-03-10T21:00:00",
        timezone="Asia/Shanghai",
        invitees=[invitee(tokyo), invitee(beijing)],
    )

    expected = {
        tokyo["email"]: ("ja", "2027年3月10日(水) 22:00–23:00 (東京, Asia/Tokyo)"),
        beijing["email"]: ("zh-Hans", "2027年3月10日 星期三 21:00–22:00 (北京, Asia/Shanghai)"),
    }
    for address, (locale, first_time) in expected.items():
        [message] = [m for m in sent(app) if address in str(m["To"])]
        text = message.get_body(preferencelist=("plain",)).get_content()
        times = [line.strip() for line in text.splitlines() if re.search(r"\d\d:\d\d–", line)]
        # The reader's own zone first, then the event's (when it differs), then UTC.
        assert times[0] == first_time
        assert times[-1].endswith("(UTC)") and "13:00–14:00" in times[-1]
        assert first_time in str(message["Subject"])
        # In the reader's language: Japanese has kana, Chinese has none; no English left.
        kana = re.search(r"[\u3040-\u30ff]", text)
        assert bool(kana) == (locale == "ja")
        names = (title, "Olga Organiser", LANGUAGES[locale]["name"])
        assert english_words_left(text, *names) == []
        [part, _attachment] = calendar_parts(message)
        description = unfolded(part)
        assert first_time.split(" (")[0] in description.replace("\\,", ",")
        check_email(raw(message), method="REQUEST", expect_utc=["2027-03-10T13:00:00Z"])
