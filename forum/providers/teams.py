"""Microsoft Teams meetings through Microsoft Graph: app-only standalone onlineMeetings.

A standalone onlineMeeting has no recurrence: a repeating session is one onlineMeeting from
its first date to the end of its last, whose join link serves every date of the series.
MeetingInfo.data["recurrence_note"] says so, for the organiser to read beside the link; the
dates people receive are forum's (its invitations and calendar).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote
from urllib.parse import urlsplit

import requests

from forum.i18n import _
from forum.i18n import _l
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
from forum.providers.base import webhook_identity
from forum.providers.http import create_once
from forum.providers.http import parse_retry_after
from forum.providers.http import token_and_api_clients
from forum.providers.registry import AccountSettings
from forum.providers.rules import series_span
from forum.providers.tokens import cache_key

GRAPH_API = "https://graph.microsoft.com/v1.0"
ENTRA_LOGIN = "https://login.microsoftonline.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"

OBJECT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
# /users/{user}, /users/{user}/onlineMeetings[/createOrGet], /users/{user}/onlineMeetings/{id}
GRAPH_PATH = re.compile(
    r"/users/(?P<user>[^/?]+)(?P<meetings>/onlineMeetings(?:/(?P<item>[^/?]+))?)?$"
)

# A change notification's changeType -> the core's vocabulary ("created" tells us nothing).
GRAPH_CHANGES = {"updated": "meeting.updated", "deleted": "meeting.deleted"}

# Entra (AADSTS) error codes that have a precise remedy; the others get the vendor's first line.
ENTRA_REMEDIES = {
    7000215: _l(
        "the credentials were refused: check the client secret (use the secret's value, not its id)"
    ),
    7000222: _l("the client secret has expired: create a new one in the app registration"),
    7000216: _l("no client secret is configured for this Teams account"),
    700016: _l(
        "Microsoft Entra does not know this application (client) id in the tenant: "
        "check the client id and the tenant id"
    ),
    90002: _l("Microsoft Entra does not know this tenant: check the tenant id"),
    900023: _l("the tenant id is not a valid tenant: check the tenant id"),
}


class TeamsProvider(VideoProvider):
    """Teams meetings made by an Entra app (client credentials) on behalf of host users.

    Three layers, as in indico-plugins' vc_zoom: ``ProviderHttp`` (token, retries, one
    refresh on 401), thin Graph calls (``_create_or_get``, ``_read``, ``_patch``, ``_remove``,
    ``_lookup_user``), and the facade below that turns Graph's errors into messages an
    organiser can act on.
    """

    kind = "teams"
    uses_hosts = True

    def __init__(
        self, settings: AccountSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._login, self.tokens, self.http = token_and_api_clients(
            settings,
            sleep=sleep,
            label="Microsoft Teams",
            login_url=settings.oauth_url or ENTRA_LOGIN,
            login_errors=self._token_error,
            fetch_token=self._fetch_token,
            token_key=cache_key(settings),
            api_url=settings.api_base_url or GRAPH_API,
            api_errors=self.error_from,
            login_label="Microsoft Entra (login.microsoftonline.com)",
            api_label="Microsoft Graph",
        )
        # Host (email, sign-in name or object id, as configured) -> Graph object id, and back
        # (so that an error about /users/{id} can name the host the organiser knows).
        self._user_ids: dict[str, str] = {}
        self._hosts_by_id: dict[str, str] = {}
        self._users_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TeamsProvider(account={self.settings.name!r})"

    # -- token ---------------------------------------------------------------------------------

    def _fetch_token(self) -> tuple[str, float, dict[str, Any]]:
        """An app-only Graph token from Entra (client credentials; no refresh token exists)."""
        tenant = quote(self.settings.tenant_id or "", safe="")
        if not tenant:
            raise AuthenticationFailed(_("no tenant id is configured for this Teams account"))
        response = self._login.request(
            "POST",
            f"/{tenant}/oauth2/v2.0/token",
            expected=(200,),
            data={
                "client_id": self.settings.client_id or "",
                "client_secret": self.settings.client_secret or "",
                "scope": GRAPH_SCOPE,
                "grant_type": "client_credentials",
            },
        )
        body = _json(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ProviderError(_("Microsoft Entra answered the token request without a token"))
        try:
            lifetime = float(body.get("expires_in") or 3599)
        except (TypeError, ValueError):
            lifetime = 3599.0  # Entra's app tokens live about an hour
        return token, lifetime, {}

    def _token_error(self, response: requests.Response) -> ProviderError:
        """An Entra STS error (``error``, ``error_description``, int ``error_codes``)."""
        body = _json(response)
        status = response.status_code
        if status == 429:
            return RateLimited(
                _("Microsoft Entra is throttling token requests; forum will try again"),
                status=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            return ProviderUnavailable(
                _(
                    "Microsoft Entra failed to issue a token (%(status)s); forum will try again",
                    status=status,
                ),
                status=status,
            )
        error = body.get("error") if isinstance(body, dict) else None
        description = body.get("error_description") if isinstance(body, dict) else None
        codes = body.get("error_codes") if isinstance(body, dict) else None
        code = codes[0] if isinstance(codes, list) and codes and isinstance(codes[0], int) else None
        if code in ENTRA_REMEDIES:
            message = _(
                "Teams: %(remedy)s (AADSTS%(code)s)", remedy=ENTRA_REMEDIES[code], code=code
            )
        elif isinstance(error, str):
            # The description's first line is the reason; the rest is trace and timestamp ids.
            reason = description.splitlines()[0] if isinstance(description, str) else ""
            message = _(
                "Teams: Microsoft Entra refused the credentials (%(error)s: %(reason)s)",
                error=error,
                reason=reason,
            )
        else:
            message = _(
                "Teams: Microsoft Entra refused the token request (%(status)s)", status=status
            )
        return AuthenticationFailed(self._scrub(message), status=status, code=code or error)

    # -- errors ----------------------------------------------------------------------------------

    def error_from(self, response: requests.Response) -> ProviderError:
        """A Graph error envelope ``{"error": {"code", "message", "innerError"}}`` as our error."""
        status = response.status_code
        body = _json(response)
        error = body.get("error") if isinstance(body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        vendor = error.get("message") if isinstance(error, dict) else None
        vendor = self._scrub(vendor) if isinstance(vendor, str) and vendor else None
        detail = f"{code}: {vendor}" if code and vendor else vendor or code or _("no details")
        where = GRAPH_PATH.search(urlsplit(response.request.url or "").path or "")
        host = self._host_label(where.group("user")) if where else None
        about_meeting = bool(where and where.group("item") and where.group("item") != "createOrGet")

        if status == 429:
            return RateLimited(
                _("Microsoft Graph is throttling this app's requests; forum will try again"),
                status=status,
                code=code,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            return ProviderUnavailable(
                _(
                    "Microsoft Graph failed (%(status)s %(detail)s); forum will try again",
                    status=status,
                    detail=detail,
                ),
                status=status,
                code=code,
            )
        if _no_access_policy(status, vendor):
            # Graph's wording has changed over the years (Unauthorized "App … is not authorized
            # to Create meeting on behalf of user …", Forbidden, and 403 General "No application
            # access policy found for this app."): match the message, not the code.
            if host:
                no_policy = _(
                    "the Teams app has no application access policy for user %(host)s: a Teams "
                    "administrator must grant one (New-CsApplicationAccessPolicy, then "
                    "Grant-CsApplicationAccessPolicy for that user or -Global); a new policy "
                    "takes up to 30 minutes to apply",
                    host=host,
                )
            else:
                no_policy = _(
                    "the Teams app has no application access policy for user the host: a Teams "
                    "administrator must grant one (New-CsApplicationAccessPolicy, then "
                    "Grant-CsApplicationAccessPolicy for that user or -Global); a new policy "
                    "takes up to 30 minutes to apply"
                )
            return AuthenticationFailed(no_policy, status=status, code=code)
        if status == 401:
            return AuthenticationFailed(
                _(
                    "Microsoft Graph refused the app's access token (%(detail)s): check the "
                    "tenant id and that the app registration is enabled",
                    detail=detail,
                ),
                status=status,
                code=code,
            )
        if status == 403:
            if code == "Authorization_RequestDenied" or not where or not where.group("meetings"):
                return AuthenticationFailed(
                    _(
                        "the Teams app may not look up users (%(detail)s): grant it the "
                        "User.Read.All application permission, with admin consent",
                        detail=detail,
                    ),
                    status=status,
                    code=code,
                )
            if host:
                refused = _(
                    "Microsoft Graph refused the meeting call for %(host)s (%(detail)s): grant "
                    "the app the OnlineMeetings.ReadWrite.All application permission, with "
                    "admin consent",
                    host=host,
                    detail=detail,
                )
            else:
                refused = _(
                    "Microsoft Graph refused the meeting call for the host (%(detail)s): grant "
                    "the app the OnlineMeetings.ReadWrite.All application permission, with "
                    "admin consent",
                    detail=detail,
                )
            return AuthenticationFailed(refused, status=status, code=code)
        if status == 404 and about_meeting:
            return MeetingNotFound(
                _("the Teams meeting no longer exists (deleted in Teams, or expired)"),
                status=status,
                code=code,
            )
        if status == 404:
            if host:
                missing = _(
                    "Teams user %(host)s does not exist in this Microsoft 365 tenant", host=host
                )
            else:
                missing = _("Teams user the host does not exist in this Microsoft 365 tenant")
            return HostNotFound(missing, status=status, code=code)
        if status in (400, 409, 422):
            return RequestRejected(
                _("Microsoft Graph refused the meeting: %(detail)s", detail=detail),
                status=status,
                code=code,
            )
        return ProviderError(
            _("Microsoft Graph answered %(status)s (%(detail)s)", status=status, detail=detail),
            status=status,
            code=code,
        )

    def _scrub(self, text: str) -> str:
        secret = self.settings.client_secret
        return text.replace(secret, "***") if secret else text

    def _host_label(self, user: str) -> str:
        return self._hosts_by_id.get(user, user)

    # -- thin Graph calls ------------------------------------------------------------------------

    def _lookup_user(self, host: str) -> str:
        """The object id of a host given as an object id, an email or a sign-in name."""
        if OBJECT_ID.match(host):
            response = self.http.request("GET", f"/users/{quote(host, safe='')}?$select=id")
            return str(_json(response).get("id") or host)
        # onlineMeetings paths take the object id. The email is looked up as mail or as sign-in
        # name (they differ in some tenants); OData doubles a quote inside a string literal.
        literal = host.replace("'", "''")
        query = f"mail eq '{literal}' or userPrincipalName eq '{literal}'"
        response = self.http.request(
            "GET", f"/users?$filter={quote(query, safe='')}&$select=id,mail,userPrincipalName"
        )
        users = _json(response).get("value") or []
        if not users or not isinstance(users[0], dict) or not users[0].get("id"):
            raise HostNotFound(
                _(
                    "Teams user %(host)s does not exist in this Microsoft 365 tenant (no user "
                    "has that email or sign-in name)",
                    host=host,
                ),
                status=404,
            )
        return str(users[0]["id"])

    def _meetings_path(self, user_id: str, meeting_id: str | None = None) -> str:
        path = f"/users/{quote(user_id, safe='')}/onlineMeetings"
        return f"{path}/{quote(meeting_id, safe='')}" if meeting_id else path

    def _create_or_get(
        self, user_id: str, body: dict[str, Any], *, safe_to_repeat: bool
    ) -> tuple[bool, dict[str, Any]]:
        """(made now, meeting): 201 when Graph made it, 200 when the externalId existed."""
        response = self.http.request(
            "POST",
            f"{self._meetings_path(user_id)}/createOrGet",
            safe_to_repeat=safe_to_repeat,
            expected=(200, 201),
            json=body,
        )
        return response.status_code == 201, _meeting(response)

    def _read(self, user_id: str, meeting_id: str) -> dict[str, Any]:
        return _meeting(self.http.request("GET", self._meetings_path(user_id, meeting_id)))

    def _patch(self, user_id: str, meeting_id: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.request("PATCH", self._meetings_path(user_id, meeting_id), json=body)
        # Graph answers 200 with the whole meeting (unlike Zoom's 204); read back otherwise.
        if response.status_code == 204 or not response.content:
            return self._read(user_id, meeting_id)
        return _meeting(response)

    def _remove(self, user_id: str, meeting_id: str) -> None:
        self.http.request("DELETE", self._meetings_path(user_id, meeting_id), expected=(204, 200))

    # -- facade ----------------------------------------------------------------------------------

    def user_id(self, host: str, *, fresh: bool = False) -> str:
        """The Graph object id of a host, looked up once and then remembered."""
        key = host.strip().lower()
        if not fresh:
            with self._users_lock:
                known = self._user_ids.get(key)
            if known is not None:
                return known
        user_id = self._lookup_user(host.strip())
        with self._users_lock:
            self._user_ids[key] = user_id
            self._hosts_by_id.setdefault(user_id, host)
        return user_id

    def create_meeting(self, request: MeetingRequest) -> MeetingInfo:
        host = self._host_for(request)
        user_id = self.user_id(host)
        # createOrGet returns the meeting already made for this externalId instead of a second
        # one, so a create whose answer was lost is found by sending it again. Without a marker
        # one is made up here: it still covers the retries of this call.
        body = {
            "externalId": request.marker or f"forum-{uuid.uuid4()}",
            **_times_and_subject(request),
        }
        # A standalone onlineMeeting has no agenda or recurrence field: the agenda stays in
        # forum's invitations, and a series is one meeting spanning its dates.
        note = series_note(request)

        def post() -> MeetingInfo:
            made, meeting = self._create_or_get(user_id, body, safe_to_repeat=False)
            return self._converged(user_id, host, made, meeting, body, note)

        def find() -> MeetingInfo | None:
            try:
                made, meeting = self._create_or_get(user_id, body, safe_to_repeat=True)
            except ProviderUnavailable:
                return None
            return self._converged(user_id, host, made, meeting, body, note)

        return create_once(post, find, sleep=self._sleep, backoff=self.settings.backoff_seconds)

    def _converged(
        self,
        user_id: str,
        host: str,
        made: bool,
        meeting: dict[str, Any],
        body: dict[str, Any],
        note: str | None,
    ) -> MeetingInfo:
        # createOrGet hands back an existing meeting as it was made, ignoring the new times and
        # subject: if the session changed since (a retried booking), bring the meeting along.
        wanted = {key: body[key] for key in ("subject", "startDateTime", "endDateTime")}
        if not made and _differs(meeting, wanted):
            meeting = self._patch(user_id, str(meeting["id"]), wanted)
        return self._info(meeting, host, user_id, note=note)

    def get_meeting(self, external_id: str, *, host: str | None = None) -> MeetingInfo:
        for candidate, user_id in self._organizers(host):
            try:
                return self._info(self._read(user_id, external_id), candidate, user_id)
            except MeetingNotFound:
                continue
        raise MeetingNotFound(
            _("the Teams meeting no longer exists (deleted in Teams, or expired)"), status=404
        )

    def update_meeting(self, external_id: str, request: MeetingRequest) -> MeetingInfo:
        # Graph needs both startDateTime and endDateTime to move a meeting; the organizer
        # cannot change, so the meeting stays with the host that made it.
        body = _times_and_subject(request)
        note = series_note(request)
        for candidate, user_id in self._organizers(request.host):
            try:
                meeting = self._patch(user_id, external_id, body)
                return self._info(meeting, candidate, user_id, note=note)
            except MeetingNotFound:
                continue
        raise MeetingNotFound(
            _("the Teams meeting no longer exists (deleted in Teams, or expired)"), status=404
        )

    def delete_meeting(self, external_id: str, *, host: str | None = None) -> None:
        for _candidate, user_id in self._organizers(host):
            try:
                self._remove(user_id, external_id)
            except MeetingNotFound:
                continue  # gone already (or not this host's): deleted is deleted
            return

    def check(self) -> list[str]:
        try:
            self.tokens.get()
        except ProviderError as error:
            return [error.message]
        if not self.settings.hosts:
            return [_("the Teams account has no host users: add at least one (email or object id)")]
        problems: list[str] = []
        for host in self.settings.hosts:
            try:
                self.user_id(host, fresh=True)
            except ProviderError as error:
                if error.message not in problems:
                    problems.append(error.message)
        return problems

    # -- change notifications -----------------------------------------------------------------

    def verify_webhook(
        self,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: dt.datetime,
        query: Mapping[str, str] | None = None,
    ) -> WebhookReply | None:
        """Graph's validation handshake, else the ``clientState`` of every notification.

        Basic change notifications carry no signature: the clientState given when
        subscribing is their only authenticity check (Microsoft Graph's docs).
        """
        secret = self.settings.webhook_secret
        if not secret:
            raise WebhookRejected("no clientState (webhook secret) is configured for this account")
        token = (query or {}).get("validationToken")
        if token is not None:
            # Graph POSTs ?validationToken=... before it creates a subscription and wants it
            # back as text/plain within 10 s, URL-decoded: ``query`` holds decoded values
            # already (decoding twice would change a token holding "%"). Nothing in this
            # request can be checked against the clientState.
            return WebhookReply(200, token.encode(), "text/plain")
        try:
            notification = json.loads(body)
        except ValueError:
            raise WebhookRejected("the body is not JSON") from None
        items = notification.get("value") if isinstance(notification, dict) else None
        if not isinstance(items, list) or not items:
            raise WebhookRejected("no notifications in value[]")
        for item in items:
            state = item.get("clientState") if isinstance(item, dict) else None
            if not isinstance(state, str) or not hmac.compare_digest(
                state.encode(), secret.encode()
            ):
                raise WebhookRejected("a notification's clientState does not match")
        return None

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """meeting.updated / meeting.deleted per notification in ``value[]``.

        A basic notification names the resource and the change, nothing more: the
        processing side must read the resource to learn what changed (or that it is gone).
        Lifecycle notifications (subscriptionRemoved, missed...) have no changeType and give
        no events.
        """
        try:
            notification = json.loads(body)
        except ValueError:
            return []
        items = notification.get("value") if isinstance(notification, dict) else None
        events = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            change = item.get("changeType")
            kind = GRAPH_CHANGES.get(change) if isinstance(change, str) else None
            resource = str(item.get("resource") or "")
            resource_data = item.get("resourceData")
            resource_data = resource_data if isinstance(resource_data, dict) else {}
            external_id = str(resource_data.get("id") or resource.rstrip("/").rpartition("/")[2])
            if kind is None or not external_id:
                continue
            parts = [
                str(item.get("subscriptionId") or ""),
                str(change),
                resource,
                str(item.get("id") or ""),
                str(resource_data.get("@odata.etag") or ""),
            ]
            events.append(
                WebhookEvent(
                    kind=kind,
                    external_id=external_id,
                    identity=webhook_identity("teams", parts),
                    data={
                        "operator": None,  # Graph does not say who made the change
                        "resource": resource,
                        "subscription_id": item.get("subscriptionId"),
                        "tenant_id": item.get("tenantId"),
                        "change_type": change,
                    },
                )
            )
        return events

    # -- helpers ---------------------------------------------------------------------------------

    def _host_for(self, request: MeetingRequest) -> str:
        if request.host:
            return request.host
        if self.settings.hosts:
            return self.settings.hosts[0]
        raise RequestRejected(
            _("Teams meetings need a host user: add one to the Teams account's hosts")
        )

    def _organizers(self, host: str | None) -> list[tuple[str, str]]:
        """(host, object id) to try: the given host, else every host of the pool in turn."""
        if host:
            return [(host, self.user_id(host))]
        found = []
        for candidate in self.settings.hosts:
            try:
                found.append((candidate, self.user_id(candidate)))
            except HostNotFound:
                continue
        return found

    def _info(
        self,
        meeting: dict[str, Any],
        host: str,
        user_id: str,
        *,
        note: str | None = None,
    ) -> MeetingInfo:
        """The meeting as forum keeps it; ``note`` explains a series held as one meeting."""
        # Live answers carry both joinWebUrl and the older joinUrl (Cal.com requires both);
        # the current resource doc lists only joinWebUrl, so prefer it.
        join_url = meeting.get("joinWebUrl") or meeting.get("joinUrl")
        if not isinstance(join_url, str) or not join_url:
            raise ProviderError(_("Microsoft Graph returned a Teams meeting without a join link"))
        join_settings = meeting.get("joinMeetingIdSettings") or {}
        audio = meeting.get("audioConferencing") or {}
        chat = meeting.get("chatInfo") or {}
        data = {
            "organizer_id": user_id,
            "external_ref": meeting.get("externalId"),
            "subject": meeting.get("subject"),
            "start": meeting.get("startDateTime"),
            "end": meeting.get("endDateTime"),
            "join_meeting_id": join_settings.get("joinMeetingId"),
            "video_teleconference_id": meeting.get("videoTeleconferenceId"),
            "chat_thread_id": chat.get("threadId"),
            # The docs spell it ConferenceId in one sample and conferenceId in another.
            "conference_id": audio.get("conferenceId") or audio.get("ConferenceId"),
            "toll_number": audio.get("tollNumber"),
            "dial_in_url": audio.get("dialinUrl"),
        }
        passcode = join_settings.get("passcode")
        return MeetingInfo(
            external_id=str(meeting["id"]),
            join_url=join_url,
            passcode=str(passcode) if passcode else None,
            # Teams has no separate start link: the organizer joins by the same link, signed in.
            host_url=None,
            host_account=host,
            data={
                **{key: str(value) for key, value in data.items() if value not in (None, "")},
                # Always present, so that a series made a single session clears it.
                "recurrence_note": note,
            },
        )


def series_note(request: MeetingRequest) -> str | None:
    """What an organiser should know of a repeating session's Teams meeting, or None."""
    if not request.rrule:
        return None
    # Stored on the meeting (its data's recurrence_note) and shown beside the link.
    return _(
        "Teams meetings made by forum do not repeat: this series is one Teams meeting, from "
        "its first date to its last, whose link serves every date; the dates are those of "
        "forum's invitations and calendar"
    )


def _json(response: requests.Response) -> dict[str, Any]:
    """The JSON object in a response, or {} (an HTML error page from a proxy, an empty body)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _meeting(response: requests.Response) -> dict[str, Any]:
    meeting = _json(response)
    if not meeting.get("id"):
        raise ProviderError(_("Microsoft Graph returned a Teams meeting without an id"))
    return meeting


def _no_access_policy(status: int, message: str | None) -> bool:
    if status not in (401, 403) or not message:
        return False
    text = message.lower()
    return "application access policy" in text or (
        "is not authorized to" in text and "on behalf of user" in text
    )


def _graph_time(when: dt.datetime) -> str:
    """ISO 8601 in UTC; Graph accepts any offset and answers in UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _times_and_subject(request: MeetingRequest) -> dict[str, str]:
    """Subject and times; a series' one meeting spans it, from its first date to its last.

    The span is of the dates as forum holds them: a date moved past the last (or before the
    first) widens it, so that the link still serves on that date.

    Teams lets a scheduled meeting's link expire some time (60 days) after the meeting's
    end unless it is used again: ending the meeting with the series keeps the link alive
    for every date, however far apart they are.
    """
    start, end = series_span(request) if request.rrule else (request.start, request.end)
    return {
        "subject": request.topic,
        "startDateTime": _graph_time(start),
        "endDateTime": _graph_time(end),
    }


def parse_graph_time(value: str) -> dt.datetime:
    """A Graph instant (``2019-07-11T02:17:17.6491364Z``: seven fractional digits) in UTC."""
    # Python 3.11's fromisoformat reads the seven digits and the Z; Graph answers in UTC, so a
    # value without an offset is UTC too.
    parsed = dt.datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _differs(meeting: dict[str, Any], wanted: dict[str, str]) -> bool:
    if meeting.get("subject") != wanted["subject"]:
        return True
    for key in ("startDateTime", "endDateTime"):
        value = meeting.get(key)
        try:
            if not isinstance(value, str) or parse_graph_time(value) != parse_graph_time(
                wanted[key]
            ):
                return True
        except ValueError:
            return True
    return False
