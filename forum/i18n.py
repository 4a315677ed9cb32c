"""Languages: which one a reader gets, the marked strings, and dates written their way.

Strings are marked with ``_`` (translated now, in the reader's language: request
handlers, services, jobs) or ``_l`` (translated when shown: module-level labels), in
templates with ``{{ _("...") }}`` or ``{% trans %}``. Catalogues live in
``forum/translations/<locale>/LC_MESSAGES/messages.po`` (``make translations-extract``,
``translations-update``, ``translations-compile``).

A locale is kept as a BCP 47 tag ("zh-Hans"), as HTML's ``lang`` and HTTP's
Accept-Language write it; Babel reads it as "zh_Hans".

Who reads in which language:
- a participant's pages, emails and calendar text: the person's ``locale``;
- an organiser's pages and emails: the organiser's ``locale``, else the browser's
  Accept-Language;
- the API's error messages: Accept-Language, else English (an integration's logs do not
  change language when an organiser changes theirs).

Dates: every rendered date carries its weekday (SPEC section 3). English keeps the
product's compact form ("Thu 26 Mar 2020 21:00"); the other languages follow Babel's
patterns for the locale ("2020年3月26日 星期四 21:00", "2020年3月26日(木) 21:00",
"jeu. 26 mars 2020 21:00"). Times are 24-hour everywhere: the readers are in many
countries and the 12-hour clock is the one that confuses across them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pytz
from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import format_skeleton
from babel.dates import get_timezone_location
from babel.numbers import format_decimal
from flask import Flask
from flask import g
from flask import has_app_context
from flask import has_request_context
from flask import request
from flask_babel import Babel
from flask_babel import force_locale
from flask_babel import get_locale as babel_get_locale
from flask_babel import gettext
from flask_babel import lazy_gettext
from flask_babel import lazy_ngettext
from flask_babel import ngettext
from flask_babel import pgettext
from flask_babel import refresh

from forum.core.times import get_zone

__all__ = [
    "DEFAULT_LOCALE",
    "LANGUAGES",
    "_",
    "_l",
    "check_locale",
    "country_name",
    "current_locale",
    "format_date_text",
    "format_datetime_text",
    "format_day_text",
    "format_number",
    "format_time_text",
    "in_locale",
    "init_app",
    "is_rtl",
    "lazy_ngettext",
    "locale_for_country",
    "ngettext",
    "normalise_locale",
    "pgettext",
    "use_locale",
    "zone_place",
    "zone_text",
]

_ = gettext
_l = lazy_gettext

DEFAULT_LOCALE = "en"

# The languages offered, each by its own name (a reader who cannot read the page's
# language still finds theirs).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "zh-Hans": "简体中文",
    "ja": "日本語",
    "fr": "Français",
    "ar": "العربية",
}

TRANSLATIONS_DIR = os.path.join(os.path.dirname(__file__), "translations")

# Countries where one of the offered languages is clearly the language of university
# correspondence. Elsewhere (several languages, or none offered) people read English
# until they choose.
_COUNTRY_LANGUAGE: dict[str, str] = {
    "CN": "zh-Hans",
    "SG": "en",
    "JP": "ja",
    "FR": "fr",
    "MC": "fr",
    "SN": "fr",
    "CI": "fr",
    "BJ": "fr",
    "BF": "fr",
    "ML": "fr",
    "NE": "fr",
    "TG": "fr",
    "GA": "fr",
    "CG": "fr",
    "CD": "fr",
    "GN": "fr",
    "MG": "fr",
    "GB": "en",
    "IE": "en",
    "US": "en",
    "AU": "en",
    "NZ": "en",
    # The Arab League states where Arabic is the language of universities' correspondence.
    **dict.fromkeys(
        ("AE", "BH", "DZ", "EG", "IQ", "JO", "KW", "LB", "LY", "MA"),
        "ar",
    ),
    **dict.fromkeys(("MR", "OM", "PS", "QA", "SA", "SD", "SY", "TN", "YE"), "ar"),
}

# Zones whose CLDR exemplar city is not the place people name the time after: China's
# time is "Beijing time" (北京时间), Qatar's is Doha's.
_ZONE_PLACES = {
    "Asia/Shanghai": _l("Beijing"),
    "Asia/Qatar": _l("Doha"),
}

# Dates per language: (with year, without year), Babel patterns. English keeps the
# product's form; languages not listed here use Babel's skeletons.
_DATE_PATTERNS: dict[str, tuple[str, str]] = {
    "en": ("EEE dd MMM y", "EEE dd MMM"),
    "zh-Hans": ("y年M月d日 EEEE", "M月d日 EEEE"),
    "ja": ("y年M月d日(EEE)", "M月d日(EEE)"),
    "fr": ("EEE d MMM y", "EEE d MMM"),
    "ar": ("EEEE، d MMMM y", "EEEE، d MMMM"),
}
# Long dates, for headings and emails: the weekday and the month written out.
_LONG_DATE_PATTERNS: dict[str, str] = {
    "en": "EEEE d MMMM y",
    "zh-Hans": "y年M月d日 EEEE",
    "ja": "y年M月d日(EEEE)",
    "fr": "EEEE d MMMM y",
    "ar": "EEEE، d MMMM y",
}
_TIME_PATTERN = "HH:mm"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = TRANSLATIONS_DIR
    Babel(app, locale_selector=_select_locale)
    app.jinja_env.globals.update(
        current_locale=current_locale,
        is_rtl=is_rtl,
        LANGUAGES=LANGUAGES,
    )
    app.jinja_env.filters.update(
        datetime_text=format_datetime_text,
        datetime_long=lambda value, zone=None: format_datetime_text(value, zone, long=True),
        date_text=format_date_text,
        date_long=lambda value, zone=None: format_date_text(value, zone, long=True),
        day_text=format_day_text,
        time_text=format_time_text,
        zone_place=zone_place,
        zone_text=zone_text,
    )


# --- whose language --------------------------------------------------------------------


def normalise_locale(value: object) -> str | None:
    """The offered locale a tag names ("zh-hans", "zh_Hans", "zh-CN", "FR" ...), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    tag = value.strip().replace("_", "-")
    lowered = {code.lower(): code for code in LANGUAGES}
    if tag.lower() in lowered:
        return lowered[tag.lower()]
    language, _sep, rest = tag.partition("-")
    language = language.lower()
    if language == "zh":
        # Simplified script: mainland China and Singapore, or said outright.
        region = rest.lower()
        if region in ("", "cn", "sg", "hans", "hans-cn", "hans-sg", "my"):
            return "zh-Hans"
        return None
    return lowered.get(language)


