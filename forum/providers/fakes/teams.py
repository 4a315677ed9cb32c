"""A fake Microsoft Graph (onlineMeetings, users) and Entra token endpoint, on the real contract."""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from werkzeug.routing import Rule
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from forum.providers.fakes.base import FakeProvider
from forum.providers.fakes.base import json_response

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DEFAULT_TENANT = "6f1d2c3b-4a59-4e7d-8c21-0b9a8e7f6d5c"
DEFAULT_CLIENT_ID = "3c9a7e2d-1f4b-4c8a-9e6d-5b2a1c0f9e8d"
# What the fake accepts; a made-up value, not a credential of any real tenant.
DEFAULT_CLIENT_SECRET = "fake~teams~client~secret"  # noqa: S105

# Graph's codes for statuses the fake answers without a more precise one.
GRAPH_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceNotAvailable",
    504: "GatewayTimeout",
}
UNREADABLE_BODY = (
    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload "
    "is of valid JSON format."
)
# Each clause of the only $filter the fake understands: `prop eq 'value'`, joined by `or`.
FILTER_CLAUSE = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.I)
FILTERABLE = {"mail": "mail", "userprincipalname": "userPrincipalName", "id": "id"}
# Fields of an onlineMeeting that PATCH may change (organizer and joinMeetingIdSettings may not).
PATCHABLE = {
    "subject",
    "startDateTime",
    "endDateTime",
    "participants",
    "lobbyBypassSettings",
    "allowedPresenters",
    "allowMeetingChat",
    "isEntryExitAnnounced",
    "recordAutomatically",
    "allowTeamworkReactions",
}


# The onlineMeeting resource's properties (Graph v1.0); it has none for a recurrence, so a body
# naming another is refused as Graph refuses any property its type lacks.
MEETING_PROPERTIES = PATCHABLE | {
    "externalId",
    "joinMeetingIdSettings",
    "chatInfo",
    "audioConferencing",
    "isBroadcast",
    "broadcastSettings",
    "allowAttendeeToEnableCamera",
    "allowAttendeeToEnableMic",
    "allowRecording",
    "allowTranscription",
    "chatRestrictions",
    "watermarkProtection",
    "shareMeetingChatHistoryDefault",
    "joinWebUrl",
    "videoTeleconferenceId",
    "creationDateTime",
}


def graph_time(when: dt.datetime) -> str:
    """Graph's rendering of an instant: UTC, seven fractional digits, Z."""
    when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}0Z"


def parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=parsed.tzinfo or dt.UTC).astimezone(dt.UTC)


