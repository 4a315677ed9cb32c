"""A fake Google OAuth token endpoint and Calendar API (events with Meet links) for tests."""

from __future__ import annotations

import base64
import datetime as dt
import heapq
import itertools
import json
import re
import secrets
import time
import zoneinfo
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.routing import Rule
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from forum.providers.fakes.base import FakeProvider
from forum.providers.fakes.base import json_response
from forum.providers.fakes.base import rfc5545_dates

SERVICE_ACCOUNT = "forum-meet@forum-test.iam.gserviceaccount.com"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Calendar event ids: base32hex characters (a-v, 0-9), 5 to 1024 of them.
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
MEET_ICON = (
    "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/"
    "logo_meet_2020q4_color_2x_web_512dp.png"
)
# The error reasons Google puts in errors[0] for a status, when the fake answers generically.
REASONS = {
    400: ("global", "badRequest"),
    401: ("global", "authError"),
    403: ("usageLimits", "rateLimitExceeded"),
    404: ("global", "notFound"),
    409: ("global", "duplicate"),
    410: ("global", "deleted"),
    429: ("usageLimits", "rateLimitExceeded"),
}


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _meet_code() -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"

    def word(n: int) -> str:
        return "".join(secrets.choice(letters) for _ in range(n))

    return f"{word(3)}-{word(4)}-{word(3)}"


# events.instances: "By default the value is 250 events. The page size can never be larger
# than 2500 events."
DEFAULT_PAGE = 250
MAX_PAGE = 2500
# The recurrence lines the fake models; Calendar also takes RDATE and EXRULE, which the fake
# refuses rather than ignore.
RECURRENCE_LINES = ("RRULE:", "EXDATE")


def event_starts(event: dict[str, Any]) -> Iterator[dt.datetime]:
    """The starts of an event's instances, as Calendar's engine gives them.

    Its RRULE lines run in the wall-clock time of the event's ``start.timeZone``, from its
    start, which counts as the first instance (RFC 5545), independent of any client's
    expansion; an EXDATE line's dates (``EXDATE;TZID=zone:local,...`` or UTC with ``Z``)
    are left out. An event without a rule has one instance.
    """
    zone = zoneinfo.ZoneInfo(event["start"]["timeZone"])
    first = dt.datetime.fromisoformat(event["start"]["dateTime"]).astimezone(zone)
    lines = event.get("recurrence") or []
    rules = [line.removeprefix("RRULE:") for line in lines if line.startswith("RRULE:")]
    if not rules:
        return iter([first])
    excluded = {date for line in lines if line.startswith("EXDATE") for date in exdates(line)}
    merged = heapq.merge(*(rfc5545_dates(rule, first) for rule in rules))
    return (date for date, _ in itertools.groupby(merged) if date not in excluded)


def exdates(line: str) -> list[dt.datetime]:
    """The aware instants of one EXDATE line; ValueError if it is not one RFC 5545 allows."""
    name, _, values = line.partition(":")
    params = dict(part.split("=", 1) for part in name.split(";")[1:] if "=" in part)
    zone = zoneinfo.ZoneInfo(params["TZID"]) if "TZID" in params else None
    found = []
    for value in values.split(","):
        when = dt.datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
        if value.endswith("Z"):
            found.append(when.replace(tzinfo=dt.UTC))
        elif zone is not None:
            found.append(when.replace(tzinfo=zone))
        else:
            raise ValueError(f"a floating EXDATE: {line}")
    return found


def _now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeGoogleMeetProvider(FakeProvider):
    """Google's token endpoint (service account, domain-wide delegation) and Calendar v3 events.

    ``hosts`` are the Workspace users the service account may impersonate; other users of
    ``domains`` do not exist (``invalid_grant``), users of any other domain are outside the
    delegation (``unauthorized_client``). ``meet_disabled`` users have no Meet, so asking for
    a Meet link on their calendar fails as in the field ("Invalid conference type value.").
    Without ``public_key`` the fake makes its own key pair; ``private_key_pem`` is then what a
    setup puts in the account's settings.
    """

    def __init__(
        self,
        *,
        hosts: Iterable[str],
        service_account: str = SERVICE_ACCOUNT,
        public_key: rsa.RSAPublicKey | None = None,
        domains: Iterable[str] | None = None,
        delegated_scopes: Iterable[str] = (CALENDAR_SCOPE, EVENTS_SCOPE),
        meet_disabled: Iterable[str] = (),
    ) -> None:
        self.hosts = {host.lower() for host in hosts}
        self.service_account = service_account
        self.private_key_pem: str | None = None
        if public_key is None:
            key = generate_private_key()
            self.private_key_pem = private_pem(key)
            public_key = key.public_key()
        self.public_key = public_key
        self.domains = (
            {d.lower() for d in domains}
            if domains is not None
            else {h.rpartition("@")[2] for h in self.hosts}
        )
        self.delegated_scopes = set(delegated_scopes)
        self.meet_disabled = {host.lower() for host in meet_disabled}
        # access token -> the user it acts as (the JWT's ``sub``), and its scopes
        self.subjects: dict[str, str] = {}
        self.scopes: dict[str, set[str]] = {}
        # What the token endpoint last verified, for tests of the assertion itself.
        self.last_assertion: dict[str, Any] | None = None
        # Query strings the event calls came with, in order, for tests of request shapes.
        self.event_calls: list[tuple[str, str, dict[str, str]]] = []
        super().__init__()

    def rules(self) -> list[Rule]:
        events = "/calendar/v3/calendars/<calendar>/events"
        return [
            Rule("/token", endpoint="token", methods=["POST"]),
            Rule("/calendar/v3/calendars/<calendar>", endpoint="get_calendar", methods=["GET"]),
            Rule(events, endpoint="insert_event", methods=["POST"]),
            Rule(f"{events}/<event_id>", endpoint="get_event", methods=["GET"]),
            Rule(f"{events}/<event_id>", endpoint="patch_event", methods=["PATCH"]),
            Rule(f"{events}/<event_id>", endpoint="delete_event", methods=["DELETE"]),
            Rule(f"{events}/<event_id>/instances", endpoint="instances", methods=["GET"]),
        ]

    # -- envelopes ---------------------------------------------------------------------------

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """Google's JSON API error: {"error": {"errors": [...], "code": N, "message": ...}}."""
        domain, reason = REASONS.get(status, ("global", "backendError"))
        item = {
            "domain": extra.pop("domain", domain),
            "reason": extra.pop("reason", reason),
            "message": message,
            **extra,
        }
        return json_response(
            {"error": {"errors": [item], "code": status, "message": message}}, status
        )

    def unauthorized(self) -> Response:
        return self.error(
            401,
            "Invalid Credentials",
            reason="authError",
            locationType="header",
            location="Authorization",
        )

    def oauth_error(self, status: int, error: str, description: str) -> Response:
        # The token endpoint speaks OAuth 2 (RFC 6749 section 5.2), not the JSON API envelope.
        return json_response({"error": error, "error_description": description}, status)

    # -- token endpoint ----------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        if request.form.get("grant_type") != JWT_BEARER:
            return self.oauth_error(
                400,
                "unsupported_grant_type",
                f"Invalid grant_type: {request.form.get('grant_type', '')}",
            )
        assertion = request.form.get("assertion", "")
        parts = assertion.split(".")
        if len(parts) != 3:
            return self.oauth_error(400, "invalid_request", "Invalid JWT: malformed.")
        try:
            header = json.loads(_b64decode(parts[0]))
            claims = json.loads(_b64decode(parts[1]))
            signature = _b64decode(parts[2])
        except ValueError:
            return self.oauth_error(400, "invalid_request", "Invalid JWT: malformed.")
        if header.get("alg") != "RS256":
            return self.oauth_error(400, "invalid_grant", "Invalid JWT: unsupported algorithm.")
        if claims.get("iss") != self.service_account:
            return self.oauth_error(400, "invalid_grant", "Invalid grant: account not found")
        try:
            self.public_key.verify(
                signature,
                f"{parts[0]}.{parts[1]}".encode("ascii"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return self.oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(iat, int)
            or not isinstance(exp, int)
            or abs(iat - now) > 300
            or exp <= now
            or exp - iat > 3600
        ):
            return self.oauth_error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim.",
            )
        if claims.get("aud") != f"{self.base_url}/token":
            return self.oauth_error(400, "invalid_grant", "Invalid JWT audience.")
        subject = str(claims.get("sub") or "").lower()
        scopes = set(str(claims.get("scope", "")).split())
        if not scopes:
            return self.oauth_error(
                400, "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
        if subject.rpartition("@")[2] not in self.domains or not scopes <= self.delegated_scopes:
            # Delegation is granted per Workspace domain and per scope in its admin console.
            return self.oauth_error(
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested.",
            )
        if subject not in self.hosts:
            return self.oauth_error(400, "invalid_grant", "Invalid email or User ID")
        with self.lock:
            self.last_assertion = {"header": header, "claims": claims}
            issued = self.issue_token()
            self.subjects[issued.value] = subject
            self.scopes[issued.value] = scopes
        return json_response(
            {"access_token": issued.value, "expires_in": 3599, "token_type": "Bearer"}
        )

    def caller(self, request: Request) -> str | None:
        """The user the request's token acts as, or None if the token is not valid."""
        if not self.token_ok(request):
            return None
        return self.subjects.get(request.headers["Authorization"].removeprefix("Bearer "))

    def calendar_of(self, request: Request, calendar: str) -> tuple[str | None, Response | None]:
        """The calendar a call addresses, if its token may use it; else the error to answer."""
        subject = self.caller(request)
        if subject is None:
            return None, self.unauthorized()
        calendar = unquote(calendar).lower()
        if calendar == "primary":
            calendar = subject
        # An impersonated user sees their own calendar; others' are not shared with them.
        if calendar != subject:
            return None, self.error(404, "Not Found")
        with self.lock:
            self.event_calls.append((request.method, request.path, dict(request.args)))
        return calendar, None

    # -- calendars and events ----------------------------------------------------------------

    def get_calendar(self, request: Request, calendar: str) -> Response:
        calendar_id, refused = self.calendar_of(request, calendar)
        if refused is not None:
            return refused
        allowed = [] if calendar_id in self.meet_disabled else ["hangoutsMeet"]
        return json_response(
            {
                "kind": "calendar#calendar",
                "etag": f'"{secrets.randbelow(10**15)}"',
                "id": calendar_id,
                "summary": calendar_id,
                "timeZone": "UTC",
                "conferenceProperties": {"allowedConferenceSolutionTypes": allowed},
            }
        )

    def _when(self, value: Any, field: str) -> tuple[dict[str, str] | None, Response | None]:
        if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
            return None, self.error(400, "Missing time.", reason="required", location=field)
        try:
            instant = dt.datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
            zone = zoneinfo.ZoneInfo(value.get("timeZone") or "UTC")
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            return None, self.error(400, "Invalid start time.", reason="invalid", location=field)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=zone)
        # Google answers with the instant in the event's zone, with its offset.
        shown = instant.astimezone(zone).isoformat()
        return {"dateTime": shown, "timeZone": zone.key}, None

    def insert_event(self, request: Request, calendar: str) -> Response:
        calendar_id, refused = self.calendar_of(request, calendar)
        if refused is not None:
            return refused
        assert calendar_id is not None
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self.error(400, "Parse Error", reason="parseError")
        start, bad = self._when(body.get("start"), "start")
        if bad is not None:
            return bad
        end, bad = self._when(body.get("end"), "end")
        if bad is not None:
            return bad
        assert start is not None and end is not None
        if dt.datetime.fromisoformat(end["dateTime"]) <= dt.datetime.fromisoformat(
            start["dateTime"]
        ):
            return self.error(400, "The specified time range is empty.", reason="timeRangeEmpty")
        recurrence, bad = self._recurrence(body, start)
        if bad is not None:
            return bad
        event_id = body.get("id")
        if event_id is None:
            event_id = "".join(
                secrets.choice("abcdefghijklmnopqrstuv0123456789") for _ in range(26)
            )
        elif not isinstance(event_id, str) or not EVENT_ID.match(event_id):
            return self.error(400, "Invalid resource id value.", reason="invalid")
        conference = None
        # Without conferenceDataVersion=1 Calendar silently ignores conferenceData.
        wanted = body.get("conferenceData", {}).get("createRequest")
        if request.args.get("conferenceDataVersion") == "1" and wanted is not None:
            kind = (wanted.get("conferenceSolutionKey") or {}).get("type")
            if not wanted.get("requestId"):
                return self.error(400, "Invalid conference request id.", reason="invalid")
            if kind != "hangoutsMeet" or calendar_id in self.meet_disabled:
                return self.error(400, "Invalid conference type value.", reason="invalid")
            conference = self._conference(wanted)
        with self.lock:
            if event_id in self.state.meetings:
                # Also for an id whose event was deleted: Calendar keeps deleted ids taken.
                return self.error(409, "The requested identifier already exists.")
            now = _now_rfc3339()
            eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode()
            event: dict[str, Any] = {
                "kind": "calendar#event",
                "etag": f'"{secrets.randbelow(10**15)}"',
                "id": event_id,
                "status": "confirmed",
                "htmlLink": f"https://www.google.com/calendar/event?eid={eid.rstrip('=')}",
                "created": now,
                "updated": now,
                "summary": body.get("summary", ""),
                "description": body.get("description", ""),
                "creator": {"email": calendar_id, "self": True},
                "organizer": {"email": calendar_id, "self": True},
                "start": start,
                "end": end,
                "iCalUID": f"{event_id}@google.com",
                "sequence": 0,
                "reminders": {"useDefault": True},
                "eventType": "default",
                "_calendar": calendar_id,
            }
            if isinstance(body.get("extendedProperties"), dict):
                event["extendedProperties"] = body["extendedProperties"]
            if recurrence:
                event["recurrence"] = recurrence
            if conference is not None:
                event["hangoutLink"] = conference["entryPoints"][0]["uri"]
                event["conferenceData"] = conference
            self.state.meetings[event_id] = event
        return json_response(self.public(event))

    def _recurrence(
        self, body: dict[str, Any], start: dict[str, str]
    ) -> tuple[list[str] | None, Response | None]:
        """The event's recurrence lines, checked as Calendar checks them, or the refusal.

        A repeating event needs ``start.timeZone`` (its rule runs in that zone), and each
        RRULE must be one RFC 5545 accepts: with a zoned start, an UNTIL must be in UTC.
        """
        recurrence = body.get("recurrence")
        if recurrence is None:
            return None, None
        if not isinstance(recurrence, list) or not all(
            isinstance(line, str) and line.startswith(RECURRENCE_LINES) for line in recurrence
        ):
            return None, self.error(400, "Invalid recurrence rule.", reason="invalid")
        if recurrence and not (body.get("start") or {}).get("timeZone"):
            return None, self.error(
                400, "Missing time zone definition for start time.", reason="required"
            )
        zone = zoneinfo.ZoneInfo(start["timeZone"])
        first = dt.datetime.fromisoformat(start["dateTime"]).astimezone(zone)
        for line in recurrence:
            try:
                if line.startswith("RRULE:"):
                    rfc5545_dates(line.removeprefix("RRULE:"), first)
                else:
                    exdates(line)
            except (ValueError, TypeError, KeyError, zoneinfo.ZoneInfoNotFoundError):
                return None, self.error(400, "Invalid recurrence rule.", reason="invalid")
        return recurrence, None

    def _conference(self, wanted: dict[str, Any]) -> dict[str, Any]:
        code = _meet_code()
        pin = str(secrets.randbelow(10**9)).zfill(9)
        return {
            "createRequest": {
                "requestId": wanted["requestId"],
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
                "status": {"statusCode": "success"},
            },
            "entryPoints": [
                {
                    "entryPointType": "video",
                    "uri": f"https://meet.google.com/{code}",
                    "label": f"meet.google.com/{code}",
                },
                {
                    "entryPointType": "phone",
                    "uri": "tel:+41-43-508-41-94",
                    "label": "+41 43 508 41 94",
                    "pin": pin,
                    "regionCode": "CH",
                },
                {
                    "entryPointType": "more",
                    "uri": f"https://tel.meet/{code}?pin={pin}",
                    "pin": pin,
                },
            ],
            "conferenceSolution": {
                "key": {"type": "hangoutsMeet"},
                "name": "Google Meet",
                "iconUri": MEET_ICON,
            },
            "conferenceId": code,
        }

    @staticmethod
    def public(event: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in event.items() if not key.startswith("_")}

    def _event(
        self, request: Request, calendar: str, event_id: str
    ) -> tuple[dict[str, Any] | None, Response | None]:
        calendar_id, refused = self.calendar_of(request, calendar)
        if refused is not None:
            return None, refused
        event = self.state.meetings.get(event_id)
        if event is None or event["_calendar"] != calendar_id:
            return None, self.error(404, "Not Found")
        if event["status"] == "cancelled":
            return None, self.error(410, "Resource has been deleted")
        return event, None

    def get_event(self, request: Request, calendar: str, event_id: str) -> Response:
        event, refused = self._event(request, calendar, event_id)
        if refused is not None:
            return refused
        assert event is not None
        return json_response(self.public(event))

    def _instance_of(
        self, request: Request, calendar: str, instance_id: str
    ) -> tuple[dict[str, Any] | None, dt.datetime | None, Response | None]:
        """(event, original start) for an instance's id, ``<event id>_<start in UTC>``
        (Calendar's form); (None, None, None) for an id of no such form. A start the event
        does not give (or leaves out by an EXDATE) is not found."""
        event_id, sep, stamp = instance_id.rpartition("_")
        if not sep or event_id not in self.state.meetings:
            return None, None, None
        event, refused = self._event(request, calendar, event_id)
        if refused is not None:
            return None, None, refused
        assert event is not None
        try:
            original = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return None, None, self.error(404, "Not Found")
        for local in event_starts(event):
            start = local.astimezone(dt.UTC)
            if start == original:
                return event, original, None
            if start > original:
                break
        return None, None, self.error(404, "Not Found")

    def _times_of(self, body: dict[str, Any]) -> tuple[dict[str, Any], Response | None]:
        """The ``start`` and ``end`` a patch gives, checked; or the refusal of a bad one."""
        changes: dict[str, Any] = {}
        for field in ("start", "end"):
            if field in body:
                when, bad = self._when(body[field], field)
                if bad is not None:
                    return {}, bad
                changes[field] = when
        return changes, None

    def _patch_instance(
        self, event: dict[str, Any], original: dt.datetime, body: dict[str, Any]
    ) -> Response:
        """events.patch of one instance: its own start and end (an exception of the series).

        The fake keeps only the times of an instance; it keeps its id and its
        ``originalStartTime`` and is listed at its new times.
        """
        changes, bad = self._times_of(body)
        if bad is not None:
            return bad
        instance = self._instance(event, original, event.get("_moved", {}))
        start = changes.get("start", instance["start"])
        end = changes.get("end", instance["end"])
        if dt.datetime.fromisoformat(end["dateTime"]) <= dt.datetime.fromisoformat(
            start["dateTime"]
        ):
            return self.error(400, "The specified time range is empty.", reason="timeRangeEmpty")
        event.setdefault("_moved", {})[instance["id"]] = (start, end)
        return json_response({**instance, "start": start, "end": end})

    def _instance(
        self,
        event: dict[str, Any],
        original: dt.datetime,
        moved: dict[str, tuple[dict[str, str], dict[str, str]]],
    ) -> dict[str, Any]:
        """One instance of a repeating event as events.instances lists it."""
        zone = zoneinfo.ZoneInfo(event["start"]["timeZone"])
        first = dt.datetime.fromisoformat(event["start"]["dateTime"])
        duration = dt.datetime.fromisoformat(event["end"]["dateTime"]) - first
        shown = {"dateTime": original.astimezone(zone).isoformat(), "timeZone": zone.key}
        instance_id = f"{event['id']}_{original:%Y%m%dT%H%M%SZ}"
        start, end = moved.get(
            instance_id,
            (
                shown,
                {
                    "dateTime": (original + duration).astimezone(zone).isoformat(),
                    "timeZone": zone.key,
                },
            ),
        )
        instance = self.public(event)
        instance.pop("recurrence", None)
        instance.update(
            {
                "id": instance_id,
                "recurringEventId": event["id"],
                "originalStartTime": shown,
                "start": start,
                "end": end,
            }
        )
        return instance

    def patch_event(self, request: Request, calendar: str, event_id: str) -> Response:
        with self.lock:
            parent, original, refused = self._instance_of(request, calendar, event_id)
            if refused is not None:
                return refused
            if parent is not None:
                body = request.get_json(silent=True)
                if not isinstance(body, dict):
                    return self.error(400, "Parse Error", reason="parseError")
                assert original is not None
                return self._patch_instance(parent, original, body)
            event, refused = self._event(request, calendar, event_id)
            if refused is not None:
                return refused
            assert event is not None
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                return self.error(400, "Parse Error", reason="parseError")
            changes, bad = self._times_of(body)
            if bad is not None:
                return bad
            for field in ("summary", "description", "extendedProperties"):
                if field in body:
                    changes[field] = body[field]
            if "recurrence" in body:
                checked = {**body, "start": body.get("start", event["start"])}
                recurrence, bad = self._recurrence(checked, changes.get("start", event["start"]))
                if bad is not None:
                    return bad
                changes["recurrence"] = recurrence or []
            start = changes.get("start", event["start"])["dateTime"]
            end = changes.get("end", event["end"])["dateTime"]
            if dt.datetime.fromisoformat(end) <= dt.datetime.fromisoformat(start):
                return self.error(
                    400, "The specified time range is empty.", reason="timeRangeEmpty"
                )
            event.update(changes)
            if {"start", "end", "recurrence"} & set(changes):
                # The series' times or rule sent anew: its instances are the rule's again.
                event.pop("_moved", None)
            event["sequence"] += 1
            event["updated"] = _now_rfc3339()
            event["etag"] = f'"{secrets.randbelow(10**15)}"'
            return json_response(self.public(event))

    def delete_event(self, request: Request, calendar: str, event_id: str) -> Response:
        with self.lock:
            event, refused = self._event(request, calendar, event_id)
            if refused is not None:
                return refused
            assert event is not None
            # Deleted events stay, cancelled: their id is still taken, and reads answer 410.
            event["status"] = "cancelled"
            event["updated"] = _now_rfc3339()
        return Response(status=204)

    def instances(self, request: Request, calendar: str, event_id: str) -> Response:
        """events.instances: the instances of a repeating event, one page at a time.

        Each instance is an event of its own: id ``<event id>_<start in UTC, basic>``,
        ``recurringEventId``, ``originalStartTime``, and start and end in the event's zone;
        an instance patched on its own has its own start and end, and keeps its id.
        ``timeMin`` (exclusive of instances ending by then) and ``timeMax`` (of instances
        starting from then) bound the list; ``pageToken`` is the fake's own offset.
        """
        event, refused = self._event(request, calendar, event_id)
        if refused is not None:
            return refused
        assert event is not None
        try:
            size = int(request.args.get("maxResults", DEFAULT_PAGE))
            offset = int(request.args.get("pageToken") or "0")
            low = _rfc3339(request.args.get("timeMin"))
            high = _rfc3339(request.args.get("timeMax"))
        except ValueError:
            return self.error(400, "Bad Request", reason="badRequest")
        if not 1 <= size <= MAX_PAGE:
            return self.error(400, "Invalid max results value.", reason="invalid")
        zone = zoneinfo.ZoneInfo(event["start"]["timeZone"])
        moved = event.get("_moved", {})
        # A moved instance may start before timeMax although its original start does not.
        slack = _moved_slack(moved)
        # One more than the page, to know whether another follows: a rule without an end
        # goes on for ever.
        chosen: list[dict[str, Any]] = []
        for local in event_starts(event):
            original = local.astimezone(dt.UTC)
            if (high is not None and original >= high + slack) or len(chosen) > offset + size:
                break
            instance = self._instance(event, original, moved)
            start = dt.datetime.fromisoformat(instance["start"]["dateTime"])
            end = dt.datetime.fromisoformat(instance["end"]["dateTime"])
            if (low is None or end > low) and (high is None or start < high):
                chosen.append(instance)
        items = chosen[offset : offset + size]
        answer: dict[str, Any] = {
            "kind": "calendar#events",
            "summary": event["_calendar"],
            "updated": event["updated"],
            "timeZone": zone.key,
            "accessRole": "owner",
            "items": items,
        }
        if offset + size < len(chosen):
            answer["nextPageToken"] = str(offset + size)
        return json_response(answer)


def _moved_slack(moved: dict[str, tuple[dict[str, str], dict[str, str]]]) -> dt.timedelta:
    """How far the moved instances of an event are from their original starts, at most."""
    slack = dt.timedelta(0)
    for instance_id, (start, _end) in moved.items():
        stamp = instance_id.rpartition("_")[2]
        original = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        slack = max(slack, abs(dt.datetime.fromisoformat(start["dateTime"]) - original))
    return slack


def _rfc3339(value: str | None) -> dt.datetime | None:
    """timeMin/timeMax: RFC 3339 with an offset, which Calendar requires."""
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(value)
    return parsed
