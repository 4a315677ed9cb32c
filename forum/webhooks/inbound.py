"""Provider deliveries: stored once each, then processed into sessions, attendance, recordings.

Intake (``receive``) verifies a delivery with the provider's adapter before anything else,
stores each fact it carries once (a repeated delivery hits the unique provider + identity
and is dropped), and queues one processing job per new fact; the HTTP answer goes out at
once. Processing (``process``) is idempotent and tolerates any order: attendance keeps each
stay keyed by its join time, and a leave that arrives before its join waits for it.
"""

from __future__ import annotations

import datetime as dt
import email.message
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formataddr
from email.utils import parseaddr
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from forum.core.times import format_instant
from forum.core.times import parse_instant
from forum.db import now_utc
from forum.directory.models import Person
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import VideoMeeting
from forum.events.occurrences import session_occurrences
from forum.extensions import db
from forum.providers import accounts
from forum.providers.base import VideoProvider
from forum.providers.base import WebhookEvent
from forum.providers.base import WebhookRejected
from forum.providers.base import WebhookReply
from forum.providers.models import ProviderAccount
from forum.webhooks.models import Attendance
from forum.webhooks.models import InboxEntry

log = logging.getLogger("forum.webhooks")

INBOUND_PROVIDERS = ("zoom", "webex", "teams", "google_meet")
# Headers kept with a delivery, to parse it again when it is reprocessed.
KEPT_HEADERS = ("content-type", "x-zm-request-timestamp", "x-zm-signature", "x-spark-signature")


class DeliveryRefused(Exception):
    """No account of the provider verifies the delivery."""


@dataclass(frozen=True)
class Intake:
    reply: WebhookReply | None
    stored: list[int]
    duplicates: int


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        key.lower(): value
        for key, value in headers.items()
        if key.lower() in KEPT_HEADERS or key.lower().startswith("x-goog-")
    }


# Intake is the hot path: the accounts of a provider and their adapters are kept for a few
# seconds per process (a changed secret takes effect within ACCOUNTS_TTL).
ACCOUNTS_TTL = 5.0
_ACCOUNTS: dict[str, tuple[float, list[tuple[int, str]]]] = {}
_ADAPTERS: dict[int, tuple[float, VideoProvider]] = {}


def _accounts_of(provider: str) -> list[tuple[int, str]]:
    cached = _ACCOUNTS.get(provider)
    if cached is None or time.monotonic() - cached[0] > ACCOUNTS_TTL:
        rows = db.session.execute(
            sa.select(ProviderAccount.id, ProviderAccount.name)
            .where(ProviderAccount.kind == provider)
            .order_by(ProviderAccount.name)
        ).all()
        cached = _ACCOUNTS[provider] = (time.monotonic(), [(r.id, r.name) for r in rows])
    return cached[1]


def _adapter(account_id: int) -> VideoProvider:
    cached = _ADAPTERS.get(account_id)
    if cached is None or time.monotonic() - cached[0] > ACCOUNTS_TTL:
        account = db.session.get(ProviderAccount, account_id)
        if account is None:
            raise DeliveryRefused("the account was just deleted")
        cached = _ADAPTERS[account_id] = (
            time.monotonic(),
            accounts.provider_for(account, account.kind),
        )
    return cached[1]


def receive(
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    query: Mapping[str, str] | None = None,
) -> Intake:
    """Verify and store a delivery; the caller commits, then the processing jobs run."""
    now = now_utc()
    reasons: list[str] = []
    for account_id, name in _accounts_of(provider):
        adapter = _adapter(account_id)
        try:
            reply = adapter.verify_webhook(headers, body, now=now, query=query or {})
        except WebhookRejected as refused:
            reasons.append(f"{name}: {refused}")
            continue
        if reply is not None:
            return Intake(reply=reply, stored=[], duplicates=0)
        events = adapter.parse_webhook(headers, body)
        stored = _store(provider, events, body, headers)
        if stored:
            _schedule_processing(stored)
        return Intake(reply=None, stored=stored, duplicates=len(events) - len(stored))
    raise DeliveryRefused("; ".join(reasons) or f"no {provider} account is configured")


