"""The one interface every video provider implements, and the errors it may raise.

The core calls only what is declared here: create, get, update and delete a meeting, check
the account's health, and verify and parse a webhook delivery. Meetings are stored
provider-neutrally (forum.events.models.VideoMeeting: provider name, external id, links,
and a JSON bag), as Indico's videoconference plugins do.
"""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ClassVar


@dataclass(frozen=True)
class MeetingRequest:
    """What a session asks of a provider. Instants are aware, in UTC."""

    topic: str
    start: dt.datetime
    end: dt.datetime
    timezone: str
    # The host user (email or provider id) from the account's pool; None where the
    # provider has no hosts (Jitsi, a manual link).
    host: str | None = None
    agenda: str = ""
    rrule: str | None = None
    # Dates the series leaves out (its EXDATEs and its cancelled dates), as the starts the
    # rule gives them, in UTC, sorted.
    exdates: tuple[dt.datetime, ...] = ()
    # Dates of the series moved elsewhere: (the start the rule gives, new start, new end).
    moved: tuple[tuple[dt.datetime, dt.datetime, dt.datetime], ...] = ()
    # Unique per session, written into the meeting (agenda, external id...) so that a create
    # whose answer was lost can be found again instead of being made twice.
    marker: str = ""
    # For a manual meeting: the link the organiser gave.
    join_url: str | None = None


@dataclass(frozen=True)
class MeetingInfo:
    """A meeting as the provider has it. ``host_url`` is secret: organisers only."""

    external_id: str
    join_url: str
    passcode: str | None = None
    host_url: str | None = None
    host_account: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookEvent:
    """One thing a provider says happened, in the provider-neutral vocabulary of the core.

    ``kind``: meeting.started, meeting.ended, participant.joined, participant.left,
    recording.ready, meeting.updated, meeting.deleted. ``identity`` is unique per delivery
    of the same fact (for deduplication).
    """

    kind: str
    external_id: str
    identity: str
    occurred_at: dt.datetime | None = None
    participant_email: str | None = None
    participant_name: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookReply:
    """A delivery that must be answered right away (Zoom's URL validation, Graph's token)."""

    status: int
    body: bytes
    content_type: str


# The inbox keeps identities in a 255-character column (forum.webhooks.models.InboxEntry).
IDENTITY_MAX = 255


def webhook_identity(prefix: str, parts: list[str]) -> str:
    """A delivery's deduplication key from its parts, hashed if longer than the column."""
    identity = f"{prefix}:" + "|".join(parts)
    if len(identity) <= IDENTITY_MAX:
        return identity
    return f"{prefix}:sha256:" + hashlib.sha256(identity.encode()).hexdigest()


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (a plain dict from a test, or werkzeug's Headers)."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value


# --- errors ------------------------------------------------------------------------------------


class ProviderError(Exception):
    """A provider call failed; ``message`` says what an organiser can do about it.

    ``temporary`` errors (timeouts, 5xx, rate limits) are worth retrying later; the others
    need a change of configuration or data first.
    """

    temporary = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after


class AuthenticationFailed(ProviderError):
    """The credentials are wrong, expired or lack a permission."""


class HostNotFound(ProviderError):
    """The host user does not exist on the provider's account."""


class MeetingNotFound(ProviderError):
    """The meeting is gone on the provider's side (deleted there, or expired)."""


class RequestRejected(ProviderError):
    """The provider refused what we sent (validation, a setting the account forbids)."""


class RateLimited(ProviderError):
    """Too many requests; ``retry_after`` seconds (if the provider said) before trying again."""

    temporary = True


class QuotaExceeded(ProviderError):
    """A daily quota is used up (Zoom: 100 creates/updates per host per UTC day)."""

    temporary = True


class ProviderUnavailable(ProviderError):
    """Timeouts or server errors, still failing after the retries."""

    temporary = True


class WebhookRejected(Exception):
    """A webhook delivery failed verification: bad or missing signature, stale timestamp."""


# --- the interface -----------------------------------------------------------------------------


class VideoProvider(abc.ABC):
    """A configured connection to one provider (one account), as the core uses it."""

    #: The provider's name as stored on meetings: jitsi, zoom, teams, webex, google_meet, manual.
    kind: ClassVar[str]
    #: Whether meetings belong to host users of a pool (and so can clash on one host).
    uses_hosts: ClassVar[bool] = False
    #: Daily creates+updates allowed per host (Zoom: 100), or None.
    daily_quota_per_host: ClassVar[int | None] = None

    @abc.abstractmethod
    def create_meeting(self, request: MeetingRequest) -> MeetingInfo:
        """Create the meeting; never two for one ``request.marker``, even after a lost answer."""

    @abc.abstractmethod
    def get_meeting(self, external_id: str, *, host: str | None = None) -> MeetingInfo:
        """The meeting as it is now; MeetingNotFound if it is gone."""

    @abc.abstractmethod
    def update_meeting(self, external_id: str, request: MeetingRequest) -> MeetingInfo:
        """Change time, topic or agenda; returns the meeting as it is after the change."""

    @abc.abstractmethod
    def delete_meeting(self, external_id: str, *, host: str | None = None) -> None:
        """Delete the meeting; a meeting already gone counts as deleted."""

    def check(self) -> list[str]:
        """Problems an organiser should hear of (a token refused, a host missing); [] if none."""
        return []

    def scheduled_times(self, meeting: MeetingInfo) -> list[tuple[dt.datetime, dt.datetime]] | None:
        """When the provider holds the meeting (a series: each date it lists), from what
        ``get_meeting`` gave; None where the provider keeps no time to compare."""
        return None

    def host_meetings(
        self, host: str, start: dt.datetime, end: dt.datetime
    ) -> list[tuple[str, dt.datetime, dt.datetime]] | None:
        """The host's meetings meeting between ``start`` and ``end``: (external id, start,
        end) of each date that overlaps; HostNotFound if the host is gone; None where the
        provider cannot list a host's meetings."""
        return None

    def verify_webhook(
        self,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: dt.datetime,
        query: Mapping[str, str] | None = None,
    ) -> WebhookReply | None:
        """Check a delivery's authenticity, from its raw bytes; raise WebhookRejected if not.

        ``headers`` are case-insensitive; ``query`` is the URL's query string (Graph sends
        its validationToken there). Returns a reply to send at once for handshakes (Zoom's
        URL validation, Graph's validation token), else None.
        """
        raise WebhookRejected(f"{self.kind} sends no webhooks")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """The events in a verified delivery."""
        return []
