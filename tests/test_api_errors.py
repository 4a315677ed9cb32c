"""API v1 tests of what every endpoint shares: auth, error shape, limits, pagination, OpenAPI."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
import sqlalchemy as sa

from forum import create_app
from forum.accounts.models import ApiToken
from forum.accounts.models import Organiser
from forum.accounts.services import revoke_token
from forum.db import now_utc
from forum.extensions import db
from forum.webhooks import outbound
from forum.webhooks.models import Attendance
from forum.webhooks.models import InboxEntry
from tests.helpers import assert_error

# Every route of the API blueprint that needs a token; test_endpoint_table_is_complete
# fails when a route is added without being listed here.
ENDPOINTS = [
    ("GET", "/api/v1/institutions"),
    ("POST", "/api/v1/institutions"),
    ("GET", "/api/v1/institutions/<int:institution_id>"),
    ("PATCH", "/api/v1/institutions/<int:institution_id>"),
    ("DELETE", "/api/v1/institutions/<int:institution_id>"),
    ("GET", "/api/v1/institutions/<int:institution_id>/history"),
    ("POST", "/api/v1/institutions/import"),
    ("GET", "/api/v1/people"),
    ("POST", "/api/v1/people"),
    ("GET", "/api/v1/people/<int:person_id>"),
    ("PATCH", "/api/v1/people/<int:person_id>"),
    ("DELETE", "/api/v1/people/<int:person_id>"),
    ("GET", "/api/v1/people/<int:person_id>/history"),
    ("POST", "/api/v1/people/import"),
    ("PUT", "/api/v1/people/<int:person_id>/availability"),
    ("POST", "/api/v1/people/<int:person_id>/availability/ics"),
    ("POST", "/api/v1/people/<int:person_id>/availability/refresh"),
    ("GET", "/api/v1/events"),
    ("POST", "/api/v1/events"),
    ("GET", "/api/v1/events/<int:event_id>"),
    ("PATCH", "/api/v1/events/<int:event_id>"),
    ("DELETE", "/api/v1/events/<int:event_id>"),
    ("GET", "/api/v1/events/<int:event_id>/participants"),
    ("POST", "/api/v1/events/<int:event_id>/participants"),
    ("DELETE", "/api/v1/events/<int:event_id>/participants/<int:person_id>"),
    ("GET", "/api/v1/events/<int:event_id>/sessions"),
    ("POST", "/api/v1/events/<int:event_id>/sessions"),
    ("GET", "/api/v1/sessions/<int:session_id>"),
    ("PATCH", "/api/v1/sessions/<int:session_id>"),
    ("DELETE", "/api/v1/sessions/<int:session_id>"),
    ("GET", "/api/v1/sessions/<int:session_id>/invitations"),
    ("GET", "/api/v1/sessions/<int:session_id>/occurrences"),
    ("POST", "/api/v1/sessions/<int:session_id>/meeting/retry"),
    ("GET", "/api/v1/sessions/<int:session_id>/attendance"),
    ("GET", "/api/v1/webhook-inbox"),
    ("POST", "/api/v1/webhook-inbox/<int:entry_id>/reprocess"),
    ("GET", "/api/v1/provider-accounts"),
    ("POST", "/api/v1/provider-accounts"),
    ("PATCH", "/api/v1/provider-accounts/<int:account_id>"),
    ("DELETE", "/api/v1/provider-accounts/<int:account_id>"),
    ("POST", "/api/v1/provider-accounts/<int:account_id>/check"),
    ("PATCH", "/api/v1/sessions/<int:session_id>/occurrences/<recurrence_id>"),
    ("DELETE", "/api/v1/sessions/<int:session_id>/occurrences/<recurrence_id>"),
    ("POST", "/api/v1/scheduling/search"),
    ("POST", "/api/v1/scheduling/rotation"),
    ("POST", "/api/v1/scheduling/dst-preview"),
    ("GET", "/api/v1/events/<int:event_id>/polls"),
    ("POST", "/api/v1/events/<int:event_id>/polls"),
    ("GET", "/api/v1/polls/<int:poll_id>"),
    ("DELETE", "/api/v1/polls/<int:poll_id>"),
    ("POST", "/api/v1/polls/<int:poll_id>/remind"),
    ("POST", "/api/v1/polls/<int:poll_id>/finalize"),
    ("GET", "/api/v1/webhook-subscriptions"),
    ("POST", "/api/v1/webhook-subscriptions"),
    ("DELETE", "/api/v1/webhook-subscriptions/<int:subscription_id>"),
    ("GET", "/api/v1/webhook-subscriptions/<int:subscription_id>/deliveries"),
    (
        "POST",
        "/api/v1/webhook-subscriptions/<int:subscription_id>/deliveries/<int:delivery_id>/redeliver",
    ),
    ("POST", "/api/v1/timetables/import"),
    ("GET", "/api/v1/timetable-imports/<int:import_id>"),
    ("POST", "/api/v1/timetable-imports/<int:import_id>/resume"),
    ("GET", "/api/v1/terms"),
    ("GET", "/api/v1/terms/<int:term_id>"),
    ("GET", "/api/v1/terms/<int:term_id>/teachers-abroad"),
    ("GET", "/api/v1/terms/<int:term_id>/teachers-abroad.csv"),
]
PUBLIC = [("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/docs")]
# A participant's answers to a poll: their secret link, not a token, authorises them
# (tests/test_polls_api.py).
BY_LINK = [
    ("GET", "/api/v1/p/<token>/polls/<int:poll_id>"),
    ("PUT", "/api/v1/p/<token>/polls/<int:poll_id>"),
]
# A calendar upload takes a text/calendar body, a refresh none: no JSON to get wrong.
NOT_JSON = {
    "/api/v1/people/<int:person_id>/availability/ics",
    "/api/v1/people/<int:person_id>/availability/refresh",
    "/api/v1/sessions/<int:session_id>/meeting/retry",
    "/api/v1/provider-accounts/<int:account_id>/check",
    "/api/v1/webhook-subscriptions/<int:subscription_id>/deliveries/<int:delivery_id>/redeliver",
    "/api/v1/webhook-inbox/<int:entry_id>/reprocess",
    "/api/v1/polls/<int:poll_id>/remind",
    "/api/v1/timetable-imports/<int:import_id>/resume",
}
# The imports take a JSON list (or a CSV file): tests/test_directory_import.py checks them.
IMPORTS = {"/api/v1/people/import", "/api/v1/institutions/import", "/api/v1/timetables/import"}
WITH_BODY = [
    (method, rule)
    for method, rule in ENDPOINTS
    if method in ("POST", "PATCH", "PUT") and rule not in NOT_JSON | IMPORTS
]
# Terms come with their courses, which are events: tests/test_api_timetables.py and
# tests/test_teachers_abroad.py page them.
LISTS = [
    rule
    for method, rule in ENDPOINTS
    if method == "GET" and not rule.endswith("_id>") and not rule.startswith("/api/v1/terms")
]
PAGINATED = [
    *LISTS,
    "/api/v1/events/<int:event_id>/participants",
    "/api/v1/events/<int:event_id>/sessions",
    "/api/v1/sessions/<int:session_id>/invitations",
    "/api/v1/sessions/<int:session_id>/occurrences",
]

# What a valid request writes, so a refused one can be shown to write nothing.
VALID_BODIES = {
    "/api/v1/provider-accounts": {"name": "uni-jitsi", "kind": "jitsi"},
    "/api/v1/webhook-subscriptions": {
        "url": "https://hooks.example.org/forum",
        "event_types": ["session.scheduled"],
    },
    "/api/v1/institutions": {
        "name": "Peking University",
        "country": "CN",
        "timezone": "Asia/Shanghai",
    },
    "/api/v1/people": {
        "name": "Li Wei",
        "email": "li.wei@example.org",
        "timezone": "Asia/Shanghai",
    },
    "/api/v1/events": {"title": "Forum", "kind": "forum"},
    "/api/v1/events/<int:event_id>/sessions": {
        "title": "Plenary",
        "start": "2020-03-10T13:00:00Z",
        "duration_minutes": 60,
        "rrule": "FREQ=WEEKLY;COUNT=1",
    },
}
WRITTEN_TABLES = ("institutions", "people", "events", "sessions", "event_participants")


def call(api, method: str, path: str, **kwargs: Any):
    """Any method, with the organiser's token (the ApiClient covers the usual five)."""
    headers = {"Authorization": f"Bearer {api.token}", **kwargs.pop("headers", {})}
    return api.client.open(path, method=method, headers=headers, **kwargs)


