"""The Zoom adapter: Server-to-Server OAuth, meetings on REST v2, errors organisers can act on.

A repeating session becomes a type 8 meeting (recurring, fixed time) whose ``recurrence``
object gives the dates forum gives: weekly_days (1 is Sunday) from the start's weekday in
the anchor zone when the rule names no day, monthly by day or by weekday, and its end as
``end_times`` or ``end_date_time``. What that object cannot say (a yearly rule, BYSETPOS,
the fifth Tuesday, more than 50 dates, no end...) becomes one type 3 meeting, recurring with
no fixed time, whose single link serves every date; MeetingInfo.data["recurrence_note"]
says so and why, and the session page shows it beside the link.

A type 8 series' left-out dates are deleted one by one and its moved dates updated one by
one (``occurrence_id``), after every create and every update: an update sends the series
anew, which makes its dates anew from the rule, so each update gives Zoom the whole state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import logging
import math
import re
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote
from urllib.parse import unquote

import requests

from forum.core.recurrence import WEEKDAY_CODES
from forum.core.recurrence import rule_instants
from forum.core.recurrence import rule_parts
from forum.core.times import get_zone
from forum.i18n import _
from forum.i18n import _l
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
from forum.providers.base import webhook_identity
from forum.providers.http import create_once
from forum.providers.http import token_and_api_clients
from forum.providers.registry import AccountSettings
from forum.providers.rules import HeldDate
from forum.providers.rules import date_changes
from forum.providers.rules import first_date
from forum.providers.tokens import Token
from forum.providers.tokens import cache_key

log = logging.getLogger("forum.providers.zoom")

DEFAULT_API_BASE = "https://api.zoom.us/v2"
DEFAULT_OAUTH_URL = "https://zoom.us"
MARKER_PREFIX = "forum:"
AGENDA_MAX = 2000  # Zoom's limit on ``agenda`` (Zoom's docs)
TOPIC_MAX = 200
VENDOR_MESSAGE_MAX = 300
# Fields of Zoom's meeting worth keeping on our side. Not start_url (a secret host link,
# kept in MeetingInfo.host_url) nor the passwords (MeetingInfo.passcode).
KEPT_FIELDS = (
    "uuid",
    "id",
    "host_id",
    "host_email",
    "topic",
    "type",
    "status",
    "start_time",
    "duration",
    "timezone",
    "created_at",
    "recurrence",
    "occurrences",
    "registration_url",
)
# RFC 5545 BYDAY -> Zoom's weekly_days / monthly_week_day, where 1 is Sunday.
ZOOM_WEEKDAYS = {"SU": 1, "MO": 2, "TU": 3, "WE": 4, "TH": 5, "FR": 6, "SA": 7}
XML_CODE = re.compile(r"<code>\s*(\d+)\s*</code>")
XML_MESSAGE = re.compile(r"<message>(.*?)</message>", re.DOTALL)
# A host's meetings are listed 300 to a page; more pages than this are not read.
MAX_LIST_PAGES = 10
USER_PATH = re.compile(r"/users/([^/?]+)")
MEETING_PATH = re.compile(r"/meetings/([^/?]+)")
# Deliveries whose x-zm-request-timestamp is further than this from now (either way) are
# refused, against replays (Zoom's docs: a 5-minute window).
ZOOM_WEBHOOK_WINDOW = 300
# Zoom's event names -> the core's vocabulary; other events are ignored.
ZOOM_EVENTS = {
    "meeting.started": "meeting.started",
    "meeting.ended": "meeting.ended",
    "meeting.participant_joined": "participant.joined",
    "meeting.participant_left": "participant.left",
    "recording.completed": "recording.ready",
    "meeting.updated": "meeting.updated",
    "meeting.deleted": "meeting.deleted",
}


def utc_stamp(when: dt.datetime) -> str:
    """Zoom's GMT form of ``start_time``: ``yyyy-MM-ddTHH:mm:ssZ`` (Zoom's docs)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def marker_line(marker: str) -> str:
    return f"{MARKER_PREFIX}{marker}"


def agenda_with_marker(agenda: str, marker: str) -> str:
    """The agenda with the marker as its last line, cut to fit Zoom's 2000 characters."""
    if not marker:
        return agenda[:AGENDA_MAX]
    line = marker_line(marker)
    room = AGENDA_MAX - len(line) - 2
    text = agenda[: max(0, room)].rstrip()
    return f"{text}\n\n{line}" if text else line


def has_marker(agenda: Any, marker: str) -> bool:
    if not marker or not isinstance(agenda, str):
        return False
    line = marker_line(marker)
    return any(part.strip() == line for part in agenda.splitlines())


