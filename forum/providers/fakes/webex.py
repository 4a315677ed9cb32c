"""A fake Webex REST API v1: Service App tokens and /v1/meetings, with Webex's status codes."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import time
import uuid
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from werkzeug.routing import Rule
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from forum.providers.fakes.base import FakeProvider
from forum.providers.fakes.base import IssuedToken
from forum.providers.fakes.base import json_response
from forum.providers.fakes.base import rfc5545_dates

INVALID_ITEMS = "The input parameters contain invalid items."
NOT_FOUND = "The requested resource could not be found."
# Webex's answer to a missing or dead bearer token.
UNAUTHORIZED_MESSAGE = (
    "The request requires a valid access token set in the Authorization request header."
)
MIN_DURATION = dt.timedelta(minutes=10)
MAX_DURATION = dt.timedelta(hours=23, minutes=59)
PATCH_TYPES = ("application/json", "application/json-patch+json")
# "Multiple days or dates for monthly or yearly recurrence rule are not supported, only the
# first day or date specified is taken" (Create a Meeting): these parts keep their first value.
FIRST_VALUE_ONLY = ("BYDAY", "BYMONTHDAY", "BYMONTH")
# What a scheduled meeting shares with its series.
OCCURRENCE_FIELDS = (
    "meetingNumber",
    "title",
    "agenda",
    "timezone",
    "hostEmail",
    "hostDisplayName",
    "siteUrl",
    "webLink",
    "sipAddress",
    "scheduledType",
)
# Lists of scheduled meetings span 7 days when the client gives no range (List Meetings).
DEFAULT_RANGE = dt.timedelta(days=7)


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


def webex_rule(recurrence: str) -> str:
    """The rule as Webex keeps it: a monthly or yearly rule loses all but its first day."""
    parts = [item.split("=", 1) for item in recurrence.split(";") if "=" in item]
    freq = next((value.upper() for name, value in parts if name.upper() == "FREQ"), "")
    if freq in ("MONTHLY", "YEARLY"):
        parts = [
            [name, value.split(",")[0] if name.upper() in FIRST_VALUE_ONLY else value]
            for name, value in parts
        ]
    return ";".join(f"{name}={value}" for name, value in parts)


def series_starts(meeting: dict[str, Any]) -> Iterator[dt.datetime]:
    """The starts of a meeting series' scheduled meetings, as Webex's engine gives them.

    The rule (RFC 2445, as Webex documents it) runs in the meeting's ``timezone`` wall-clock
    time from the series' first start, which counts as its first date (RFC 2445), independent
    of any client's expansion; its UNTIL must be UTC, as RFC 2445 requires with a zoned
    start. A meeting without a rule is a series of one.
    """
    zone = _zone(meeting["timezone"]) or dt.UTC
    first = _parse_instant(meeting["start"])
    assert first is not None  # stored as Webex writes it
    if not meeting.get("recurrence"):
        return iter([first.astimezone(zone)])
    return rfc5545_dates(meeting["recurrence"], first.astimezone(zone))


def _overlaps(
    meeting: dict[str, Any], begins: dt.datetime | None, ends: dt.datetime | None
) -> bool:
    """Whether a date of the series meets within [begins, ends) (either may be open)."""
    first, last = _parse_instant(meeting["start"]), _parse_instant(meeting["end"])
    assert first is not None and last is not None
    for local in series_starts(meeting):
        start = local.astimezone(dt.UTC)
        if ends is not None and start >= ends:
            return False
        if begins is None or start + (last - first) > begins:
            return True
    return False


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
        # series id -> scheduled meeting id -> None (deleted) or its own (start, end) in UTC
        self.occurrence_changes: dict[str, dict[str, tuple[dt.datetime, dt.datetime] | None]] = {}

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
        recurrence = body.get("recurrence")
        if recurrence is not None:
            problem = self._check_recurrence(recurrence, body)
            if problem is not None:
                return problem
        tags = body.get("integrationTags")
        if tags is not None and (
            not isinstance(tags, list)
            or len(tags) > 3
            or not all(isinstance(tag, str) and len(tag) <= 64 for tag in tags)
        ):
            return self.invalid("integrationTags: a maximum of 3 tags of 64 characters each.")
        return None

    def _check_recurrence(self, recurrence: Any, body: dict[str, Any]) -> Response | None:
        """A rule Webex cannot read (or an UNTIL not in UTC) is refused, in Webex's envelope."""
        zone = _zone(body.get("timezone") or "UTC") or dt.UTC
        start = _parse_instant(body.get("start")) or dt.datetime.now(dt.UTC)
        if not isinstance(recurrence, str) or recurrence.upper().startswith("RRULE:"):
            return self.invalid("recurrence must be an RFC 2445 rule such as FREQ=DAILY;COUNT=10.")
        try:
            rfc5545_dates(recurrence, start.astimezone(zone))
        except (ValueError, TypeError):
            return self.invalid(f"Invalid recurrence: {recurrence}")
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
            meeting["recurrence"] = webex_rule(body["recurrence"])
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

    def _occurrence_for(
        self, request: Request, meeting_id: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | Response | None:
        """(series, scheduled meeting) for a scheduled meeting's id, ``<series id>_<start>``;
        None for an id of no such form. A date the series does not give (or gives no longer,
        deleted) is not found, in Webex's words."""
        series_id, sep, stamp = meeting_id.rpartition("_")
        if not sep or series_id not in self.state.meetings:
            return None
        series = self._meeting_for(request, series_id)
        if isinstance(series, Response):
            return series
        try:
            original = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            original = None
        if original is not None:
            for occurrence in self._dates(series, "UTC", until=original):
                if occurrence["id"] == meeting_id:
                    return series, occurrence
        return self.error(404, NOT_FOUND, description=f"Meeting not found: {meeting_id}")

    def get_meeting(self, request: Request, meeting_id: str) -> Response:
        occurrence = self._occurrence_for(request, meeting_id)
        if occurrence is not None:
            if isinstance(occurrence, Response):
                return occurrence
            series, found = occurrence
            zone = request.headers.get("timezone") or series["timezone"]
            return json_response(self._shown(found, zone))
        found = self._meeting_for(request, meeting_id)
        if isinstance(found, Response):
            return found
        zone = request.headers.get("timezone") or found["timezone"]
        return json_response(self._shown(found, zone))

    def update_meeting(self, request: Request, meeting_id: str) -> Response:
        occurrence = self._occurrence_for(request, meeting_id)
        if isinstance(occurrence, Response):
            return occurrence
        found = occurrence[0] if occurrence is not None else self._meeting_for(request, meeting_id)
        if isinstance(found, Response):
            return found
        if request.mimetype not in PATCH_TYPES:
            return self.error(415, "Unsupported Media Type")
        body = self._json(request)
        if body is None:
            return self.invalid("Request body must be a JSON object.")
        if occurrence is not None:
            return self._update_occurrence(found, occurrence[1], body)
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
                    found["recurrence"] = webex_rule(body["recurrence"])
                else:
                    found.pop("recurrence", None)
            for key in ("start", "end"):
                instant = _parse_instant(body.get(key, found[key]))
                found[key] = _local(instant, zone)  # type: ignore[arg-type]
            found["timezone"] = zone
            if {"start", "end", "recurrence"} & set(body):
                # "Changing start/end/recurrence of a series cancels its exceptional
                # occurrences": its dates are the rule's again.
                self.occurrence_changes.pop(found["id"], None)
        # PATCH answers 200 with the updated meeting (Zoom's answers 204; Webex's does not).
        return json_response(self._shown(found, zone))

    def _update_occurrence(
        self, series: dict[str, Any], occurrence: dict[str, Any], body: dict[str, Any]
    ) -> Response:
        """PATCH of one scheduled meeting of a series: its own start and end.

        The fake keeps only the times of one date (other fields stay the series'); the
        date keeps its id and is listed at its new times.
        """
        start = body.get("start", occurrence["start"])
        end = body.get("end", occurrence["end"])
        problem = self._check_times(start, end)
        if problem is not None:
            return problem
        begins, ends = _parse_instant(start), _parse_instant(end)
        assert begins is not None and ends is not None
        with self.lock:
            changes = self.occurrence_changes.setdefault(series["id"], {})
            changes[occurrence["id"]] = (begins, ends)
        zone = series["timezone"]
        return json_response(
            self._shown({**occurrence, "start": _local(begins, zone), "end": _local(ends, zone)})
        )

    def delete_meeting(self, request: Request, meeting_id: str) -> Response:
        occurrence = self._occurrence_for(request, meeting_id)
        if isinstance(occurrence, Response):
            return occurrence
        if occurrence is not None:
            # One date of a series: the others stay.
            series, found = occurrence
            with self.lock:
                self.occurrence_changes.setdefault(series["id"], {})[found["id"]] = None
            return Response(status=204)
        found = self._meeting_for(request, meeting_id)
        if isinstance(found, Response):
            return found
        with self.lock:
            self.state.meetings.pop(meeting_id, None)
            self.occurrence_changes.pop(meeting_id, None)
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
        series_id = request.args.get("meetingSeriesId")
        meeting_type = request.args.get("meetingType", "meetingSeries")
        begins = _parse_instant(request.args.get("from")) if "from" in request.args else None
        ends = _parse_instant(request.args.get("to")) if "to" in request.args else None
        try:
            limit = min(int(request.args.get("max", "10")), 100)
            offset = int(request.args.get("offset", "0"))
        except ValueError:
            return self.invalid("max must be a number.")
        # Lists give times in the "timezone" header's zone, UTC when it is absent.
        zone = request.headers.get("timezone") or "UTC"
        if meeting_type == "scheduledMeeting" or series_id is not None:
            items = self._scheduled(series_id, host, begins, ends, zone)
            if isinstance(items, Response):
                return items
        else:
            items = self._series(meeting_type, host, begins, ends, zone)
        response = json_response({"items": items[offset : offset + limit]})
        if offset + limit < len(items):
            # Long lists come in pages, the next one named in a Link header (REST API Basics).
            following = {**request.args.to_dict(), "offset": str(offset + limit)}
            url = f"{self.base_url}{request.path}?{urlencode(following)}"
            response.headers["Link"] = f'<{url}>; rel="next"'
        return response

    def _series(
        self,
        meeting_type: str,
        host: str | None,
        begins: dt.datetime | None,
        ends: dt.datetime | None,
        zone: str,
    ) -> list[dict[str, Any]]:
        items = []
        with self.lock:
            for meeting in self.state.meetings.values():
                if host is not None and meeting["hostEmail"] != host:
                    continue
                if meeting_type != meeting["meetingType"]:
                    continue
                # "any meeting series that overlaps with the time range … will be listed",
                # by any of its dates.
                if _overlaps(meeting, begins, ends):
                    items.append(self._shown(meeting, zone))
        return items

    def _scheduled(
        self,
        series_id: str | None,
        host: str | None,
        begins: dt.datetime | None,
        ends: dt.datetime | None,
        zone: str,
    ) -> list[dict[str, Any]] | Response:
        """The scheduled meetings (occurrences) of one series, or of every series, in range.

        Without ``from`` and ``to`` the range is the next 7 days; with one of them, the 7
        days beside it (List Meetings). Each has its own id, ``<series id>_<start in
        UTC>``, and the series' id as ``meetingSeriesId``.
        """
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        if begins is None:
            begins = ends - DEFAULT_RANGE if ends is not None else now
        if ends is None:
            ends = begins + DEFAULT_RANGE
        if begins > ends:
            return self.invalid("from cannot be after to.")
        with self.lock:
            if series_id is not None:
                if series_id not in self.state.meetings:
                    return self.error(404, NOT_FOUND, description=f"Meeting not found: {series_id}")
                chosen = [self.state.meetings[series_id]]
            else:
                chosen = list(self.state.meetings.values())
            chosen = [m for m in chosen if host is None or m["hostEmail"] == host]
        items = []
        for meeting in chosen:
            for occurrence in self._dates(meeting, zone, until=ends):
                start, end = _parse_instant(occurrence["start"]), _parse_instant(occurrence["end"])
                assert start is not None and end is not None
                if start < ends and end > begins:
                    items.append(occurrence)
        items.sort(key=lambda item: _parse_instant(item["start"]) or now)
        return items

    def _dates(
        self, meeting: dict[str, Any], zone: str, *, until: dt.datetime | None
    ) -> Iterator[dict[str, Any]]:
        """The series' scheduled meetings, in the rule's order, as far as those that may
        start before ``until``: a date deleted on its own is left out, one updated on its own
        has its new times (and keeps its id, ``<series id>_<first start in UTC>``)."""
        first, last = _parse_instant(meeting["start"]), _parse_instant(meeting["end"])
        assert first is not None and last is not None
        duration = last - first
        changes = self.occurrence_changes.get(meeting["id"], {})
        # A date moved earlier than its rule's start may still start before ``until``.
        slack = max(
            (abs(change[0] - original) for original, change in self._moves(changes)),
            default=dt.timedelta(0),
        )
        for local in series_starts(meeting):
            start = local.astimezone(dt.UTC)
            if until is not None and start > until + slack:
                return
            occurrence_id = f"{meeting['id']}_{start:%Y%m%dT%H%M%SZ}"
            times = changes.get(occurrence_id, (start, start + duration))
            if times is None:
                continue
            occurrence = {key: meeting[key] for key in OCCURRENCE_FIELDS if key in meeting}
            occurrence.update(
                {
                    "id": occurrence_id,
                    "meetingSeriesId": meeting["id"],
                    "meetingType": "scheduledMeeting",
                    "state": "scheduled",
                    "start": _local(times[0], zone),
                    "end": _local(times[1], zone),
                }
            )
            yield occurrence

    @staticmethod
    def _moves(
        changes: dict[str, tuple[dt.datetime, dt.datetime] | None],
    ) -> Iterator[tuple[dt.datetime, tuple[dt.datetime, dt.datetime]]]:
        for occurrence_id, change in changes.items():
            if change is not None:
                stamp = occurrence_id.rpartition("_")[2]
                original = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
                yield original, change
