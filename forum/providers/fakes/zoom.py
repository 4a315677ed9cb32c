"""A fake Zoom: Server-to-Server OAuth token endpoint and the REST v2 meeting calls, faithfully."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import itertools
import json
import secrets
import string
import time
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from dateutil import rrule as rrules
from werkzeug.routing import Rule
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from forum.providers.fakes.base import FakeProvider
from forum.providers.fakes.base import json_response

DAILY_LIMIT_MESSAGE = (
    "You have exceeded the daily rate limit ({limit}) of Meeting Create/Update API requests "
    "permitted for this particular user. You may resume these requests at GMT 00:00:00."
)
MEETING_TYPES = (1, 2, 3, 8)
# "end_times: between a value of 1 and 50 ... This value defaults to 1" (Zoom's recurrence
# object definitions); Zoom's support pages put the same ceiling on any recurring meeting.
MAX_OCCURRENCES = 50
# weekly_days and monthly_week_day count from 1 = Sunday.
ZOOM_DAYS = {
    1: rrules.SU,
    2: rrules.MO,
    3: rrules.TU,
    4: rrules.WE,
    5: rrules.TH,
    6: rrules.FR,
    7: rrules.SA,
}
RECURRENCE_FREQ = {1: rrules.DAILY, 2: rrules.WEEKLY, 3: rrules.MONTHLY}
# Fields a create or update may set at the top level; the rest of a body is ignored, as Zoom
# ignores what it does not know.
WRITABLE = ("topic", "type", "start_time", "duration", "timezone", "agenda", "password")
LIST_FIELDS = (
    "uuid",
    "id",
    "host_id",
    "topic",
    "type",
    "start_time",
    "duration",
    "timezone",
    "agenda",
    "created_at",
    "join_url",
)
DEFAULT_SETTINGS: dict[str, Any] = {
    "host_video": False,
    "participant_video": False,
    "join_before_host": False,
    "jbh_time": 0,
    "mute_upon_entry": True,
    "waiting_room": True,
    "approval_type": 2,
    "audio": "both",
    "auto_recording": "none",
    "alternative_hosts": "",
    "alternative_hosts_email_notification": True,
    "use_pmi": False,
}


# Tokens the fake grants a minute (see FakeZoomProvider.tokens_per_minute).
TOKENS_PER_MINUTE = 10


def utc_stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_field(value: Any) -> dt.datetime | None:
    """A ``yyyy-MM-ddTHH:mm:ssZ`` field (end_date_time, a stored start_time), or None."""
    if not isinstance(value, str) or not value.endswith("Z"):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class FakeZoomProvider(FakeProvider):
    """Zoom as an S2S OAuth app sees it: one account, its users, their meetings.

    Follows Zoom's API reference: 201 on create with an int64 ``id``,
    204 with no body on PATCH and DELETE, ``{"code", "message"}`` errors (XML when the client
    does not ask for JSON), and the per-host limit of 100 creates+updates per UTC day.
    """

    def __init__(
        self,
        *,
        hosts: Iterable[str],
        account_id: str = "fake-account",
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",  # noqa: S107
        daily_limit: int = 100,
        token_params_in_query: bool = True,
        tokens_per_minute: int | None = TOKENS_PER_MINUTE,
    ) -> None:
        super().__init__()
        self.account_id = account_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.daily_limit = daily_limit
        # Zoom rate-limits its token endpoint without publishing the figure; past this many
        # tokens a minute the fake answers 429, so a client that asks for a token per call,
        # rather than keeping one until it expires, fails here under a burst (None: no limit).
        self.tokens_per_minute = tokens_per_minute
        self._token_times: list[float] = []
        # False: refuse grant_type/account_id in the query string, as Zoom now does for some
        # (a Zoom developer-forum report).
        self.token_params_in_query = token_params_in_query
        # email (lower case) -> the user as GET /v2/users/{id} returns it
        self.users: dict[str, dict[str, Any]] = {}
        for email in hosts:
            self.add_user(email)
        # (host id, UTC date) -> creates+updates counted against the per-host daily limit
        self.daily_counts: dict[tuple[str, dt.date], int] = {}
        # meeting id -> occurrence id -> None (deleted) or its own start_time and duration
        self.occurrence_changes: dict[str, dict[str, dict[str, Any] | None]] = {}

    def add_user(self, email: str) -> dict[str, Any]:
        user = {
            "id": secrets.token_urlsafe(16)[:22],
            "email": email,
            "first_name": email.split("@")[0],
            "last_name": "",
            "type": 2,  # licensed
            "status": "active",
            "account_id": self.account_id,
            "timezone": "UTC",
        }
        self.users[email.lower()] = user
        return user

    @property
    def token_requests(self) -> int:
        """How many times clients asked the token endpoint for a token (granted or not)."""
        with self.lock:
            return self.state.calls.count(("POST", "/oauth/token"))

    def rules(self) -> list[Rule]:
        return [
            Rule("/oauth/token", endpoint="token", methods=["POST"]),
            Rule("/v2/users/<user_id>", endpoint="user", methods=["GET"]),
            Rule("/v2/users/<user_id>/meetings", endpoint="user_meetings", methods=["GET", "POST"]),
            Rule(
                "/v2/meetings/<meeting_id>",
                endpoint="meeting",
                methods=["GET", "PATCH", "DELETE"],
            ),
        ]

    # -- envelope ----------------------------------------------------------------------------

    def error(self, status: int, message: str, **extra: Any) -> Response:
        code = extra.pop("code", status)
        return json_response({"code": code, "message": message, **extra}, status)

    def unauthorized(self) -> Response:
        return self.error(401, "Invalid access token.", code=124)

    def dispatch(self, request: Request) -> Response:
        response = super().dispatch(request)
        if response.status_code >= 400 and not request.path.startswith(("/oauth", "/_fake")):
            accept = request.headers.get("Accept", "")
            if "json" not in accept:
                # Zoom answers errors in XML unless the client asks for JSON (moodle-mod_zoom,
                # pyzoom and Cal.com all met it: Zoom's docs).
                return self.as_xml(response)
        return response

    @staticmethod
    def as_xml(response: Response) -> Response:
        body = json.loads(response.get_data())
        xml = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f"<result><code>{body.get('code')}</code>"
            f"<message>{escape(str(body.get('message', '')))}</message></result>"
        )
        return Response(
            xml,
            status=response.status_code,
            headers=dict(response.headers.items()),
            content_type="application/xml;charset=UTF-8",
        )

    # -- OAuth -------------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        # Zoom's docs put the params in the form body; many integrations (Indico, Zoom's
        # Postman collection) used the query string, which Zoom long accepted (Zoom's docs).
        params = request.form if request.form or not self.token_params_in_query else request.args
        client = self._basic_auth(request)
        if client is None:
            return self._oauth_error(
                400, "invalid_request", "Client ID or client secret is missing."
            )
        if client != (self.client_id, self.client_secret):
            # Zoom's docs: token errors are {"reason", "error"}; the exact reason text for
            # account_credentials is unverified.
            return self._oauth_error(401, "invalid_client", "Invalid client_id or client_secret")
        grant = params.get("grant_type")
        if not grant:
            return self._oauth_error(400, "invalid_request", "Missing grant type")
        if grant != "account_credentials":
            return self._oauth_error(
                400, "unsupported_grant_type", "Grant type is not supported from token endpoint."
            )
        if params.get("account_id") != self.account_id:
            return self._oauth_error(400, "invalid_request", "Invalid account_id")
        if not self._token_allowed():
            # The body follows the endpoint's other errors ({"reason", "error"}); its wording
            # is the fake's own.
            return self._oauth_error(
                429, "too_many_requests", "Too many token requests; try again in a minute."
            )
        issued = self.issue_token()
        return json_response(
            {
                "access_token": issued.value,
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
                "scope": "meeting:write:meeting:admin meeting:read:meeting:admin "
                "meeting:read:list_meetings:admin meeting:delete:meeting:admin "
                "meeting:update:meeting:admin user:read:user:admin",
                "api_url": self.base_url,
            }
        )

    def _token_allowed(self) -> bool:
        if self.tokens_per_minute is None:
            return True
        now = time.monotonic()
        with self.lock:
            self._token_times = [t for t in self._token_times if now - t < 60]
            if len(self._token_times) >= self.tokens_per_minute:
                return False
            self._token_times.append(now)
            return True

    @staticmethod
    def _basic_auth(request: Request) -> tuple[str, str] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(header.removeprefix("Basic "), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, sep, secret = decoded.partition(":")
        return (client_id, secret) if sep else None

    @staticmethod
    def _oauth_error(status: int, error: str, reason: str) -> Response:
        return json_response({"reason": reason, "error": error}, status)

    # -- helpers -----------------------------------------------------------------------------

    def _auth_problem(self, request: Request) -> Response | None:
        if self.token_ok(request):
            return None
        header = request.headers.get("Authorization", "")
        known = self.state.tokens.get(header.removeprefix("Bearer "))
        if known is not None:
            return self.error(401, "Access token is expired.", code=124)
        return self.unauthorized()

    def _find_user(self, user_id: str) -> dict[str, Any] | None:
        if user_id == "me" and self.users:
            return next(iter(self.users.values()))
        user = self.users.get(user_id.lower())
        if user is not None:
            return user
        return next((u for u in self.users.values() if u["id"] == user_id), None)

    def _json_body(self, request: Request) -> dict[str, Any] | Response:
        if request.mimetype != "application/json":
            return self.error(415, "Unsupported Content Type", code=300)
        try:
            body = json.loads(request.get_data() or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self.error(400, "Request Body should be a valid JSON object.", code=300)
        return body

    @staticmethod
    def _invalid(field: str) -> dict[str, Any]:
        return {
            "code": 300,
            "message": "Validation Failed.",
            "errors": [{"field": field, "message": "Invalid field."}],
        }

    def _validate(self, body: dict[str, Any], *, creating: bool) -> dict[str, Any] | None:
        """Problems with a create/update body, as Zoom's 400 code 300 reports them."""
        topic = body.get("topic")
        if topic is not None and (not isinstance(topic, str) or len(topic) > 200):
            return self._invalid("topic")
        if "type" in body and body["type"] not in MEETING_TYPES:
            return self._invalid("type")
        agenda = body.get("agenda")
        if agenda is not None and (not isinstance(agenda, str) or len(agenda) > 2000):
            return self._invalid("agenda")
        duration = body.get("duration")
        if duration is not None and (
            not isinstance(duration, int | float) or isinstance(duration, bool) or duration < 0
        ):
            return self._invalid("duration")
        timezone = body.get("timezone")
        if timezone is not None:
            try:
                ZoneInfo(str(timezone))
            except (ZoneInfoNotFoundError, ValueError):
                return self._invalid("timezone")
        if "start_time" in body and self._start(body) is None:
            return self._invalid("start_time")
        if creating and body.get("type", 2) == 8 and not isinstance(body.get("recurrence"), dict):
            return self._invalid("recurrence")
        if isinstance(body.get("recurrence"), dict):
            return self._invalid_recurrence(body["recurrence"])
        return None

    def _invalid_recurrence(self, recurrence: dict[str, Any]) -> dict[str, Any] | None:
        """Zoom's rules for the recurrence object (Zoom's docs, "Recurrence Object Definitions").

        The real API fills a weekly series' missing weekly_days with 1 (Sunday); this fake
        refuses it instead, so that a client that leaves it out cannot pass unnoticed.
        """
        kind = recurrence.get("type")
        if kind not in (1, 2, 3):
            return self._invalid("recurrence.type")
        interval = recurrence.get("repeat_interval", 1)
        if not isinstance(interval, int) or not 1 <= interval <= {1: 90, 2: 12, 3: 3}[kind]:
            return self._invalid("recurrence.repeat_interval")
        if kind == 2:
            days = recurrence.get("weekly_days")
            if not isinstance(days, str) or not all(
                day in {"1", "2", "3", "4", "5", "6", "7"} for day in days.split(",")
            ):
                return self._invalid("recurrence.weekly_days")
        if kind == 3:
            monthly_day = recurrence.get("monthly_day")
            by_week = recurrence.get("monthly_week") in (-1, 1, 2, 3, 4) and recurrence.get(
                "monthly_week_day"
            ) in range(1, 8)
            if not by_week and not (isinstance(monthly_day, int) and 1 <= monthly_day <= 31):
                return self._invalid("recurrence.monthly_day")
        if "end_times" in recurrence and "end_date_time" in recurrence:
            return self._invalid("recurrence.end_times")
        end_times = recurrence.get("end_times", 1)
        if (
            not isinstance(end_times, int)
            or isinstance(end_times, bool)
            or not 1 <= end_times <= MAX_OCCURRENCES
        ):
            return self._invalid("recurrence.end_times")
        if "end_date_time" in recurrence and _utc_field(recurrence["end_date_time"]) is None:
            return self._invalid("recurrence.end_date_time")
        return None

    def occurrences(
        self, meeting: dict[str, Any], *, previous: bool = False
    ) -> list[dict[str, Any]]:
        """The dates of a type 8 meeting as Zoom lists them under ``occurrences``.

        An occurrence deleted on its own (DELETE with ``occurrence_id``) is no longer
        listed; one updated on its own (PATCH with ``occurrence_id``) is listed at its new
        ``start_time`` and ``duration``, under its first id.

        Zoom's engine, independent of any client's: the recurrence object read in the
        meeting's ``timezone`` wall-clock time from its start, the days counted from 1 =
        Sunday, ending after ``end_times`` dates (1 when the object gives no end) or at
        ``end_date_time``, and never more than 50. Assumptions where Zoom's docs are
        silent: its weeks start on Sunday (what its day numbers suggest), and a monthly_day
        a month lacks skips that month, as RFC 5545 does. An occurrence_id is the date's
        start in epoch milliseconds, as Zoom's are; past dates are left out unless
        ``previous`` (Zoom's ``show_previous_occurrences``).
        """
        recurrence = meeting.get("recurrence")
        if meeting.get("type") != 8 or not isinstance(recurrence, dict):
            return []
        zone = ZoneInfo(meeting["timezone"])
        first = _utc_field(meeting["start_time"])
        assert first is not None  # stored as Zoom writes it
        options: dict[str, Any] = {
            "dtstart": first.astimezone(zone),
            "interval": recurrence.get("repeat_interval", 1),
            "wkst": rrules.SU,
        }
        if recurrence["type"] == 2:
            options["byweekday"] = [ZOOM_DAYS[int(d)] for d in recurrence["weekly_days"].split(",")]
        elif recurrence["type"] == 3:
            if "monthly_day" in recurrence:
                options["bymonthday"] = recurrence["monthly_day"]
            else:
                weekday = ZOOM_DAYS[recurrence["monthly_week_day"]]
                options["byweekday"] = weekday(recurrence["monthly_week"])
        if "end_date_time" in recurrence:
            options["until"] = _utc_field(recurrence["end_date_time"])
            options["count"] = None
        else:
            options["count"] = recurrence.get("end_times", 1)
        dates = rrules.rrule(RECURRENCE_FREQ[recurrence["type"]], **options)
        now = dt.datetime.now(dt.UTC)
        changes = self.occurrence_changes.get(str(meeting["id"]), {})
        listed = []
        for local in itertools.islice(dates, MAX_OCCURRENCES):
            # dateutil keeps the wall-clock time and the zone; the instant follows the zone's
            # offset on that date (a time in a spring-forward gap reads with the earlier one).
            start = local.astimezone(dt.UTC)
            occurrence_id = str(int(start.timestamp() * 1000))
            occurrence = {
                "occurrence_id": occurrence_id,
                "start_time": utc_stamp(start),
                "duration": meeting["duration"],
                "status": "available",
            }
            if occurrence_id in changes:
                change = changes[occurrence_id]
                if change is None:
                    continue  # deleted: no longer listed
                occurrence.update(change)
            start = _utc_field(occurrence["start_time"])
            assert start is not None
            if not previous and start + dt.timedelta(minutes=occurrence["duration"]) <= now:
                continue
            listed.append(occurrence)
        # A moved occurrence keeps its id (its first start) and is listed at its new time.
        return sorted(listed, key=lambda occurrence: occurrence["start_time"])

    def shown(self, meeting: dict[str, Any], *, previous: bool = False) -> dict[str, Any]:
        """A meeting as create and GET answer it: a series with its occurrences."""
        if meeting.get("type") != 8:
            return meeting
        return {**meeting, "occurrences": self.occurrences(meeting, previous=previous)}

    @staticmethod
    def _start(body: dict[str, Any], zone: str | None = None) -> dt.datetime | None:
        """start_time with Z is GMT; without, local time in ``timezone`` (Zoom's docs)."""
        value = body.get("start_time")
        if not isinstance(value, str):
            return None
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            try:
                when = when.replace(tzinfo=ZoneInfo(body.get("timezone") or zone or "UTC"))
            except (ZoneInfoNotFoundError, ValueError):
                return None
        return when.astimezone(dt.UTC)

    def _count_write(self, host_id: str) -> bool:
        """Count a create/update against the host's daily limit; False when it is used up."""
        key = (host_id, dt.datetime.now(dt.UTC).date())
        with self.lock:
            used = self.daily_counts.get(key, 0)
            if used >= self.daily_limit:
                return False
            self.daily_counts[key] = used + 1
            return True

    def _daily_limited(self) -> Response:
        # Observed on the per-user limit: no Retry-After, no X-RateLimit-Type (Zoom's forum).
        return self.error(
            429,
            DAILY_LIMIT_MESSAGE.format(limit=self.daily_limit),
            code=429,
        )

    def _apply(self, meeting: dict[str, Any], body: dict[str, Any]) -> None:
        for name in WRITABLE:
            if name in body:
                meeting[name] = body[name]
        if "start_time" in body:
            start = self._start(body, meeting.get("timezone"))
            assert start is not None  # validated
            meeting["start_time"] = utc_stamp(start)
        if isinstance(body.get("duration"), float):
            meeting["duration"] = int(body["duration"])
        if isinstance(body.get("settings"), dict):
            meeting["settings"] = {**meeting.get("settings", {}), **body["settings"]}
        if isinstance(body.get("recurrence"), dict):
            # The object is replaced whole: Zoom does not merge a partial one.
            meeting["recurrence"] = body["recurrence"]
        if meeting.get("type") != 8:
            # Only a recurring meeting with a fixed time keeps a recurrence.
            meeting.pop("recurrence", None)
        if "password" in body:
            meeting["encrypted_password"] = secrets.token_urlsafe(24)
        self._links(meeting)

    def _links(self, meeting: dict[str, Any]) -> None:
        meeting_id = meeting["id"]
        meeting["join_url"] = f"{self.base_url}/j/{meeting_id}?pwd={meeting['encrypted_password']}"
        meeting["h323_password"] = meeting["pstn_password"] = meeting["password"]

    # -- endpoints ---------------------------------------------------------------------------

    def user(self, request: Request, user_id: str) -> Response:
        problem = self._auth_problem(request)
        if problem is not None:
            return problem
        user = self._find_user(user_id)
        if user is None:
            return self.error(404, f"User does not exist: {user_id}.", code=1001)
        return json_response(user)

    def user_meetings(self, request: Request, user_id: str) -> Response:
        problem = self._auth_problem(request)
        if problem is not None:
            return problem
        user = self._find_user(user_id)
        if user is None:
            return self.error(404, f"User does not exist: {user_id}.", code=1001)
        if request.method == "GET":
            return self._list(request, user)
        return self._create(request, user)

    def _create(self, request: Request, user: dict[str, Any]) -> Response:
        body = self._json_body(request)
        if isinstance(body, Response):
            return body
        invalid = self._validate(body, creating=True)
        if invalid is not None:
            return json_response(invalid, 400)
        if not self._count_write(user["id"]):
            return self._daily_limited()
        now = dt.datetime.now(dt.UTC)
        meeting_id = secrets.randbelow(9 * 10**10) + 10**10  # 11 digits, like Zoom's
        password = body.get("password") or "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(6)
        )
        meeting: dict[str, Any] = {
            "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
            "id": meeting_id,  # an int64 number in REST answers
            "host_id": user["id"],
            "host_email": user["email"],
            "assistant_id": "",
            "topic": body.get("topic") or "Zoom Meeting",
            "type": body.get("type", 2),
            "status": "waiting",
            "start_time": utc_stamp(now),
            "duration": 60,
            "timezone": body.get("timezone") or user["timezone"],
            "agenda": "",
            "created_at": utc_stamp(now),
            "start_url": f"{self.base_url}/s/{meeting_id}?zak={secrets.token_urlsafe(32)}",
            "password": password,
            "encrypted_password": secrets.token_urlsafe(24),
            "pre_schedule": False,
            "settings": dict(DEFAULT_SETTINGS),
            "creation_source": "open_api",
        }
        self._apply(meeting, {**body, "password": password})
        with self.lock:
            self.state.meetings[str(meeting_id)] = meeting
        return json_response(self.shown(meeting), 201)

    def _list(self, request: Request, user: dict[str, Any]) -> Response:
        try:
            page_size = int(request.args.get("page_size", "30"))
            offset = int(request.args.get("next_page_token") or "0")
        except ValueError:
            return json_response(self._invalid("page_size"), 400)
        if not 1 <= page_size <= 300:
            return json_response(self._invalid("page_size"), 400)
        kind = request.args.get("type", "scheduled")
        now = utc_stamp(dt.datetime.now(dt.UTC))
        with self.lock:
            mine = [m for m in self.state.meetings.values() if m["host_id"] == user["id"]]
        if kind == "upcoming":
            mine = [m for m in mine if m["type"] in (3, 8) or m["start_time"] >= now]
        page = mine[offset : offset + page_size]
        following = offset + page_size
        return json_response(
            {
                "page_size": page_size,
                "total_records": len(mine),
                "next_page_token": str(following) if following < len(mine) else "",
                "meetings": [{k: m[k] for k in LIST_FIELDS if k in m} for m in page],
            }
        )

    def meeting(self, request: Request, meeting_id: str) -> Response:
        problem = self._auth_problem(request)
        if problem is not None:
            return problem
        with self.lock:
            meeting = self.state.meetings.get(meeting_id)
        if meeting is None:
            return self.error(404, f"Meeting does not exist: {meeting_id}.", code=3001)
        if request.method == "GET":
            previous = request.args.get("show_previous_occurrences") == "true"
            return json_response(self.shown(meeting, previous=previous))
        if "occurrence_id" in request.args:
            return self._occurrence(request, meeting, request.args["occurrence_id"])
        if request.method == "DELETE":
            with self.lock:
                self.state.meetings.pop(meeting_id, None)
                self.occurrence_changes.pop(meeting_id, None)
            return Response(status=204)
        body = self._json_body(request)
        if isinstance(body, Response):
            return body
        invalid = self._validate(body, creating=False)
        if (
            invalid is None
            and body.get("type") == 8
            and not isinstance(body.get("recurrence", meeting.get("recurrence")), dict)
        ):
            invalid = self._invalid("recurrence")
        if invalid is not None:
            return json_response(invalid, 400)
        start = self._start(body, meeting.get("timezone"))
        if start is not None and start < dt.datetime.now(dt.UTC):
            # "start_time must be in the future; past values are ignored" (Zoom's docs).
            body = {k: v for k, v in body.items() if k != "start_time"}
        if not self._count_write(meeting["host_id"]):
            return self._daily_limited()
        with self.lock:
            self._apply(meeting, body)
            if "recurrence" in body or meeting.get("type") != 8:
                # A series sent anew has its dates made anew from its rule: the dates
                # deleted or changed on their own are back as the rule gives them.
                self.occurrence_changes.pop(meeting_id, None)
        return Response(status=204)

    def _occurrence(
        self, request: Request, meeting: dict[str, Any], occurrence_id: str
    ) -> Response:
        """DELETE or PATCH one occurrence of a series (``?occurrence_id=``, Zoom's docs).

        The id must be one the meeting lists (its start in epoch milliseconds); another, or
        one deleted already, is refused as Zoom refuses it: 400, code 300, "Invalid
        parameter: occurrence_id.". A PATCH changes the occurrence's ``start_time`` and
        ``duration`` and counts against the host's daily limit, as any update does.
        """
        listed = {o["occurrence_id"] for o in self.occurrences(meeting, previous=True)}
        if occurrence_id not in listed:
            return self.error(400, "Invalid parameter: occurrence_id.", code=300)
        changes = self.occurrence_changes.setdefault(str(meeting["id"]), {})
        if request.method == "DELETE":
            with self.lock:
                changes[occurrence_id] = None
            return Response(status=204)
        body = self._json_body(request)
        if isinstance(body, Response):
            return body
        invalid = self._validate(body, creating=False)
        if invalid is not None:
            return json_response(invalid, 400)
        start = self._start(body, meeting.get("timezone"))
        if not self._count_write(meeting["host_id"]):
            return self._daily_limited()
        with self.lock:
            change = changes.get(occurrence_id) or {}
            if start is not None and start >= dt.datetime.now(dt.UTC):
                change["start_time"] = utc_stamp(start)
            if "duration" in body:
                change["duration"] = int(body["duration"])
            changes[occurrence_id] = change
        return Response(status=204)