def _store(
    provider: str, events: list[WebhookEvent], body: bytes, headers: Mapping[str, str]
) -> list[int]:
    """Insert one inbox row per new fact; facts already stored are skipped by the database."""
    if not events:
        return []
    rows = [
        {
            "provider": provider,
            "identity": event.identity[:255],
            "event": event.kind,
            "external_id": event.external_id,
            "body": body.decode("utf-8", "replace"),
            "headers": _kept(headers),
            "status": "received",
            "attempts": 0,
            "received_at": now_utc(),
        }
        for event in {e.identity: e for e in events}.values()
    ]
    insert = (
        postgresql.insert(InboxEntry)
        if db.session.get_bind().dialect.name == "postgresql"
        else sqlite.insert(InboxEntry)
    )
    # One statement, compiled once and cached: rows as parameters, not as literal values.
    statement = insert.on_conflict_do_nothing(index_elements=["provider", "identity"]).returning(
        InboxEntry.id
    )
    return [row.id for row in db.session.execute(statement, rows)]


# Set while a drain job is queued and not yet started (see _schedule_processing).
DRAIN_PENDING_KEY = "forum:webhooks:drain-pending"
DRAIN_PENDING_MS = 60_000
_REDIS: dict[str, Any] = {}


def _schedule_processing(entry_ids: list[int]) -> None:
    """Have the new facts processed after the commit.

    Inline (no broker), or with a broker other than Redis: a job per fact. With Redis,
    intake is the hot path and publishing a Celery message per delivery costs more than
    storing it, so one drain job at a time does the work: the request sets a Redis key
    (SET NX) after its commit and queues a drain only if the key was not there. A drain
    deletes the key before it reads the inbox, so a fact committed while the key exists is
    read by the drain that key stands for; the key's expiry and the periodic drain cover a
    drain job that was lost.
    """
    from forum.jobs.queue import after_commit
    from forum.jobs.queue import enqueue

    broker = current_app.config.get("CELERY_BROKER_URL") or ""
    if not broker.startswith(("redis://", "rediss://")):
        for entry_id in entry_ids:
            enqueue("forum.process_delivery", entry_id)
        return

    drain_inbox = current_app.extensions["celery"].tasks["forum.drain_inbox"]

    def request_drain() -> None:
        if _redis(broker).set(DRAIN_PENDING_KEY, "1", nx=True, px=DRAIN_PENDING_MS):
            drain_inbox.delay()

    after_commit(request_drain)


def _redis(url: str):
    import redis

    client = _REDIS.get(url)
    if client is None:
        client = _REDIS[url] = redis.Redis.from_url(url, socket_timeout=5)
    return client


def drain(*, batch: int = 200) -> int:
    """Process every stored fact not processed yet, oldest first (the drain job). Commits."""
    broker = current_app.config.get("CELERY_BROKER_URL") or ""
    if broker.startswith(("redis://", "rediss://")):
        _redis(broker).delete(DRAIN_PENDING_KEY)
    done = 0
    while True:
        ids = db.session.scalars(
            sa.select(InboxEntry.id)
            .where(InboxEntry.status == "received")
            .order_by(InboxEntry.id)
            .limit(batch)
        ).all()
        db.session.commit()
        if not ids:
            return done
        for entry_id in ids:
            process(entry_id)
            done += 1


# --- processing --------------------------------------------------------------------------------


def _lock(model: type, row_id: int) -> None:
    """Serialise work on one row across workers (see forum.events.conflicts.lock_people)."""
    table = model.__table__  # type: ignore[attr-defined]
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(table.c.id).where(table.c.id == row_id).with_for_update())
    else:
        # A write takes SQLite's lock; it changes nothing (not even updated_at).
        unchanged = {name: table.c[name] for name in ("id", "updated_at") if name in table.c}
        db.session.execute(sa.update(table).where(table.c.id == row_id).values(unchanged))


def process(entry_id: int, *, again: bool = False) -> str:
    """Apply one stored fact; a fact already processed is left alone unless ``again``. Commits."""
    _lock(InboxEntry, entry_id)
    entry = db.session.get(InboxEntry, entry_id)
    if entry is None:
        return "missing"
    if entry.status in ("processed", "ignored") and not again:
        db.session.commit()
        return entry.status
    entry.attempts += 1
    try:
        status, note = _apply(entry)
    except Exception as error:  # noqa: BLE001 (a delivery must never stop the queue)
        db.session.rollback()
        entry = db.session.get(InboxEntry, entry_id)
        assert entry is not None
        entry.status, entry.error = "failed", f"{type(error).__name__}: {error}"
        log.exception("webhook delivery %s failed", entry_id)
        db.session.commit()
        return entry.status
    entry.status, entry.error, entry.processed_at = status, note, now_utc()
    db.session.commit()
    return status


def _event_of(entry: InboxEntry) -> WebhookEvent | None:
    account = accounts.account_for(entry.provider)
    adapter = accounts.provider_for(account, entry.provider)
    events = adapter.parse_webhook(entry.headers, entry.body.encode("utf-8"))
    return next((e for e in events if e.identity[:255] == entry.identity), None)