def recurrence_from_rrule(rrule: str, start: dt.datetime, timezone: str) -> dict[str, Any]:
    """Zoom's ``recurrence`` object (type 8 meetings) for an RFC 5545 rule, or RequestRejected.

    Zoom reads its days in the meeting's ``timezone``, so a rule without BYDAY (or, monthly,
    without BYMONTHDAY) repeats on the weekday (the day of the month) of ``start`` there, as
    RFC 5545 says; Zoom would otherwise put a weekly series on Sundays. The end is forum's own
    expansion of the rule: COUNT as ``end_times``, UNTIL as ``end_date_time`` holding the last
    date's start in UTC (an UNTIL written in local time means the anchor zone's, which Zoom's
    UTC field would otherwise shift by the zone's offset). A rule Zoom cannot express is
    refused with the reason, never sent half-understood.
    """
    zone = get_zone(timezone)
    local_start = start.astimezone(zone)
    try:
        return _recurrence(rrule, local_start, timezone)
    except ValueError:
        raise RequestRejected(
            _("forum cannot read the repeat rule %(rule)s", rule=repr(rrule))
        ) from None


# Stored on the meeting (its data's recurrence_note) and shown beside the link.
NO_FIXED_TIME_NOTE = _l(
    "Zoom holds this series as one meeting with no fixed time: its link serves every date, "
    "and the dates are those of forum's invitations and calendar"
)


def zoom_schedule(request: MeetingRequest) -> tuple[dict[str, Any] | None, str | None]:
    """(recurrence object, None) for a series Zoom can repeat; (None, note) for one it cannot.

    A series Zoom cannot repeat as forum does becomes one meeting of Zoom's type 3, a
    recurring meeting with no fixed time: one link that serves every date, while the dates
    themselves are those of forum's invitations and calendar. The note says so, and why, for
    the organiser to read beside the link.
    """
    if not request.rrule:
        return None, None
    try:
        return recurrence_from_rrule(request.rrule, request.start, request.timezone), None
    except RequestRejected as refused:
        return None, _(
            "%(reason)s. Zoom holds this series as one meeting with no fixed time: its link "
            "serves every date, and the dates are those of forum's invitations and calendar",
            reason=refused.message,
        )


# Rule parts Zoom's recurrence object has no field for.
UNSUPPORTED_PARTS = (
    "BYSETPOS",
    "BYMONTH",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
)
INTERVAL_UNITS = {"DAILY": "days", "WEEKLY": "weeks", "MONTHLY": "months"}
# Zoom's largest repeat_interval for daily, weekly and monthly meetings (Zoom's docs).
ZOOM_MAX_INTERVAL = {"DAILY": 90, "WEEKLY": 12, "MONTHLY": 3}
# "end_times: between a value of 1 and 50" (Zoom's recurrence object definitions); a series
# with more dates cannot be one Zoom series, whichever way its end is written.
ZOOM_MAX_OCCURRENCES = 50
# Days of a month every month has: Zoom does not say where a monthly_day of 29 to 31 goes in
# a month without it, where RFC 5545 skips that month.
ZOOM_SAFE_MONTH_DAYS = 28


