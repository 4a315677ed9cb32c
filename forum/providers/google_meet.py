"""Google Meet adapter: Calendar events with a Meet link, via a service account's delegation.

Why Calendar and not the Meet REST API: ``spaces.create`` (POST /v2/spaces) takes no request
id and the API has no way to list a user's spaces, so a create whose answer was lost could
never be found again and a retry would make a second space. Calendar's ``events.insert``
accepts an event ``id`` chosen by the client (base32hex, 5 to 1024 characters); forum derives
it from the session's marker, so:
- a lost answer is found again by reading that id (``events.get``);
- a repeat of a create that did happen is refused with 409 ``duplicate``
  ("The requested identifier already exists."), and we then read the event instead;
- Calendar keeps a deleted event's id taken (reads answer 410 "Resource has been deleted"),
  so a session whose meeting was deleted gets the next id of a short chain derived from the
  same marker (marker, marker#2, marker#3, ...), and ``find`` walks that chain the same way.
The Meet link comes from ``conferenceData.createRequest`` (type ``hangoutsMeet``), which
Calendar ignores unless the call carries ``conferenceDataVersion=1``. ``sendUpdates=none``:
forum sends its own invitations, Google must not send a second set.

Auth: a service account with domain-wide delegation signs a JWT (RS256) naming the host user
it acts as (``sub``) and trades it at the token endpoint for an hour's access token; so there
is one token per impersonated host. Without delegation, Calendar refuses Meet links with 400
"Invalid conference type value." (Google's docs; integrators' reports).

A repeating session is one repeating event: Calendar evaluates its RRULE in the event's
``start.timeZone``, the session's anchor zone, as forum does, and it takes any rule forum
accepts, so no series needs another form; the rule's UNTIL is sent in UTC. A series'
left-out dates are EXDATE lines beside the rule, written as the rule's wall-clock times in
the anchor zone; its moved dates are its instances patched one by one (``events.patch`` on
``<event id>_<start in UTC>``), after every create and every update, since a date moved to
another length cannot be an RDATE.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
import zoneinfo
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote
from urllib.parse import unquote
from urllib.parse import urlsplit

import requests
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from flask_babel import LazyString

from forum.core.recurrence import exdate_local_times
from forum.core.times import format_instant
from forum.i18n import _
from forum.i18n import _l
from forum.providers.base import IDENTITY_MAX
from forum.providers.base import AuthenticationFailed
from forum.providers.base import HostNotFound
from forum.providers.base import MeetingInfo
from forum.providers.base import MeetingNotFound
from forum.providers.base import MeetingRequest
from forum.providers.base import ProviderError
from forum.providers.base import ProviderUnavailable
from forum.providers.base import QuotaExceeded
from forum.providers.base import RateLimited
from forum.providers.base import RequestRejected
from forum.providers.base import VideoProvider
from forum.providers.base import WebhookEvent
from forum.providers.base import WebhookRejected
from forum.providers.base import WebhookReply
from forum.providers.base import header
from forum.providers.http import ProviderHttp
from forum.providers.http import TokenCache
from forum.providers.http import create_once
from forum.providers.http import http_options
from forum.providers.registry import AccountSettings
from forum.providers.rules import HeldDate
from forum.providers.rules import date_changes
from forum.providers.rules import first_date
from forum.providers.rules import rule_dates
from forum.providers.rules import with_utc_until
from forum.providers.tokens import cache_key

log = logging.getLogger("forum.providers.google_meet")

DEFAULT_API_URL = "https://www.googleapis.com"
DEFAULT_OAUTH_URL = "https://oauth2.googleapis.com"
# Full calendar scope: events.* would do for meetings, but check() reads the calendar itself
# (calendars.get) to learn whether Meet is allowed on it.
DEFAULT_SCOPE = "https://www.googleapis.com/auth/calendar"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME = 3600  # Google refuses assertions whose exp is more than an hour after iat
# How many ids of a marker's chain may be burnt by deleted meetings before we give up.
MAX_GENERATIONS = 20
# Instances read per page of events.instances (Calendar allows up to 2500).
INSTANCES_PAGE = 250
LABEL = "Google Calendar"
TOKEN_ENDPOINT_LABEL = _l("Google's token endpoint")
# A watch channel's X-Goog-Resource-State -> the core's vocabulary; "sync" (the channel's
# first message) gives no event.
GOOGLE_STATES = {"exists": "meeting.updated", "not_exists": "meeting.deleted"}


def event_id_for(marker: str, generation: int = 0) -> str:
    """The Calendar event id for a marker: hex sha256, a subset of base32hex (a-v, 0-9)."""
    seed = marker if generation == 0 else f"{marker}#{generation + 1}"
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def _exdate_lines(request: MeetingRequest) -> list[str]:
    """The series' left-out dates as one EXDATE line in the anchor zone's wall-clock time.

    Written as the rule writes each date (a date in a spring-forward gap as its 02:30, not
    the 03:30 its instant shows), so that Calendar, which compares them with the rule's
    dates, leaves each out (forum.core.recurrence.exdate_local_times).
    """
    if not request.exdates or not request.rrule:
        return []
    local = exdate_local_times(
        start=request.start,
        timezone=request.timezone,
        rrule=request.rrule,
        exdates=[format_instant(when) for when in request.exdates],
    )
    stamps = ",".join(when.strftime("%Y%m%dT%H%M%S") for when in local)
    return [f"EXDATE;TZID={request.timezone}:{stamps}"]


def _held_date(item: dict[str, Any]) -> HeldDate:
    """An instance of a repeating event, by its ``originalStartTime``."""
    try:
        return HeldDate(
            ref=str(item["id"]),
            original=_instant(item["originalStartTime"]["dateTime"]),
            start=_instant(item["start"]["dateTime"]),
            end=_instant(item["end"]["dateTime"]),
        )
    except (KeyError, TypeError, ValueError):
        raise ProviderUnavailable(
            _("Google Calendar listed an instance forum cannot read")
        ) from None


def _instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def _rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class CredentialsRefused(AuthenticationFailed):
    """The service account itself was refused (key, account): no host will work."""


def _google_error(response: requests.Response) -> tuple[str, str, str]:
    """(reason, domain, message) from Google's JSON API error envelope, or from anything else.

    The envelope is {"error": {"errors": [{"domain", "reason", "message", ...}], "code",
    "message"}}; a proxy in between may answer HTML or nothing at all.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        items = error.get("errors")
        first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
        message = str(error.get("message") or first.get("message") or "")
        return str(first.get("reason") or ""), str(first.get("domain") or ""), message
    if isinstance(error, str):  # an OAuth-style answer
        description = body.get("error_description") if isinstance(body, dict) else None
        return error, "oauth", str(description or error)
    return "", "", f"HTTP {response.status_code} {response.reason or ''}".strip()