def check_locale(value: object) -> str:
    """The offered locale ``value`` names, else ValueError naming the choices (API input)."""
    locale = normalise_locale(value)
    if locale is None:
        raise ValueError(
            _("must be one of %(choices)s (BCP 47 language tags)", choices=", ".join(LANGUAGES))
        )
    return locale


def locale_for_country(country: str | None) -> str:
    """The language a person of this country reads by default (English where unclear)."""
    return _COUNTRY_LANGUAGE.get((country or "").upper(), DEFAULT_LOCALE)


def _accepted_locale() -> str | None:
    best = None
    best_quality = 0.0
    for value, quality in request.accept_languages:
        locale = normalise_locale(value)
        if locale is not None and quality > best_quality:
            best, best_quality = locale, quality
    return best


def _select_locale() -> str:
    chosen = g.get("forum_locale") if has_app_context() else None
    if chosen:
        return _babel_id(chosen)
    if not has_request_context():
        return _babel_id(DEFAULT_LOCALE)
    if request.path.startswith(("/api/", "/webhooks/", "/healthz")):
        return _babel_id(_accepted_locale() or DEFAULT_LOCALE)
    from flask_login import current_user

    account_locale = getattr(current_user, "locale", None) if current_user else None
    return _babel_id(normalise_locale(account_locale) or _accepted_locale() or DEFAULT_LOCALE)


def use_locale(locale: str | None) -> None:
    """Render the rest of this request in ``locale`` (a participant page: the person's)."""
    g.forum_locale = normalise_locale(locale) or DEFAULT_LOCALE
    refresh()


@contextmanager
def in_locale(locale: str | None) -> Iterator[None]:
    """Translate and format in ``locale`` inside the block (an email for one recipient)."""
    with force_locale(_babel_id(normalise_locale(locale) or DEFAULT_LOCALE)):
        yield


def current_locale() -> str:
    """The BCP 47 tag of the language being rendered ("en" outside any request)."""
    try:
        locale = babel_get_locale()
    except RuntimeError:
        locale = None
    if locale is None:
        return DEFAULT_LOCALE
    return normalise_locale(str(locale)) or DEFAULT_LOCALE


def is_rtl(locale: str | None = None) -> bool:
    return _babel_locale(locale or current_locale()).character_order == "right-to-left"


@cache
def _babel_locale(tag: str) -> Locale:
    return Locale.parse(_babel_id(tag))


def _babel_id(tag: str) -> str:
    return tag.replace("-", "_")


