"""Outbound webhooks: organisers' subscriptions, the events written for them, and their delivery."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import formatdate
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
import urllib3.exceptions
from flask import current_app
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from forum.accounts.models import Organiser
from forum.core import crypto
from forum.core.errors import Conflict
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.core.times import format_instant
from forum.db import JSONType
from forum.db import now_utc
from forum.directory.freebusy import CheckedAddressAdapter
from forum.directory.freebusy import HostNotFound
from forum.directory.freebusy import RefusedAddress
from forum.directory.freebusy import check_url_host
from forum.directory.freebusy import checked_session
from forum.events.models import Event
from forum.events.models import EventSession
from forum.extensions import db
from forum.i18n import _
from forum.i18n import in_locale
from forum.jobs.queue import enqueue
from forum.notifications.dispatch import mail_sender
from forum.notifications.senders import SendError

log = logging.getLogger("forum.webhooks.outbound")

EVENT_TYPES = (
    "session.scheduled",
    "session.rescheduled",
    "session.cancelled",
    "rsvp.updated",
    "meeting.started",
    "meeting.ended",
    "attendance.updated",
    "recording.ready",
    "provider.error",
    "poll.created",
    "poll.answered",
    "poll.finalized",
)
DELIVERY_STATUSES = ("pending", "delivered", "failed", "disabled")
API_VERSION = "v1"
SIGNATURE_HEADER = "Forum-Signature"
USER_AGENT = "forum-webhooks/1 (+outbound events)"
MAX_URL_LENGTH = 2000
# The job that makes one delivery attempt (forum.webhooks.outbound_tasks, which imports this
# module for its work, so the job is queued by name).
DELIVERY_TASK = "forum.deliver_webhook"
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 10.0
# Ten attempts: the first at once, then after 1, 3, 9, 27 and 81 minutes, 4 h 3 min, and
# 6 h three times: the last one about 24 hours after the first.
RETRY_DELAYS = tuple(min(60 * 3**n, 6 * 3600) for n in range(9))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# Failing without a break for this long disables a subscription. Counting failures alone
# would disable a busy subscription during a short outage (twenty events in a minute), and
# no endpoint turns a subscription back on, so the rule is time: a whole day of failures
# is as long as the retries of the first failed event last.
DISABLE_AFTER = dt.timedelta(hours=24)
# A send in progress holds its delivery this long (next_attempt_at moved ahead): another job
# or the periodic sweep leaves it alone, and a worker that dies mid-send frees it again.
SEND_LEASE = dt.timedelta(seconds=60)
# A job scheduled with a countdown may start a little early on a worker whose clock differs.
EARLY_TOLERANCE = dt.timedelta(seconds=5)


def _enum_check(column: str, values: Iterable[str]) -> str:
    return "{} IN ({})".format(column, ", ".join(repr(v) for v in values))


class WebhookSubscription(db.Model):
    """An organiser's receiver: where events go, the types it wants, and its health."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(sa.String(MAX_URL_LENGTH))
    # Fernet token (forum.core.crypto) holding {"secret": ...}; shown once, at creation.
    secret: Mapped[str] = mapped_column(sa.Text)
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    # The first failed attempt since the last success (None while deliveries get through).
    failing_since: Mapped[dt.datetime | None]
    disabled_at: Mapped[dt.datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(sa.Text)

    organiser: Mapped[Organiser] = relationship()

    def __repr__(self) -> str:
        return f"<WebhookSubscription {self.id} {self.url!r}>"


class WebhookDelivery(db.Model):
    """One event for one subscription: the exact body sent, and where its delivery stands."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.CheckConstraint(_enum_check("status", DELIVERY_STATUSES), name="status"),
        sa.UniqueConstraint("subscription_id", "event_id"),
        sa.Index("ix_webhook_deliveries_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    # The public id ("evt_..."), the same in every subscription's copy of one event, so
    # that a receiver can drop duplicates.
    event_id: Mapped[str] = mapped_column(sa.String(40))
    type: Mapped[str] = mapped_column(sa.String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    # The JSON body as sent, kept as text: every attempt sends the same bytes (a JSON
    # column would hand back PostgreSQL's JSONB key order instead).
    payload: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)

    subscription: Mapped[WebhookSubscription] = relationship()
    attempt_log: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="delivery", order_by="DeliveryAttempt.number", passive_deletes=True
    )


class DeliveryAttempt(db.Model):
    """One try at sending a delivery: when, the answer's status code, how long it took."""

    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (sa.UniqueConstraint("delivery_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    number: Mapped[int]
    at: Mapped[dt.datetime]
    status_code: Mapped[int | None]
    duration_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(sa.Text)

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempt_log")


# --- signing ---------------------------------------------------------------------------------


def new_secret() -> str:
    """A signing secret with 256 random bits."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Forum-Signature`` value: HMAC-SHA256 of ``"<t>.<body>"`` with the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def _keys() -> dict[str, str]:
    return {
        "encryption_key": current_app.config.get("FORUM_ENCRYPTION_KEY", ""),
        "secret_key": current_app.config["SECRET_KEY"],
    }


def _allow_private() -> bool:
    return bool(current_app.config.get("FORUM_ALLOW_PRIVATE_URLS"))


# --- subscriptions ---------------------------------------------------------------------------


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL, or ValidationFailed naming ``url``: http(s), a host, no credentials.

    A host given as an address must be one forum may connect to (the rules of
    forum.directory.freebusy); a name is checked, against what it resolves to, at each send.
    """
    if len(url) > MAX_URL_LENGTH:
        raise ValidationFailed(
            {"url": _("must be at most %(count)s characters", count=MAX_URL_LENGTH)}
        )
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValidationFailed({"url": _("must not contain spaces or control characters")})
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        raise ValidationFailed({"url": _("is not a valid URL")}) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationFailed({"url": _("must be an http or https URL")})
    if parts.username is not None or parts.password is not None:
        # They would travel in every request and show in every listing; the signature
        # is what proves a delivery comes from forum.
        raise ValidationFailed({"url": _("must not contain a user name or password")})
    check_url_host(url, allow_private=allow_private, field="url")
    return url


def create_subscription(
    organiser: Organiser, *, url: str, event_types: Iterable[str], secret: str | None = None
) -> tuple[WebhookSubscription, str]:
    """Subscribe ``url`` to ``event_types``; returns the subscription and its secret.

    Without ``secret`` one is generated. The secret is stored encrypted and this is the
    only time it is handed back.
    """
    check_url(url, allow_private=_allow_private())
    types = list(dict.fromkeys(event_types))
    if not types:
        raise ValidationFailed({"event_types": _("must name at least one event type")})
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            {
                "event_types": _(
                    "unknown %(unknown)s; known: %(known)s",
                    unknown=", ".join(unknown),
                    known=", ".join(EVENT_TYPES),
                )
            }
        )
    secret = secret or new_secret()
    subscription = WebhookSubscription(
        organiser_id=organiser.id,
        url=url,
        secret=crypto.encrypt({"secret": secret}, **_keys()),
        event_types=types,
        active=True,
    )
    db.session.add(subscription)
    db.session.flush()
    return subscription, secret


def subscriptions_of(organiser: Organiser) -> sa.Select:
    return (
        sa.select(WebhookSubscription)
        .where(WebhookSubscription.organiser_id == organiser.id)
        .order_by(WebhookSubscription.id)
    )


def get_subscription_for(organiser: Organiser, subscription_id: int) -> WebhookSubscription:
    """The organiser's subscription; another organiser's is as unknown as a missing one."""
    subscription = db.session.get(WebhookSubscription, subscription_id)
    if subscription is None or subscription.organiser_id != organiser.id:
        raise NotFound(_("no webhook subscription with id %(id)s", id=subscription_id))
    return subscription


def delete_subscription(subscription: WebhookSubscription) -> None:
    """Remove the subscription with its deliveries; a send in progress finds nothing to record."""
    db.session.delete(subscription)
    db.session.flush()


def deliveries_of(subscription: WebhookSubscription) -> sa.Select:
    """The subscription's deliveries, newest first."""
    return (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription.id)
        .order_by(WebhookDelivery.id.desc())
    )


def delivery_counts(subscription_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """How many deliveries each subscription has per status, in one query."""
    ids = sorted(set(subscription_ids))
    counts: dict[int, dict[str, int]] = {subscription_id: {} for subscription_id in ids}
    if not ids:
        return counts
    rows = db.session.execute(
        sa.select(WebhookDelivery.subscription_id, WebhookDelivery.status, sa.func.count())
        .where(WebhookDelivery.subscription_id.in_(ids))
        .group_by(WebhookDelivery.subscription_id, WebhookDelivery.status)
    )
    for subscription_id, status, count in rows:
        counts[subscription_id][status] = count
    return counts


def get_delivery_for(subscription: WebhookSubscription, delivery_id: int) -> WebhookDelivery:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != subscription.id:
        raise NotFound(_("no delivery with id %(id)s for this subscription", id=delivery_id))
    return delivery


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again, whatever its status, once the transaction commits.

    It gets one attempt more than it has had; when that fails it goes on with the retries
    it had left, if any.
    """
    if not delivery.subscription.active:
        raise Conflict(
            _("this subscription was disabled; create a new one for the receiver"),
            code="subscription_disabled",
        )
    delivery.status = "pending"
    delivery.next_attempt_at = now_utc()
    db.session.flush()
    enqueue(DELIVERY_TASK, delivery.id)
    return delivery


# --- events ----------------------------------------------------------------------------------


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(16)


def event_body(event_id: str, event_type: str, created: dt.datetime, data: dict[str, Any]) -> str:
    """The JSON text of an event as receivers get it."""
    body = {
        "id": event_id,
        "type": event_type,
        "created": format_instant(created),
        "api_version": API_VERSION,
        "data": data,
    }
    try:
        return json.dumps(body, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"webhook data must be plain JSON values: {exc}") from None


def emit(
    event_type: str, data: dict[str, Any], *, organiser_ids: Iterable[int]
) -> list[WebhookDelivery]:
    """Write ``event_type`` for every active subscription of these organisers that asked for it.

    Runs inside the caller's transaction: the deliveries are written with the change they
    tell of, and their jobs are sent once it commits (nothing if it rolls back).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    ids = sorted(set(organiser_ids))
    if not ids:
        return []
    subscriptions = [
        subscription
        for subscription in db.session.scalars(
            sa.select(WebhookSubscription)
            .where(
                WebhookSubscription.organiser_id.in_(ids),
                WebhookSubscription.active.is_(True),
            )
            .order_by(WebhookSubscription.id)
        )
        if event_type in subscription.event_types
    ]
    if not subscriptions:
        return []
    created = now_utc()
    event_id = new_event_id()
    payload = event_body(event_id, event_type, created, data)
    deliveries = [
        WebhookDelivery(
            subscription=subscription,
            event_id=event_id,
            type=event_type,
            created_at=created,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=created,
        )
        for subscription in subscriptions
    ]
    db.session.add_all(deliveries)
    db.session.flush()
    for delivery in deliveries:
        enqueue(DELIVERY_TASK, delivery.id)
    return deliveries


def organisers_of(event: Event) -> list[int]:
    """The ids of whoever organises ``event``: its owner and co-organisers."""
    return [event.owner_id, *(organiser.id for organiser in event.co_organisers)]


def session_data(session: EventSession) -> dict[str, Any]:
    """A session as the ``data`` of session.* events."""
    return {
        "id": session.id,
        "event_id": session.event_id,
        "title": session.title,
        "start": format_instant(session.start),
        "end": format_instant(session.end),
        "timezone": session.timezone,
        "ical_uid": session.ical_uid,
        "sequence": session.sequence,
        "status": session.status,
    }


# --- delivery --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a delivery job did, and in how many seconds the next attempt is due (if any)."""

    status: str
    retry_in: int | None = None


def retry_delay(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt (1-based)."""
    return RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    """Take a due delivery for one send; False if it is not due or another job has it."""
    taken = db.session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            sa.or_(
                WebhookDelivery.next_attempt_at.is_(None),
                WebhookDelivery.next_attempt_at <= now + EARLY_TOLERANCE,
            ),
        )
        .values(next_attempt_at=now + SEND_LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount
    # Committed at once, so that the claim is seen before the (slow) request is made.
    db.session.commit()
    return taken == 1


@dataclasses.dataclass(frozen=True)
class _Answer:
    status_code: int | None
    error: str | None
    duration_ms: int


def send(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool) -> _Answer:
    """POST ``body`` to ``url`` once; the answer's status code, or why there was none.

    The connection goes only to addresses checked when it is made (DNS may have changed
    since the subscription was created), redirects are not followed, and the answer's body
    is not read: a receiver has nothing to say but its status.
    """
    host = urlsplit(url).hostname or url
    started = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    with checked_session(allow_private=allow_private) as http:
        try:
            if not isinstance(http.get_adapter(url), CheckedAddressAdapter):
                raise TypeError("webhooks are sent only through checked_session()")
            with http.post(
                url,
                data=body,
                headers=headers,
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
                allow_redirects=False,
                stream=True,
            ) as response:
                status_code = response.status_code
                if not 200 <= status_code < 300:
                    status = f"{status_code} {response.reason or ''}".strip()
                    if 300 <= status_code < 400:
                        error = _(
                            "%(host)s answered %(status)s; forum does not follow redirects: "
                            "subscribe the final URL",
                            host=host,
                            status=status,
                        )
                    else:
                        error = _("%(host)s answered %(status)s", host=host, status=status)
        except RefusedAddress as exc:
            error = _refused_send(host, exc)
        except HostNotFound:
            error = _("the host %(host)s could not be found", host=host)
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            error = _(
                "%(host)s did not answer within %(connect)s s (connect) or %(read)s s (response)",
                host=host,
                connect=format(CONNECT_TIMEOUT_SECONDS, "g"),
                read=format(READ_TIMEOUT_SECONDS, "g"),
            )
        except requests.exceptions.SSLError:
            error = _(
                "the secure (https) connection to %(host)s failed: certificate not trusted",
                host=host,
            )
        except requests.ConnectionError:
            error = _("could not connect to %(host)s", host=host)
        except (requests.RequestException, urllib3.exceptions.HTTPError):
            error = _("%(host)s sent a broken answer", host=host)
    duration_ms = round((time.monotonic() - started) * 1000)
    return _Answer(status_code=status_code, error=error, duration_ms=duration_ms)


def _refused_send(host: str, exc: RefusedAddress) -> str:
    """Why a delivery was not sent to ``host``, in one sentence."""
    if exc.proxy:
        return _(
            "%(host)s is a proxy, and a proxy would resolve names past the check; forum does "
            "not send to private, loopback or link-local addresses",
            host=host,
        )
    if exc.address is None:
        return _(
            "%(host)s is %(refusal)s; forum does not send to private, loopback or link-local "
            "addresses",
            host=host,
            refusal=exc.refusal,
        )
    return _(
        "%(host)s resolves to %(refusal)s (%(address)s); forum does not send to private, "
        "loopback or link-local addresses",
        host=host,
        refusal=exc.refusal,
        address=exc.address,
    )


def deliver(delivery_id: int) -> Outcome:
    """Make one attempt at a due delivery and record it. Commits (a job's whole work)."""
    if not _claim(delivery_id, now_utc()):
        return Outcome("skipped")
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return Outcome("skipped")
    subscription = delivery.subscription
    if not subscription.active:
        delivery.status, delivery.next_attempt_at = "disabled", None
        db.session.commit()
        return Outcome(delivery.status)
    url, body = subscription.url, delivery.payload.encode()
    # What went wrong is recorded in the language of the subscription's organiser.
    locale = subscription.organiser.locale
    event_id, event_type = delivery.event_id, delivery.type
    attempted_at = now_utc()
    secret: str | None = None
    unreadable = ""
    try:
        secret = crypto.decrypt(subscription.secret, **_keys())["secret"]
    except crypto.SecretsUnreadable as exc:
        # Sent unsigned it would be refused anyway; recorded as a failed attempt, so that
        # the retries end and the organiser learns of it, instead of a job failing forever.
        with in_locale(locale):
            unreadable = _("%(reason)s; subscribe the receiver again", reason=exc)
    # No transaction stays open over the request, which may take 15 seconds (nothing below
    # reads a row until the answer is in: the commit expired them all).
    db.session.commit()
    if secret is None:
        answer = _Answer(status_code=None, error=unreadable, duration_ms=0)
    else:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            SIGNATURE_HEADER: signature(secret, int(time.time()), body),
            "Forum-Event-Id": event_id,
            "Forum-Event-Type": event_type,
        }
        with in_locale(locale):
            answer = send(url, body, headers, allow_private=_allow_private())

    # A query, not Session.get: the row may have gone (its subscription deleted) during
    # the request, and get() would raise on the stale object it still holds.
    delivery = db.session.scalar(
        sa.select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    )
    if delivery is None:
        db.session.rollback()
        return Outcome("skipped")
    subscription = delivery.subscription
    delivery.attempts += 1
    db.session.add(
        DeliveryAttempt(
            delivery=delivery,
            number=delivery.attempts,
            at=attempted_at,
            status_code=answer.status_code,
            duration_ms=answer.duration_ms,
            error=answer.error,
        )
    )
    delivery.last_status_code, delivery.last_error = answer.status_code, answer.error
    if answer.error is None:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
            "delivered",
            now_utc(),
            None,
        )
        subscription.consecutive_failures, subscription.failing_since = 0, None
        db.session.commit()
        return Outcome(delivery.status)

    log.info("webhook delivery %s to %s failed: %s", delivery.id, subscription.url, answer.error)
    retry_in: int | None = None
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = "failed", None
    else:
        retry_in = retry_delay(delivery.attempts)
        delivery.next_attempt_at = now_utc() + dt.timedelta(seconds=retry_in)
    subscription.consecutive_failures += 1
    subscription.failing_since = subscription.failing_since or attempted_at
    disabled = subscription.active and now_utc() - subscription.failing_since >= DISABLE_AFTER
    if disabled:
        with in_locale(locale):
            _disable(subscription, last_error=answer.error)
        retry_in = None
    db.session.commit()
    if disabled:
        _tell_organiser(subscription)
    return Outcome(delivery.status, retry_in)


def _disable(subscription: WebhookSubscription, *, last_error: str) -> None:
    since = format_instant(subscription.failing_since or now_utc())
    subscription.active = False
    subscription.disabled_at = now_utc()
    subscription.disabled_reason = _(
        "every delivery failed since %(since)s (%(count)s attempts in a row); the last: %(last)s",
        since=since,
        count=subscription.consecutive_failures,
        last=last_error,
    )
    db.session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription.id,
            WebhookDelivery.status == "pending",
        )
        .values(status="disabled", next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    log.warning(
        "webhook subscription %s disabled: %s", subscription.id, subscription.disabled_reason
    )


def disabled_notice(subscription: WebhookSubscription) -> EmailMessage:
    """The email telling an organiser that forum stopped sending to their receiver."""
    organiser = subscription.organiser
    host = urlsplit(subscription.url).hostname or subscription.url
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = organiser.email
    deliveries = f"/api/v1/webhook-subscriptions/{subscription.id}/deliveries"
    with in_locale(organiser.locale):
        message["Subject"] = _("forum stopped sending webhooks to %(host)s", host=host)
        greeting = _("Hello %(name)s,", name=organiser.name)
        stopped = _(
            "forum has stopped sending events to your webhook subscription %(id)s:",
            id=subscription.id,
        )
        why = _("Why: %(reason)s", reason=subscription.disabled_reason)
        log_kept = _(
            "The deliveries that were waiting for it will not be sent. Their log stays at\n"
            "GET %(path)s. Once the receiver\n"
            "answers again, subscribe it anew (POST /api/v1/webhook-subscriptions).",
            path=deliveries,
        )
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="forum")
    message.set_content(
        f"{greeting}\n\n{stopped}\n\n    {subscription.url}\n\n{why}\n\n{log_kept}\n"
    )
    return message


def _tell_organiser(subscription: WebhookSubscription) -> None:
    try:
        mail_sender().send(disabled_notice(subscription))
    except SendError as error:
        # The subscription stays disabled (committed); its reason shows in the API.
        log.warning("could not tell organiser %s: %s", subscription.organiser_id, error)


def due_delivery_ids(*, limit: int = 500) -> list[int]:
    """Pending deliveries whose next attempt is due, the longest waiting first."""
    now = now_utc()
    return list(
        db.session.scalars(
            sa.select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )
