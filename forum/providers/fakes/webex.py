"""A fake Webex REST API v1: Service App tokens and /v1/meetings, with Webex's status codes."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import time
import uuid
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from werkzeug.routing import Rule
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from forum.providers.fakes.base import FakeProvider
from forum.providers.fakes.base import IssuedToken
from forum.providers.fakes.base import json_response

INVALID_ITEMS = "The input parameters contain invalid items."
NOT_FOUND = "The requested resource could not be found."
# Webex's answer to a missing or dead bearer token.
UNAUTHORIZED_MESSAGE = (
    "The request requires a valid access token set in the Authorization request header."
)
MIN_DURATION = dt.timedelta(minutes=10)
MAX_DURATION = dt.timedelta(hours=23, minutes=59)
PATCH_TYPES = ("application/json", "application/json-patch+json")


def _parse_instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    # "start of the meeting will be accurate to minutes, not seconds or milliseconds".
    return parsed.astimezone(dt.UTC).replace(second=0, microsecond=0)


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _local(instant: dt.datetime, zone: str) -> str:
    """An instant with the zone's offset, as Webex writes start/end (``…T20:00:00+08:00``)."""
    tz = _zone(zone) or dt.UTC
    return instant.astimezone(tz).isoformat(timespec="seconds").replace("+00:00", "Z")


class FakeWebexProvider(FakeProvider):
    """Webex as an admin's Service App sees it: one org, one site, the given host users."""

    token_lifetime = 3600  # a Service App access token: "expires_in": 3600

    # The defaults are the fake's own made-up credentials, for a fake run from the command line.
    def __init__(
        self,
        *,
        hosts: Iterable[str] = (),
        client_id: str = "C-fake-webex-client",
        client_secret: str = "fake-webex-secret",  # noqa: S107
        application_id: str = "fake-service-app",
        org_id: str = "fake-org",
        caller_token: str = "fake-admin-integration-token",  # noqa: S107
        access_tokens: Iterable[str] = (),
        site_url: str = "forum-fake.webex.com",
    ) -> None:
        super().__init__()
        self.hosts = {host.lower(): host for host in hosts}
        self.client_id = client_id
        self.client_secret = client_secret
        self.application_id = application_id
        self.org_id = org_id
        self.caller_token = caller_token
        self.site_url = site_url
        self.tokens_issued = 0
        # Long-lived bot/integration tokens; they die with "expire-tokens" like any other.
        for value in access_tokens:
            self.state.tokens[value] = IssuedToken(value, time.time() + 10 * 365 * 86400)
        self.last_bodies: list[tuple[str, str, str | None, Any]] = []

    def rules(self) -> list[Rule]:
        return [
            Rule(
                "/v1/applications/<application_id>/token",
                endpoint="service_app_token",
                methods=["POST"],
            ),
            Rule("/v1/meetings", endpoint="list_meetings", methods=["GET"]),
            Rule("/v1/meetings", endpoint="create_meeting", methods=["POST"]),
            Rule("/v1/meetings/<meeting_id>", endpoint="get_meeting", methods=["GET"]),
            Rule("/v1/meetings/<meeting_id>", endpoint="update_meeting", methods=["PATCH"]),
            Rule("/v1/meetings/<meeting_id>", endpoint="delete_meeting", methods=["DELETE"]),
        ]

    # -- envelope ------------------------------------------------------------------------------

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """Webex's envelope: message, errors[].description, trackingId."""
        description = extra.get("description", message)
        tracking = f"{uuid.uuid4().hex.upper()}_{int(time.time() * 1000)}"
        return json_response(
            {"message": message, "errors": [{"description": description}], "trackingId": tracking},
            status,
        )

    def unauthorized(self) -> Response:
        return self.error(401, UNAUTHORIZED_MESSAGE)

    def invalid(self, description: str) -> Response:
        return self.error(400, INVALID_ITEMS, description=description)

    def _json(self, request: Request) -> dict[str, Any] | None:
        body = request.get_json(silent=True, force=True)
        self.last_bodies.append((request.method, request.path, request.content_type, body))
        return body if isinstance(body, dict) else None

    def _unknown_host(self, email: str) -> Response:
        # The real API documents 404 for "the resource requested, such as a user, does not
        # exist"; its exact words for an unknown hostEmail are not published, so these are ours.
        return self.error(404, NOT_FOUND, description=f"User not found: {email}")

    # -- tokens --------------------------------------------------------------------------------

    def service_app_token(self, request: Request, application_id: str) -> Response:
        # The caller is an admin's or integration's token with spark:applications_token.
        if request.headers.get("Authorization") != f"Bearer {self.caller_token}":
            return self.unauthorized()
        body = self._json(request)
        if body is None:
            return self.invalid("Request body must be a JSON object.")
        if (
            application_id != self.application_id
            or body.get("clientId") != self.client_id
            or body.get("clientSecret") != self.client_secret
            or body.get("targetOrgId") != self.org_id
        ):
            # UNVERIFIED: Webex documents no error form for this endpoint; we answer with
            # the documented 401 "Authentication credentials were missing or incorrect" in
            # Webex's common envelope.
            return self.error(401, "Authentication credentials were missing or incorrect.")
        token = self.issue_token()
        with self.lock:
            self.tokens_issued += 1
        return json_response(
            {
                "access_token": token.value,
                "expires_in": self.token_lifetime,
                "refresh_token": secrets.token_urlsafe(24),
                "refresh_token_expires_in": 7776000,
                "token_type": "Bearer",
            }
        )

    # -- meetings ------------------------------------------------------------------------------

    def _host(self, email: Any) -> str | None:
        return self.hosts.get(email.lower()) if isinstance(email, str) else None

    def _shown(self, meeting: dict[str, Any], zone: str | None = None) -> dict[str, Any]:
        shown = dict(meeting)
        for key in ("start", "end"):
            instant = _parse_instant(meeting[key])
            if instant is not None and zone is not None:
                shown[key] = _local(instant, zone)
        return shown

    def _check_times(self, start: Any, end: Any) -> Response | None:
        begins, ends = _parse_instant(start), _parse_instant(end)
        if begins is None or ends is None:
            return self.invalid("start and end must be ISO 8601 date-times.")
        if begins < dt.datetime.now(dt.UTC).replace(second=0, microsecond=0):
            return self.invalid("start cannot be before current date and time.")
        if not MIN_DURATION <= ends - begins <= MAX_DURATION:
            return self.invalid(
                "Duration between start and end cannot be shorter than 10 minutes or longer "
                "than 23 hours 59 minutes."
            )
        return None

    def _check_fields(self, body: dict[str, Any]) -> Response | None:
        title = body.get("title")
        if title is not None and (not isinstance(title, str) or not 0 < len(title) <= 128):
            return self.invalid("title must be 1 to 128 characters long.")
        agenda = body.get("agenda")
        if agenda is not None and (not isinstance(agenda, str) or len(agenda) > 1300):
            return self.invalid("agenda can be a maximum of 1300 characters long.")
        zone = body.get("timezone")
        if zone is not None and (not isinstance(zone, str) or _zone(zone) is None):
            return self.invalid(f"Invalid timezone: {zone}")
        tags = body.get("integrationTags")
        if tags is not None and (
            not isinstance(tags, list)
            or len(tags) > 3
            or not all(isinstance(tag, str) and len(tag) <= 64 for tag in tags)
        ):
            return self.invalid("integrationTags: a maximum of 3 tags of 64 characters each.")
        return None

    def create_meeting(self, request: Request) -> Response:
        if not self.token_ok(request):
            return self.unauthorized()
        body = self._json(request)
        if body is None:
            return self.invalid("Request body must be a JSON object.")
        if not body.get("title"):
            return self.invalid("title is required.")
        problem = self._check_fields(body) or self._check_times(body.get("start"), body.get("end"))
        if problem is not None:
            return problem
        if "hostEmail" in body:
            host = self._host(body["hostEmail"])
            if host is None:
                return self._unknown_host(str(body["hostEmail"]))
        elif self.hosts:
            host = next(iter(self.hosts.values()))  # the token's own user
        else:
            return self.invalid("hostEmail is required for a Service App.")
        zone = body.get("timezone") or "UTC"
        number = str(secrets.randbelow(9 * 10**9) + 10**9)
        meeting_id = uuid.uuid4().hex  # a 32-character hex string
        site_name = self.site_url.split(".")[0]
        host_id = base64.urlsafe_b64encode(f"ciscospark://us/PEOPLE/{host}".encode()).decode()
        meeting = {
            "id": meeting_id,
            "meetingNumber": number,
            "title": body["title"],
            "agenda": body.get("agenda") or "",
            "password": body.get("password") or f"Fx{secrets.token_hex(3)}@9",
            "phoneAndVideoSystemPassword": str(secrets.randbelow(9 * 10**7) + 10**7),
            "meetingType": "meetingSeries",
            "state": "active",
            "timezone": zone,
            "start": _local(_parse_instant(body["start"]), zone),  # type: ignore[arg-type]
            "end": _local(_parse_instant(body["end"]), zone),  # type: ignore[arg-type]
            "hostUserId": host_id.rstrip("="),
            "hostDisplayName": host.split("@")[0],
            "hostEmail": host,
            "hostKey": f"{secrets.randbelow(900000) + 100000}",
            "siteUrl": self.site_url,
            "webLink": f"https://{self.site_url}/{site_name}/j.php?MTID=m{secrets.token_hex(16)}",
            "sipAddress": f"{number}@{self.site_url}",
            "enabledJoinBeforeHost": bool(body.get("enabledJoinBeforeHost", False)),
            "scheduledType": "meeting",
            "integrationTags": list(body.get("integrationTags") or []),
        }
        if body.get("recurrence"):
            meeting["recurrence"] = body["recurrence"]
        with self.lock:
            self.state.meetings[meeting_id] = meeting
        # Webex answers a create with 200 OK, not 201.
        return json_response(meeting, 200)

    def _meeting_for(self, request: Request, meeting_id: str) -> dict[str, Any] | Response:
        if not self.token_ok(request):
            return self.unauthorized()
        email = request.args.get("hostEmail")
        if email is not None and self._host(email) is None:
            return self._unknown_host(email)
        meeting = self.state.meetings.get(meeting_id)
        if meeting is None:
            return self.error(404, NOT_FOUND, description=f"Meeting not found: {meeting_id}")
        return meeting

    def get_meeting(self, request: Request, meeting_id: str) -> Response:
        found = self._meeting_for(request, meeting_id)
        if isinstance(found, Response):
            return found
        zone = request.headers.get("timezone") or found["timezone"]
        return json_response(self._shown(found, zone))

    def update_meeting(self, request: Request, meeting_id: str) -> Response:
        found = self._meeting_for(request, meeting_id)
        if isinstance(found, Response):
            return found
        if request.mimetype not in PATCH_TYPES:
            return self.error(415, "Unsupported Media Type")
        body = self._json(request)
        if body is None:
            return self.invalid("Request body must be a JSON object.")
        if "hostEmail" in body and self._host(body["hostEmail"]) is None:
            return self._unknown_host(str(body["hostEmail"]))
        problem = self._check_fields(body)
        if problem is None and ("start" in body or "end" in body):
            problem = self._check_times(
                body.get("start", found["start"]), body.get("end", found["end"])
            )
        if problem is not None:
            return problem
        with self.lock:
            zone = body.get("timezone") or found["timezone"]
            for key in ("title", "password", "integrationTags"):
                if key in body:
                    found[key] = body[key]
            # agenda and recurrence may be JSON null to clear them.
            if "agenda" in body:
                found["agenda"] = body["agenda"] or ""
            if "recurrence" in body:
                if body["recurrence"]:
                    found["recurrence"] = body["recurrence"]
                else:
                    found.pop("recurrence", None)
            for key in ("start", "end"):
                instant = _parse_instant(body.get(key, found[key]))
                found[key] = _local(instant, zone)  # type: ignore[arg-type]
            found["timezone"] = zone
        # PATCH answers 200 with the updated meeting (Zoom's answers 204; Webex's does not).
        return json_response(self._shown(found, zone))

    def delete_meeting(self, request: Request, meeting_id: str) -> Response:
        found = self._meeting_for(request, meeting_id)
        if isinstance(found, Response):
            return found
        with self.lock:
            self.state.meetings.pop(meeting_id, None)
        return Response(status=204)

    def list_meetings(self, request: Request) -> Response:
        if not self.token_ok(request):
            return self.unauthorized()
        email = request.args.get("hostEmail")
        host = None
        if email is not None:
            host = self._host(email)
            if host is None:
                return self._unknown_host(email)
        meeting_type = request.args.get("meetingType", "meetingSeries")
        begins = _parse_instant(request.args.get("from")) if "from" in request.args else None
        ends = _parse_instant(request.args.get("to")) if "to" in request.args else None
        try:
            limit = min(int(request.args.get("max", "10")), 100)
        except ValueError:
            return self.invalid("max must be a number.")
        # Lists give times in the "timezone" header's zone, UTC when it is absent.
        zone = request.headers.get("timezone") or "UTC"
        items = []
        with self.lock:
            for meeting in self.state.meetings.values():
                if host is not None and meeting["hostEmail"] != host:
                    continue
                if meeting_type != meeting["meetingType"]:
                    continue
                start, end = _parse_instant(meeting["start"]), _parse_instant(meeting["end"])
                # "any meeting series that overlaps with the time range … will be listed"
                if begins is not None and end is not None and end <= begins:
                    continue
                if ends is not None and start is not None and start >= ends:
                    continue
                items.append(self._shown(meeting, zone))
        return json_response({"items": items[:limit]})