def url(rule: str, ids: dict[str, int] | None = None) -> str:
    """A URL for a route rule, with ``ids`` (default 1) in place of its variables."""
    ids = ids or {}
    rule = rule.replace("<recurrence_id>", "2020-03-10T13:00:00Z")
    return re.sub(r"<int:(\w+)>", lambda m: str(ids.get(m.group(1), 1)), rule)


def api_rules(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(("api.", "term_reports_api."))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def written(row_count) -> dict[str, int]:
    return {table: row_count(table) for table in WRITTEN_TABLES}


@pytest.fixture
def api(app, make_organiser):
    """An administrator: every endpoint, provider accounts included, is theirs to call."""
    client = make_organiser()
    with app.app_context():
        db.session.get(Organiser, client.organiser_id).is_admin = True
        db.session.commit()
    return client


@pytest.fixture
def ids(app, api) -> dict[str, int]:
    """One of everything, for URLs that need real ids."""

    def post(path: str, body: dict[str, Any]) -> int:
        response = api.post(path, json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    institution_id = post("/api/v1/institutions", VALID_BODIES["/api/v1/institutions"])
    person_id = post(
        "/api/v1/people",
        {"name": "Li Wei", "email": "li.wei@example.org", "institution_id": institution_id},
    )
    # One recorded change each, for their histories.
    api.patch(f"/api/v1/institutions/{institution_id}", json={"subdivision": "BJ"})
    api.put(
        f"/api/v1/people/{person_id}/availability",
        json={"acceptable_hours": {"mon": [["07:00", "21:00"]]}},
    )
    event_id = post("/api/v1/events", VALID_BODIES["/api/v1/events"])
    api.post(f"/api/v1/events/{event_id}/participants", json={"person_id": person_id})
    session_id = post(
        f"/api/v1/events/{event_id}/sessions",
        VALID_BODIES["/api/v1/events/<int:event_id>/sessions"],
    )
    poll_id = post(
        f"/api/v1/events/{event_id}/polls",
        {"title": "When?", "options": [{"start": "2027-03-10T13:00:00Z"}]},
    )
    return {
        "institution_id": institution_id,
        "person_id": person_id,
        "event_id": event_id,
        "session_id": session_id,
        "poll_id": poll_id,
        "recurrence_id": "2020-03-10T13:00:00Z",
        "account_id": post("/api/v1/provider-accounts", {"name": "jitsi", "kind": "jitsi"}),
        **_delivery_and_attendance(app, session_id),
        **_webhook_delivery(app, api.organiser_id),
    }


def _delivery_and_attendance(app, session_id: int) -> dict[str, int]:
    """A stored provider delivery and one attendee, as the webhooks would leave them."""
    with app.app_context():
        entry = InboxEntry(
            provider="zoom", identity="x", event="meeting.started", body="{}", headers={}
        )
        entry.session_id = session_id
        db.session.add(entry)
        db.session.add(
            Attendance(session_id=session_id, participant_key="guest@example.org", stays={})
        )
        db.session.commit()
        return {"entry_id": entry.id}


def _webhook_delivery(app, organiser_id: int) -> dict[str, int]:
    """A webhook subscription with one delivered event, written directly: nothing is sent."""
    with app.app_context():
        subscription, _ = outbound.create_subscription(
            db.session.get(Organiser, organiser_id),
            url="http://localhost:9/forum-hook",
            event_types=["session.scheduled"],
        )
        created = now_utc()
        event_id = outbound.new_event_id()
        delivery = outbound.WebhookDelivery(
            subscription=subscription,
            event_id=event_id,
            type="session.scheduled",
            created_at=created,
            payload=outbound.event_body(event_id, "session.scheduled", created, {}),
            status="delivered",
            attempts=1,
            delivered_at=created,
        )
        db.session.add(delivery)
        db.session.commit()
        return {"subscription_id": subscription.id, "delivery_id": delivery.id}


def test_endpoint_table_is_complete(app):
    assert api_rules(app) == set(ENDPOINTS) | set(PUBLIC) | set(BY_LINK)


# --- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "rule"), ENDPOINTS)
@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "unauthorized"),
        ("Bearer not-a-real-token", "invalid_token"),
        ("Bearer ", "invalid_token"),
        ("Basic b3JnYW5pc2VyOnNlY3JldA==", "invalid_token"),
        ("not-a-real-token", "invalid_token"),
    ],
)
def test_every_endpoint_needs_a_valid_token(
    client, api, row_count, method, rule, authorization, code
):
    headers = {} if authorization is None else {"Authorization": authorization}
    body = VALID_BODIES.get(rule, {}) if method in ("POST", "PATCH", "PUT") else None

    response = client.open(url(rule), method=method, headers=headers, json=body)

    assert_error(response, 401, code)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(written(row_count).values()) == {0}


