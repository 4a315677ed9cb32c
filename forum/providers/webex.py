"""The Webex adapter: meetings through the REST API v1 (webexapis.com/v1/meetings).

A repeating session is one meeting series whose ``recurrence`` is the session's rule (RFC
2445 text, which Webex evaluates in the meeting's ``timezone``), with its UNTIL written in
UTC (forum.providers.rules). Webex documents one restriction: a monthly or yearly rule
with several days or dates keeps only the first ("BYMONTHDAY=10,11,12" is taken as
"BYMONTHDAY=10"). Such a rule is refused before anything is sent, with the reason: the
meeting records ``failed`` and the session page shows why, rather than a series that
silently leaves dates out. Webex has no meeting whose one link serves any date, so there
is no single-meeting fallback here.

A series' left-out dates are deleted one by one and its moved dates updated one by one,
each as its own scheduled meeting (``<series id>_<start>``), after every create and every
update: an update sends the series' start, end and rule anew, which cancels the dates
changed on their own ("Changing start/end/recurrence of a series cancels its exceptional
occurrences"), so each update gives Webex the whole state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import quote
from urllib.parse import urlsplit

import requests

from forum.i18n import _
from forum.providers.base import AuthenticationFailed
from forum.providers.base import HostNotFound
from forum.providers.base import MeetingInfo
from forum.providers.base import MeetingNotFound
from forum.providers.base import MeetingRequest
from forum.providers.base import ProviderError
from forum.providers.base import ProviderUnavailable
from forum.providers.base import RateLimited
from forum.providers.base import RequestRejected
from forum.providers.base import VideoProvider
from forum.providers.base import WebhookEvent
from forum.providers.base import WebhookRejected
from forum.providers.base import WebhookReply
from forum.providers.base import header
from forum.providers.base import webhook_identity
from forum.providers.http import create_once
from forum.providers.http import token_and_api_clients
from forum.providers.registry import AccountSettings
from forum.providers.rules import HeldDate
from forum.providers.rules import date_changes
from forum.providers.rules import first_date
from forum.providers.rules import rule_dates
from forum.providers.rules import values
from forum.providers.rules import with_utc_until
from forum.providers.tokens import cache_key

log = logging.getLogger("forum.providers.webex")

DEFAULT_API_BASE_URL = "https://webexapis.com/v1"
DEFAULT_OAUTH_URL = "https://webexapis.com"
# A long-lived bot or integration token cannot be renewed by us: the cache keeps it this long
# and then simply takes it again from the settings.
STATIC_TOKEN_SECONDS = 3600.0
# integrationTags: "a maximum of 3 tags, 64 characters each" (Create a Meeting).
TAG_MAX = 64
# How far around the start a lost create is looked for; the list returns every meeting series
# that overlaps [from, to).
FIND_WINDOW = dt.timedelta(days=1)
# Meeting fields kept in MeetingInfo.data. Not hostKey nor phoneAndVideoSystemPassword: they
# let anyone claim the host role or dial in, and data is shown more widely than host_url.
KEPT_FIELDS = (
    "meetingNumber",
    "title",
    "meetingType",
    "state",
    "timezone",
    "start",
    "end",
    "recurrence",
    "hostEmail",
    "hostDisplayName",
    "siteUrl",
    "sipAddress",
    "integrationTags",
)
_MEETING_PATH = re.compile(r"/meetings/([^/]+)$")
# (resource, event) of a Webex webhook -> the core's vocabulary; others are ignored.
WEBEX_EVENTS = {
    ("meetings", "started"): "meeting.started",
    ("meetings", "ended"): "meeting.ended",
    ("meetings", "updated"): "meeting.updated",
    ("meetings", "deleted"): "meeting.deleted",
    ("meetingParticipants", "joined"): "participant.joined",
    ("meetingParticipants", "left"): "participant.left",
    ("recordings", "created"): "recording.ready",
}


def marker_tag(marker: str) -> str:
    """The integration tag that carries a request's marker (hashed if longer than 64 chars)."""
    if len(marker) <= TAG_MAX:
        return marker
    return "forum-" + hashlib.sha256(marker.encode()).hexdigest()[:40]


