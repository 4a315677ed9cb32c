"""Languages: every string marked, every catalogue complete, each reader's language chosen
the documented way, dates written the local way and right-to-left pages for Arabic."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from forum import i18n
from forum.accounts.models import Organiser
from forum.extensions import db
from tests.conftest import csrf_token
from tests.factories import make_institution
from tests.factories import make_person
from tests.helpers import assert_error
from tests.i18n_check import check
from tests.test_web import log_in

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "forum" / "translations"
CATALOGUE_LOCALES = ("zh_Hans", "ja", "fr", "ar")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]|%%")

# Thursday 26 March 2020, 21:00 in Beijing.
BEIJING_EVENING = dt.datetime(2020, 3, 26, 13, 0, tzinfo=dt.UTC)


# --- marked and translated ----------------------------------------------------------------


def test_every_string_people_read_is_marked_for_translation():
    unmarked = check()

    assert unmarked == [], "not marked for translation:\n" + "\n".join(map(str, unmarked))


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict[str, object]:
    """The strings marked in the code today, extracted as `make translations-extract` does."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-k",
            "lazy_ngettext:1,2",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        template = read_po(f)
    return {(message.id, message.context): message for message in template if message.id}


def read_catalogue(locale: str):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=locale)


@pytest.mark.parametrize("locale", CATALOGUE_LOCALES)
def test_each_catalogue_translates_every_marked_string(extracted, locale):
    catalogue = read_catalogue(locale)

    untranslated = []
    for msgid, context in extracted:
        message = catalogue.get(msgid, context=context)
        strings = (
            ()
            if message is None
            else (message.string if isinstance(message.string, tuple) else (message.string,))
        )
        if message is None or "fuzzy" in message.flags or not all(strings):
            untranslated.append(msgid)
    assert untranslated == [], (
        f"{locale}: {len(untranslated)} untranslated, such as {untranslated[:5]}"
    )


@pytest.mark.parametrize("locale", CATALOGUE_LOCALES)
def test_translations_keep_every_placeholder(extracted, locale):
    catalogue = read_catalogue(locale)

    wrong = []
    for msgid, context in extracted:
        message = catalogue.get(msgid, context=context)
        if message is None:
            continue
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        wanted = set().union(*(PLACEHOLDER.findall(each) for each in ids))
        # A plural form may say the number in words ("one date", "这些日期"), nothing else.
        needed = wanted - {"num", "count"} if isinstance(msgid, tuple) else wanted
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            found = set(PLACEHOLDER.findall(string or ""))
            if found - wanted or needed - found:
                wrong.append((ids[0], string))
    assert wrong == [], f"{locale}: placeholders differ: {wrong[:5]}"


@pytest.mark.parametrize("locale", CATALOGUE_LOCALES)
def test_each_catalogue_compiles_without_errors(locale):
    # Babel's own checks, as `pybabel compile` runs them: placeholders a translation names
    # that its message does not give would fail when the page is rendered.
    catalogue = read_catalogue(locale)

    problems = [(message.id, errors) for message, errors in catalogue.check()]

    assert problems == []


def test_the_compiled_catalogues_are_what_the_pages_read(app):
    with app.test_request_context(), i18n.in_locale("ja"):
        assert i18n._("Log out") != "Log out"
    with app.test_request_context(), i18n.in_locale("en"):
        assert i18n._("Log out") == "Log out"


# --- dates and zones ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "Thu 26 Mar 2020 21:00"),
        ("zh-Hans", "2020年3月26日 星期四 21:00"),
        ("ja", "2020年3月26日(木) 21:00"),
        ("fr", "jeu. 26 mars 2020 21:00"),
        ("ar", "الخميس، 26 مارس 2020 21:00"),
    ],
)
def test_dates_are_written_the_local_way_with_their_weekday(app, locale, expected):
    with app.app_context(), i18n.in_locale(locale):
        assert i18n.format_datetime_text(BEIJING_EVENING, "Asia/Shanghai") == expected