def test_a_revoked_token_is_refused(app, api, row_count):
    assert api.get("/api/v1/events").status_code == 200
    with app.app_context():
        organiser = db.session.get(Organiser, api.organiser_id)
        token_id = db.session.scalar(
            sa.select(ApiToken.id).where(ApiToken.organiser_id == organiser.id)
        )
        revoke_token(organiser, token_id)
        db.session.commit()

    listing = api.get("/api/v1/events")
    creating = api.post("/api/v1/events", json=VALID_BODIES["/api/v1/events"])

    for response in (listing, creating):
        assert_error(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert row_count("events") == 0


def test_the_scheme_is_case_insensitive(client, api):
    response = client.get("/api/v1/events", headers={"Authorization": f"bearer {api.token}"})

    assert response.status_code == 200


@pytest.mark.parametrize(("method", "path"), PUBLIC)
def test_documentation_needs_no_token(client, method, path):
    response = client.open(path, method=method)

    assert response.status_code == 200


# --- the error shape ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nothing", "/api/v1/", "/api/v2/events", "/api/v1/events/abc", "/api/v1/events/-1"],
)
def test_unknown_api_path_is_a_json_404(client, api, path):
    for response in (client.get(path), api.get(path)):
        assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/institutions", {"GET", "POST"}),
        ("DELETE", "/api/v1/events", {"GET", "POST"}),
        ("PUT", "/api/v1/events/1", {"GET", "PATCH", "DELETE"}),
        ("POST", "/api/v1/sessions/1", {"GET", "PATCH", "DELETE"}),
        ("GET", "/api/v1/events/1/participants/1", {"DELETE"}),
        ("PATCH", "/api/v1/people/1/availability", {"PUT"}),
        ("POST", "/api/v1/openapi.json", {"GET"}),
    ],
)
def test_wrong_method_is_a_json_405_with_allow(api, row_count, method, path, allowed):
    response = call(api, method, path, json={"name": "x"})

    error = assert_error(response, 405, "method_not_allowed")
    assert allowed <= set(error["details"]["allowed"])
    assert {m.strip() for m in response.headers["Allow"].split(",")} == set(
        error["details"]["allowed"]
    )
    assert set(written(row_count).values()) == {0}


