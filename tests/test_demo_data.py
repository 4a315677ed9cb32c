"""The demo data is real where it claims to be: countries, zones, and the forum's make-up."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import pytz

from forum.core.times import get_zone
from forum.demo.data import EVENTS
from forum.demo.data import INSTITUTIONS
from forum.events.models import EVENT_KINDS
from forum.events.models import ROLES

FORUM_COUNTRIES = set("CN JP QA US IT FR GB ES BE IL SK SE RU CZ SG KR CA AU".split())  # noqa: SIM905
PEOPLE = {p["email"].lower(): (i, p) for i in INSTITUTIONS for p in i["people"]}


def test_names_keys_and_emails_are_unique():
    for values in (
        [i["key"] for i in INSTITUTIONS],
        [i["name"] for i in INSTITUTIONS],
        [e["key"] for e in EVENTS],
        [p["email"].lower() for i in INSTITUTIONS for p in i["people"]],
    ):
        assert [v for v, n in Counter(values).items() if n > 1] == []


@pytest.mark.parametrize("institution", INSTITUTIONS, ids=lambda i: i["key"])
def test_each_institution_is_in_a_zone_of_its_country(institution):
    assert institution["timezone"] in pytz.country_timezones[institution["country"]]
    for person in institution["people"]:
        assert person["email"].endswith(".example.org"), "demo mail must reach nobody"
        if person["timezone"]:
            get_zone(person["timezone"])
    for blackout in institution["blackouts"]:
        assert blackout["start_date"] <= blackout["end_date"]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e["key"])
def test_each_event_invites_known_people_with_known_roles(event):
    assert event["kind"] in EVENT_KINDS
    get_zone(event["timezone"])
    for participant in event["participants"]:
        assert participant["email"].lower() in PEOPLE
        assert participant["role"] in ROLES
    assert [p["role"] for p in event["participants"]].count("chair") == 1


def test_the_forum_has_40_universities_from_the_18_countries():
    forum = next(e for e in EVENTS if e["kind"] == "forum")
    institutions = {PEOPLE[p["email"].lower()][0]["key"] for p in forum["participants"]}
    countries = {i["country"] for i in INSTITUTIONS if i["key"] in institutions}
    assert len(institutions) == 40
    assert countries == FORUM_COUNTRIES


def test_the_exchange_moves_an_hour_in_ann_arbor_and_not_in_beijing():
    exchange = next(e for e in EVENTS if e["kind"] == "exchange")
    first = dt.datetime.fromisoformat(exchange["sessions"][0]["local_start"])
    beijing, ann_arbor = get_zone(exchange["timezone"]), get_zone("America/Detroit")
    hours = {
        (first + dt.timedelta(weeks=n)).replace(tzinfo=beijing).astimezone(ann_arbor).hour
        for n in range(6)
    }
    assert hours == {8, 9}