def _calendar_and_event(url: str) -> tuple[str | None, str | None]:
    """The calendar id (the host) and the event id named by a Calendar API URL."""
    parts = urlsplit(url).path.split("/")
    try:
        at = parts.index("calendars")
    except ValueError:
        return None, None
    calendar = unquote(parts[at + 1]) if len(parts) > at + 1 else None
    event = unquote(parts[at + 3]) if len(parts) > at + 3 and parts[at + 2] == "events" else None
    return calendar, event


def error_from(response: requests.Response) -> ProviderError:
    """Turn a Calendar API error into the ProviderError an organiser can act on."""
    status = response.status_code
    reason, _domain, message = _google_error(response)
    calendar, event = _calendar_and_event(response.request.url if response.request else "")
    options: dict[str, Any] = {"status": status, "code": reason or None}
    if status in (404, 410) and event is not None:
        # 410 "Resource has been deleted": Calendar keeps deleted events and says so.
        return MeetingNotFound(
            _(
                "the Google Calendar event %(event)s no longer exists (deleted in Google?)",
                event=event,
            ),
            **options,
        )
    if status == 404:
        return HostNotFound(
            _(
                "Google user %(user)s has no calendar this service account can use: check the "
                "address, and that the user is in the Workspace domain that granted delegation",
                user=calendar,
            ),
            **options,
        )
    if status == 400 and message == "Invalid conference type value.":
        return RequestRejected(
            _(
                'Google refused to add a Meet link to %(user)s\'s event ("%(message)s"): the '
                "service account must act as a Workspace user through domain-wide delegation, "
                "and Google Meet must be enabled for that user",
                user=calendar,
                message=message,
            ),
            **options,
        )
    if status == 401:
        return AuthenticationFailed(
            _(
                "Google refused the access token (%(message)s): check the service account key "
                "and its domain-wide delegation",
                # Google's own words when it gives none.
                message=message or "Invalid Credentials",
            ),
            **options,
        )
    if status == 403 and reason in ("rateLimitExceeded", "userRateLimitExceeded"):
        return RateLimited(
            _(
                "Google Calendar rate limit reached (%(message)s); forum will try again",
                message=message,
            ),
            **options,
        )
    if status == 403 and reason in ("quotaExceeded", "dailyLimitExceeded"):
        return QuotaExceeded(
            _("Google Calendar usage limits exceeded (%(message)s)", message=message), **options
        )
    if status == 403:
        return AuthenticationFailed(
            _(
                "Google refused access to %(user)s's calendar (%(message)s): the service "
                "account's delegation must include the scope %(scope)s, and the user must own "
                "the calendar",
                user=calendar,
                message=message,
                scope=DEFAULT_SCOPE,
            ),
            **options,
        )
    if status == 429:
        return RateLimited(
            _(
                "Google Calendar rate limit reached (%(message)s); forum will try again",
                message=message,
            ),
            **options,
        )
    if status >= 500:
        return ProviderUnavailable(
            _("Google Calendar failed (%(message)s); forum will try again", message=message),
            **options,
        )
    return RequestRejected(
        _("Google Calendar refused the request: %(message)s", message=message), **options
    )