def webex_time(instant: dt.datetime) -> str:
    """An aware instant as ISO 8601 in UTC; Webex keeps only the minute anyway."""
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_webex_time(value: str) -> dt.datetime:
    """Webex answers with the meeting's own offset (``+08:00``), not UTC: read it back to UTC."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def webex_recurrence(rrule: str, timezone: str) -> str:
    """The rule as Webex's ``recurrence`` takes it, or RequestRejected if Webex would cut it."""
    rule = with_utc_until(rrule, timezone)
    freq = values(rule, "FREQ")
    if freq and freq[0] in ("MONTHLY", "YEARLY"):
        for part in ("BYDAY", "BYMONTHDAY", "BYMONTH"):
            if len(values(rule, part)) > 1:
                given = f"{part}={','.join(values(rule, part))}"
                if freq[0] == "MONTHLY":
                    raise RequestRejected(
                        _(
                            "Webex keeps only the first day or date of a monthly rule, so "
                            "%(part)s would lose dates: book one session per day of the month, "
                            "or choose another provider",
                            part=given,
                        )
                    )
                raise RequestRejected(
                    _(
                        "Webex keeps only the first day or date of a yearly rule, so "
                        "%(part)s would lose dates: book one session per day of the month, "
                        "or choose another provider",
                        part=given,
                    )
                )
    return rule