def test_an_unexpected_error_is_a_json_500_that_leaks_nothing(app, client, caplog):
    def explode():
        raise RuntimeError("database password is hunter2")

    app.add_url_rule("/api/v1/test-explode", "test_explode", explode)

    with caplog.at_level(logging.ERROR, logger="forum.errors"):
        response = client.get("/api/v1/test-explode")

    error = assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert error["details"] == {}
    # ...but the people running the service can find it.
    assert any("hunter2" in str(record.exc_info[1]) for record in caplog.records if record.exc_info)


# --- request bodies ----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "rule"), WITH_BODY)
@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b'{"name": "Peking University",}',
        b"",
        b"\xff\xfe\x00garbage",
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["broken", "trailing-comma", "empty", "not-utf8", "nested-too-deep"],
)
def test_malformed_json_is_400(api, ids, row_count, method, rule, data):
    before = written(row_count)

    response = call(
        api, method, url(rule, ids), data=data, headers={"Content-Type": "application/json"}
    )

    assert_error(response, 400, "malformed_json")
    assert written(row_count) == before


@pytest.mark.parametrize(("method", "rule"), WITH_BODY)
@pytest.mark.parametrize("body", [[{"name": "x"}], "name", 42, None, True])
def test_a_body_that_is_not_an_object_is_422(api, ids, row_count, method, rule, body):
    before = written(row_count)

    response = call(
        api,
        method,
        url(rule, ids),
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )

    assert_error(response, 422, "validation_error", "body")
    assert written(row_count) == before


