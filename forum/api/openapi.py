"""The OpenAPI 3 document of API v1, built from the schemas that validate requests."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import render_template
from pydantic import BaseModel

from forum.api import bp
from forum.api import schemas as s
from forum.directory import bulk

# (method, path, summary, request schema, response schema, success status, list?)
OPERATIONS: list[
    tuple[str, str, str, type[BaseModel] | None, type[BaseModel] | None, int, bool]
] = [
    ("get", "/institutions", "List institutions (?country=)", None, s.InstitutionOut, 200, True),
    (
        "post",
        "/institutions",
        "Create an institution",
        s.InstitutionCreate,
        s.InstitutionOut,
        201,
        False,
    ),
    (
        "get",
        "/institutions/{institution_id}",
        "Read an institution",
        None,
        s.InstitutionOut,
        200,
        False,
    ),
    (
        "patch",
        "/institutions/{institution_id}",
        "Change an institution",
        s.InstitutionUpdate,
        s.InstitutionOut,
        200,
        False,
    ),
    (
        "delete",
        "/institutions/{institution_id}",
        "Delete an institution with no people",
        None,
        None,
        204,
        False,
    ),
    (
        "post",
        "/institutions/import",
        "Import institutions from a JSON list or a CSV file, all or nothing (upsert by name)",
        s.InstitutionImport,
        s.ImportOut,
        200,
        False,
    ),
    ("get", "/people", "List people (?institution_id=, ?email=)", None, s.PersonOut, 200, True),
    ("post", "/people", "Create a person", s.PersonCreate, s.PersonOut, 201, False),
    (
        "post",
        "/people/import",
        "Import people from a JSON list or a CSV file, all or nothing (upsert by email)",
        s.PeopleImport,
        s.ImportOut,
        200,
        False,
    ),
    ("get", "/people/{person_id}", "Read a person", None, s.PersonOut, 200, False),
    ("patch", "/people/{person_id}", "Change a person", s.PersonUpdate, s.PersonOut, 200, False),
    ("delete", "/people/{person_id}", "Delete a person invited nowhere", None, None, 204, False),
    (
        "put",
        "/people/{person_id}/availability",
        "Replace the given availability fields",
        s.AvailabilityIn,
        s.PersonOut,
        200,
        False,
    ),
    (
        "post",
        "/people/{person_id}/availability/ics",
        "Import busy times from an uploaded .ics file (body: the file, as text/calendar)",
        None,
        s.PersonOut,
        200,
        False,
    ),
    (
        "post",
        "/people/{person_id}/availability/refresh",
        "Import busy times from the person's ICS URL",
        None,
        s.PersonOut,
        200,
        False,
    ),
    ("get", "/events", "List the events you organise", None, s.EventOut, 200, True),
    ("post", "/events", "Create an event", s.EventCreate, s.EventOut, 201, False),
    ("get", "/events/{event_id}", "Read an event", None, s.EventOut, 200, False),
    ("patch", "/events/{event_id}", "Change an event", s.EventUpdate, s.EventOut, 200, False),
    (
        "delete",
        "/events/{event_id}",
        "Delete an event whose sessions are all cancelled",
        None,
        None,
        204,
        False,
    ),
    (
        "get",
        "/events/{event_id}/participants",
        "List the event's participants",
        None,
        s.ParticipantOut,
        200,
        True,
    ),
    (
        "post",
        "/events/{event_id}/participants",
        "Invite a person or a whole institution",
        s.ParticipantAdd,
        s.ParticipantOut,
        201,
        True,
    ),
    (
        "delete",
        "/events/{event_id}/participants/{person_id}",
        "Remove a participant",
        None,
        None,
        204,
        False,
    ),
    (
        "get",
        "/events/{event_id}/sessions",
        "List the event's sessions (?status=)",
        None,
        s.SessionOut,
        200,
        True,
    ),
    (
        "post",
        "/events/{event_id}/sessions",
        "Book a session",
        s.SessionCreate,
        s.SessionOut,
        201,
        False,
    ),
    ("get", "/sessions/{session_id}", "Read a session", None, s.SessionOut, 200, False),
    (
        "patch",
        "/sessions/{session_id}",
        "Reschedule or rename a session",
        s.SessionUpdate,
        s.SessionOut,
        200,
        False,
    ),
    (
        "delete",
        "/sessions/{session_id}",
        "Cancel a session (the record stays)",
        None,
        s.SessionOut,
        200,
        False,
    ),
    (
        "post",
        "/sessions/{session_id}/meeting/retry",
        "Open the session's meeting again after a provider failed",
        None,
        s.SessionOut,
        200,
        False,
    ),
    (
        "get",
        "/sessions/{session_id}/occurrences",
        "List a series' occurrences (?after=, moved and cancelled ones marked)",
        None,
        s.OccurrenceOut,
        200,
        True,
    ),
    (
        "patch",
        "/sessions/{session_id}/occurrences/{recurrence_id}",
        "Move or rename one occurrence of a series",
        s.OccurrenceUpdate,
        s.OccurrenceOut,
        200,
        False,
    ),
    (
        "delete",
        "/sessions/{session_id}/occurrences/{recurrence_id}",
        "Cancel one occurrence of a series",
        None,
        s.OccurrenceOut,
        200,
        False,
    ),
    (
        "get",
        "/sessions/{session_id}/invitations",
        "List invitations and answers",
        None,
        s.InvitationOut,
        200,
        True,
    ),
    (
        "get",
        "/sessions/{session_id}/attendance",
        "Who attended, from the provider's webhooks (invitees and guests, minutes present)",
        None,
        s.AttendanceOut,
        200,
        True,
    ),
    (
        "get",
        "/webhook-inbox",
        "Provider deliveries received (?status=); administrators see all",
        None,
        s.InboxEntryOut,
        200,
        True,
    ),
    (
        "post",
        "/webhook-inbox/{entry_id}/reprocess",
        "Process a stored delivery again",
        None,
        s.InboxEntryOut,
        200,
        False,
    ),
    (
        "get",
        "/webhook-subscriptions",
        "List your outbound webhook subscriptions (no secrets)",
        None,
        s.WebhookSubscriptionOut,
        200,
        True,
    ),
    (
        "post",
        "/webhook-subscriptions",
        "Subscribe a URL to event types; the answer shows the signing secret, once",
        s.WebhookSubscriptionCreate,
        s.WebhookSubscriptionCreatedOut,
        201,
        False,
    ),
    (
        "delete",
        "/webhook-subscriptions/{subscription_id}",
        "Delete a subscription and its delivery log",
        None,
        None,
        204,
        False,
    ),
    (
        "get",
        "/webhook-subscriptions/{subscription_id}/deliveries",
        "A subscription's deliveries, newest first, with every attempt",
        None,
        s.WebhookDeliveryOut,
        200,
        True,
    ),
    (
        "post",
        "/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver",
        "Send a delivery again",
        None,
        s.WebhookDeliveryOut,
        202,
        False,
    ),
    (
        "get",
        "/provider-accounts",
        "List video provider accounts (administrators; no secrets)",
        None,
        s.ProviderAccountOut,
        200,
        True,
    ),
    (
        "post",
        "/provider-accounts",
        "Add a video provider account (administrators; secrets stored encrypted)",
        s.ProviderAccountCreate,
        s.ProviderAccountOut,
        201,
        False,
    ),
    (
        "delete",
        "/provider-accounts/{account_id}",
        "Delete a provider account (administrators)",
        None,
        None,
        204,
        False,
    ),
    (
        "post",
        "/provider-accounts/{account_id}/check",
        "Check an account now: token, hosts, meetings of the next 7 days",
        None,
        s.ProviderAccountOut,
        200,
        False,
    ),
    (
        "post",
        "/scheduling/search",
        "Find ranked slots, with each participant's, institution's and country's cost",
        s.SearchRequest,
        s.SearchOut,
        200,
        False,
    ),
    (
        "post",
        "/scheduling/rotation",
        "Start times for a series that share the bad hours fairly across institutions",
        s.RotationRequest,
        s.RotationOut,
        200,
        False,
    ),
    (
        "post",
        "/scheduling/dst-preview",
        "Occurrences of a recurring time at which a site's local time moves",
        s.DstPreviewRequest,
        s.DstPreviewOut,
        200,
        False,
    ),
]

_ERRORS = {
    "400": "Malformed request (e.g. body not JSON)",
    "401": "Missing, unknown or revoked token",
    "404": "Unknown id, or an event you do not organise",
    "409": "Conflict with existing data",
    "413": "Request body too large",
    "422": "Validation failed: details.fields names each field",
}
# The imports also take a CSV file: its header, and what a refusal lists.
_CSV_IMPORTS = {
    "/api/v1/people/import": bulk.PEOPLE,
    "/api/v1/institutions/import": bulk.INSTITUTIONS,
}


def _ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _add_csv_body(operation: dict[str, Any], kind: str) -> None:
    operation["requestBody"]["content"]["text/csv"] = {
        "schema": {
            "type": "string",
            "description": (
                f"UTF-8 (a byte order mark is allowed), header `{','.join(bulk.COLUMNS[kind])}` "
                f"in any order, at most {bulk.MAX_IMPORT_ROWS} rows; an empty cell is a field "
                "left out. Hours read `mon-fri 09:00-18:00; sat 10:00-12:00`."
            ),
        }
    }
    responses = operation["responses"]
    responses["413"]["description"] = f"File over {bulk.MAX_IMPORT_BYTES} bytes"
    responses["415"] = {**responses["413"], "description": "Not text/csv or application/json"}
    responses["422"]["description"] = (
        "Nothing imported: details.rows lists every problem as {line (CSV) or index (JSON), "
        "field, message}; code too_many_rows over the row cap"
    )


def build_document() -> dict[str, Any]:
    components: dict[str, Any] = {}
    error_ref = _ref(s.ErrorOut, components)
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, request_model, response_model, status, is_list in OPERATIONS:
        words = path.strip("/").replace("{", "").replace("}", "").replace("/", "_")
        operation: dict[str, Any] = {
            "summary": summary,
            "operationId": f"{method}_{words}",
            "parameters": [
                {"name": part[1:-1], "in": "path", "required": True, "schema": {"type": "integer"}}
                for part in path.split("/")
                if part.startswith("{")
            ],
            "responses": {
                code: {"description": text, "content": {"application/json": {"schema": error_ref}}}
                for code, text in _ERRORS.items()
            },
        }
        if method == "get" and is_list:
            operation["parameters"] += [
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            ]
        if request_model is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(request_model, components)}},
            }
        if response_model is None:
            operation["responses"][str(status)] = {"description": "Done; no content"}
        else:
            body = _ref(response_model, components)
            if is_list:
                body = {
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "items": {"type": "array", "items": body},
                        "total": {"type": "integer"},
                        "page": {"type": "integer"},
                        "per_page": {"type": "integer"},
                    },
                }
            operation["responses"][str(status)] = {
                "description": "OK",
                "content": {"application/json": {"schema": body}},
            }
        paths.setdefault("/api/v1" + path, {})[method] = operation
    for path, kind in _CSV_IMPORTS.items():
        _add_csv_body(paths[path]["post"], kind)
    # The document and its page are public: no token needed to learn how to get one.
    paths["/api/v1/openapi.json"] = {
        "get": {
            "summary": "This OpenAPI document",
            "operationId": "get_openapi_json",
            "security": [],
            "responses": {"200": {"description": "OK", "content": {"application/json": {}}}},
        }
    }
    paths["/api/v1/docs"] = {
        "get": {
            "summary": "This document as a page to browse",
            "operationId": "get_docs",
            "security": [],
            "responses": {"200": {"description": "OK", "content": {"text/html": {}}}},
        }
    }
    paths["/healthz"] = {
        "get": {
            "summary": "Liveness and database reachability",
            "operationId": "get_healthz",
            "security": [],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": _ref(s.HealthOut, components)}},
                },
                "503": {"description": "Database unreachable"},
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "forum API",
            "version": "1",
            "description": (
                "Video conferences between universities across time zones. Instants are "
                "ISO 8601 in UTC with Z; zones are IANA names. Errors have the shape "
                '{"error": {"code", "message", "details"}}.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components,
        },
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi_document():
    document = current_app.extensions.get("forum_openapi")
    if document is None:
        document = current_app.extensions["forum_openapi"] = build_document()
    return document


@bp.get("/docs")
def docs():
    return render_template("api_docs.html", document=openapi_document())