def _envelope(response: requests.Response) -> tuple[str, str | None]:
    """The vendor's words from ``{"message", "errors": [{"description"}], "trackingId"}``.

    Never fails: a proxy's HTML page or an empty body gives the HTTP reason instead.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return (response.reason or f"HTTP {response.status_code}"), None
    message = body.get("message") if isinstance(body.get("message"), str) else ""
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    descriptions = [
        item["description"]
        for item in errors
        if isinstance(item, dict) and isinstance(item.get("description"), str)
    ]
    # The description is the specific one ("Meeting password validation failed…"); the
    # message is often the generic "The input parameters contain invalid items.".
    words = "; ".join(d for d in descriptions if d != message)
    text = f"{message} {words}".strip() if message and words else (words or message)
    tracking = body.get("trackingId") if isinstance(body.get("trackingId"), str) else None
    return (text or response.reason or f"HTTP {response.status_code}"), tracking


def _host_in_request(request: requests.PreparedRequest | None) -> str | None:
    """The hostEmail a failed call was about, from its query or its JSON body."""
    if request is None:
        return None
    query = parse_qs(urlsplit(request.url or "").query)
    if query.get("hostEmail"):
        return query["hostEmail"][0]
    body = request.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body:
        try:
            sent = json.loads(body)
        except ValueError:
            return None
        if isinstance(sent, dict) and isinstance(sent.get("hostEmail"), str):
            return sent["hostEmail"]
    return None


def error_from(response: requests.Response) -> ProviderError:
    """A Webex error answer as a ProviderError an organiser can act on."""
    status = response.status_code
    text, tracking = _envelope(response)
    # Webex support asks for the trackingId; it is no secret.
    ref = " " + _("(Webex tracking id %(id)s)", id=tracking) if tracking else ""
    path = urlsplit(response.request.url or "").path if response.request is not None else ""
    meeting = _MEETING_PATH.search(path)
    if status == 401:
        return AuthenticationFailed(
            _(
                "Webex refused the access token: %(text)s%(ref)s. Check the account's token or "
                "that the Service App is still authorised in Control Hub",
                text=text,
                ref=ref,
            ),
            status=status,
        )
    if status == 403:
        # Webex uses 403 for missing scopes, roles or licences: a permission, not the data.
        return AuthenticationFailed(
            _(
                "Webex refused the request: %(text)s%(ref)s. The app needs the "
                "meeting:schedules and admin on-behalf-of scopes, and the host a Webex "
                "Meetings licence",
                text=text,
                ref=ref,
            ),
            status=status,
        )
    if status == 404:
        host = _host_in_request(response.request)
        if meeting is not None:
            return MeetingNotFound(
                _(
                    "the Webex meeting %(meeting)s no longer exists (deleted in Webex, or expired)",
                    meeting=meeting.group(1),
                ),
                status=status,
            )
        if host is not None:
            # The documented 404: "the resource requested, such as a user, does not exist".
            return HostNotFound(
                _(
                    "Webex user %(host)s does not exist on this account or cannot host meetings "
                    "on its site: add them in Control Hub or remove them from the host pool",
                    host=host,
                ),
                status=status,
            )
        return RequestRejected(
            _("Webex answered 404: %(text)s%(ref)s", text=text, ref=ref), status=status
        )
    if status == 429:
        return RateLimited(_("Webex asks us to slow down: %(text)s", text=text), status=status)
    if status >= 500:
        return ProviderUnavailable(
            _("Webex failed (%(status)s): %(text)s%(ref)s", status=status, text=text, ref=ref),
            status=status,
        )
    return RequestRejected(
        _("Webex rejected the meeting: %(text)s%(ref)s", text=text, ref=ref), status=status
    )


def token_error_from(response: requests.Response) -> ProviderError:
    """An error from the Service App token endpoint: the credentials, whatever the status."""
    if response.status_code == 429 or response.status_code >= 500:
        return error_from(response)
    text, _tracking = _envelope(response)
    return AuthenticationFailed(
        _(
            "Webex refused the Service App credentials (%(status)s: %(text)s): check the "
            "client id, client secret, application id, org id and the token that may request "
            "Service App tokens (scope spark:applications_token)",
            status=response.status_code,
            text=text,
        ),
        status=response.status_code,
    )


class WebexProvider(VideoProvider):
    """Webex meetings for an account: a Service App (or a long-lived token) and its hosts."""

    kind = "webex"
    uses_hosts = True

    def __init__(
        self, settings: AccountSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self._token_http, self.tokens, self.http = token_and_api_clients(
            settings,
            sleep=sleep,
            label="Webex",
            login_url=settings.oauth_url or DEFAULT_OAUTH_URL,
            login_errors=token_error_from,
            fetch_token=self._fetch_token,
            token_key=cache_key(settings),
            api_url=settings.api_base_url or DEFAULT_API_BASE_URL,
            api_errors=error_from,
        )

    def __repr__(self) -> str:
        return f"WebexProvider({self.settings.name!r})"

    # -- tokens --------------------------------------------------------------------------------

    @property
    def is_service_app(self) -> bool:
        s = self.settings
        return bool(s.client_id and s.client_secret and s.options.get("application_id"))

    def _fetch_token(self) -> tuple[str, float, dict[str, Any]]:
        s = self.settings
        if not self.is_service_app:
            if not s.token:
                raise AuthenticationFailed(
                    _("the Webex account has neither an access token nor Service App credentials")
                )
            # A bot or integration token: nothing to refresh, so a 401 after this means the
            # token itself is invalid or revoked.
            return s.token, STATIC_TOKEN_SECONDS, {}
        # "Create Service App Access Token": the caller is an admin's or integration's token
        # with scope spark:applications_token; the Service App's own secret goes in the body.
        headers = {"Authorization": f"Bearer {s.token}"} if s.token else {}
        application = quote(str(s.options["application_id"]), safe="")
        response = self._token_http.request(
            "POST",
            f"/v1/applications/{application}/token",
            json={
                "clientId": s.client_id,
                "clientSecret": s.client_secret,
                "targetOrgId": s.options.get("org_id"),
            },
            headers=headers,
            expected=(200,),
        )
        try:
            body = response.json()
            value = body["access_token"]
            expires_in = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as error:
            raise AuthenticationFailed(
                _("Webex answered the Service App token request without an access token")
            ) from error
        return value, expires_in, {}

    # -- meetings ------------------------------------------------------------------------------

    @staticmethod
    def _times(request: MeetingRequest) -> tuple[dt.datetime, dt.datetime]:
        """The meeting's start and end: a series' first date, as forum expands the rule."""
        if request.rrule:
            return first_date(request.rrule, request.start, request.end, request.timezone)
        return request.start, request.end

    def _body(self, request: MeetingRequest, *, create: bool) -> dict[str, Any]:
        start, end = self._times(request)
        body: dict[str, Any] = {
            "title": request.topic[:128],
            "start": webex_time(start),
            "end": webex_time(end),
            "timezone": request.timezone,
            "agenda": request.agenda[:1300],
        }
        if request.rrule:
            # Webex takes the RRULE value alone ("FREQ=DAILY;COUNT=10"), no "RRULE:" name.
            body["recurrence"] = webex_recurrence(request.rrule, request.timezone)
        elif not create:
            # JSON null makes a series a single meeting again (Update a Meeting).
            body["recurrence"] = None
        if request.host:
            # Only honoured with the admin on-behalf-of scopes, which a Service App has.
            body["hostEmail"] = request.host
        # forum sends its own invitations and updates (iMIP), so Webex must not mail anyone.
        body["sendEmail"] = False
        if create and request.marker:
            body["integrationTags"] = [marker_tag(request.marker)]
        return body

    def _info(self, meeting: dict[str, Any], *, host: str | None) -> MeetingInfo:
        return MeetingInfo(
            external_id=str(meeting["id"]),
            join_url=meeting.get("webLink") or "",
            passcode=meeting.get("password") or None,
            # Webex has no start link: the host signs in on the site (or uses the host key).
            host_url=None,
            host_account=meeting.get("hostEmail") or host,
            data={key: meeting[key] for key in KEPT_FIELDS if meeting.get(key) is not None},
        )

    def _meeting_path(self, external_id: str) -> str:
        return f"/meetings/{quote(external_id, safe='')}"

    def _find(self, request: MeetingRequest) -> MeetingInfo | None:
        """The meeting a lost create made, found by the marker in its integrationTags."""
        if not request.marker:
            return None
        tag = marker_tag(request.marker)
        start, _end = self._times(request)
        params: dict[str, Any] = {
            "meetingType": "meetingSeries",
            "from": webex_time(start - FIND_WINDOW),
            "to": webex_time(start + FIND_WINDOW),
            "max": 100,
        }
        if request.host:
            params["hostEmail"] = request.host
        response = self.http.request("GET", "/meetings", params=params, expected=(200,))
        for item in response.json().get("items") or []:
            if isinstance(item, dict) and tag in (item.get("integrationTags") or []):
                return self._info(item, host=request.host)
        return None

    def create_meeting(self, request: MeetingRequest) -> MeetingInfo:
        body = self._body(request, create=True)

        def post() -> MeetingInfo:
            # Webex answers a create with 200, not 201.
            response = self.http.request(
                "POST", "/meetings", json=body, safe_to_repeat=False, expected=(200, 201)
            )
            return self._info(response.json(), host=request.host)

        created = create_once(
            post,
            lambda: self._find(request),
            sleep=self.sleep,
            backoff=self.settings.backoff_seconds,
        )
        try:
            self._keep_dates(created.external_id, request)
        except ProviderError:
            # A series whose dates could not be set is not kept: the retry makes it anew,
            # rather than a second one beside it.
            try:
                self.delete_meeting(created.external_id, host=request.host)
            except ProviderError as error:
                log.warning(
                    "Webex series %s could not be deleted: %s", created.external_id, error.message
                )
            raise
        return created

    def get_meeting(self, external_id: str, *, host: str | None = None) -> MeetingInfo:
        params = {"hostEmail": host} if host else {}
        response = self.http.request(
            "GET", self._meeting_path(external_id), params=params, expected=(200,)
        )
        return self._info(response.json(), host=host)

    def update_meeting(self, external_id: str, request: MeetingRequest) -> MeetingInfo:
        # The spec labels PATCH application/json-patch+json yet wants a partial meeting, not
        # RFC 6902 operations; integrations (Cal.com) send application/json, as we do.
        response = self.http.request(
            "PATCH",
            self._meeting_path(external_id),
            json=self._body(request, create=False),
            expected=(200, 204),
        )
        self._keep_dates(external_id, request)
        if response.status_code == 204 or not response.content:
            return self.get_meeting(external_id, host=request.host)
        return self._info(response.json(), host=request.host)

    def _keep_dates(self, series_id: str, request: MeetingRequest) -> None:
        """Delete the series' left-out dates and move its moved dates on Webex.

        Works from the series' scheduled meetings as Webex lists them; a scheduled meeting's
        id ends with the start the rule gave it, by which it is matched to forum's date
        (forum.providers.rules).
        """
        if not request.rrule:
            return
        held = self._held_dates(series_id, request)
        changes = date_changes(request, held)
        if changes.missing:
            raise RequestRejected(
                _(
                    "the Webex series %(series)s lacks dates forum holds (%(dates)s); Webex "
                    "gives back no single date once deleted, so this series cannot be brought "
                    "in step",
                    series=series_id,
                    dates=", ".join(webex_time(when) for when in changes.missing[:5]),
                )
            )
        params: dict[str, Any] = {"sendEmail": "false"}
        if request.host:
            params["hostEmail"] = request.host
        for date in changes.delete:
            self.http.request(
                "DELETE", self._meeting_path(date.ref), params=params, expected=(200, 204)
            )
        for date, start, end in changes.move:
            body: dict[str, Any] = {
                "start": webex_time(start),
                "end": webex_time(end),
                "sendEmail": False,
            }
            if request.host:
                body["hostEmail"] = request.host
            self.http.request("PATCH", self._meeting_path(date.ref), json=body, expected=(200, 204))

    def _held_dates(self, series_id: str, request: MeetingRequest) -> list[HeldDate]:
        """The series' scheduled meetings (List Meetings by meetingSeriesId), page by page,
        over the span of every date forum has for it, moved ones included."""
        times = rule_dates(request) + [(start, end) for _, start, end in request.moved]
        if not times:
            return []
        params: dict[str, Any] | None = {
            "meetingSeriesId": series_id,
            "meetingType": "scheduledMeeting",
            "from": webex_time(min(start for start, _ in times) - FIND_WINDOW),
            "to": webex_time(max(end for _, end in times) + FIND_WINDOW),
            "max": 100,
        }
        if request.host:
            params["hostEmail"] = request.host
        path = "/meetings"
        held: list[HeldDate] = []
        while True:
            response = self.http.request("GET", path, params=params, expected=(200,))
            held += [_held_date(item) for item in response.json().get("items") or []]
            following = response.links.get("next", {}).get("url")
            if not following:
                return held
            path, params = following, None

    def delete_meeting(self, external_id: str, *, host: str | None = None) -> None:
        params: dict[str, Any] = {"sendEmail": "false"}
        if host:
            params["hostEmail"] = host
        try:
            self.http.request(
                "DELETE", self._meeting_path(external_id), params=params, expected=(200, 204)
            )
        except MeetingNotFound:
            return  # already gone (deleted in Webex, or expired): that is what we wanted

    # -- health --------------------------------------------------------------------------------

    def check(self) -> list[str]:
        try:
            self.tokens.get()
        except ProviderError as error:
            return [error.message]
        now = dt.datetime.now(dt.UTC)
        window = {
            "meetingType": "meetingSeries",
            "from": webex_time(now),
            "to": webex_time(now + FIND_WINDOW),
            "max": 1,
        }
        problems: list[str] = []
        # Listing a host's meetings is what an admin on-behalf-of call needs to work for
        # creates too; /people would also find users of other orgs, who cannot host here.
        for host in self.settings.hosts or (None,):
            params = {**window, **({"hostEmail": host} if host else {})}
            try:
                self.http.request("GET", "/meetings", params=params, expected=(200,))
            except AuthenticationFailed as error:
                return [error.message]
            except ProviderError as error:
                problems.append(error.message)
        return problems

    # -- webhooks ------------------------------------------------------------------------------

    def verify_webhook(
        self,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: dt.datetime,
        query: Mapping[str, str] | None = None,
    ) -> WebhookReply | None:
        """``X-Spark-Signature``: hex HMAC-SHA1 of the raw body with the webhook's secret.

        Webex sends no timestamp, so a replay can only be caught by the identity the inbox
        deduplicates on.
        """
        secret = self.settings.webhook_secret
        if not secret:
            raise WebhookRejected("no webhook secret is configured for this Webex account")
        signature = header(headers, "X-Spark-Signature")
        if not signature:
            # Webex leaves the header out when the webhook was registered without a secret.
            raise WebhookRejected("missing X-Spark-Signature")
        # Over the raw bytes: re-serialised JSON does not match (Webex's docs).
        expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        given = signature.strip().lower().encode("utf-8", "replace")
        if not hmac.compare_digest(expected.encode(), given):
            raise WebhookRejected("bad X-Spark-Signature")
        return None

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Meeting, participant and recording events from a verified Webex delivery."""
        try:
            envelope = json.loads(body)
        except ValueError:
            return []
        if not isinstance(envelope, dict) or not isinstance(envelope.get("data"), dict):
            return []
        resource, event = envelope.get("resource"), envelope.get("event")
        kind = WEBEX_EVENTS.get((str(resource), str(event)))
        data: dict[str, Any] = envelope["data"]
        if kind is None:
            return []
        # The series id is what create_meeting stored. Webex's examples spell an occurrence
        # "<series>_I_<n>" and a scheduled meeting "<series>_<yyyymmddThhmmssZ>"; the
        # webhook data fields themselves are UNVERIFIED (Webex's docs), so both are read.
        meeting_ref = data.get("meetingSeriesId") or (
            data.get("id") if resource == "meetings" else data.get("meetingId")
        )
        if not isinstance(meeting_ref, str) or not meeting_ref:
            return []
        external_id = meeting_ref.split("_", 1)[0]
        # The envelope's id and created are the webhook registration's, the same on every
        # delivery it makes; a digest of data tells two facts of one meeting apart (a rejoin,
        # a second update) while a re-delivery, byte for byte the same data, keeps it.
        digest = hashlib.sha256(
            json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()[:32]
        parts = [
            str(envelope.get("id") or ""),
            str(data.get("id") or ""),
            f"{resource}.{event}",
            str(envelope.get("created") or ""),
            digest,
        ]
        out: dict[str, Any] = {}
        instance = data.get("id") if resource == "meetings" else data.get("meetingId")
        if isinstance(instance, str) and instance != external_id:
            out["meeting_instance_id"] = instance
        email = name = None
        occurred_at: dt.datetime | None = None
        if kind in ("participant.joined", "participant.left"):
            field = "joinedTime" if kind == "participant.joined" else "leftTime"
            occurred_at = _webex_instant(data.get(field))
            email = str(data.get("email") or "").strip() or None
            name = str(data.get("displayName") or "").strip() or None
            out["participant_key"] = email.lower() if email else str(data.get("id") or "")
            out["at"] = _iso(occurred_at)
        elif kind in ("meeting.started", "meeting.ended"):
            occurred_at = _webex_instant(data.get("start" if kind == "meeting.started" else "end"))
            out["at"] = _iso(occurred_at)
        elif kind == "recording.ready":
            occurred_at = _webex_instant(data.get("createTime"))
            start = _webex_instant(data.get("timeRecorded"))
            seconds = data.get("durationSeconds")
            end = (
                start + dt.timedelta(seconds=seconds)
                if start is not None and isinstance(seconds, int) and not isinstance(seconds, bool)
                else None
            )
            links = ("downloadUrl", "playbackUrl")
            out.update(
                {
                    "share_url": data.get("playbackUrl"),
                    "files": [
                        {
                            "id": data.get("id"),
                            "format": data.get("format"),
                            **{k: data[k] for k in links if data.get(k)},
                        }
                    ],
                    "recording_start": _iso(start),
                    "recording_end": _iso(end),
                }
            )
            if data.get("password"):
                out["passcode"] = data["password"]
        else:  # meeting.updated, meeting.deleted: who did it; the meeting must be read again
            occurred_at = _webex_instant(data.get("lastModified"))
            out["operator"] = envelope.get("actorId")
        return [
            WebhookEvent(
                kind=kind,
                external_id=external_id,
                identity=webhook_identity("webex", parts),
                occurred_at=occurred_at,
                participant_email=email,
                participant_name=name,
                data=out,
            )
        ]


def _webex_instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_webex_time(value)
    except ValueError:
        return None


def _held_date(item: dict[str, Any]) -> HeldDate:
    """A scheduled meeting of a series: its id is ``<series id>_<first start in UTC>``."""
    try:
        start, end = parse_webex_time(item["start"]), parse_webex_time(item["end"])
        ref = str(item["id"])
    except (KeyError, TypeError, ValueError):
        raise ProviderUnavailable(_("Webex listed a scheduled meeting forum cannot read")) from None
    try:
        original = dt.datetime.strptime(ref.rpartition("_")[2], "%Y%m%dT%H%M%SZ")
    except ValueError:
        return HeldDate(ref=ref, original=start, start=start, end=end)
    return HeldDate(ref=ref, original=original.replace(tzinfo=dt.UTC), start=start, end=end)


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when is not None else None