@pytest.mark.parametrize(("method", "rule"), WITH_BODY)
def test_unknown_fields_are_refused_everywhere(api, ids, row_count, method, rule):
    before = written(row_count)
    body = {**VALID_BODIES.get(rule, {}), "surprise": True}

    response = call(api, method, url(rule, ids), json=body)

    error = assert_error(response, 422, "validation_error", "surprise")
    assert error["details"]["fields"]["surprise"] == "unknown field"
    assert written(row_count) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/institutions", {"name": "PKU\u0000", "country": "JP"}, "name"),
        (
            "/api/v1/institutions",
            {
                "name": "PKU",
                "country": "JP",
                "blackouts": [
                    {"start_date": "2020-01-01", "end_date": "2020-01-02", "reason": "a\u0000b"}
                ],
            },
            "blackouts.0.reason",
        ),
        (
            "/api/v1/events",
            {"title": "Forum", "kind": "forum", "description": "\u0000"},
            "description",
        ),
    ],
)
def test_nul_characters_are_refused(api, row_count, path, body, field):
    response = api.post(path, json=body)

    assert_error(response, 422, "validation_error", field)
    assert set(written(row_count).values()) == {0}


@pytest.fixture
def small_app(app, database_url):
    """The app built with a 2 KiB body limit, on the same database."""
    small = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key",
            "MAX_CONTENT_LENGTH": 2048,
        }
    )
    yield small
    with small.app_context():
        db.engine.dispose()


def test_a_body_over_the_configured_limit_is_413(small_app, api, row_count):
    client = small_app.test_client()
    headers = {"Authorization": f"Bearer {api.token}"}
    body = {"title": "Forum", "kind": "forum", "description": "x" * 3000}

    response = client.post("/api/v1/events", json=body, headers=headers)

    error = assert_error(response, 413, "payload_too_large")
    assert "2048" in error["message"]
    assert row_count("events") == 0
    # Under the limit, the same app takes it; the default limit is far larger.
    small_body = {**body, "description": "x" * 1000}
    assert client.post("/api/v1/events", json=small_body, headers=headers).status_code == 201
    assert api.post("/api/v1/events", json=body).status_code == 201
    assert row_count("events") == 2


# --- pagination --------------------------------------------------------------------------


@pytest.mark.parametrize("rule", PAGINATED)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("per_page=201", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=-5", "per_page"),
        ("per_page=ten", "per_page"),
        ("per_page=1.5", "per_page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=%C2%B2", "page"),  # "²" passes str.isdigit() but is no number
        ("page=99999999999999999999", "page"),
    ],
)
def test_bad_pagination_is_422(api, ids, rule, query, field):
    response = api.get(f"{url(rule, ids)}?{query}")

    assert_error(response, 422, "validation_error", field)


@pytest.mark.parametrize("rule", PAGINATED)
def test_list_pages_carry_their_total(api, ids, rule):
    default = api.get(url(rule, ids)).get_json()
    largest = api.get(f"{url(rule, ids)}?per_page=200&page=1").get_json()
    past_the_end = api.get(f"{url(rule, ids)}?page=2&per_page=1").get_json()

    assert (default["page"], default["per_page"], default["total"]) == (1, 50, 1)
    assert len(default["items"]) == 1
    assert largest["per_page"] == 200
    assert (past_the_end["items"], past_the_end["total"], past_the_end["page"]) == ([], 1, 2)


# --- the OpenAPI document ----------------------------------------------------------------