def _recurrence(rrule: str, local_start: dt.datetime, timezone: str) -> dict[str, Any]:
    parts = rule_parts(rrule)
    freq = parts.get("FREQ", "")
    if freq == "YEARLY":
        raise RequestRejected(_("Zoom meetings repeat daily, weekly or monthly only, not yearly"))
    if freq not in ZOOM_MAX_INTERVAL:
        raise RequestRejected(
            _(
                "Zoom meetings repeat daily, weekly or monthly only, not %(rule)s",
                rule=freq.lower() or rrule,
            )
        )
    unsupported = [part for part in UNSUPPORTED_PARTS if part in parts]
    if unsupported:
        raise RequestRejected(
            _(
                "Zoom cannot repeat a meeting by %(parts)s (%(rule)s)",
                parts=", ".join(unsupported),
                rule=rrule,
            )
        )
    interval = int(parts.get("INTERVAL", "1"))
    if not 1 <= interval <= ZOOM_MAX_INTERVAL[freq]:
        raise RequestRejected(_interval_refused(freq, interval))
    recurrence: dict[str, Any] = {"repeat_interval": interval}
    byday = [day for day in parts.get("BYDAY", "").split(",") if day]
    own_weekday = ZOOM_WEEKDAYS[WEEKDAY_CODES[local_start.weekday()]]
    if freq == "DAILY":
        if byday or "BYMONTHDAY" in parts:
            raise RequestRejected(
                _(
                    "Zoom cannot repeat a daily meeting on chosen days (%(rule)s); "
                    "make it weekly on those days",
                    rule=rrule,
                )
            )
        recurrence["type"] = 1
    elif freq == "WEEKLY":
        recurrence["type"] = 2
        if "BYMONTHDAY" in parts:
            raise RequestRejected(
                _("Zoom cannot repeat a weekly meeting by BYMONTHDAY (%(rule)s)", rule=rrule)
            )
        try:
            days = sorted({ZOOM_WEEKDAYS[d] for d in byday} if byday else {own_weekday})
        except KeyError:
            raise RequestRejected(
                _("Zoom cannot repeat on %(days)s", days=parts["BYDAY"])
            ) from None
        if interval > 1 and len(days) > 1 and ZOOM_WEEKDAYS["SU"] in days:
            # Which week a Sunday belongs to decides such a series (RFC 5545's weeks start
            # on WKST, Monday unless said); Zoom does not say where its weeks start.
            raise RequestRejected(
                _(
                    "Zoom does not say where its weeks start, which decides a series every "
                    "%(interval)s weeks on Sunday and other days (%(rule)s)",
                    interval=interval,
                    rule=rrule,
                )
            )
        recurrence["weekly_days"] = ",".join(str(d) for d in days)
    else:
        recurrence["type"] = 3
        monthday = parts.get("BYMONTHDAY")
        if monthday is not None:
            if not monthday.isdigit() or not 1 <= int(monthday) <= 31 or byday:
                raise RequestRejected(
                    _(
                        "Zoom repeats a monthly meeting on one day of the month (1-31), "
                        "not %(rule)s",
                        rule=rrule,
                    )
                )
            recurrence["monthly_day"] = int(monthday)
        elif byday:
            match = re.fullmatch(r"(-1|[1-4])([A-Z]{2})", byday[0])
            if len(byday) != 1 or match is None or match.group(2) not in ZOOM_WEEKDAYS:
                raise RequestRejected(
                    _(
                        "Zoom repeats a monthly meeting on the first to fourth or the last "
                        "weekday of the month, not %(days)s",
                        days=parts["BYDAY"],
                    )
                )
            recurrence["monthly_week"] = int(match.group(1))
            recurrence["monthly_week_day"] = ZOOM_WEEKDAYS[match.group(2)]
        else:
            recurrence["monthly_day"] = local_start.day
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise RequestRejected(
            _(
                "a Zoom series ends after at most %(most)s dates, and this one has no end",
                most=ZOOM_MAX_OCCURRENCES,
            )
        )
    local_dates = [
        instant.astimezone(local_start.tzinfo)
        for instant in rule_instants(
            rrule.removeprefix("RRULE:"), local_start.replace(tzinfo=None), timezone
        )
    ]
    if not local_dates:
        raise RequestRejected(_("the repeat rule %(rule)s gives no date", rule=repr(rrule)))
    if len(local_dates) > ZOOM_MAX_OCCURRENCES:
        raise RequestRejected(
            _(
                "a Zoom series has at most %(most)s dates, and this one has %(count)s",
                most=ZOOM_MAX_OCCURRENCES,
                count=len(local_dates),
            )
        )
    monthly_day = recurrence.get("monthly_day", 0)
    if monthly_day > ZOOM_SAFE_MONTH_DAYS and _skips_months(local_dates, interval):
        raise RequestRejected(
            _(
                "this series skips the months without a day %(day)s, and Zoom does not "
                "say what it does in those months",
                day=monthly_day,
            )
        )
    if "COUNT" in parts:
        recurrence["end_times"] = len(local_dates)
    else:
        # The last date's own start: Zoom ends the series there whether it reads
        # end_date_time as an instant or as a date.
        recurrence["end_date_time"] = utc_stamp(local_dates[-1])
    return recurrence


def _interval_refused(freq: str, interval: int) -> str:
    """Why Zoom cannot repeat a series every ``interval`` days, weeks or months."""
    most = ZOOM_MAX_INTERVAL[freq]
    if freq == "DAILY":
        return _(
            "Zoom repeats a daily meeting at most every %(most)s days, not %(interval)s",
            most=most,
            interval=interval,
        )
    if freq == "WEEKLY":
        return _(
            "Zoom repeats a weekly meeting at most every %(most)s weeks, not %(interval)s",
            most=most,
            interval=interval,
        )
    return _(
        "Zoom repeats a monthly meeting at most every %(most)s months, not %(interval)s",
        most=most,
        interval=interval,
    )


def _skips_months(local_dates: list[dt.datetime], interval: int) -> bool:
    """Whether two consecutive dates of a monthly series are more than ``interval`` apart."""
    months = [date.year * 12 + date.month for date in local_dates]
    return any(later - earlier != interval for earlier, later in itertools.pairwise(months))


def vendor_error(response: requests.Response) -> tuple[int | None, str, list[dict[str, Any]]]:
    """Zoom's ``code``, ``message`` and ``errors[]`` from a JSON or XML body; never raises.

    Zoom answers XML when not asked for JSON (Zoom's docs), and a proxy may answer HTML.
    """
    code: int | None = None
    message = ""
    errors: list[dict[str, Any]] = []
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        raw_code = body.get("code")
        if isinstance(raw_code, int) or (isinstance(raw_code, str) and raw_code.isdigit()):
            code = int(raw_code)
        message = str(body.get("message") or body.get("reason") or "")
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    elif "xml" in response.headers.get("Content-Type", ""):
        text = response.text
        if found := XML_CODE.search(text):
            code = int(found.group(1))
        if found := XML_MESSAGE.search(text):
            message = found.group(1).strip()
    return code, message[:VENDOR_MESSAGE_MAX], errors


def seconds_to_utc_midnight(now: dt.datetime | None = None) -> float:
    now = now or dt.datetime.now(dt.UTC)
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


