"""Refusals speak the product's words, not the validation library's: what an organiser reads
on a page or an API client shows its user ("at most 300 characters", "the link must start
with https://", "at most 24 hours (1440 minutes)")."""

from __future__ import annotations

import re
from pathlib import Path

from forum.api import schemas
from forum.api.util import PATTERN_MESSAGES
from tests.conftest import csrf_token
from tests.factories import book
from tests.factories import make_event
from tests.helpers import assert_error
from tests.test_web import log_in

LIBRARY_WORDING = re.compile(r"should (be|have|match)|Input |String |Value |after validation")


def refused(response, *fields: str) -> dict[str, str]:
    named = assert_error(response, 422, "validation_error", *fields)["details"]["fields"]
    for message in named.values():
        assert not LIBRARY_WORDING.search(message), message
    return named


def test_a_booking_refused_in_plain_words(api):
    event = make_event(api, default_provider="manual")
    named = refused(
        book(
            api,
            event["id"],
            title="T" * 301,
            duration_minutes=1441,
            join_url="http://video.uni.example/room/1",
        ),
        "title",
        "duration_minutes",
        "join_url",
    )
    assert named == {
        "title": "at most 300 characters",
        "duration_minutes": "at most 24 hours (1440 minutes)",
        "join_url": "the link must start with https://",
    }
    named = refused(book(api, event["id"], title="", duration_minutes=0), "title")
    assert named["title"] == "must not be empty"
    assert named["duration_minutes"] == "must be more than 0"


def test_types_lists_and_choices_in_plain_words(api):
    named = refused(
        api.post("/api/v1/events", json={"title": 42, "kind": "party", "organisers": "x"}),
        "title",
        "kind",
        "organisers",
    )
    assert named["title"] == "must be text"
    assert named["kind"].startswith("must be one of 'forum'")
    assert named["organisers"] == "must be a list"
    search = api.post(
        "/api/v1/scheduling/search",
        json={"participants": [], "duration_minutes": "long", "limit": 10_000},
    )
    named = refused(search, "duration_minutes")
    assert named["duration_minutes"] == "must be a whole number"
    assert named["limit"].startswith("at most ")


def test_every_pattern_of_the_schemas_has_its_own_words():
    source = Path(schemas.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'pattern=r"([^"]+)"', source))
    assert used <= set(PATTERN_MESSAGES), used - set(PATTERN_MESSAGES)


def test_a_refused_form_lists_its_problems_at_the_top_linked_to_the_fields(
    client, make_organiser, row_count
):
    make_organiser()
    log_in(client, "organiser@example.org")
    form = client.get("/events/new").get_data(as_text=True)
    response = client.post(
        "/events/new",
        data={
            "csrf_token": csrf_token(form),
            "title": "T" * 301,
            "kind": "forum",
            "timezone": "Asia/Shanghai",
            "default_provider": "jitsi",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    summary = page[
        page.index('id="form-errors"') : page.index("</div>", page.index('id="form-errors"'))
    ]
    assert "One field needs attention" in summary
    assert '<a href="#title">Title</a>: At most 300 characters.' in summary
    # The summary comes before the fields, and the field says it too.
    assert page.index('id="form-errors"') < page.index('id="title"')
    assert page.count("At most 300 characters.") == 2
    assert row_count("events") == 0


def test_the_providers_form_lists_its_problems_at_the_top_too(
    client, make_organiser, runner, row_count
):
    make_organiser()
    assert runner.invoke(args=["forum", "set-admin", "organiser@example.org"]).exit_code == 0
    log_in(client, "organiser@example.org")
    form = client.get("/providers/new/zoom").get_data(as_text=True)
    response = client.post(
        "/providers/new/zoom",
        data={"csrf_token": csrf_token(form), "name": "Uni Zoom", "hosts": "a@uni.example"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    summary = page[
        page.index('id="form-errors"') : page.index("</div>", page.index('id="form-errors"'))
    ]
    assert '<a href="#name">Account name</a>: Use lowercase letters' in summary
    assert row_count("provider_accounts") == 0