@pytest.mark.parametrize(
    ("locale", "long_date"),
    [
        ("en", "Thursday 26 March 2020"),
        ("zh-Hans", "2020年3月26日 星期四"),
        ("ja", "2020年3月26日(木曜日)"),
        ("fr", "jeudi 26 mars 2020"),
        ("ar", "الخميس، 26 مارس 2020"),
    ],
)
def test_long_dates_spell_out_the_weekday(app, locale, long_date):
    with app.app_context(), i18n.in_locale(locale):
        assert i18n.format_date_text(BEIJING_EVENING, "Asia/Shanghai", long=True) == long_date


@pytest.mark.parametrize(
    ("locale", "beijing", "doha", "tokyo", "ann_arbor"),
    [
        ("en", "Beijing", "Doha", "Tokyo", "Detroit"),
        ("zh-Hans", "北京", "多哈", "东京", "底特律"),
        ("ja", "北京", "ドーハ", "東京", "デトロイト"),
        ("fr", "Pékin", "Doha", "Tokyo", "Détroit"),
        ("ar", "بكين", "الدوحة", "طوكيو", "ديترويت"),
    ],
)
def test_zones_are_named_by_the_places_people_know(app, locale, beijing, doha, tokyo, ann_arbor):
    with app.app_context(), i18n.in_locale(locale):
        places = [
            i18n.zone_place(zone)
            for zone in ("Asia/Shanghai", "Asia/Qatar", "Asia/Tokyo", "America/Detroit")
        ]
        assert places == [beijing, doha, tokyo, ann_arbor]
        # Beside the id where the id does not say the place, after the script's comma.
        comma = "، " if locale == "ar" else ", "
        assert i18n.zone_text("Asia/Shanghai") == f"{beijing}{comma}Asia/Shanghai"


@pytest.mark.parametrize(
    ("zone", "local"),
    [
        # Across the changes of several zones, and across the date line.
        ("America/Detroit", "2020-03-08T03:30"),
        ("Europe/London", "2020-10-25T01:30"),
        ("Australia/Sydney", "2020-04-05T02:30"),
        ("Pacific/Apia", "2011-12-31T09:00"),
        ("Pacific/Kiritimati", "1995-01-02T09:00"),
    ],
)
def test_a_date_is_the_same_wall_clock_in_every_language(app, zone, local):
    instant = dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)
    wall = instant.astimezone(ZoneInfo(zone))
    with app.app_context():
        for locale in i18n.LANGUAGES:
            with i18n.in_locale(locale):
                text = i18n.format_datetime_text(instant, zone)
            numbers = re.findall(r"\d+", text)
            assert f"{wall:%H:%M}" in text, (locale, text)
            assert str(wall.year) in numbers and str(wall.day) in [n.lstrip("0") for n in numbers]


# --- whose language -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "locale"),
    [
        ("zh-Hans", "zh-Hans"),
        ("zh_hans", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("zh-TW", None),
        ("zh-Hant", None),
        ("ja-JP", "ja"),
        ("FR", "fr"),
        ("fr-CA", "fr"),
        ("ar-QA", "ar"),
        ("en-GB", "en"),
        ("de", None),
        ("", None),
        (None, None),
    ],
)
def test_language_tags_are_read_as_people_and_browsers_write_them(given, locale):
    assert i18n.normalise_locale(given) == locale


@pytest.mark.parametrize(
    ("country", "locale"),
    [
        ("CN", "zh-Hans"),
        ("JP", "ja"),
        ("QA", "ar"),
        ("FR", "fr"),
        ("US", "en"),
        ("CH", "en"),
        ("CA", "en"),
        ("IT", "en"),
        (None, "en"),
    ],
)
def test_a_country_gives_a_language_only_where_one_is_clear(country, locale):
    assert i18n.locale_for_country(country) == locale


@pytest.mark.parametrize(
    ("country", "zone", "locale"),
    [
        ("CN", "Asia/Shanghai", "zh-Hans"),
        ("JP", "Asia/Tokyo", "ja"),
        ("QA", "Asia/Qatar", "ar"),
        ("FR", "Europe/Paris", "fr"),
        ("US", "America/Detroit", "en"),
        ("IT", "Europe/Rome", "en"),
    ],
)
def test_a_new_person_reads_the_language_of_their_institutions_country(api, country, zone, locale):
    institution = make_institution(
        api, name=f"University in {country}", country=country, timezone=zone
    )

    response = api.post(
        "/api/v1/people",
        json={
            "name": "Someone",
            "email": "someone@uni.example",
            "institution_id": institution["id"],
        },
    )

    assert response.status_code == 201 and response.get_json()["locale"] == locale