class FakeTeamsProvider(FakeProvider):
    """Graph's onlineMeetings for app-only tokens, with its users and its quirks.

    - ``POST /{tenant}/oauth2/v2.0/token``: form, client_credentials, the Graph .default scope;
      errors in Entra's shape (``error``, ``error_description``, int ``error_codes``).
    - ``GET /v1.0/users?$filter=mail eq '…' or userPrincipalName eq '…'`` and
      ``GET /v1.0/users/{id or upn}``.
    - ``POST /v1.0/users/{objectId}/onlineMeetings`` 201 and ``…/createOrGet`` (201 made,
      200 when the externalId exists); ``GET`` 200, ``PATCH`` 200 with the whole meeting and
      both times or neither, ``DELETE`` 204. The user in the path must be the object id.
    - A user without an application access policy (``deny_policy``): 403 ``General``.
    """

    token_lifetime = 3599

    def __init__(
        self,
        hosts: Iterable[str] = (),
        *,
        tenant_id: str = DEFAULT_TENANT,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
    ) -> None:
        super().__init__()
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.users: dict[str, dict[str, Any]] = {}  # object id -> user resource
        self.without_policy: set[str] = set()  # object ids the app may not act for
        for email in hosts:
            self.add_user(email)

    # -- users -----------------------------------------------------------------------------------

    @staticmethod
    def object_id(email: str) -> str:
        """The object id the fake gives a user: stable, so tests can name paths in advance."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-graph-user:{email.lower()}"))

    def add_user(self, email: str) -> str:
        user_id = self.object_id(email)
        name = email.split("@")[0].replace(".", " ").title()
        with self.lock:
            self.users[user_id] = {
                "id": user_id,
                "displayName": name,
                "mail": email,
                "userPrincipalName": email,
            }
        return user_id

    def deny_policy(self, email: str) -> None:
        """The app loses its application access policy for this user (403 on meetings)."""
        with self.lock:
            self.without_policy.add(self.object_id(email))

    def find_user(self, key: str) -> dict[str, Any] | None:
        user = self.users.get(key.lower())
        if user is not None:
            return user
        for candidate in self.users.values():
            if candidate["userPrincipalName"].lower() == key.lower():
                return candidate
        return None

    # -- routes ----------------------------------------------------------------------------------

    def rules(self) -> list[Rule]:
        return [
            Rule("/<tenant>/oauth2/v2.0/token", endpoint="token", methods=["POST"]),
            Rule("/v1.0/users", endpoint="list_users", methods=["GET"]),
            Rule("/v1.0/users/<user>", endpoint="get_user", methods=["GET"]),
            Rule("/v1.0/users/<user>/onlineMeetings", endpoint="create", methods=["POST"]),
            Rule(
                "/v1.0/users/<user>/onlineMeetings/createOrGet",
                endpoint="create_or_get",
                methods=["POST"],
            ),
            Rule(
                "/v1.0/users/<user>/onlineMeetings/<meeting_id>",
                endpoint="meeting",
                methods=["GET", "PATCH", "DELETE"],
            ),
        ]

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """Graph's envelope: ``{"error": {"code", "message", "innerError": {…}}}``."""
        request_id = str(uuid.uuid4())
        body = {
            "error": {
                "code": extra.pop("code", None) or GRAPH_CODES.get(status, "UnknownError"),
                "message": message,
                "innerError": {
                    "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": request_id,
                },
            }
        }
        return json_response(body, status, {"request-id": request_id})

    def unauthorized(self, request: Request | None = None) -> Response:
        header = request.headers.get("Authorization", "") if request is not None else ""
        if not header.startswith("Bearer "):
            return self.error(401, "Access token is empty.", code="InvalidAuthenticationToken")
        return self.error(
            401,
            "Lifetime validation failed, the token is expired.",
            code="InvalidAuthenticationToken",
        )

    # -- the token endpoint (Entra) --------------------------------------------------------------

    def entra_error(self, status: int, error: str, code: int, description: str) -> Response:
        now = dt.datetime.now(dt.UTC)
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
        return json_response(
            {
                "error": error,
                "error_description": (
                    f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\n"
                    f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
                ),
                "error_codes": [code],
                "timestamp": stamp,
                "trace_id": trace,
                "correlation_id": correlation,
                "error_uri": f"https://login.microsoftonline.com/error?code={code}",
            },
            status,
        )

    def token(self, request: Request, tenant: str) -> Response:
        form = request.form
        for name in ("grant_type", "client_id", "scope"):
            if not form.get(name):
                return self.entra_error(
                    400,
                    "invalid_request",
                    900144,
                    f"The request body must contain the following parameter: '{name}'.",
                )
        if tenant.lower() != self.tenant_id.lower():
            return self.entra_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
            )
        if form["grant_type"] != "client_credentials":
            return self.entra_error(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{form['grant_type']}'.",
            )
        if form["client_id"] != self.client_id:
            return self.entra_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form['client_id']}' was not found in the "
                f"directory '{tenant}'.",
            )
        if form["scope"] != GRAPH_SCOPE:
            return self.entra_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {form['scope']} is not valid. Client credential "
                "flows must have a scope value with /.default suffixed to the resource "
                "identifier (application ID URI).",
            )
        if not form.get("client_secret"):
            return self.entra_error(
                401,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the "
                "'client_credentials' grant type.",
            )
        if not secrets.compare_digest(form["client_secret"], self.client_secret):
            return self.entra_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{self.client_id}'.",
            )
        issued = self.issue_token()
        # No refresh token in the client credentials flow.
        return json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": issued.value,
            }
        )

    # -- users -----------------------------------------------------------------------------------

    def list_users(self, request: Request) -> Response:
        if not self.token_ok(request):
            return self.unauthorized(request)
        users = list(self.users.values())
        query = request.args.get("$filter")
        if query is not None:
            wanted: list[tuple[str, str]] = []
            for clause in re.split(r"\s+or\s+", query, flags=re.I):
                match = FILTER_CLAUSE.match(clause)
                if match is None or match.group(1).lower() not in FILTERABLE:
                    return self.error(
                        400,
                        f"Unsupported or invalid query filter clause specified: '{clause}'.",
                        code="Request_UnsupportedQuery",
                    )
                prop = FILTERABLE[match.group(1).lower()]
                wanted.append((prop, match.group(2).replace("''", "'").lower()))
            users = [u for u in users if any(u[p].lower() == v for p, v in wanted)]
        return json_response(
            {
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
                "value": [self.selected(user, request) for user in users],
            }
        )

    def get_user(self, request: Request, user: str) -> Response:
        if not self.token_ok(request):
            return self.unauthorized(request)
        found = self.find_user(user)
        if found is None:
            return self.error(
                404,
                f"Resource '{user}' does not exist or one of its queried reference-property "
                "objects are not present.",
                code="Request_ResourceNotFound",
            )
        body = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            **self.selected(found, request),
        }
        return json_response(body)

    @staticmethod
    def selected(user: dict[str, Any], request: Request) -> dict[str, Any]:
        select = request.args.get("$select")
        if not select:
            return dict(user)
        names = {name.strip() for name in select.split(",")}
        return {key: value for key, value in user.items() if key in names}

    # -- online meetings -------------------------------------------------------------------------

    def organizer(self, request: Request, user: str) -> dict[str, Any] | Response:
        """The user a meetings call acts for, or the error Graph answers instead."""
        if not self.token_ok(request):
            return self.unauthorized(request)
        found = self.users.get(user.lower())
        if found is None:
            # onlineMeetings paths take the object id (Microsoft Graph's docs), not an email.
            return self.error(404, f"User '{user}' was not found.", code="NotFound")
        if found["id"] in self.without_policy:
            # As observed in the field (integrators' reports); the docs disagree on the code.
            return self.error(
                403, "No application access policy found for this app.", code="General"
            )
        return found

    def create(self, request: Request, user: str) -> Response:
        organizer = self.organizer(request, user)
        if isinstance(organizer, Response):
            return organizer
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self.error(400, UNREADABLE_BODY)
        unknown = self.unknown_property(body)
        if unknown is not None:
            return unknown
        meeting, problem = self.new_meeting(organizer, body)
        if meeting is None:
            return self.error(400, problem)
        return json_response(meeting, 201)

    def create_or_get(self, request: Request, user: str) -> Response:
        organizer = self.organizer(request, user)
        if isinstance(organizer, Response):
            return organizer
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self.error(400, UNREADABLE_BODY)
        unknown = self.unknown_property(body)
        if unknown is not None:
            return unknown
        external = body.get("externalId")
        if not isinstance(external, str) or not external:
            return self.error(400, "externalId is required.")
        with self.lock:
            for meeting in self.state.meetings.values():
                if (
                    meeting.get("externalId") == external
                    and meeting["participants"]["organizer"]["identity"]["user"]["id"]
                    == organizer["id"]
                ):
                    # The existing meeting, as it is: createOrGet does not apply the new body.
                    return json_response(meeting, 200)
            meeting, problem = self.new_meeting(organizer, body)
        if meeting is None:
            return self.error(400, problem)
        return json_response(meeting, 201)

    def meeting(self, request: Request, user: str, meeting_id: str) -> Response:
        organizer = self.organizer(request, user)
        if isinstance(organizer, Response):
            return organizer
        with self.lock:
            meeting = self.state.meetings.get(meeting_id)
            organizer_id = (
                meeting["participants"]["organizer"]["identity"]["user"]["id"] if meeting else None
            )
            if meeting is None or organizer_id != organizer["id"]:
                return self.error(404, "The specified online meeting was not found.")
            if request.method == "GET":
                return json_response(meeting)
            if request.method == "DELETE":
                del self.state.meetings[meeting_id]
                return Response(status=204)
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                return self.error(400, UNREADABLE_BODY)
            return self.patch(meeting, body)

    def unknown_property(self, body: dict[str, Any]) -> Response | None:
        """Graph's 400 for a property the onlineMeeting type does not have (a recurrence)."""
        unknown = sorted(set(body) - MEETING_PROPERTIES)
        if not unknown:
            return None
        return self.error(
            400,
            f"The property '{unknown[0]}' does not exist on type 'microsoft.graph.onlineMeeting'."
            " Make sure to only use property names that are defined by the type or mark the "
            "type as open type.",
        )

    def patch(self, meeting: dict[str, Any], body: dict[str, Any]) -> Response:
        unknown = self.unknown_property(body)
        if unknown is not None:
            return unknown
        if "joinMeetingIdSettings" in body:
            return self.error(400, "joinMeetingIdSettings cannot be updated after creation.")
        if ("startDateTime" in body) != ("endDateTime" in body):
            # Graph moves a meeting only when given both times (Microsoft Graph's docs).
            return self.error(
                400, "Both startDateTime and endDateTime are required to change the time."
            )
        changes = {key: value for key, value in body.items() if key in PATCHABLE}
        for key in ("startDateTime", "endDateTime"):
            if key in changes:
                when = parse_time(changes[key])
                if when is None:
                    return self.error(400, f"Invalid value for {key}.")
                changes[key] = graph_time(when)
        meeting.update(changes)
        return json_response(meeting, 200)

    def new_meeting(
        self, organizer: dict[str, Any], body: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, str]:
        """A stored meeting in Graph's shape, or (None, why the body is refused)."""
        now = dt.datetime.now(dt.UTC)
        start = parse_time(body.get("startDateTime")) if "startDateTime" in body else now
        if start is None:
            return None, "Invalid value for startDateTime."
        # Without times Graph starts the meeting now, for an hour.
        end = (
            parse_time(body.get("endDateTime"))
            if "endDateTime" in body
            else start + dt.timedelta(hours=1)
        )
        if end is None:
            return None, "Invalid value for endDateTime."
        thread = f"19:meeting_{secrets.token_urlsafe(36)}@thread.v2"
        # Graph's ids are base64 of "1*{organizer}*0**{thread}"; adapters must treat them as
        # opaque strings (and quote them in paths).
        raw = f"1*{organizer['id']}*0**{thread}".encode()
        meeting_id = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        context = quote('{"Tid":"' + self.tenant_id + '","Oid":"' + organizer["id"] + '"}', safe="")
        # Teams writes the thread's escapes in lower case: 19%3ameeting_…%40thread.v2.
        escaped = quote(thread, safe="").replace("%3A", "%3a")
        join_url = f"https://teams.microsoft.com/l/meetup-join/{escaped}/0?context={context}"
        meeting = {
            "@odata.context": (
                f"https://graph.microsoft.com/v1.0/$metadata#users('{organizer['id']}')"
                "/onlineMeetings/$entity"
            ),
            "id": meeting_id,
            "creationDateTime": graph_time(now),
            "startDateTime": graph_time(start),
            "endDateTime": graph_time(end),
            "subject": body.get("subject"),
            "externalId": body.get("externalId"),
            # Live answers carry both (integrators' reports); Graph's docs list only joinWebUrl.
            "joinWebUrl": join_url,
            "joinUrl": join_url,
            "joinMeetingIdSettings": {
                "isPasscodeRequired": True,
                "joinMeetingId": str(secrets.randbelow(9 * 10**11) + 10**11),
                "passcode": secrets.token_hex(3),
            },
            # Only tenants with an audio conferencing licence get dial-in numbers.
            "audioConferencing": None,
            "chatInfo": {"threadId": thread, "messageId": "0", "replyChainMessageId": None},
            "participants": {
                "organizer": {
                    "identity": {
                        "user": {
                            "id": organizer["id"],
                            "tenantId": self.tenant_id,
                            "displayName": organizer["displayName"],
                        }
                    },
                    "role": "presenter",
                    "upn": organizer["userPrincipalName"],
                },
                "attendees": body.get("participants", {}).get("attendees", [])
                if isinstance(body.get("participants"), dict)
                else [],
            },
            "lobbyBypassSettings": body.get(
                "lobbyBypassSettings", {"scope": "organization", "isDialInBypassEnabled": False}
            ),
            "allowedPresenters": body.get("allowedPresenters", "everyone"),
            "allowMeetingChat": body.get("allowMeetingChat", "enabled"),
            "isEntryExitAnnounced": body.get("isEntryExitAnnounced", False),
            "recordAutomatically": body.get("recordAutomatically", False),
            "videoTeleconferenceId": None,
        }
        with self.lock:
            self.state.meetings[meeting_id] = meeting
        return meeting, ""