class ZoomProvider(VideoProvider):
    """One Zoom account, reached through a Server-to-Server OAuth app; meetings go to hosts."""

    kind = "zoom"
    uses_hosts = True
    daily_quota_per_host = 100

    def __init__(
        self, settings: AccountSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.oauth, self.tokens, self.http = token_and_api_clients(
            settings,
            sleep=sleep,
            label="Zoom",
            login_url=settings.oauth_url or DEFAULT_OAUTH_URL,
            login_errors=self.token_error_from,
            fetch_token=self._fetch_token,
            token_key=cache_key(settings),
            api_url=settings.api_base_url or DEFAULT_API_BASE,
            api_errors=self._error_or_stop,
            on_token=self._use_token,
        )

    def __repr__(self) -> str:
        return f"ZoomProvider(account={self.settings.name!r})"

    # -- the token -----------------------------------------------------------------------------

    def _fetch_token(self) -> tuple[str, float, dict[str, Any]]:
        settings = self.settings
        if not (settings.account_id and settings.client_id and settings.client_secret):
            raise AuthenticationFailed(
                _(
                    "the Zoom account needs the account id, client id and client secret of its "
                    "Server-to-Server OAuth app"
                )
            )
        # Zoom's docs put the params in the form body; the query-string form that Indico
        # uses has been answered with 400 (Zoom's docs; integrators' reports).
        response = self.oauth.request(
            "POST",
            "/oauth/token",
            data={"grant_type": "account_credentials", "account_id": settings.account_id},
            auth=(settings.client_id, settings.client_secret),
            expected=(200,),
        )
        try:
            answer = response.json()
            value = answer["access_token"]
            expires_in = float(answer.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ProviderUnavailable(
                _("Zoom's token endpoint gave an answer forum cannot read")
            ) from None
        if not isinstance(value, str) or not value:
            raise ProviderUnavailable(_("Zoom's token endpoint gave no access token"))
        api_url = answer.get("api_url")
        log.info("fetched a Zoom access token for %s (expires in %s s)", self, expires_in)
        return value, expires_in, {"scope": answer.get("scope", ""), "api_url": api_url}

    def _use_token(self, token: Token) -> None:
        api_url = token.extra.get("api_url")
        if isinstance(api_url, str) and api_url.startswith(("https://", "http://")):
            # The token answer names the account's regional API host; Indico switched to it
            # in vc_zoom 3.3.6 ("instead of the global api.zoom.us", Zoom's docs). A token
            # fetched by an earlier job carries it too.
            self.http.base_url = f"{api_url.rstrip('/')}/v2"

    def token_error_from(self, response: requests.Response) -> ProviderError:
        """The token endpoint's ``{"reason", "error"}`` answer as something to act on."""
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        error = str(body.get("error", "")) if isinstance(body, dict) else ""
        reason = str(body.get("reason", "")) if isinstance(body, dict) else ""
        reason = reason[:VENDOR_MESSAGE_MAX]
        if status >= 500 or status == 429:
            return ProviderUnavailable(
                _("Zoom's token endpoint failed (%(status)s); forum will try again", status=status),
                status=status,
            )
        if error == "invalid_client" or "client" in reason.lower():
            message = _(
                "Zoom refused the app's credentials: check the client id and client secret of "
                "the Server-to-Server OAuth app"
            )
        elif error == "unsupported_grant_type":
            message = _(
                "Zoom refused the account_credentials grant: the app must be a "
                "Server-to-Server OAuth app"
            )
        elif "account" in reason.lower():
            message = _("Zoom refused the account id: check it against the OAuth app's page")
        elif "disabled" in reason.lower() or "deactivated" in reason.lower():
            message = _(
                "the Zoom OAuth app is deactivated: activate it in the Zoom App Marketplace"
            )
        elif reason or error:
            message = _(
                "Zoom refused a token (%(status)s: %(reason)s)",
                status=status,
                reason=reason or error,
            )
        else:
            message = _("Zoom refused a token (%(status)s: no reason given)", status=status)
        return AuthenticationFailed(message, status=status, code=error or None)

    # -- errors --------------------------------------------------------------------------------

    def error_from(self, response: requests.Response) -> ProviderError:
        """A Zoom error answer as a ProviderError whose message says what to do."""
        status = response.status_code
        code, message, errors = vendor_error(response)
        path = response.request.path_url if response.request is not None else ""
        user = USER_PATH.search(path)
        meeting = MEETING_PATH.search(path)
        host = unquote(user.group(1)) if user else None
        meeting_id = unquote(meeting.group(1)) if meeting else None
        said = f" ({message})" if message else ""
        kw: dict[str, Any] = {"status": status, "code": code}

        if code == 1001 or (status == 404 and host is not None and meeting_id is None):
            return HostNotFound(
                _(
                    "Zoom user %(host)s does not exist on this account: add them in Zoom or "
                    "remove them from the account's hosts",
                    host=host,
                ),
                **kw,
            )
        if code == 1010:
            return HostNotFound(
                _(
                    "Zoom user %(host)s does not belong to this Zoom account: remove them from "
                    "the account's hosts",
                    host=host,
                ),
                **kw,
            )
        if code == 3001 or status == 404:
            if meeting_id:
                gone = _(
                    "the Zoom meeting %(meeting)s no longer exists (deleted in Zoom?)",
                    meeting=meeting_id,
                )
            else:
                gone = _("the Zoom meeting no longer exists (deleted in Zoom?)")
            return MeetingNotFound(gone, **kw)
        if status == 429:
            if "daily" in message.lower():
                if host:
                    used_up = _(
                        "Zoom user %(host)s has used up Zoom's 100 meeting creates and updates "
                        "for today; forum will try again after 00:00 UTC, or pick another host",
                        host=host,
                    )
                else:
                    used_up = _(
                        "the meeting's Zoom host has used up Zoom's 100 meeting creates and "
                        "updates for today; forum will try again after 00:00 UTC, or pick "
                        "another host"
                    )
                return QuotaExceeded(used_up, retry_after=seconds_to_utc_midnight(), **kw)
            return RateLimited(_("Zoom asks forum to slow down%(said)s", said=said), **kw)
        if status >= 500:
            return ProviderUnavailable(
                _(
                    "Zoom had a server error (%(status)s)%(said)s; forum will try again",
                    status=status,
                    said=said,
                ),
                **kw,
            )
        if status == 401:
            if code in (4700, 4711) or "scope" in message.lower():
                return AuthenticationFailed(
                    _(
                        "the Zoom app lacks a permission%(said)s: add the meeting and user "
                        "scopes to the Server-to-Server OAuth app",
                        said=said,
                    ),
                    **kw,
                )
            return AuthenticationFailed(
                _(
                    "Zoom refused forum's access token%(said)s: check that the "
                    "Server-to-Server OAuth app is activated and its credentials are current",
                    said=said,
                ),
                **kw,
            )
        if status == 403:
            return AuthenticationFailed(
                _(
                    "Zoom denied access%(said)s: check the OAuth app's scopes and the "
                    "account's settings",
                    said=said,
                ),
                **kw,
            )
        if code == 3161:
            if host:
                unlicensed = _(
                    "Zoom user %(host)s may not host or schedule meetings: give them a licence "
                    "or remove them from the account's hosts",
                    host=host,
                )
            else:
                unlicensed = _(
                    "Zoom user (the host) may not host or schedule meetings: give them a "
                    "licence or remove them from the account's hosts"
                )
            return RequestRejected(unlicensed, **kw)
        if errors:
            # The vendor's own words, field by field.
            details = "; ".join(
                f"{e.get('field', '?')}: {e.get('message', 'invalid')}" for e in errors[:5]
            )
            return RequestRejected(
                _(
                    "Zoom refused the meeting: %(message)s (%(details)s)",
                    message=message,
                    details=details,
                ),
                **kw,
            )
        if message:
            refused = _(
                "Zoom refused the request (%(status)s): %(message)s",
                status=status,
                message=message,
            )
        else:
            refused = _("Zoom refused the request (%(status)s): no reason given", status=status)
        return RequestRejected(refused, **kw)

    def _error_or_stop(self, response: requests.Response) -> ProviderError:
        error = self.error_from(response)
        if isinstance(error, QuotaExceeded):
            # ProviderHttp retries every 429 and then re-raises it as RateLimited; the
            # per-host daily limit does not lift before 00:00 UTC (and the observed 429 has
            # no Retry-After, Zoom's docs), so retrying only burns calls: stop here.
            raise error
        return error

    # -- meetings ------------------------------------------------------------------------------

    def _body(self, request: MeetingRequest) -> tuple[dict[str, Any], str | None]:
        """The create/update body, and the note for a series Zoom cannot repeat (type 3)."""
        minutes = math.ceil((request.end - request.start).total_seconds() / 60)
        body: dict[str, Any] = {
            "topic": request.topic[:TOPIC_MAX],
            "type": 2,
            # UTC with Z, and the zone beside it, as Indico and Cal.com send (Zoom's docs).
            "start_time": utc_stamp(request.start),
            "duration": max(1, minutes),
            "timezone": request.timezone,
            "agenda": agenda_with_marker(request.agenda, request.marker),
        }
        recurrence, note = zoom_schedule(request)
        if recurrence is not None:
            body["type"] = 8
            body["recurrence"] = recurrence
            first, _end = first_date(
                request.rrule or "", request.start, request.end, request.timezone
            )
            body["start_time"] = utc_stamp(first)
        elif note is not None:
            # No fixed time: Zoom keeps neither a start nor a duration for it.
            body["type"] = 3
            del body["start_time"], body["duration"]
        return body, note

    def _info(
        self, meeting: dict[str, Any], host: str | None, *, note: str | None = None
    ) -> MeetingInfo:
        """The meeting as forum keeps it; ``note`` explains a series held as type 3."""
        try:
            external_id = str(meeting["id"])  # an int64 number in REST answers
            join_url = str(meeting["join_url"])
        except (KeyError, TypeError):
            raise ProviderUnavailable(
                _("Zoom answered without a meeting id or join link")
            ) from None
        data = {k: meeting[k] for k in KEPT_FIELDS if k in meeting}
        if note is None and meeting.get("type") == 3:
            note = str(NO_FIXED_TIME_NOTE)
        # Always present, so that a series made expressible again clears an older note.
        data["recurrence_note"] = note
        return MeetingInfo(
            external_id=external_id,
            join_url=join_url,
            passcode=meeting.get("password") or None,
            host_url=meeting.get("start_url") or None,
            host_account=meeting.get("host_email") or host,
            data=data,
        )

    @staticmethod
    def _meeting_path(external_id: str) -> str:
        return f"/meetings/{quote(str(external_id), safe='')}"

    @staticmethod
    def _user_path(host: str) -> str:
        return f"/users/{quote(host, safe='@')}"

    def create_meeting(self, request: MeetingRequest) -> MeetingInfo:
        host = request.host
        if not host:
            raise RequestRejected(_("a Zoom meeting needs a host from the account's hosts"))
        body, note = self._body(request)

        def post() -> MeetingInfo:
            response = self.http.request(
                "POST",
                f"{self._user_path(host)}/meetings",
                json=body,
                safe_to_repeat=False,
                expected=(201,),
            )
            return self._info(response.json(), host, note=note)

        created = create_once(
            post,
            lambda: self._find(host, request, body, note),
            sleep=self.sleep,
            backoff=self.settings.backoff_seconds,
        )
        try:
            return self._with_dates(created, request, note)
        except ProviderError:
            # A series whose dates could not be set is not kept: the retry makes it anew,
            # rather than a second one beside it.
            self._discard(created.external_id)
            raise

    def _find(
        self, host: str, request: MeetingRequest, body: dict[str, Any], note: str | None
    ) -> MeetingInfo | None:
        """The meeting a lost create made, found by the marker line in its agenda.

        Lists the host's upcoming meetings; candidates are those whose listed agenda holds
        the marker or that start when the create's ``body`` did (a series at its first date;
        any meeting with no fixed time), since a list may shorten agendas; a candidate counts
        only once its full agenda, read with GET, holds the marker.
        """
        if not request.marker:
            return None
        start = body.get("start_time")
        for item in self._upcoming(host):
            if not (
                has_marker(item.get("agenda"), request.marker)
                or (start is not None and item.get("start_time") == start)
                or (start is None and item.get("type") == body["type"])
            ):
                continue
            try:
                meeting = self._get(str(item["id"]))
            except MeetingNotFound:
                continue
            if has_marker(meeting.get("agenda"), request.marker):
                return self._info(meeting, host, note=note)
        return None

    def _upcoming(self, host: str, *, pages: int | None = None) -> Iterator[dict[str, Any]]:
        """The host's upcoming meetings as Zoom lists them, page after page (at most
        ``pages``), each an object with an id."""
        page_token = ""
        read = 0
        while pages is None or read < pages:
            params: dict[str, Any] = {"type": "upcoming", "page_size": 300}
            if page_token:
                params["next_page_token"] = page_token
            page = self.http.request("GET", f"{self._user_path(host)}/meetings", params=params)
            read += 1
            listing = _json_object(page)
            for item in listing.get("meetings") or []:
                if isinstance(item, dict) and "id" in item:
                    yield item
            page_token = str(listing.get("next_page_token") or "")
            if not page_token:
                return

    def _get(self, external_id: str) -> dict[str, Any]:
        return _json_object(self.http.request("GET", self._meeting_path(external_id)))

    def get_meeting(self, external_id: str, *, host: str | None = None) -> MeetingInfo:
        return self._info(self._get(external_id), host)

    def update_meeting(self, external_id: str, request: MeetingRequest) -> MeetingInfo:
        body, note = self._body(request)
        self.http.request("PATCH", self._meeting_path(external_id), json=body, expected=(204,))
        # PATCH answers 204 with no body, and join_url can change with the passcode: read it
        # back, as Indico and Cal.com do (Zoom's docs).
        updated = self._info(self._get(external_id), request.host, note=note)
        return self._with_dates(updated, request, note)

    def _with_dates(
        self, meeting: MeetingInfo, request: MeetingRequest, note: str | None
    ) -> MeetingInfo:
        """The series with its left-out dates deleted and its moved dates moved on Zoom.

        Works from the ``occurrences`` Zoom listed with the meeting; a type 3 meeting has
        none (its note stands for every date). Zoom lists an occurrence under its first
        start, so the dates are matched by the rule's days (forum.providers.rules).
        """
        if meeting.data.get("type") != 8 or not request.rrule:
            return meeting
        held = [_held_date(o) for o in meeting.data.get("occurrences") or []]
        changes = date_changes(request, held)
        if changes.missing:
            raise RequestRejected(
                _(
                    "the Zoom meeting %(meeting)s lacks dates forum holds (%(dates)s); "
                    "Zoom gives back no single date once deleted, so this series cannot be "
                    "brought in step",
                    meeting=meeting.external_id,
                    dates=", ".join(utc_stamp(when) for when in changes.missing[:5]),
                )
            )
        path = self._meeting_path(meeting.external_id)
        for date in changes.delete:
            self.http.request("DELETE", path, params={"occurrence_id": date.ref}, expected=(204,))
        for date, start, end in changes.move:
            minutes = math.ceil((end - start).total_seconds() / 60)
            self.http.request(
                "PATCH",
                path,
                params={"occurrence_id": date.ref},
                json={"start_time": utc_stamp(start), "duration": max(1, minutes)},
                expected=(204,),
            )
        if not (changes.delete or changes.move):
            return meeting
        return self._info(self._get(meeting.external_id), request.host, note=note)

    def _discard(self, external_id: str) -> None:
        """Delete a meeting just made, as well as can be: the error that made it go stands."""
        try:
            self.delete_meeting(external_id)
        except ProviderError as error:
            log.warning("Zoom meeting %s could not be deleted: %s", external_id, error.message)

    def delete_meeting(self, external_id: str, *, host: str | None = None) -> None:
        try:
            self.http.request("DELETE", self._meeting_path(external_id), expected=(204,))
        except MeetingNotFound:
            # Already gone (deleted in Zoom, or our earlier delete's answer was lost): done,
            # as Indico treats it ("Meeting didn't exist in Zoom anymore").
            log.info("Zoom meeting %s was already deleted", external_id)

    def scheduled_times(self, meeting: MeetingInfo) -> list[tuple[dt.datetime, dt.datetime]] | None:
        """A scheduled meeting's start and duration; a series' listed ``occurrences``; None
        for a meeting with no fixed time (type 3)."""
        data = meeting.data
        if data.get("type") == 8:
            return [
                (held.start, held.end) for held in map(_held_date, data.get("occurrences") or [])
            ]
        start = _zoom_time(data.get("start_time"))
        if data.get("type") == 3 or start is None:
            return None
        try:
            minutes = int(data.get("duration") or 0)
        except (TypeError, ValueError):
            return None
        return [(start, start + dt.timedelta(minutes=minutes))]

    def host_meetings(
        self, host: str, start: dt.datetime, end: dt.datetime
    ) -> list[tuple[str, dt.datetime, dt.datetime]]:
        """From the host's upcoming meetings (``GET /users/{id}/meetings?type=upcoming``):
        the list gives a series once, so a series is read with GET for its dates."""
        found: list[tuple[str, dt.datetime, dt.datetime]] = []
        for item in self._upcoming(host, pages=MAX_LIST_PAGES):
            external_id = str(item["id"])
            if item.get("type") == 8:
                try:
                    times = self.scheduled_times(self.get_meeting(external_id)) or []
                except MeetingNotFound:
                    continue
            else:
                times = self.scheduled_times(MeetingInfo(external_id, "", data=item)) or []
            found.extend((external_id, s, e) for s, e in times if s < end and start < e)
        return found

    # -- health --------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """A refused token, or each configured host Zoom does not know; [] when all is well."""
        try:
            self.tokens.get()
        except ProviderError as error:
            return [error.message]
        problems = []
        for host in self.settings.hosts:
            try:
                self.http.request("GET", self._user_path(host))
            except HostNotFound as error:
                problems.append(error.message)
            except ProviderError as error:
                problems.append(
                    _(
                        "Zoom user %(host)s could not be checked: %(problem)s",
                        host=host,
                        problem=error.message,
                    )
                )
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
        """Zoom's ``x-zm-signature`` over the raw bytes, a fresh timestamp, URL validation."""
        secret = self.settings.webhook_secret
        if not secret:
            raise WebhookRejected("no webhook secret token is configured for this Zoom account")
        signature = header(headers, "x-zm-signature")
        stamp = header(headers, "x-zm-request-timestamp")
        if not signature or not stamp:
            raise WebhookRejected("missing x-zm-signature or x-zm-request-timestamp")
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            raise WebhookRejected("malformed x-zm-request-timestamp")
        # Always the raw bytes: Zoom's own sample re-serialises the parsed body, which only
        # matches because Zoom sends compact JSON (Zoom's docs).
        expected = "v0=" + _hmac_hex(secret, b"v0:" + stamp.encode() + b":" + body)
        if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
            raise WebhookRejected("bad x-zm-signature")
        if abs(now.timestamp() - int(stamp)) > ZOOM_WEBHOOK_WINDOW:
            raise WebhookRejected("x-zm-request-timestamp is more than 5 minutes away")
        envelope = _load_object(body)
        if envelope.get("event") != "endpoint.url_validation":
            return None
        # Sent when the endpoint is saved and again every 72 hours, signed like every other
        # request; the answer proves we hold the secret token.
        plain = (envelope.get("payload") or {}).get("plainToken")
        if not isinstance(plain, str) or not plain:
            raise WebhookRejected("endpoint.url_validation without a plainToken")
        answer = {"plainToken": plain, "encryptedToken": _hmac_hex(secret, plain.encode())}
        return WebhookReply(200, json.dumps(answer).encode(), "application/json")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """meeting.*, participant.* and recording.ready events from a verified delivery."""
        envelope = _load_object(body)
        event = envelope.get("event")
        kind = ZOOM_EVENTS.get(event) if isinstance(event, str) else None
        payload = envelope.get("payload")
        if kind is None or not isinstance(payload, dict):
            return []
        obj = payload.get("object")
        if not isinstance(obj, dict):
            return []
        try:
            # "Some Zoom events receive the ID as a string, others as a number" (Indico):
            # started/ended/participant events send "9267...", deleted/recording 9267...
            external_id = str(int(obj["id"]))
        except (KeyError, TypeError, ValueError):
            log.warning("Zoom %s delivery without a usable meeting id", event)
            return []
        event_ts = envelope.get("event_ts")
        sent_at = _from_epoch_ms(event_ts)
        meeting_uuid = str(obj.get("uuid") or "")
        parts = [str(event), str(event_ts), meeting_uuid]
        data: dict[str, Any] = {"meeting_uuid": meeting_uuid} if meeting_uuid else {}
        email = name = None
        occurred_at = sent_at

        if kind in ("participant.joined", "participant.left"):
            participant = obj.get("participant")
            if not isinstance(participant, dict):
                return []
            field = "join_time" if kind == "participant.joined" else "leave_time"
            occurred_at = _zoom_time(participant.get(field)) or sent_at
            email = str(participant.get("email") or "").strip() or None
            name = str(participant.get("user_name") or "").strip() or None
            # user_id is per meeting instance; participant_uuid (when sent) is stable across
            # rejoins; id is "" for guests. The email, when there is one, is what we match on.
            their_id = str(
                participant.get("participant_uuid")
                or participant.get("user_id")
                or participant.get("id")
                or ""
            )
            parts += [
                str(participant.get("user_id") or ""),
                str(participant.get("participant_uuid") or ""),
                str(participant.get(field) or ""),
            ]
            data["participant_key"] = email.lower() if email else their_id
            data["at"] = _iso(occurred_at)
            if kind == "participant.left" and participant.get("leave_reason"):
                data["leave_reason"] = str(participant["leave_reason"])
        elif kind in ("meeting.started", "meeting.ended"):
            field = "start_time" if kind == "meeting.started" else "end_time"
            occurred_at = _zoom_time(obj.get(field)) or sent_at
            data["at"] = _iso(occurred_at)
        elif kind == "recording.ready":
            data.update(_recording_data(obj))
        else:  # meeting.updated, meeting.deleted
            occurred_at = _from_epoch_ms(payload.get("time_stamp")) or sent_at
            data["operator"] = payload.get("operator")
            if payload.get("operation"):
                data["operation"] = payload["operation"]  # single occurrence or all
            if kind == "meeting.updated":
                # The object holds only the changed fields (and the id).
                data["changed"] = sorted(k for k in obj if k not in ("id", "uuid"))
            if isinstance(obj.get("occurrences"), list):
                data["occurrences"] = [
                    o.get("occurrence_id") for o in obj["occurrences"] if isinstance(o, dict)
                ]
        return [
            WebhookEvent(
                kind=kind,
                external_id=external_id,
                identity=webhook_identity("zoom", parts),
                occurred_at=occurred_at,
                participant_email=email,
                participant_name=name,
                data=data,
            )
        ]


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderUnavailable(_("Zoom answered with something other than a JSON object"))
    return body


def _held_date(occurrence: dict[str, Any]) -> HeldDate:
    """An entry of a meeting's ``occurrences``: its id is its first start in epoch ms."""
    try:
        original = dt.datetime.fromtimestamp(int(occurrence["occurrence_id"]) / 1000, dt.UTC)
        start = _zoom_time(occurrence["start_time"])
        minutes = int(occurrence["duration"])
    except (KeyError, TypeError, ValueError):
        raise ProviderUnavailable(_("Zoom listed an occurrence forum cannot read")) from None
    if start is None:
        raise ProviderUnavailable(_("Zoom listed an occurrence without a start time"))
    return HeldDate(
        ref=str(occurrence["occurrence_id"]),
        original=original,
        start=start,
        end=start + dt.timedelta(minutes=minutes),
    )


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _load_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _from_epoch_ms(value: Any) -> dt.datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _zoom_time(value: Any) -> dt.datetime | None:
    """Zoom's ``2026-03-25T07:31:02Z`` as an aware UTC instant, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _recording_data(obj: dict[str, Any]) -> dict[str, Any]:
    """What the organisers need of ``recording.completed``: the links and the span."""
    files = []
    starts: list[dt.datetime] = []
    ends: list[dt.datetime] = []
    for item in obj.get("recording_files") or []:
        if not isinstance(item, dict):
            continue
        files.append(
            {
                key: item[key]
                for key in (
                    "id",
                    "file_type",
                    "recording_type",
                    "download_url",
                    "play_url",
                    "status",
                )
                if item.get(key) is not None
            }
        )
        if start := _zoom_time(item.get("recording_start")):
            starts.append(start)
        if end := _zoom_time(item.get("recording_end")):
            ends.append(end)
    data: dict[str, Any] = {
        "share_url": obj.get("share_url"),
        "files": files,
        "recording_start": _iso(min(starts)) if starts else None,
        "recording_end": _iso(max(ends)) if ends else None,
    }
    if obj.get("password"):
        # The share link asks for the recording's passcode unless it is embedded.
        data["passcode"] = obj["password"]
    return data
