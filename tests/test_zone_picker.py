"""The zone picker: current IANA names only, each with its city and offset; old names still work."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest

from forum.core import times
from tests.test_web import log_in

OLD_NAMES = ("Africa/Asmera", "America/Atka", "US/Pacific", "Asia/Calcutta", "Europe/Kiev")


def offset_now(name: str) -> str:
    """The zone's offset now, computed here from zoneinfo, as the picker writes it."""
    offset = dt.datetime.now(dt.UTC).astimezone(zoneinfo.ZoneInfo(name)).utcoffset()
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def test_the_offered_names_leave_out_old_names():
    offered = set(times.usable_zone_names())

    assert not offered & set(OLD_NAMES)
    assert {"Asia/Qatar", "Asia/Kolkata", "Europe/Kyiv", "America/Los_Angeles"} <= offered
    # A country's own zone stays offered even where it shares another's rules.
    assert {"Europe/Amsterdam", "Africa/Asmara", "UTC"} <= offered
    assert all(name == "UTC" or "/" in name for name in offered)
    assert not [name for name in offered if name.startswith(("Etc/", "US/", "SystemV/"))]
    # Every offered name is one the zone database has.
    assert offered <= zoneinfo.available_timezones()


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("US/Pacific", "America/Los_Angeles"),
        ("America/Atka", "America/Adak"),
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Europe/Kiev", "Europe/Kyiv"),
        # Linked to Nairobi, which Asmara, Kampala and others share: not clear, kept.
        ("Africa/Asmera", "Africa/Asmera"),
        ("Europe/Amsterdam", "Europe/Amsterdam"),
        ("UTC", "UTC"),
    ],
)
def test_old_names_are_accepted_and_mapped_where_clear(typed, kept):
    assert times.check_zone_name(typed) == kept


def test_abbreviations_are_still_refused():
    for name in ("EST", "CET", "Japan", "Etc/GMT+5"):
        with pytest.raises(times.InvalidTime):
            times.check_zone_name(name)


def test_the_label_is_the_city_and_its_offset():
    winter = dt.datetime(2027, 1, 15, 12, tzinfo=dt.UTC)
    summer = dt.datetime(2027, 7, 15, 12, tzinfo=dt.UTC)

    assert times.zone_label("Asia/Qatar", winter) == "Qatar - UTC+03:00"
    assert times.zone_label("America/Argentina/Buenos_Aires", winter) == "Buenos Aires - UTC-03:00"
    assert times.zone_label("Asia/Kathmandu", winter) == "Kathmandu - UTC+05:45"
    assert times.zone_label("America/Detroit", winter) == "Detroit - UTC-05:00"
    assert times.zone_label("America/Detroit", summer) == "Detroit - UTC-04:00"


def test_an_event_form_offers_the_zones_with_their_offsets(client, make_organiser):
    make_organiser("organiser@example.org")
    assert log_in(client, "organiser@example.org").status_code == 302

    page = client.get("/events/new").text

    datalist = page.split('<datalist id="zone-names">', 1)[1].split("</datalist>", 1)[0]
    options = dict(re.findall(r'<option value="([^"]+)">([^<]*)</option>', datalist))
    assert options["Asia/Qatar"] == f"Qatar - {offset_now('Asia/Qatar')}"
    assert options["America/Detroit"] == f"Detroit - {offset_now('America/Detroit')}"
    assert not set(OLD_NAMES) & set(options)
    assert list(options) == sorted(options)
    assert 'list="zone-names"' in page


def test_an_event_saved_with_an_old_name_keeps_working(api, client):
    old = api.post(
        "/api/v1/events",
        json={"title": "Asmara call", "kind": "bilateral", "timezone": "Africa/Asmera"},
    )
    mapped = api.post(
        "/api/v1/events",
        json={"title": "Pacific call", "kind": "bilateral", "timezone": "US/Pacific"},
    )

    assert old.status_code == 201, old.get_json()
    assert old.get_json()["timezone"] == "Africa/Asmera"
    assert mapped.status_code == 201, mapped.get_json()
    assert mapped.get_json()["timezone"] == "America/Los_Angeles"
    assert log_in(client, "organiser@example.org").status_code == 302
    page = client.get(f"/events/{old.get_json()['id']}/edit")
    assert page.status_code == 200
    assert 'value="Africa/Asmera"' in page.text