def test_a_person_chooses_their_language_through_the_api(api, row_count):
    tokyo = make_institution(api, name="University of Tokyo", country="JP", timezone="Asia/Tokyo")

    person = make_person(
        api, name="Sato Hana", email="sato@u-tokyo.example", institution_id=tokyo["id"], locale="fr"
    )
    assert person["locale"] == "fr"
    changed = api.patch(f"/api/v1/people/{person['id']}", json={"locale": "zh-hans"})
    assert changed.status_code == 200 and changed.get_json()["locale"] == "zh-Hans"

    refused = api.patch(f"/api/v1/people/{person['id']}", json={"locale": "klingon"})
    assert_error(refused, 422, "validation_error", "locale")
    refused_create = api.post(
        "/api/v1/people",
        json={
            "name": "X",
            "email": "x@u-tokyo.example",
            "institution_id": tokyo["id"],
            "locale": "de",
        },
    )
    assert_error(refused_create, 422, "validation_error", "locale")
    assert api.get(f"/api/v1/people/{person['id']}").get_json()["locale"] == "zh-Hans"
    assert row_count("people") == 1


def test_an_import_takes_each_persons_language_or_their_countrys(api):
    make_institution(api, name="Qatar University", country="QA", timezone="Asia/Qatar")
    make_institution(api, name="Peking University", country="CN", timezone="Asia/Shanghai")
    csv = (
        "name,email,institution,locale\n"
        "Fatima Al-Thani,fatima@qu.example,Qatar University,\n"
        "Li Wei,li.wei@pku.example,Peking University,en\n"
        "Bad,bad@pku.example,Peking University,xx\n"
    )

    refused = api.post("/api/v1/people/import", data=csv, content_type="text/csv")
    assert refused.status_code == 422
    problems = refused.get_json()["error"]["details"]["rows"]
    assert [(row["line"], row["field"]) for row in problems] == [(4, "locale")]

    done = api.post("/api/v1/people/import", data=csv.rsplit("Bad,", 1)[0], content_type="text/csv")
    assert done.status_code == 200, done.get_json()
    people = {p["email"]: p["locale"] for p in api.get("/api/v1/people").get_json()["items"]}
    assert people == {"fatima@qu.example": "ar", "li.wei@pku.example": "en"}


def test_pages_follow_the_browser_until_the_organiser_chooses(app, client, make_organiser):
    make_organiser("olga@uni.example")
    login_page = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert '<html lang="fr" dir="ltr">' in login_page.text

    log_in(client, "olga@uni.example")
    home = client.get("/", headers={"Accept-Language": "ar"})
    assert '<html lang="ar" dir="rtl">' in home.text

    page = client.get("/account/language", headers={"Accept-Language": "ar"})
    chosen = client.post(
        "/account/language",
        data={"locale": "ja", "csrf_token": csrf_token(page.text)},
        headers={"Accept-Language": "ar"},
        follow_redirects=True,
    )
    assert '<html lang="ja" dir="ltr">' in chosen.text
    with app.app_context():
        assert db.session.query(Organiser).one().locale == "ja"
    # The setting wins over the browser from now on.
    assert '<html lang="ja"' in client.get("/", headers={"Accept-Language": "fr"}).text

    page = client.get("/account/language")
    client.post("/account/language", data={"locale": "", "csrf_token": csrf_token(page.text)})
    assert '<html lang="fr"' in client.get("/", headers={"Accept-Language": "fr"}).text


def test_an_unknown_language_choice_changes_nothing(app, client, make_organiser):
    make_organiser("olga@uni.example")
    log_in(client, "olga@uni.example")
    page = client.get("/account/language")

    response = client.post(
        "/account/language", data={"locale": "tlh", "csrf_token": csrf_token(page.text)}
    )

    assert response.status_code == 200
    assert "Not a valid choice" in response.text
    with app.app_context():
        assert db.session.query(Organiser).one().locale is None


