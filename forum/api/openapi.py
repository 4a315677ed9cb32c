"""The OpenAPI 3 document of API v1, built from the schemas that validate requests."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import render_template
from pydantic import BaseModel

from forum.api import bp
from forum.api import poll_schemas as ps
from forum.api import schemas as s
from forum.api import term_reports
from forum.api import timetables
from forum.api.directory import DirectoryChangeOut
from forum.directory import bulk
from forum.timetables import importer

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
    (
        "get",
        "/institutions/{institution_id}/history",
        "Recorded changes of an institution's country, zone, subdivision and blackouts",
        None,
        DirectoryChangeOut,
        200,
        True,
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
        "get",
        "/people/{person_id}/history",
        "Recorded changes of a person's email, zone and availability, newest first",
        None,
        DirectoryChangeOut,
        200,
        True,
    ),
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
    ("get", "/events/{event_id}/polls", "List an event's polls", None, ps.PollOut, 200, True),
    (
        "post",
        "/events/{event_id}/polls",
        "Open a poll: the engine's best slots (default), or typed times in any zone",
        ps.PollCreate,
        ps.PollOut,
        201,
        False,
    ),
    (
        "get",
        "/polls/{poll_id}",
        "Read a poll: options with votes and each site's time, people, who has not answered",
        None,
        ps.PollOut,
        200,
        False,
    ),
    (
        "delete",
        "/polls/{poll_id}",
        "Close a poll without booking a time (everyone asked is told)",
        None,
        ps.PollOut,
        200,
        False,
    ),
    (
        "post",
        "/polls/{poll_id}/remind",
        "Remind those who have not answered (at most once a day, not after the close)",
        None,
        ps.PollRemindOut,
        200,
        False,
    ),
    (
        "post",
        "/polls/{poll_id}/finalize",
        "Book the chosen option: the session, its meeting and invitations, in one step",
        ps.PollFinalize,
        ps.PollFinalizeOut,
        201,
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
        "patch",
        "/provider-accounts/{account_id}",
        "Replace an account's host users (administrators)",
        s.ProviderAccountUpdate,
        s.ProviderAccountOut,
        200,
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
    (
        "post",
        "/timetables/import",
        "Import a term's weekly courses (JSON, or CSV with the term in the query, or a "
        "multipart file), all or nothing; the invitations then go out at the term's rate",
        timetables.TimetableIn,
        timetables.TimetableImportOut,
        201,
        False,
    ),
    (
        "get",
        "/timetable-imports/{import_id}",
        "A timetable import's progress: invitations sent of all, status, error",
        None,
        timetables.TimetableImportOut,
        200,
        False,
    ),
    (
        "post",
        "/timetable-imports/{import_id}/resume",
        "Go on sending a failed import's invitations from where it stopped",
        None,
        timetables.TimetableImportOut,
        200,
        False,
    ),
    ("get", "/terms", "Your terms", None, timetables.TermOut, 200, True),
    (
        "get",
        "/terms/{term_id}",
        "A term, with the dates its courses leave out",
        None,
        timetables.TermOut,
        200,
        False,
    ),
]

_ERRORS = {
    "400": "Malformed request (e.g. body not JSON)",
    "401": "Missing, unknown or revoked token",
    "404": "Unknown id, or an event you do not organise",
    "409": "Conflict with existing data",
    "413": "Request body larger than the cap (FORUM_MAX_REQUEST_BYTES, 1 MiB by default)",
    "422": "Validation failed: details.fields names each field",
    "429": "Too many requests (failed tokens are counted per client); retry after Retry-After",
}
_ADMIN_ONLY = "Only administrators manage provider accounts"
_DIRECTORY_OWNERS = (
    "Only the organiser who added the entry, the co-organisers of their events and "
    "administrators may change it (details.created_by names who added it)"
)
# Operations that answer 403 to an organiser the rule does not allow.
_FORBIDDEN = {
    ("get", "/provider-accounts"): _ADMIN_ONLY,
    ("post", "/provider-accounts"): _ADMIN_ONLY,
    ("patch", "/provider-accounts/{account_id}"): _ADMIN_ONLY,
    ("delete", "/provider-accounts/{account_id}"): _ADMIN_ONLY,
    ("post", "/provider-accounts/{account_id}/check"): _ADMIN_ONLY,
    ("patch", "/institutions/{institution_id}"): _DIRECTORY_OWNERS,
    ("delete", "/institutions/{institution_id}"): _DIRECTORY_OWNERS,
    ("patch", "/people/{person_id}"): _DIRECTORY_OWNERS,
    ("delete", "/people/{person_id}"): _DIRECTORY_OWNERS,
    ("put", "/people/{person_id}/availability"): _DIRECTORY_OWNERS,
    ("post", "/people/{person_id}/availability/ics"): _DIRECTORY_OWNERS,
}
# Operations that take a file in a body of a given type, and answer 415 to any other type.
_MEDIA_TYPE_CHECKED = {
    ("post", "/people/import"): "Not text/csv or application/json, or not UTF-8",
    ("post", "/institutions/import"): "Not text/csv or application/json, or not UTF-8",
    ("post", "/people/{person_id}/availability/ics"): "Not text/calendar",
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
    responses["422"]["description"] = (
        "Nothing imported: details.rows lists every problem as {line (CSV) or index (JSON), "
        "field, message}; code too_many_rows over the row cap"
    )


def _add_timetable_bodies(operation: dict[str, Any]) -> None:
    """The timetable import also takes a CSV body or a multipart file, the term beside it."""
    csv_columns = ",".join(importer.CSV_COLUMNS)
    operation["requestBody"]["content"]["text/csv"] = {
        "schema": {
            "type": "string",
            "description": (
                f"UTF-8, header `{csv_columns}`: one weekly meeting a line; lines with the "
                "same course_code are one course; emails separated by `;`; weekday mon..sun, "
                "start HH:MM in the term's zone, weeks `1-16` or `1-8,10-16`"
            ),
        }
    }
    operation["requestBody"]["content"]["multipart/form-data"] = {
        "schema": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary"},
                **{name: {"type": "string"} for name in timetables.TERM_FIELDS},
            },
        }
    }
    operation["parameters"] += [
        {
            "name": name,
            "in": "query",
            "description": "the term's field, beside a CSV file (overrides the JSON's term)",
            "schema": {"type": "string"},
        }
        for name in timetables.TERM_FIELDS
    ] + [
        {
            "name": "dry_run",
            "in": "query",
            "description": "check the file and answer 200 with what it would write",
            "schema": {"type": "boolean"},
        }
    ]
    responses = operation["responses"]
    responses["200"] = {
        "description": "dry_run: the file is valid; nothing written",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    responses["413"]["description"] = f"File over {importer.MAX_TIMETABLE_BYTES} bytes"
    responses["415"] = dict(
        responses["413"], description="Not JSON, CSV or multipart, or not UTF-8"
    )
    responses["422"]["description"] = (
        "Nothing imported: details.rows lists every problem as {line (CSV) or index (JSON), "
        "field, message}; or details.fields names a wrong term field"
    )


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def _error_response(
    description: str, error_ref: dict[str, str], *, retry_after: bool = False
) -> dict[str, Any]:
    """An answer with the error body; a 429 also says when to try again (Retry-After)."""
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": error_ref}},
    }
    if retry_after:
        response["headers"] = _RETRY_AFTER
    return response


def _too_many(what: str, error_ref: dict[str, str]) -> dict[str, Any]:
    return _error_response(
        f"Too many {what} from this client; retry after Retry-After", error_ref, retry_after=True
    )


_CALENDAR = {"text/calendar": {"schema": {"type": "string"}}}
_CALENDAR_HEADERS = {
    "ETag": {"description": "The calendar's version", "schema": {"type": "string"}},
    "Last-Modified": {"description": "When it last changed", "schema": {"type": "string"}},
    "Cache-Control": {"schema": {"type": "string", "const": "private, no-cache"}},
}
_CONDITIONAL = [
    {
        "name": "If-None-Match",
        "in": "header",
        "description": "An ETag this client holds: 304 if the calendar has not changed",
        "schema": {"type": "string"},
    },
    {
        "name": "If-Modified-Since",
        "in": "header",
        "description": "An HTTP date; used only without If-None-Match (RFC 9110 13.1.2)",
        "schema": {"type": "string"},
    },
]
_TOKEN_QUERY = {
    "name": "token",
    "in": "query",
    "required": True,
    "description": "The signed token of the link given out with the calendar",
    "schema": {"type": "string"},
}


def _calendar_paths(error_ref: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The calendar files at secret links: a session's file, an event's calendar, feeds."""
    not_found = _error_response("Unknown or wrong token, or no such calendar", error_ref)
    too_many = _too_many("failed calendar links", error_ref)

    def served(summary: str, operation_id: str, parameters: list, conditional: bool) -> dict:
        ok: dict[str, Any] = {"description": "The iCalendar file", "content": _CALENDAR}
        responses: dict[str, Any] = {"200": ok, "404": not_found, "429": too_many}
        if conditional:
            ok["headers"] = _CALENDAR_HEADERS
            parameters = [*parameters, *_CONDITIONAL]
            responses["304"] = {
                "description": "Not modified since the ETag (or date) the client sent",
                "headers": _CALENDAR_HEADERS,
            }
        return {
            "get": {
                "summary": summary,
                "operationId": operation_id,
                "security": [],
                "parameters": parameters,
                "responses": dict(sorted(responses.items())),
            }
        }

    return {
        "/ical/sessions/{uid}.ics": served(
            "A session's iCalendar file (METHOD:PUBLISH), from a participant's page",
            "get_ical_session",
            [
                {"name": "uid", "in": "path", "required": True, "schema": {"type": "string"}},
                _TOKEN_QUERY,
                {
                    "name": "tz",
                    "in": "query",
                    "description": "IANA zone the description shows times in (else the "
                    "session's); an unknown one is ignored",
                    "schema": {"type": "string"},
                },
            ],
            conditional=False,
        ),
        "/ical/events/{event_id}.ics": served(
            "All sessions of an event (METHOD:PUBLISH), to subscribe with webcal://",
            "get_ical_event",
            [
                {"name": "event_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                _TOKEN_QUERY,
            ],
            conditional=True,
        ),
        "/ical/feeds/{token}.ics": served(
            "A person's feed: every session they are invited to, to subscribe with webcal://",
            "get_ical_feed",
            [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
            conditional=True,
        ),
    }


def _rsvp_paths() -> dict[str, dict[str, Any]]:
    """The RSVP page of an invitation, for a person: its answers are pages, not JSON."""
    page = {"text/html": {"schema": {"type": "string"}}}
    token = {
        "name": "token",
        "in": "path",
        "required": True,
        "description": "The signed token of the invitation, from the invite email",
        "schema": {"type": "string"},
    }
    not_found = {"description": "Unknown or wrong token: an error page", "content": page}
    too_many = {
        "description": "Too many failed links from this client: an error page; retry after "
        "Retry-After",
        "headers": _RETRY_AFTER,
        "content": page,
    }
    return {
        "/rsvp/{token}": {
            "get": {
                "summary": "The RSVP page: the session in the person's zone and the answers "
                "to choose from (a GET never answers: mail scanners open links)",
                "operationId": "get_rsvp",
                "security": [],
                "parameters": [
                    token,
                    {
                        "name": "answer",
                        "in": "query",
                        "description": "The answer the email's button proposed, preselected",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {"description": "The page", "content": page},
                    "404": not_found,
                    "429": too_many,
                },
            },
            "post": {
                "summary": "Answer the invitation (no CSRF token: the link's secret authorises)",
                "operationId": "post_rsvp",
                "security": [],
                "parameters": [token],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["answer"],
                                "properties": {
                                    "answer": {
                                        "type": "string",
                                        "enum": ["accepted", "tentative", "declined"],
                                    },
                                    "back": {
                                        "type": "string",
                                        "description": "`agenda` to go back to the agenda",
                                    },
                                    "tz": {
                                        "type": "string",
                                        "description": "The agenda's zone, kept on the way back",
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "303": {
                        "description": "Answer recorded (or refused, with a message on the page "
                        "it leads to): see the RSVP page or the agenda",
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    "404": not_found,
                    "413": {"description": "Body larger than the cap", "content": page},
                    "429": too_many,
                },
            },
        }
    }


# Each provider's request, as it documents it; the signature is over the raw body.
_PROVIDER_DELIVERIES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "zoom": (
        "Zoom event notifications (meeting.started/ended, participant joined/left, "
        "recording.completed, meeting.deleted/updated) and endpoint.url_validation. "
        "Signed: x-zm-signature = v0=hex(HMAC-SHA256(secret, v0:<timestamp>:<raw body>)), "
        "the timestamp within 5 minutes.",
        [
            {"name": "x-zm-signature", "in": "header", "schema": {"type": "string"}},
            {"name": "x-zm-request-timestamp", "in": "header", "schema": {"type": "string"}},
        ],
    ),
    "webex": (
        "Webex webhooks (meetings started/ended, participants joined/left, recordings). "
        "Signed: X-Spark-Signature = hex(HMAC-SHA1(secret, raw body)).",
        [{"name": "X-Spark-Signature", "in": "header", "schema": {"type": "string"}}],
    ),
    "teams": (
        "Microsoft Graph change notifications for online meetings: each item of value[] "
        "carries the subscription's clientState. With ?validationToken= (the subscription "
        "handshake) the token is echoed as text/plain.",
        [
            {
                "name": "validationToken",
                "in": "query",
                "description": "Graph's handshake before it creates a subscription",
                "schema": {"type": "string"},
            }
        ],
    ),
    "google_meet": (
        "Google Calendar push notifications (no body): the channel's token in "
        "X-Goog-Channel-Token, with X-Goog-Channel-ID, X-Goog-Resource-State "
        "(sync, exists, not_exists), X-Goog-Resource-ID and X-Goog-Message-Number.",
        [
            {"name": name, "in": "header", "schema": {"type": "string"}}
            for name in (
                "X-Goog-Channel-Token",
                "X-Goog-Channel-ID",
                "X-Goog-Resource-State",
                "X-Goog-Resource-ID",
                "X-Goog-Message-Number",
            )
        ],
    ),
}
_RECEIVED = {
    "type": "object",
    "required": ["received", "duplicates"],
    "properties": {
        "received": {"type": "integer", "description": "Facts stored, each processed once"},
        "duplicates": {"type": "integer", "description": "Facts already stored, dropped"},
    },
}


def _webhook_paths(error_ref: dict[str, str]) -> dict[str, dict[str, Any]]:
    """``POST /webhooks/{provider}``, one path per provider: what each sends, what it gets."""
    paths = {}
    for provider, (description, parameters) in _PROVIDER_DELIVERIES.items():
        ok: dict[str, Any] = {
            "description": "Verified and stored (repeats dropped); processed in the background",
            "content": {"application/json": {"schema": _RECEIVED}},
        }
        if provider == "zoom":
            ok["description"] += "; an endpoint.url_validation gets its encryptedToken"
            ok["content"]["application/json"]["schema"] = {
                "oneOf": [
                    _RECEIVED,
                    {
                        "type": "object",
                        "required": ["plainToken", "encryptedToken"],
                        "properties": {
                            "plainToken": {"type": "string"},
                            "encryptedToken": {
                                "type": "string",
                                "description": "hex(HMAC-SHA256(secret, plainToken))",
                            },
                        },
                    },
                ]
            }
        if provider == "teams":
            ok["description"] += "; a validationToken handshake gets the token back"
            ok["content"]["text/plain"] = {"schema": {"type": "string"}}
        operation: dict[str, Any] = {
            "summary": f"Deliveries from {provider}: {description}",
            "operationId": f"post_webhooks_{provider}",
            "security": [],
            "parameters": parameters,
            "responses": {
                "200": ok,
                "401": _error_response(
                    "Signature, token or clientState missing or wrong, or no account of "
                    "this provider configured: nothing stored",
                    error_ref,
                ),
                "413": _error_response(_ERRORS["413"], error_ref),
                "429": _too_many("deliveries with bad signatures", error_ref),
            },
        }
        if provider != "google_meet":
            operation["requestBody"] = {
                "required": provider != "teams",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        paths[f"/webhooks/{provider}"] = {"post": operation}
    return paths


def _ballot_paths(error_ref: dict[str, str], components: dict[str, Any]) -> dict[str, Any]:
    """A participant's answers to a poll, through their own secret link (no API token)."""
    parameters = [
        {
            "name": "token",
            "in": "path",
            "required": True,
            "description": "the participant's secret link (as in /p/{token})",
            "schema": {"type": "string"},
        },
        {"name": "poll_id", "in": "path", "required": True, "schema": {"type": "integer"}},
        {
            "name": "tz",
            "in": "query",
            "description": "show the times in this IANA zone (default: the person's)",
            "schema": {"type": "string"},
        },
    ]
    answer = {
        "description": "The poll's options in the person's zone, with their answers",
        "content": {"application/json": {"schema": _ref(ps.BallotOut, components)}},
    }
    unknown = _error_response(
        "Unknown or broken link, or a poll the person is not asked", error_ref
    )
    refused = _error_response("Bad zone, unknown option or answer: details.fields", error_ref)
    too_many = _too_many("unknown or broken links", error_ref)
    return {
        "/api/v1/p/{token}/polls/{poll_id}": {
            "get": {
                "summary": "A participant's view of a poll",
                "operationId": "get_ballot",
                "security": [],
                "parameters": parameters,
                "responses": {"200": answer, "404": unknown, "422": refused, "429": too_many},
            },
            "put": {
                "summary": "Answer a poll: yes, if_need_be or no per option, and a comment",
                "operationId": "put_ballot",
                "security": [],
                "parameters": parameters,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(ps.BallotIn, components)}},
                },
                "responses": {
                    "200": answer,
                    "400": _error_response("The body is not JSON", error_ref),
                    "404": unknown,
                    "409": _error_response(
                        "The poll no longer takes answers (code poll_closed)", error_ref
                    ),
                    "413": _error_response("Body too large", error_ref),
                    "422": refused,
                    "429": too_many,
                },
            },
        }
    }


def _term_report_paths(error_ref: dict[str, str], components: dict[str, Any]) -> dict[str, Any]:
    """A term's teachers-abroad report: JSON (paginated by teacher) or CSV."""
    base = "/api/v1/terms/{term_id}/teachers-abroad"
    csv_body = {
        "text/csv": {
            "schema": {"type": "string"},
            "example": ",".join(term_reports.abroad.CSV_COLUMNS) + "\r\n",
        }
    }
    errors = {
        "401": _error_response(_ERRORS["401"], error_ref),
        "404": _error_response("Unknown term, or a term you do not own", error_ref),
        "422": _error_response("A query parameter is not valid (details.fields)", error_ref),
        "429": _error_response(_ERRORS["429"], error_ref, retry_after=True),
    }
    term_id = {"name": "term_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    summary = (
        "Teachers abroad whose classes fall in early, late, night, weekend or holiday hours of "
        "their own, with the nearest better weekly time"
    )
    return {
        base: {
            "get": {
                "summary": summary + " (?format=csv: every teacher as CSV)",
                "operationId": "get_terms_term_id_teachers_abroad",
                "parameters": [
                    term_id,
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {
                        "name": "per_page",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1},
                    },
                    {
                        "name": "format",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(term_reports.FORMATS)},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {
                            "application/json": {
                                "schema": _ref(term_reports.TeachersAbroadOut, components)
                            },
                            **csv_body,
                        },
                    },
                    **errors,
                },
            }
        },
        base + ".csv": {
            "get": {
                "summary": summary + ", as CSV (UTF-8 with a byte order mark), every teacher",
                "operationId": "get_terms_term_id_teachers_abroad_csv",
                "parameters": [term_id],
                "responses": {"200": {"description": "OK", "content": csv_body}, **errors},
            }
        },
    }


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
                code: _error_response(text, error_ref, retry_after=code == "429")
                for code, text in _ERRORS.items()
            },
        }
        if (method, path) in _FORBIDDEN:
            operation["responses"]["403"] = _error_response(_FORBIDDEN[(method, path)], error_ref)
        if (method, path) in _MEDIA_TYPE_CHECKED:
            operation["responses"]["415"] = _error_response(
                _MEDIA_TYPE_CHECKED[(method, path)], error_ref
            )
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
    _add_timetable_bodies(paths["/api/v1/timetables/import"]["post"])
    paths["/api/v1/people/{person_id}/availability/ics"]["post"]["requestBody"] = {
        "required": True,
        "content": {"text/calendar": {"schema": {"type": "string"}}},
    }
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
            "summary": "Readiness: the database and, where configured, Redis answer",
            "operationId": "get_healthz",
            "security": [],
            "responses": {
                "200": {
                    "description": "OK: every check passed (each with its time in ms)",
                    "content": {"application/json": {"schema": _ref(s.HealthOut, components)}},
                },
                "503": {
                    "description": "A dependency is unreachable: `failed` names it",
                    "content": {"application/json": {"schema": _ref(s.HealthOut, components)}},
                },
            },
        }
    }
    paths["/livez"] = {
        "get": {
            "summary": "Liveness: the process answers (no dependency is checked)",
            "operationId": "get_livez",
            "security": [],
            "responses": {"200": {"description": "OK", "content": {"application/json": {}}}},
        }
    }
    paths["/metrics"] = {
        "get": {
            "summary": "Prometheus metrics (text exposition), for the internal network",
            "description": (
                "Open when FORUM_METRICS_TOKEN is unset (keep it to the internal network); "
                "with it set, answers 401 unless given `Authorization: Bearer <token>`."
            ),
            "operationId": "get_metrics",
            "security": [],
            "responses": {"200": {"description": "OK", "content": {"text/plain": {}}}},
        }
    }
    paths.update(_calendar_paths(error_ref))
    paths.update(_rsvp_paths())
    paths.update(_ballot_paths(error_ref, components))
    paths.update(_webhook_paths(error_ref))
    paths.update(_term_report_paths(error_ref, components))
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
