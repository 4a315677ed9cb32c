"""The OpenAPI document names every path and every answer: calendar files, RSVP, provider
webhooks, and the 403, 413, 415 and 429 refusals, each in the error shape of the API."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from forum.webhooks.inbound import INBOUND_PROVIDERS
from tests.helpers import assert_error

ERROR_REF = "#/components/schemas/ErrorOut"
# Paths answered by programs, whose errors are JSON; /rsvp/ answers a person with pages.
JSON_PATHS = ("/api/", "/healthz", "/webhooks/", "/ical/")
CALENDARS = ("/ical/sessions/{uid}.ics", "/ical/events/{event_id}.ics", "/ical/feeds/{token}.ics")


@pytest.fixture
def document(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(document: dict[str, Any]):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_every_calendar_rsvp_and_webhook_route_is_documented(app, document):
    documented = {(m.upper(), p) for m, p, _ in operations(document)}
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/ical/", "/rsvp/", "/webhooks/")):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if path == "/webhooks/{provider}":
                routes |= {(method, f"/webhooks/{name}") for name in INBOUND_PROVIDERS}
            else:
                routes.add((method, path))

    assert len(routes) == 3 + 2 + len(INBOUND_PROVIDERS)
    assert routes <= documented, routes - documented


def test_every_error_answer_has_the_error_shape(document):
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or status == "503":
                continue
            content = response.get("content", {})
            if path.startswith(JSON_PATHS):
                assert content["application/json"]["schema"] == {"$ref": ERROR_REF}, (
                    method,
                    path,
                    status,
                )
            else:
                assert list(content) == ["text/html"], (method, path, status)


def test_rate_limited_operations_document_429_with_retry_after(document):
    for method, path, operation in operations(document):
        public = operation.get("security") == []
        if public and not path.startswith(("/ical/", "/rsvp/", "/webhooks/")):
            continue  # the document itself, its page and /healthz count no failures
        responses = operation["responses"]
        assert "429" in responses, (method, path)
        assert "Retry-After" in responses["429"]["headers"], (method, path)
        if not public:
            assert "401" in responses, (method, path)


def test_calendar_files_document_their_answers(document):
    for path in CALENDARS:
        responses = document["paths"][path]["get"]["responses"]
        assert list(responses["200"]["content"]) == ["text/calendar"]
        assert {"404", "429"} <= set(responses)
    for path in CALENDARS[1:]:
        operation = document["paths"][path]["get"]
        assert "ETag" in operation["responses"]["200"]["headers"]
        assert "ETag" in operation["responses"]["304"]["headers"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"If-None-Match", "If-Modified-Since"}


def test_webhooks_document_each_providers_request_and_answers(document):
    for provider in INBOUND_PROVIDERS:
        operation = document["paths"][f"/webhooks/{provider}"]["post"]
        assert operation["security"] == []
        assert {"200", "401", "413", "429"} == set(operation["responses"])
    zoom = document["paths"]["/webhooks/zoom"]["post"]
    assert {p["name"] for p in zoom["parameters"]} == {"x-zm-signature", "x-zm-request-timestamp"}
    teams = document["paths"]["/webhooks/teams"]["post"]
    assert "text/plain" in teams["responses"]["200"]["content"]  # the validationToken echo


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/provider-accounts", "403"),
        ("post", "/api/v1/provider-accounts/{account_id}/check", "403"),
        ("patch", "/api/v1/people/{person_id}", "403"),
        ("delete", "/api/v1/institutions/{institution_id}", "403"),
        ("post", "/api/v1/people/import", "415"),
        ("post", "/api/v1/institutions/import", "415"),
        ("post", "/api/v1/people/{person_id}/availability/ics", "415"),
        ("post", "/api/v1/people/{person_id}/availability/ics", "413"),
    ],
)
def test_refusals_are_documented_where_they_happen(document, method, path, status):
    response = document["paths"][path][method]["responses"][status]
    assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}


def test_a_wrong_calendar_link_answers_the_documented_error(client):
    response = client.get("/ical/feeds/1-0.abcdef.ics")

    assert_error(response, 404, "not_found")


def test_docs_page_lists_every_answer_of_an_operation(client):
    page = client.get("/api/v1/docs").text
    start = page.index('id="get_ical_feed"')
    operation = html.unescape(page[start : page.index("</section>", start)])

    for status in ("200 OK", "304 Not Modified", "404 Not Found", "429 Too Many Requests"):
        assert f"<code>{status}</code>" in operation
    assert "<code>Retry-After</code>" in operation
    assert "<code>If-None-Match</code>" in operation
    assert 'href="#schema-ErrorOut"' in operation