# --- the same instants in every language ----------------------------------------------------

_TIME_ELEMENT = re.compile(r'<time datetime="([^"]+)"[^>]*>(.*?)</time>', re.S)


def times_on(html: str) -> list[tuple[str, list[str], set[int]]]:
    """Each <time> of a page: the instant it stands for, the clock times its text shows and
    the other numbers in it (day, year; a month where the language writes it as a number).
    Digits are Western in every offered language."""
    found = []
    for instant, text in _TIME_ELEMENT.findall(html):
        clocks = re.findall(r"\d{1,2}:\d{2}", text)
        numbers = {int(n) for n in re.findall(r"\d+", re.sub(r"\d{1,2}:\d{2}", "", text))}
        found.append((instant, clocks, numbers))
    return found


@pytest.fixture
def agenda_of_many_zones(app, api):
    """A Beijing participant invited to a weekly series that crosses the US and European
    clock changes, seen from Asia/Shanghai (their zone) and switched to Detroit and Sydney."""
    from forum.directory.models import Person
    from forum.events import calendars
    from tests.factories import invitee
    from tests.factories import make_event
    from tests.factories import make_session

    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    li = make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"])
    event = make_event(api, title="Case conference", timezone="Asia/Shanghai")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    make_session(
        api,
        event["id"],
        title="Weekly case conference",
        local_start=f"{soon:%Y-%m-%d}T21:00:00",
        timezone="Asia/Shanghai",
        rrule="FREQ=WEEKLY;COUNT=30",
        invitees=[invitee(li)],
    )
    with app.app_context():
        url = calendars.agenda_url(db.session.get(Person, li["id"]))
    return {"person": li, "path": url.split("://", 1)[1].split("/", 1)[1]}


@pytest.mark.parametrize("zone", [None, "America/Detroit", "Australia/Sydney", "Pacific/Auckland"])
def test_switching_language_never_moves_a_time(api, client, agenda_of_many_zones, zone):
    person, path = agenda_of_many_zones["person"], "/" + agenda_of_many_zones["path"]
    seen = {}
    for locale in i18n.LANGUAGES:
        assert (
            api.patch(f"/api/v1/people/{person['id']}", json={"locale": locale}).status_code == 200
        )
        page = client.get(path, query_string={"tz": zone} if zone else None)
        assert page.status_code == 200
        assert f'<html lang="{locale}"' in page.text
        seen[locale] = times_on(page.text)

    english = seen.pop("en")
    assert len(english) >= 3
    for locale, times in seen.items():
        # The same instants, in the same order, at the same clock times...
        assert [(i, c) for i, c, _n in times] == [(i, c) for i, c, _n in english], locale
        # ... on the same days of the same years.
        for (_i, _c, numbers), (_ie, _ce, english_numbers) in zip(times, english, strict=True):
            assert english_numbers <= numbers, locale


def test_a_participant_keeps_a_language_from_their_page_and_a_bad_one_changes_nothing(
    api, client, agenda_of_many_zones
):
    person, path = agenda_of_many_zones["person"], "/" + agenda_of_many_zones["path"]

    refused = client.post(f"{path}/language", data={"locale": "tlh", "next": path})
    assert refused.status_code == 422
    assert "locale" in refused.text
    assert api.get(f"/api/v1/people/{person['id']}").get_json()["locale"] == "en"

    # Back to the page they were on (in the zone they had chosen); never to another site.
    kept = client.post(f"{path}/language", data={"locale": "ja", "next": f"{path}?tz=UTC"})
    assert kept.status_code == 303 and kept.headers["Location"].endswith(f"{path}?tz=UTC")
    assert api.get(f"/api/v1/people/{person['id']}").get_json()["locale"] == "ja"
    elsewhere = client.post(f"{path}/language", data={"locale": "ar", "next": "//evil.example"})
    assert elsewhere.headers["Location"].endswith(path)
    assert '<html lang="ar" dir="rtl">' in client.get(path).text

    forged = client.post(path.rsplit("/", 1)[0] + "/1-0.forged/language", data={"locale": "fr"})
    assert forged.status_code == 404
    assert api.get(f"/api/v1/people/{person['id']}").get_json()["locale"] == "ar"