@pytest.fixture
def document(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_openapi_top_level_structure(document):
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"]
    assert document["info"]["version"] == "1"
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert document["security"] == [{"bearer": []}]
    for path, item in document["paths"].items():
        assert path.startswith("/"), path
        for method, operation in item.items():
            assert method in {"get", "post", "put", "patch", "delete"}, (path, method)
            assert operation["summary"], (path, method)
            # A success: 2xx, or the RSVP form's 303 to the page that shows the answer.
            assert any(code[0] in "23" for code in operation["responses"]), (path, method)
    operation_ids = [
        op["operationId"] for item in document["paths"].values() for op in item.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))


def test_every_reference_resolves(document):
    schemas = document["components"]["schemas"]
    refs = re.findall(r'"\$ref": "([^"]+)"', json.dumps(document))

    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_every_api_route_is_documented(app, document):
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }

    for method, rule in sorted(api_rules(app)):
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)
        assert (method, path) in documented, f"{method} {path} is missing from openapi.json"


def test_path_parameters_are_documented(document):
    for path, item in document["paths"].items():
        names = re.findall(r"{(\w+)}", path)
        for method, operation in item.items():
            declared = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            assert declared == names, (method, path)


def request_schema(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    ref = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"][
        "$ref"
    ]
    return document["components"]["schemas"][ref.removeprefix("#/components/schemas/")]


# The fields section 10 of the specification names for each request.
SPEC_FIELDS = [
    (
        "post",
        "/api/v1/institutions",
        {"name", "short_name", "country", "timezone", "subdivision", "blackouts"},
    ),
    (
        "post",
        "/api/v1/people",
        {
            "name",
            "email",
            "institution_id",
            "timezone",
            "role_title",
            "working_hours",
            "acceptable_hours",
            "busy",
            "ics_url",
        },
    ),
    (
        "put",
        "/api/v1/people/{person_id}/availability",
        {"working_hours", "acceptable_hours", "busy", "ics_url"},
    ),
    (
        "post",
        "/api/v1/events",
        {"title", "kind", "description", "timezone", "default_provider", "organisers"},
    ),
    (
        "post",
        "/api/v1/events/{event_id}/participants",
        {"person_id", "institution_id", "role", "required"},
    ),
    (
        "post",
        "/api/v1/events/{event_id}/sessions",
        {
            "title",
            "start",
            "local_start",
            "timezone",
            "fold",
            "duration_minutes",
            "end",
            "rrule",
            "provider",
            "invitees",
            "allow_conflicts",
        },
    ),
]


@pytest.mark.parametrize(("method", "path", "fields"), SPEC_FIELDS)
def test_request_schemas_carry_the_specified_fields(document, method, path, fields):
    schema = request_schema(document, method, path)

    assert fields <= set(schema["properties"])
    assert schema["additionalProperties"] is False


def test_session_create_requires_a_title(document):
    schema = document["components"]["schemas"]["SessionCreate"]

    assert "title" in schema["required"]


def test_documented_required_fields_are_those_the_validators_require(api, ids, document):
    """An empty body names exactly the documented required fields as missing."""
    with_body = [
        (method, path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if path.startswith("/api/")
        # The participant's poll answers (their link, no token): tests/test_polls_api.py.
        and operation.get("security") != []
        and "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
    assert len(with_body) == len(WITH_BODY) + len(IMPORTS)

    for method, path in with_body:
        concrete = re.sub(r"{(\w+)}", lambda m: str(ids[m.group(1)]), path)
        response = call(api, method.upper(), concrete, json={})
        missing = set()
        if response.status_code == 422:
            fields = response.get_json()["error"]["details"]["fields"]
            missing = {name for name, problem in fields.items() if problem == "required"}
        else:
            assert response.status_code < 300, (method, path, response.get_json())

        documented = set(request_schema(document, method, path).get("required", []))
        assert missing == documented, (method, path)


def test_docs_page_renders(client, document):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for path in document["paths"]:
        assert path in page, path
    assert "SessionCreate" in page


def test_healthz(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.get_json()
    # The original contract, and each check with its time (tests/test_health.py for more).
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert body["checks"]["database"]["status"] == "ok"