# --- dates and times -------------------------------------------------------------------


def _local(value: dt.datetime | dt.date, zone: str | None) -> dt.datetime | dt.date:
    """``value`` on the wall clock of ``zone`` (aware values), or as given (naive, dates)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None and zone:
        return value.astimezone(get_zone(zone))
    return value


def _naive(value: dt.datetime | dt.date) -> dt.datetime | dt.date:
    # Babel would otherwise move an aware value to its default zone (UTC).
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def format_date_text(
    value: dt.datetime | dt.date,
    zone: str | None = None,
    *,
    long: bool = False,
    locale: str | None = None,
) -> str:
    """The date with its weekday, in ``zone`` for an aware value: "Thu 26 Mar 2020"."""
    tag = locale or current_locale()
    day = _naive(_local(value, zone))
    if isinstance(day, dt.datetime):
        day = day.date()
    if long:
        pattern = _LONG_DATE_PATTERNS.get(tag)
    else:
        pattern = _DATE_PATTERNS[tag][0] if tag in _DATE_PATTERNS else None
    if pattern is None:
        return format_skeleton("yMMMMEEEEd" if long else "yMMMEd", day, locale=_babel_id(tag))
    return babel_format_date(day, pattern, locale=_babel_id(tag))


def format_day_text(value: dt.datetime | dt.date, zone: str | None = None) -> str:
    """The day and weekday without the year, for grid headings: "Thu 26 Mar"."""
    tag = current_locale()
    day = _naive(_local(value, zone))
    if isinstance(day, dt.datetime):
        day = day.date()
    patterns = _DATE_PATTERNS.get(tag)
    if patterns is None:
        return format_skeleton("MMMEd", day, locale=_babel_id(tag))
    return babel_format_date(day, patterns[1], locale=_babel_id(tag))


def format_time_text(value: dt.datetime | dt.time, zone: str | None = None) -> str:
    """The wall-clock time, 24-hour: "21:00"."""
    if isinstance(value, dt.time):
        return f"{value:%H:%M}"
    return f"{_naive(_local(value, zone)):%H:%M}"


def format_datetime_text(
    value: dt.datetime,
    zone: str | None = None,
    *,
    long: bool = False,
    locale: str | None = None,
) -> str:
    """Date, weekday and time: "Thu 26 Mar 2020 21:00", "2020年3月26日(木) 21:00"."""
    local = _naive(_local(value, zone))
    return f"{format_date_text(local, long=long, locale=locale)} {local:%H:%M}"


def format_number(value: int) -> str:
    """A count as the reader writes numbers: "1,001", "1 001"."""
    return format_decimal(value, locale=_babel_id(current_locale()))


def country_name(code: str) -> str:
    """A country's name in the reader's language; English keeps pytz's names ("Korea,
    Republic of" reads as the directory always showed it)."""
    locale = current_locale()
    if locale == DEFAULT_LOCALE:
        return pytz.country_names.get(code, code)
    return _babel_locale(locale).territories.get(code.upper(), code)


def format_datetime_pattern(value: dt.datetime, pattern: str, locale: str | None = None) -> str:
    """A Babel pattern for the reader's locale, for the rare place that needs its own."""
    return babel_format_datetime(
        _naive(value), pattern, locale=_babel_id(locale or current_locale())
    )


def zone_place(zone: str, *, locale: str | None = None) -> str:
    """The place a zone is known by, in the reader's language: "Beijing", "北京", "الدوحة"."""
    tag = locale or current_locale()
    if zone in _ZONE_PLACES:
        if locale is None:
            return str(_ZONE_PLACES[zone])
        with in_locale(locale):
            return str(_ZONE_PLACES[zone])
    if "/" not in zone:
        return zone
    try:
        return get_timezone_location(zone, locale=_babel_id(tag), return_city=True)
    except LookupError:
        return zone.rsplit("/", 1)[-1].replace("_", " ")


def zone_text(zone: str, *, locale: str | None = None) -> str:
    """The zone for a reader: its id, with the place beside it where the id does not say it
    ("Asia/Tokyo"; "Beijing, Asia/Shanghai"; "东京, Asia/Tokyo")."""
    place = zone_place(zone, locale=locale)
    if place == zone.rsplit("/", 1)[-1].replace("_", " "):
        return zone
    if locale is None:
        return _("%(place)s, %(zone)s", place=place, zone=zone)
    with in_locale(locale):
        # The comma of the reader's script: "الدوحة، Asia/Qatar".
        return _("%(place)s, %(zone)s", place=place, zone=zone)