def _token_error_for(host: str) -> Callable[[requests.Response], ProviderError]:
    """Errors of the OAuth token endpoint ({"error", "error_description"}), for one host."""

    def parse(response: requests.Response) -> ProviderError:
        status = response.status_code
        reason, _domain, description = _google_error(response)
        options: dict[str, Any] = {"status": status, "code": reason or None}
        if status == 429 or status >= 500:
            return ProviderUnavailable(
                _("Google's token endpoint failed (%(description)s)", description=description),
                **options,
            )
        if reason == "invalid_grant" and "Invalid email or User ID" in description:
            return HostNotFound(
                _("Google user %(user)s does not exist in the Workspace domain", user=host),
                **options,
            )
        if reason == "unauthorized_client":
            # Google's answer when delegation is missing for the scope or for the user's domain.
            return AuthenticationFailed(
                _(
                    "the service account may not act as %(user)s (%(description)s): in the "
                    "Workspace admin console of %(domain)s, grant its client id domain-wide "
                    "delegation for %(scope)s",
                    user=host,
                    description=description,
                    domain=host.rpartition("@")[2],
                    scope=DEFAULT_SCOPE,
                ),
                **options,
            )
        if reason == "invalid_grant" and "iat and exp" in description:
            return CredentialsRefused(
                _(
                    "Google refused the service account's token request (%(description)s): "
                    "check this server's clock",
                    description=description,
                ),
                **options,
            )
        return CredentialsRefused(
            _(
                "Google refused the service account's credentials (%(description)s): check the "
                "service account email (client id) and its private key (client secret)",
                description=description,
            ),
            **options,
        )

    return parse