def _apply(entry: InboxEntry) -> tuple[str, str | None]:
    event = _event_of(entry)
    if event is None:
        return "ignored", "the delivery no longer parses to this event"
    meeting = db.session.scalar(
        sa.select(VideoMeeting).where(
            VideoMeeting.provider == entry.provider,
            VideoMeeting.external_id == event.external_id,
        )
    )
    if meeting is None:
        # A meeting made elsewhere, or one of ours already deleted: nothing to change.
        return "ignored", f"no meeting with id {event.external_id} here"
    session = meeting.session
    _lock(EventSession, session.id)
    db.session.refresh(session)
    entry.session_id = session.id
    at = _instant(event.data.get("at")) or event.occurred_at or now_utc()
    handler = HANDLERS.get(event.kind)
    if handler is None:
        return "ignored", f"{event.kind} is not used"
    return "processed", handler(session, meeting, event, at)


def _instant(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        return None


def _emit(event_type: str, session: EventSession, data: dict[str, Any]) -> None:
    try:
        from forum.webhooks.outbound import emit
    except ImportError:  # pragma: no cover (outbound webhooks are optional in this layer)
        return
    organisers = [session.event.owner_id, *(o.id for o in session.event.co_organisers)]
    emit(event_type, {"session_id": session.id, **data}, organiser_ids=organisers)


def _started(session, meeting, event, at) -> str | None:
    if session.actual_start is None or at < session.actual_start:
        session.actual_start = at
    if session.status == "scheduled":
        session.status = "live"
    _emit("meeting.started", session, {"at": format_instant(at)})
    return None


def _ended(session, meeting, event, at) -> str | None:
    if session.actual_end is None or at > session.actual_end:
        session.actual_end = at
    if session.status in ("scheduled", "live"):
        # A series goes on: it is live or ended only for the meeting of the day.
        more = next(iter(session_occurrences(session, after=at, limit=1)), None)
        session.status = "scheduled" if session.rrule and more is not None else "ended"
    _emit("meeting.ended", session, {"at": format_instant(at)})
    return None


def _attendance_row(session: EventSession, event: WebhookEvent) -> Attendance:
    key = str(event.data.get("participant_key") or event.participant_email or "").lower()
    if not key:
        key = f"anonymous:{event.participant_name or ''}"
    row = db.session.scalar(
        sa.select(Attendance).where(
            Attendance.session_id == session.id, Attendance.participant_key == key[:255]
        )
    )
    if row is None:
        email_address = (event.participant_email or "").strip().lower() or None
        invitation = None
        if email_address:
            invitation = db.session.scalar(
                sa.select(Invitation)
                .join(Person, Invitation.person_id == Person.id)
                .where(
                    Invitation.session_id == session.id,
                    sa.func.lower(Person.email) == email_address,
                )
            )
        row = Attendance(
            session_id=session.id,
            invitation_id=invitation.id if invitation else None,
            participant_key=key[:255],
            email=email_address,
            name=(event.participant_name or "")[:200],
            stays={},
            early_leaves=[],
        )
        db.session.add(row)
    return row


def _minutes(stays: dict[str, str | None]) -> int:
    """Minutes present: the union of the closed stays (overlaps counted once)."""
    spans = sorted(
        (parse_instant(joined), parse_instant(left)) for joined, left in stays.items() if left
    )
    total = dt.timedelta(0)
    current_start = current_end = None
    for start, end in spans:
        if end <= start:
            continue
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start  # type: ignore[operator]
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start  # type: ignore[operator]
    return int(total.total_seconds() // 60)


def _place_leave(stays: dict[str, str | None], left: dt.datetime) -> bool:
    """Close the latest open stay that began before ``left``; False if there is none."""
    open_joins = [
        parse_instant(j) for j, leave in stays.items() if leave is None and parse_instant(j) <= left
    ]
    if not open_joins:
        return False
    stays[format_instant(max(open_joins))] = format_instant(left)
    return True


def _joined(session, meeting, event, at) -> str | None:
    row = _attendance_row(session, event)
    stays = dict(row.stays or {})
    key = format_instant(at)
    if key not in stays:
        stays[key] = None
        # A leave that came first belongs to this join if it is the earliest after it.
        waiting = sorted(parse_instant(x) for x in row.early_leaves or [])
        later = [x for x in waiting if x >= at]
        if later:
            stays[key] = format_instant(later[0])
            row.early_leaves = [format_instant(x) for x in waiting if x != later[0]]
    row.stays = stays
    row.minutes = _minutes(stays)
    _emit_attendance(session, row)
    return None


def _left(session, meeting, event, at) -> str | None:
    row = _attendance_row(session, event)
    stays = dict(row.stays or {})
    leave = format_instant(at)
    if leave in stays.values() or leave in (row.early_leaves or []):
        return None  # seen already
    if not _place_leave(stays, at):
        row.early_leaves = sorted({*(row.early_leaves or []), leave})
    row.stays = stays
    row.minutes = _minutes(stays)
    _emit_attendance(session, row)
    return None


def _emit_attendance(session: EventSession, row: Attendance) -> None:
    db.session.flush()
    _emit(
        "attendance.updated",
        session,
        {
            "participant": row.email or row.participant_key,
            "guest": row.invitation_id is None,
            "minutes": row.minutes,
        },
    )


def _recording(session, meeting, event, at) -> str | None:
    data = dict(meeting.data or {})
    recordings = list(data.get("recordings", []))
    share_url = event.data.get("share_url")
    if any(r.get("share_url") == share_url for r in recordings):
        return None
    recordings.append(
        {
            "share_url": share_url,
            "files": event.data.get("files", []),
            "recording_start": event.data.get("recording_start"),
            "recording_end": event.data.get("recording_end"),
        }
    )
    data["recordings"] = recordings
    meeting.data = data
    _tell_organisers(
        session,
        f"Recording ready: {session.title}",
        f"The recording of {session.title!r} is ready: {share_url}",
    )
    _emit("recording.ready", session, {"share_url": share_url})
    return None


def _changed(session, meeting, event, at) -> str | None:
    start = _instant(event.data.get("start_time"))
    if start is None or start == session.start:
        return "our own change, or none that matters"
    meeting.data = {
        **(meeting.data or {}),
        "changed_on_provider": {"at": format_instant(at), "start_time": format_instant(start)},
    }
    meeting.error = (
        f"the meeting was moved on {meeting.provider}'s side to {format_instant(start)}; "
        "the session still says "
        f"{format_instant(session.start)}: reschedule the session or the meeting"
    )
    _tell_organisers(
        session, f"Meeting changed on {meeting.provider}: {session.title}", meeting.error
    )
    return None


def _deleted(session, meeting, event, at) -> str | None:
    if session.status == "cancelled" or meeting.status == "deleted":
        return "deleted by forum itself"
    operator = event.data.get("operator") or "someone"
    meeting.status = "failed"
    meeting.error = (
        f"the meeting was deleted on {meeting.provider}'s side by {operator}; "
        "retry to open a new one"
    )
    _tell_organisers(
        session, f"Meeting deleted on {meeting.provider}: {session.title}", meeting.error
    )
    _emit("provider.error", session, {"provider": meeting.provider, "error": meeting.error})
    return None


HANDLERS = {
    "meeting.started": _started,
    "meeting.ended": _ended,
    "participant.joined": _joined,
    "participant.left": _left,
    "recording.ready": _recording,
    "meeting.updated": _changed,
    "meeting.deleted": _deleted,
}


def _tell_organisers(session: EventSession, subject: str, text: str) -> None:
    """A plain email to the event's organisers, sent from the processing job."""
    from forum.notifications.dispatch import mail_sender
    from forum.notifications.senders import SendError

    event = session.event
    sender = current_app.config["MAIL_FROM"]
    for organiser in [event.owner, *event.co_organisers]:
        message = email.message.EmailMessage()
        message["From"] = formataddr(("forum", parseaddr(sender)[1]))
        message["To"] = formataddr((organiser.name, organiser.email))
        message["Subject"] = subject.replace("\n", " ")[:200]
        message.set_content(f"{text}\n\nSession {session.id}: {session.title}\n")
        try:
            mail_sender().send(message)
        except SendError as error:
            log.warning("could not tell %s: %s", organiser.email, error)


# --- what organisers see -----------------------------------------------------------------------


def visible_entries(organiser) -> sa.Select:
    """Everything for administrators; for organisers, deliveries about their events' sessions."""
    from forum.events.models import Event
    from forum.events.services import visible_events

    query = sa.select(InboxEntry).order_by(InboxEntry.id.desc())
    if organiser.is_admin:
        return query
    events = visible_events(organiser).with_only_columns(Event.id).order_by(None)
    sessions = sa.select(EventSession.id).where(EventSession.event_id.in_(events))
    return query.where(InboxEntry.session_id.in_(sessions))


def attendance_of(session: EventSession) -> list[Attendance]:
    return list(
        db.session.scalars(
            sa.select(Attendance)
            .where(Attendance.session_id == session.id)
            .order_by(Attendance.invitation_id.is_(None), Attendance.email, Attendance.id)
        )
    )