class ServiceAccountKey:
    """The service account's email and RSA private key; signs the JWT assertions."""

    def __init__(self, email: str, private_key: rsa.RSAPrivateKey, key_id: str | None) -> None:
        self.email = email
        self._private_key = private_key
        self.key_id = key_id

    @classmethod
    def from_settings(cls, settings: AccountSettings) -> ServiceAccountKey:
        """From client_id (the email) and client_secret (the PEM key or the whole JSON key file)."""
        secret = (settings.client_secret or "").strip()
        email = settings.client_id or ""
        key_id = settings.options.get("private_key_id")
        if secret.startswith("{"):
            # The JSON key file as Google hands it out: private_key, client_email, private_key_id.
            try:
                document = json.loads(secret)
            except ValueError:
                document = {}
            secret = str(document.get("private_key", ""))
            email = email or str(document.get("client_email", ""))
            key_id = key_id or document.get("private_key_id")
        try:
            key = serialization.load_pem_private_key(secret.encode("utf-8"), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            # Never echo the key or the parser's message, which may quote it.
            raise CredentialsRefused(
                _(
                    "the Google service account's private key could not be read: paste the "
                    "private_key of the JSON key file (-----BEGIN PRIVATE KEY----- ...)"
                )
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CredentialsRefused(_("the Google service account's key must be an RSA key"))
        if not email:
            raise CredentialsRefused(_("the Google service account's email (client id) is missing"))
        return cls(email, key, str(key_id) if key_id else None)

    def assertion(self, *, subject: str, scope: str, audience: str, now: float) -> str:
        header: dict[str, str] = {"alg": "RS256", "typ": "JWT"}
        if self.key_id:
            header["kid"] = self.key_id
        claims = {
            "iss": self.email,
            "sub": subject,
            "scope": scope,
            "aud": audience,
            "iat": int(now),
            "exp": int(now) + TOKEN_LIFETIME,
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode("utf-8"))
            for part in (header, claims)
        )
        signature = self._private_key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{_b64url(signature)}"

    def __repr__(self) -> str:
        return f"ServiceAccountKey(email={self.email!r})"


class GoogleMeetProvider(VideoProvider):
    """Meetings as Calendar events with a Meet link on the host user's calendar."""

    kind = "google_meet"
    uses_hosts = True

    def __init__(self, settings: AccountSettings, *, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.sleep = sleep
        self.api_url = (settings.api_base_url or DEFAULT_API_URL).rstrip("/")
        self.token_url = f"{(settings.oauth_url or DEFAULT_OAUTH_URL).rstrip('/')}/token"
        self.scope = str(settings.options.get("scope") or DEFAULT_SCOPE)
        self.session = requests.Session()
        self._key: ServiceAccountKey | None = None
        self._http: dict[str, ProviderHttp] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GoogleMeetProvider({self.settings!r})"

    # -- the authenticated session, one per impersonated host --------------------------------

    def _http_options(self, label: str | LazyString) -> dict[str, Any]:
        return http_options(self.settings, sleep=self.sleep, label=label, session=self.session)

    def http(self, host: str) -> ProviderHttp:
        """The Calendar API session acting as ``host``.

        A delegated token is valid for one user only, so each host has its own token
        (and so its own ProviderHttp, which holds one); they share one connection pool.
        """
        with self._lock:
            if host not in self._http:
                self._http[host] = ProviderHttp(
                    base_url=self.api_url,
                    error_from=error_from,
                    tokens=TokenCache(
                        lambda: self._fetch_token(host),
                        key=cache_key(self.settings, host, self.scope),
                    ),
                    **self._http_options(LABEL),
                )
            return self._http[host]

    def _fetch_token(self, host: str) -> tuple[str, float, dict[str, Any]]:
        if self._key is None:
            self._key = ServiceAccountKey.from_settings(self.settings)
        assertion = self._key.assertion(
            subject=host, scope=self.scope, audience=self.token_url, now=time.time()
        )
        oauth = ProviderHttp(
            base_url=self.token_url,
            error_from=_token_error_for(host),
            **self._http_options(TOKEN_ENDPOINT_LABEL),
        )
        response = oauth.request(
            "POST",
            self.token_url,
            data={"grant_type": JWT_BEARER, "assertion": assertion},
            expected=(200,),
        )
        try:
            body = response.json()
            return str(body["access_token"]), float(body.get("expires_in", 3600)), {}
        except (ValueError, KeyError, TypeError):
            raise ProviderUnavailable(
                _("Google's token endpoint answered without a token; forum will try again")
            ) from None

    # -- thin endpoint calls -----------------------------------------------------------------

    @staticmethod
    def _events_path(host: str, event_id: str | None = None) -> str:
        path = f"/calendar/v3/calendars/{quote(host, safe='@')}/events"
        return f"{path}/{quote(event_id, safe='')}" if event_id else path

    def _insert(self, host: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http(host).request(
            "POST",
            self._events_path(host),
            params={"conferenceDataVersion": "1", "sendUpdates": "none"},
            json=body,
            safe_to_repeat=False,
            expected=(200,),
        )
        return response.json()

    def _get(self, host: str, event_id: str) -> dict[str, Any]:
        response = self.http(host).request(
            "GET", self._events_path(host, event_id), expected=(200,)
        )
        event = response.json()
        if event.get("status") == "cancelled":
            # Calendar may hand back a deleted event marked cancelled instead of a 410.
            raise MeetingNotFound(
                _("the Google Calendar event %(event)s was deleted", event=event_id), status=200
            )
        return event

    def _patch(self, host: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http(host).request(
            "PATCH",
            self._events_path(host, event_id),
            params={"sendUpdates": "none"},
            json=body,
            expected=(200,),
        )
        return response.json()

    def _delete(self, host: str, event_id: str) -> None:
        self.http(host).request(
            "DELETE",
            self._events_path(host, event_id),
            params={"sendUpdates": "none"},
            expected=(200, 204),
        )

    def _calendar(self, host: str) -> dict[str, Any]:
        path = f"/calendar/v3/calendars/{quote(host, safe='@')}"
        return self.http(host).request("GET", path, expected=(200,)).json()

    # -- the facade --------------------------------------------------------------------------

    def _host(self, host: str | None) -> str:
        host = host or (self.settings.hosts[0] if self.settings.hosts else None)
        if not host:
            raise RequestRejected(_("a Google Meet meeting needs a host user; none is configured"))
        return host

    @staticmethod
    def _times(request: MeetingRequest) -> dict[str, Any]:
        try:
            zone: dt.tzinfo = zoneinfo.ZoneInfo(request.timezone)
            zone_name = request.timezone
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            zone, zone_name = dt.UTC, "UTC"
        start, end = request.start, request.end
        if request.rrule:
            start, end = first_date(request.rrule, start, end, request.timezone)
        return {
            "start": {"dateTime": start.astimezone(zone).isoformat(), "timeZone": zone_name},
            "end": {"dateTime": end.astimezone(zone).isoformat(), "timeZone": zone_name},
        }

    def _event_body(self, request: MeetingRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"summary": request.topic, "description": request.agenda}
        body.update(self._times(request))
        # Calendar runs the rule in start.timeZone, the session's anchor zone, as forum
        # does; its UNTIL goes in UTC (forum.providers.rules). An empty list makes an event
        # that repeated a single one again.
        body["recurrence"] = (
            [f"RRULE:{with_utc_until(request.rrule, request.timezone)}", *_exdate_lines(request)]
            if request.rrule
            else []
        )
        return body

    def _keep_dates(self, host: str, event_id: str, request: MeetingRequest) -> None:
        """Move the series' moved dates: each its own instance, patched to its new times.

        Works from events.instances; an instance is matched to forum's date by its
        ``originalStartTime`` (forum.providers.rules). Left-out dates are the event's
        EXDATE lines, so Calendar lists none of them.
        """
        if not request.rrule:
            return
        changes = date_changes(request, self._instances(host, event_id, request))
        if changes.missing or changes.delete:
            raise RequestRejected(
                _(
                    "Google Calendar's dates of the event %(event)s are not forum's "
                    "(%(missing)s missing, %(listed)s left out yet listed)",
                    event=event_id,
                    missing=len(changes.missing),
                    listed=len(changes.delete),
                )
            )
        zone = request.timezone
        for date, start, end in changes.move:
            self._patch(
                host,
                date.ref,
                {
                    "start": {"dateTime": start.isoformat(), "timeZone": zone},
                    "end": {"dateTime": end.isoformat(), "timeZone": zone},
                },
            )

    def _instances(self, host: str, event_id: str, request: MeetingRequest) -> list[HeldDate]:
        """events.instances of the event, page by page, over every date forum has for it."""
        times = rule_dates(request) + [(start, end) for _, start, end in request.moved]
        if not times:
            return []
        params: dict[str, Any] = {
            "timeMin": _rfc3339(min(start for start, _ in times)),
            "timeMax": _rfc3339(max(end for _, end in times) + dt.timedelta(minutes=1)),
            "maxResults": INSTANCES_PAGE,
        }
        held: list[HeldDate] = []
        while True:
            response = self.http(host).request(
                "GET", f"{self._events_path(host, event_id)}/instances", params=params
            )
            page = response.json()
            held += [_held_date(item) for item in page.get("items") or []]
            if not page.get("nextPageToken"):
                return held
            params["pageToken"] = page["nextPageToken"]

    def _info(self, host: str, event: dict[str, Any]) -> MeetingInfo:
        conference = event.get("conferenceData") or {}
        entry_points = conference.get("entryPoints") or []
        video = next((e for e in entry_points if e.get("entryPointType") == "video"), {})
        join_url = event.get("hangoutLink") or video.get("uri")
        status = ((conference.get("createRequest") or {}).get("status") or {}).get("statusCode")
        if not join_url:
            if status == "pending":
                # Google may still be creating the Meet space; the event exists, so a later
                # read (forum retries the job) will find the link.
                raise ProviderUnavailable(
                    _("Google is still creating the Meet link; forum will try again")
                )
            raise RequestRejected(
                _(
                    "Google made the calendar event for %(user)s without a Meet link: enable "
                    "Google Meet for that user in the Workspace admin console",
                    user=host,
                )
            )
        phones = [
            {key: e[key] for key in ("uri", "label", "pin", "regionCode") if key in e}
            for e in entry_points
            if e.get("entryPointType") == "phone"
        ]
        data = {
            "calendar_id": host,
            "event_id": event.get("id"),
            "meeting_code": conference.get("conferenceId"),
            "html_link": event.get("htmlLink"),
            "ical_uid": event.get("iCalUID"),
            "conference_status": status,
            "phones": phones,
        }
        return MeetingInfo(
            external_id=str(event["id"]),
            join_url=str(join_url),
            passcode=None,  # Meet has no passcode; phone PINs are in data
            host_url=None,  # nor a secret start link: the host signs in to their Google account
            host_account=host,
            data={key: value for key, value in data.items() if value is not None},
        )

    def _find(self, host: str, marker: str) -> tuple[int, dict[str, Any] | None]:
        """Walk the marker's id chain: (first free generation, the live event if one exists).

        404 means an id was never used (the chain ends there); gone (410, cancelled) means a
        meeting made for this marker was deleted since, so the next id is the one to look at.
        """
        for generation in range(MAX_GENERATIONS):
            try:
                return generation, self._get(host, event_id_for(marker, generation))
            except MeetingNotFound as error:
                if error.status == 404:
                    return generation, None
        raise RequestRejected(
            _(
                "the meetings of this session were deleted %(times)s times in Google Calendar; "
                "forum will not make another",
                times=MAX_GENERATIONS,
            )
        )

    def create_meeting(self, request: MeetingRequest) -> MeetingInfo:
        host = self._host(request.host)
        marker = request.marker or uuid.uuid4().hex
        body = self._event_body(request)
        body["extendedProperties"] = {"private": {"forumMarker": marker}}

        def post() -> MeetingInfo:
            generation = 0
            for _attempt in range(MAX_GENERATIONS):
                body["id"] = event_id_for(marker, generation)
                # A new requestId per request: Calendar ignores a repeated one (section 4.2).
                body["conferenceData"] = {
                    "createRequest": {
                        "requestId": uuid.uuid4().hex,
                        "conferenceSolutionKey": {"type": "hangoutsMeet"},
                    }
                }
                try:
                    return self._info(host, self._insert(host, body))
                except RequestRejected as error:
                    if error.status != 409:
                        raise
                # 409 "duplicate": this id was used before, by us (it is derived from the
                # marker): either our own create whose answer was lost, or a deleted meeting.
                generation, event = self._find(host, marker)
                if event is not None:
                    log.info("the event for marker %s already existed", marker)
                    return self._info(host, event)
            raise RequestRejected(
                _(
                    "Google Calendar keeps refusing this session's event ids as taken; "
                    "forum will not make another"
                )
            )

        def find() -> MeetingInfo | None:
            _generation, event = self._find(host, marker)
            return self._info(host, event) if event is not None else None

        created = create_once(post, find, sleep=self.sleep, backoff=self.settings.backoff_seconds)
        self._keep_dates(host, created.external_id, request)
        return created

    def _on_hosts(self, host: str | None, call: Callable[[str], Any]) -> Any:
        """Call on the host given, or else on each configured host until one has the event.

        Events live on one host's calendar and forum passes that host; the search is for a
        caller that lost it.
        """
        if host:
            return call(host)
        missing: MeetingNotFound | None = None
        for candidate in self.settings.hosts:
            try:
                return call(candidate)
            except MeetingNotFound as error:
                missing = error
        raise missing or RequestRejected(_("no Google host user is configured"))

    def get_meeting(self, external_id: str, *, host: str | None = None) -> MeetingInfo:
        return self._on_hosts(host, lambda h: self._info(h, self._get(h, external_id)))

    def update_meeting(self, external_id: str, request: MeetingRequest) -> MeetingInfo:
        body = self._event_body(request)

        def update(host: str) -> MeetingInfo:
            # PATCH answers 200 with the whole event: no read back needed. It sends the
            # series' times and rule anew, which may drop its instances' own times: they
            # are patched again.
            updated = self._info(host, self._patch(host, external_id, body))
            self._keep_dates(host, external_id, request)
            return updated

        return self._on_hosts(request.host, update)

    def delete_meeting(self, external_id: str, *, host: str | None = None) -> None:
        # Deleted already (410) or never there (404): done.
        with contextlib.suppress(MeetingNotFound):
            self._on_hosts(host, lambda h: self._delete(h, external_id))

    def check(self) -> list[str]:
        problems: list[str] = []
        for host in self.settings.hosts:
            try:
                calendar = self._calendar(host)
            except AuthenticationFailed as error:
                # A refused key or account (a 401 invalid_client reaches us as a plain
                # AuthenticationFailed): no host can work, so one message says it.
                if isinstance(error, CredentialsRefused) or error.code == "invalid_client":
                    return [error.message]
                problems.append(error.message)
                continue
            except ProviderUnavailable as error:
                return [error.message]
            except ProviderError as error:
                problems.append(error.message)
                continue
            allowed = (calendar.get("conferenceProperties") or {}).get(
                "allowedConferenceSolutionTypes"
            )
            if isinstance(allowed, list) and "hangoutsMeet" not in allowed:
                problems.append(
                    _(
                        "Google Meet is not enabled for %(user)s's calendar: enable Meet for "
                        "that user in the Workspace admin console",
                        user=host,
                    )
                )
        return problems

    # -- push notifications --------------------------------------------------------------------

    def verify_webhook(
        self,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: dt.datetime,
        query: Mapping[str, str] | None = None,
    ) -> WebhookReply | None:
        """A Calendar watch channel's notification: its ``X-Goog-Channel-Token`` must match.

        Google signs nothing; the token given when the channel was opened is the only check
        (Google's docs). The first message of a channel (state ``sync``) only says it works:
        nothing to answer, and parse gives no event for it.
        """
        secret = self.settings.webhook_secret
        if not secret:
            raise WebhookRejected(
                "no channel token (webhook secret) is configured for this account"
            )
        token = header(headers, "X-Goog-Channel-Token")
        if not token:
            raise WebhookRejected("missing X-Goog-Channel-Token")
        if not hmac.compare_digest(token.encode("utf-8", "replace"), secret.encode()):
            raise WebhookRejected("X-Goog-Channel-Token does not match")
        number = header(headers, "X-Goog-Message-Number") or ""
        if not (header(headers, "X-Goog-Channel-ID") and header(headers, "X-Goog-Resource-State")):
            raise WebhookRejected("missing X-Goog-Channel-ID or X-Goog-Resource-State")
        if not (number.isascii() and number.isdigit()):
            raise WebhookRejected("missing or malformed X-Goog-Message-Number")
        return None

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """meeting.updated (``exists``) or meeting.deleted (``not_exists``); ``sync`` gives [].

        The notification has no body and names only the watched resource, not the event
        that changed: the processing side must read it (events.list with a sync token) to
        learn what changed.
        """
        state = (header(headers, "X-Goog-Resource-State") or "").strip()
        kind = GOOGLE_STATES.get(state)
        channel = (header(headers, "X-Goog-Channel-ID") or "").strip()
        resource_id = (header(headers, "X-Goog-Resource-ID") or "").strip()
        number = (header(headers, "X-Goog-Message-Number") or "").strip()
        if kind is None or not channel or not resource_id:
            return []
        identity = f"google_meet:{channel}|{number}"
        if len(identity) > IDENTITY_MAX:
            identity = "google_meet:sha256:" + hashlib.sha256(identity.encode()).hexdigest()
        return [
            WebhookEvent(
                kind=kind,
                external_id=resource_id,
                identity=identity,
                data={
                    "operator": None,  # Google does not say who made the change
                    "channel_id": channel,
                    "resource_id": resource_id,
                    "resource_uri": header(headers, "X-Goog-Resource-URI"),
                    "resource_state": state,
                    "message_number": number,
                },
            )
        ]
