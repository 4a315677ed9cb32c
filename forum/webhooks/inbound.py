"""Provider deliveries: stored once each, then processed into sessions, attendance, recordings.

Intake (``receive``) is the hot path, since providers send bursts (every participant of a
class joins within a minute) and want an answer within seconds: it verifies a delivery with
the provider's adapter, stores each fact it carries with one INSERT that the database
skips for a fact already stored (the unique provider + identity), commits, and tells the
workers there is work. Nothing else: no ORM objects, and no job message per fact when
Redis is the broker.

Processing (``drain``) takes the stored facts in batches, one transaction per batch, each
batch locked so that two workers never take the same fact. It is idempotent and tolerates
any order: attendance keeps each stay keyed by its join time, and a leave that arrives
before its join waits for it.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
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
from forum.i18n import _
from forum.i18n import in_locale
from forum.notifications.organisers import tell_organisers
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
# Headers kept with a delivery, to parse it again when it is processed.
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


# --- intake ------------------------------------------------------------------------------------

# The accounts of a provider and their adapters (secrets decrypted) are kept per app for a
# few seconds: a changed secret takes effect within ACCOUNTS_TTL, and a burst of deliveries
# costs no query and no decryption each.
ACCOUNTS_TTL = 5.0


@dataclass(frozen=True)
class _Verifier:
    name: str
    adapter: VideoProvider


def _verifiers(provider: str) -> list[_Verifier]:
    """The provider's accounts by name, each with its adapter (cached in the app)."""
    cache: dict[str, tuple[float, list[_Verifier]]] = current_app.extensions.setdefault(
        "forum_webhook_accounts", {}
    )
    cached = cache.get(provider)
    if cached is None or time.monotonic() - cached[0] > ACCOUNTS_TTL:
        found = db.session.scalars(
            sa.select(ProviderAccount)
            .where(ProviderAccount.kind == provider)
            .order_by(ProviderAccount.name)
        ).all()
        verifiers = [_Verifier(a.name, accounts.provider_for(a, a.kind)) for a in found]
        cached = cache[provider] = (time.monotonic(), verifiers)
    return cached[1]


def receive(
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    query: Mapping[str, str] | None = None,
) -> Intake:
    """Verify a delivery, store its facts and commit, then have them processed."""
    now = now_utc()
    reasons: list[str] = []
    for verifier in _verifiers(provider):
        try:
            reply = verifier.adapter.verify_webhook(headers, body, now=now, query=query or {})
        except WebhookRejected as refused:
            reasons.append(f"{verifier.name}: {refused}")
            continue
        if reply is not None:
            return Intake(reply=reply, stored=[], duplicates=0)
        events = verifier.adapter.parse_webhook(headers, body)
        stored = _store(provider, events, body, headers, now)
        if stored:
            _schedule_processing(stored)
        return Intake(reply=None, stored=stored, duplicates=len(events) - len(stored))
    raise DeliveryRefused("; ".join(reasons) or f"no {provider} account is configured")


@functools.cache
def _insert_ignoring_duplicates(dialect: str) -> sa.Insert:
    """INSERT of inbox rows that the database skips for a fact already stored (built once:
    a statement is immutable, and SQLAlchemy keeps its compiled form)."""
    table = InboxEntry.__table__
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing(index_elements=["provider", "identity"]).returning(
        table.c.id
    )


def _store(
    provider: str,
    events: list[WebhookEvent],
    body: bytes,
    headers: Mapping[str, str],
    now: dt.datetime,
) -> list[int]:
    """Insert one inbox row per new fact, committed; the ids of the rows inserted.

    One statement on a connection of its own, not through the ORM session: a delivery is
    plain values, and the ORM's bookkeeping would cost more than the insert. The rows go as
    parameters of the one statement, compiled once. It runs in autocommit: one
    statement is atomic by itself, and the database commits it without a BEGIN and a
    COMMIT to wait for.
    """
    if not events:
        return []
    text = body.decode("utf-8", "replace")
    kept = _kept(headers)
    rows = [
        {
            "provider": provider,
            "identity": event.identity[:255],
            "event": event.kind,
            "external_id": event.external_id,
            "body": text,
            "headers": kept,
            "status": "received",
            "attempts": 0,
            "received_at": now,
        }
        for event in {e.identity[:255]: e for e in events}.values()
    ]
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        statement = _insert_ignoring_duplicates(connection.dialect.name)
        return list(connection.execute(statement, rows).scalars())


# Set while a drain job is queued and not yet started (see _schedule_processing).
DRAIN_PENDING_KEY = "forum:webhooks:drain-pending"
DRAIN_PENDING_MS = 60_000
# A drain job waits this long after the first delivery that asked for it, so that it finds
# a batch rather than one fact, and a burst costs a few job messages rather than hundreds.
DRAIN_DELAY_SECONDS = 0.5
_REDIS: dict[str, Any] = {}


def _schedule_processing(entry_ids: list[int]) -> None:
    """Have the new facts (committed) processed.

    With Redis as the broker one drain job at a time does the work, for every delivery
    stored meanwhile: the request sets a Redis key (SET NX) and queues a drain only if the
    key was not there. A drain deletes the key before it reads the inbox, so a fact
    committed while the key exists is read by the drain that key stands for; the key's
    expiry and the periodic drain cover a drain job that was lost.

    Without a broker (jobs run inline) or with another one, a job per fact, after the
    commit as every job.
    """
    from forum.jobs.queue import enqueue

    broker = current_app.config.get("CELERY_BROKER_URL") or ""
    if broker.startswith(("redis://", "rediss://")):
        try:
            if _redis(broker).set(DRAIN_PENDING_KEY, "1", nx=True, px=DRAIN_PENDING_MS):
                drain_inbox = current_app.extensions["celery"].tasks["forum.drain_inbox"]
                drain_inbox.apply_async(countdown=DRAIN_DELAY_SECONDS)
        except Exception:
            # The facts are stored: the periodic drain processes them if no job was sent.
            log.exception("could not ask for a drain of the webhook inbox")
        return
    for entry_id in entry_ids:
        enqueue("forum.process_delivery", entry_id)
    db.session.commit()  # nothing else is in the session: this sends the jobs


def _redis(url: str):
    import redis

    client = _REDIS.get(url)
    if client is None:
        client = _REDIS[url] = redis.Redis.from_url(url, socket_timeout=5)
    return client


# --- processing --------------------------------------------------------------------------------

DRAIN_BATCH = 200


def drain(*, batch: int = DRAIN_BATCH) -> int:
    """Process every stored fact not processed yet, oldest first, a batch per transaction.

    The drain job, and the periodic net under it. Several drains may run at once (several
    workers): each takes the facts no other one holds. Returns how many it processed.
    """
    broker = current_app.config.get("CELERY_BROKER_URL") or ""
    if broker.startswith(("redis://", "rediss://")):
        _redis(broker).delete(DRAIN_PENDING_KEY)
    done = 0
    while True:
        entries = _take_batch(batch)
        if not entries:
            db.session.commit()
            return done
        _process_entries(entries, _Batch())
        db.session.commit()
        done += len(entries)


def _take_batch(size: int) -> list[InboxEntry]:
    """The oldest facts still to process, up to ``size``, locked until the commit.

    On PostgreSQL the rows are locked and those another drain holds are skipped, so two
    drains never take the same fact. SQLite has one writer at a time: a write takes its
    lock first, and the rows are read again under it.
    """
    waiting = (
        sa.select(InboxEntry)
        .where(InboxEntry.status == "received")
        .order_by(InboxEntry.id)
        .limit(size)
        .execution_options(populate_existing=True)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        return list(db.session.scalars(waiting.with_for_update(skip_locked=True)))
    ids = db.session.scalars(waiting.with_only_columns(InboxEntry.id)).all()
    if not ids:
        return []
    _lock(InboxEntry, ids[0])
    return list(db.session.scalars(waiting.where(InboxEntry.id.in_(ids))))


PARTICIPANT_EVENTS = ("participant.joined", "participant.left")


@dataclass
class _Batch:
    """What the facts of one transaction share: their events, the meetings and the
    attendance rows they are about, read with one query each, and the sessions locked."""

    events: dict[int, WebhookEvent | None | Exception] = field(default_factory=dict)
    meetings: dict[tuple[str, str], VideoMeeting | None] = field(default_factory=dict)
    locked: set[int] = field(default_factory=set)
    fresh: set[int] = field(default_factory=set)
    # (session id, participant key): the attendance row, None for none yet.
    people: dict[tuple[int, str], Attendance | None] = field(default_factory=dict)
    # (session id, email): the invitation's id, None for none.
    invitations: dict[tuple[int, str], int | None] = field(default_factory=dict)

    def prepare(self, entries: list[InboxEntry]) -> None:
        """Parse the batch, find its meetings and lock their sessions in the order of their
        ids, then read the attendance rows and invitations its participant events need.

        Every drain locks sessions in that order, so two drains whose batches share
        sessions wait for each other instead of deadlocking.
        """
        for entry in entries:
            try:
                self.events[entry.id] = _event_of(entry)
            except Exception as error:  # noqa: BLE001 (raised again for this entry alone)
                self.events[entry.id] = error
        wanted = {(e.provider, e.external_id) for e in entries if e.external_id}
        for key in wanted:
            self.meetings[key] = None
        if not wanted:
            return
        found = db.session.scalars(
            sa.select(VideoMeeting).where(
                VideoMeeting.external_id.in_(sorted({external for _, external in wanted}))
            )
        )
        for meeting in found:
            key = (meeting.provider, meeting.external_id or "")
            if key in wanted:
                self.meetings[key] = meeting
        session_ids = sorted({m.session_id for m in self.meetings.values() if m is not None})
        _lock(EventSession, *session_ids)
        self.locked.update(session_ids)
        self._read_people(entries)

    def _read_people(self, entries: list[InboxEntry]) -> None:
        people: set[tuple[int, str]] = set()
        emails: set[tuple[int, str]] = set()
        for entry in entries:
            event = self.events[entry.id]
            if not isinstance(event, WebhookEvent) or event.kind not in PARTICIPANT_EVENTS:
                continue
            meeting = self.meetings.get((entry.provider, event.external_id))
            if meeting is None:
                continue
            people.add((meeting.session_id, _participant_key(event)))
            if email_address := _email_of(event):
                emails.add((meeting.session_id, email_address))
        if not people:
            return
        session_ids = sorted({session_id for session_id, _ in people})
        self.people.update(dict.fromkeys(people))
        rows = db.session.scalars(
            sa.select(Attendance).where(
                Attendance.session_id.in_(session_ids),
                Attendance.participant_key.in_(sorted({key for _, key in people})),
            )
        )
        for row in rows:
            if (row.session_id, row.participant_key) in people:
                self.people[(row.session_id, row.participant_key)] = row
        if not emails:
            return
        self.invitations.update(dict.fromkeys(emails))
        email = sa.func.lower(Person.email)
        invited = db.session.execute(
            sa.select(Invitation.session_id, email, Invitation.id)
            .join(Person, Invitation.person_id == Person.id)
            .where(
                Invitation.session_id.in_(session_ids),
                email.in_(sorted({address for _, address in emails})),
            )
            .order_by(Invitation.id.desc())  # the first invitation of a person wins
        )
        for session_id, address, invitation_id in invited:
            if (session_id, address) in emails:
                self.invitations[(session_id, address)] = invitation_id

    def event(self, entry: InboxEntry) -> WebhookEvent | None:
        event = self.events[entry.id] if entry.id in self.events else _event_of(entry)
        if isinstance(event, Exception):
            raise event
        return event

    def meeting(self, provider: str, external_id: str) -> VideoMeeting | None:
        key = (provider, external_id)
        if key not in self.meetings:
            self.meetings[key] = db.session.scalar(
                sa.select(VideoMeeting).where(
                    VideoMeeting.provider == provider, VideoMeeting.external_id == external_id
                )
            )
        return self.meetings[key]

    def lock(self, session: EventSession) -> None:
        """Lock the session and read it again under the lock, once per batch."""
        if session.id not in self.locked:
            _lock(EventSession, session.id)
            self.locked.add(session.id)
        if session.id not in self.fresh:
            db.session.refresh(session)
            self.fresh.add(session.id)

    def attendance(self, session_id: int, key: str) -> Attendance | None:
        if (session_id, key) not in self.people:
            self.people[(session_id, key)] = db.session.scalar(
                sa.select(Attendance).where(
                    Attendance.session_id == session_id, Attendance.participant_key == key
                )
            )
        return self.people[(session_id, key)]

    def invitation(self, session_id: int, email_address: str) -> int | None:
        if (session_id, email_address) not in self.invitations:
            self.invitations[(session_id, email_address)] = db.session.scalar(
                sa.select(Invitation.id)
                .join(Person, Invitation.person_id == Person.id)
                .where(
                    Invitation.session_id == session_id,
                    sa.func.lower(Person.email) == email_address,
                )
                .order_by(Invitation.id)
                .limit(1)
            )
        return self.invitations[(session_id, email_address)]

    def undone(self) -> None:
        """A fact's savepoint was rolled back: rows it added or changed are read again."""
        self.people.clear()


def _lock(model: type, *row_ids: int) -> None:
    """Serialise work on rows across workers (see forum.events.conflicts.lock_people).

    Several rows are locked in the order of their ids, by one statement.
    """
    if not row_ids:
        return
    table = model.__table__  # type: ignore[attr-defined]
    if db.session.get_bind().dialect.name == "postgresql":
        # PostgreSQL locks the rows as the sorted result returns them.
        db.session.execute(
            sa.select(table.c.id)
            .where(table.c.id.in_(row_ids))
            .order_by(table.c.id)
            .with_for_update()
        )
    else:
        # A write takes SQLite's lock; it changes nothing (not even updated_at).
        unchanged = {name: table.c[name] for name in ("id", "updated_at") if name in table.c}
        db.session.execute(sa.update(table).where(table.c.id.in_(row_ids)).values(unchanged))


def process(entry_id: int, *, again: bool = False) -> str:
    """Apply one stored fact; a fact already processed is left alone unless ``again``. Commits."""
    _lock(InboxEntry, entry_id)
    entry = db.session.get(InboxEntry, entry_id, populate_existing=True)
    if entry is None:
        db.session.commit()
        return "missing"
    if entry.status in ("processed", "ignored") and not again:
        db.session.commit()
        return entry.status
    [status] = _process_entries([entry], _Batch())
    db.session.commit()
    return status


def _process_entries(entries: list[InboxEntry], batch: _Batch) -> list[str]:
    """Apply each fact in turn, in a savepoint each, and record what came of it; the
    statuses. A fact that fails is undone alone and marked failed, the others stand. The
    caller commits."""
    batch.prepare(entries)
    outcomes: list[dict[str, Any]] = []
    for entry in entries:
        outcome: dict[str, Any] = {"id": entry.id, "attempts": entry.attempts + 1}
        try:
            with db.session.begin_nested():
                status, note, session_id = _apply(entry, batch)
        except Exception as error:  # noqa: BLE001 (a delivery must never stop the queue)
            batch.undone()
            outcome.update(status="failed", error=f"{type(error).__name__}: {error}")
            log.exception("webhook delivery %s failed", entry.id)
        else:
            outcome.update(status=status, error=note, session_id=session_id, processed_at=now_utc())
        outcomes.append(outcome)
    # One UPDATE by primary key for the whole batch, sent as one round of statements.
    db.session.execute(sa.update(InboxEntry), outcomes)
    return [outcome["status"] for outcome in outcomes]


def _parser(provider: str) -> VideoProvider:
    """An adapter to parse the provider's deliveries with: any account's parses alike."""
    verifiers = _verifiers(provider)
    return verifiers[0].adapter if verifiers else accounts.provider_for(None, provider)


def _event_of(entry: InboxEntry) -> WebhookEvent | None:
    events = _parser(entry.provider).parse_webhook(entry.headers, entry.body.encode("utf-8"))
    return next((e for e in events if e.identity[:255] == entry.identity), None)


def _apply(entry: InboxEntry, batch: _Batch) -> tuple[str, str | None, int | None]:
    """Apply one fact: its status, a note on it, and the session it is about if any."""
    event = batch.event(entry)
    if event is None:
        return "ignored", _("the delivery no longer parses to this event"), entry.session_id
    meeting = batch.meeting(entry.provider, event.external_id)
    if meeting is None:
        # A meeting made elsewhere, or one of ours already deleted: nothing to change.
        return (
            "ignored",
            _("no meeting with id %(id)s here", id=event.external_id),
            entry.session_id,
        )
    session = meeting.session
    batch.lock(session)
    at = _instant(event.data.get("at")) or event.occurred_at or now_utc()
    handler = HANDLERS.get(event.kind)
    if handler is None:
        return "ignored", _("%(kind)s is not used", kind=event.kind), session.id
    return "processed", handler(session, meeting, event, at, batch), session.id


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


def _started(session, meeting, event, at, batch) -> str | None:
    if session.actual_start is None or at < session.actual_start:
        session.actual_start = at
    if session.status == "scheduled":
        session.status = "live"
    _emit("meeting.started", session, {"at": format_instant(at)})
    return None


def _ended(session, meeting, event, at, batch) -> str | None:
    if session.actual_end is None or at > session.actual_end:
        session.actual_end = at
    if session.status in ("scheduled", "live"):
        # A series goes on: it is live or ended only for the meeting of the day.
        more = next(iter(session_occurrences(session, after=at, limit=1)), None)
        session.status = "scheduled" if session.rrule and more is not None else "ended"
    _emit("meeting.ended", session, {"at": format_instant(at)})
    _close_at_the_end(session)
    return None


def _close_at_the_end(session: EventSession) -> None:
    """Close the stays of those still in the meeting when it ended, at its end.

    Providers send no leave for them. The end is written into the stay rather than read
    from the session later, since a series' next meeting records an end of its own.
    """
    rows = db.session.scalars(sa.select(Attendance).where(Attendance.session_id == session.id))
    for row in rows:
        stays = dict(row.stays or {})
        for joined, left in stays.items():
            if left is None:
                ended = _ended_at(session, parse_instant(joined))
                if ended is not None:
                    stays[joined] = format_instant(ended)
        if stays != row.stays:
            row.stays = stays
            row.minutes = _minutes(stays, session)
            _emit_attendance(session, row)


def _participant_key(event: WebhookEvent) -> str:
    """Who, as the provider knows them: the email if given, else its participant id."""
    key = str(event.data.get("participant_key") or event.participant_email or "").lower()
    return (key or f"anonymous:{event.participant_name or ''}")[:255]


def _email_of(event: WebhookEvent) -> str | None:
    return (event.participant_email or "").strip().lower() or None


def _attendance_row(session: EventSession, event: WebhookEvent, batch: _Batch) -> Attendance:
    key = _participant_key(event)
    row = batch.attendance(session.id, key)
    if row is None:
        email_address = _email_of(event)
        row = Attendance(
            session_id=session.id,
            invitation_id=batch.invitation(session.id, email_address) if email_address else None,
            participant_key=key,
            email=email_address,
            name=(event.participant_name or "")[:200],
            stays={},
            early_leaves=[],
        )
        db.session.add(row)
        batch.people[(session.id, key)] = row
    return row


def _ended_at(session: EventSession, joined: dt.datetime) -> dt.datetime | None:
    """When the meeting someone joined at ``joined`` ended, if it has (meeting.ended).

    That meeting is the occurrence under way at the join (or the next, for an early join):
    the session's recorded actual end is its end when it falls between the join and the
    next occurrence's start.
    """
    actual = session.actual_end
    if actual is None or actual < joined:
        return None
    ahead = list(session_occurrences(session, after=joined, limit=2))
    if len(ahead) == 2 and actual >= ahead[1].start:
        return None
    return actual


def meeting_end_for(session: EventSession, joined: dt.datetime) -> dt.datetime:
    """When the meeting joined at ``joined`` ended, else when it is due to end (its
    scheduled end); never before the join itself."""
    ended = _ended_at(session, joined)
    if ended is not None:
        return ended
    ahead = next(iter(session_occurrences(session, after=joined, limit=1)), None)
    return max(ahead.end, joined) if ahead is not None else joined


def _minutes(stays: dict[str, str | None], session: EventSession) -> int:
    """Minutes present: the union of the stays (overlaps counted once).

    A stay with no leave yet is someone still in a meeting whose end was not told: it counts
    until the meeting's scheduled end (``meeting_end_for``); the end, once told, closes it.
    """
    spans = sorted(
        (
            parse_instant(joined),
            parse_instant(left) if left else meeting_end_for(session, parse_instant(joined)),
        )
        for joined, left in stays.items()
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


def _place_leave(
    stays: dict[str, str | None], left: dt.datetime, ended: dt.datetime | None
) -> bool:
    """Close the latest open stay that began before ``left``; False if there is none.

    A leave that arrives after the meeting's end (``ended``) closed the stay at that end
    shortens the stay to the leave.
    """
    closed_at_end = format_instant(ended) if ended is not None else None
    open_joins = [
        parse_instant(j)
        for j, leave in stays.items()
        if (leave is None or (leave == closed_at_end and left < ended))  # type: ignore[operator]
        and parse_instant(j) <= left
    ]
    if not open_joins:
        return False
    stays[format_instant(max(open_joins))] = format_instant(left)
    return True


def _joined(session, meeting, event, at, batch) -> str | None:
    row = _attendance_row(session, event, batch)
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
        elif (ended := _ended_at(session, at)) is not None:
            # The meeting's end came first: the stay ends with it (a leave may still come).
            stays[key] = format_instant(ended)
    row.stays = stays
    row.minutes = _minutes(stays, session)
    _emit_attendance(session, row)
    return None


def _left(session, meeting, event, at, batch) -> str | None:
    row = _attendance_row(session, event, batch)
    stays = dict(row.stays or {})
    leave = format_instant(at)
    if leave in stays.values() or leave in (row.early_leaves or []):
        return None  # seen already
    if not _place_leave(stays, at, session.actual_end):
        row.early_leaves = sorted({*(row.early_leaves or []), leave})
    row.stays = stays
    row.minutes = _minutes(stays, session)
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


def _recording(session, meeting, event, at, batch) -> str | None:
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
    tell_organisers(
        session,
        lambda: _("Recording ready: %(title)s", title=session.title),
        lambda: _(
            "The recording of %(title)s is ready: %(url)s",
            title=repr(session.title),
            url=share_url,
        ),
    )
    _emit("recording.ready", session, {"share_url": share_url})
    return None


def _changed(session, meeting, event, at, batch) -> str | None:
    start = _instant(event.data.get("start_time"))
    if start is None or start == session.start:
        return _("our own change, or none that matters")
    meeting.data = {
        **(meeting.data or {}),
        "changed_on_provider": {"at": format_instant(at), "start_time": format_instant(start)},
    }

    def moved() -> str:
        return _(
            "the meeting was moved on %(provider)s's side to %(start)s; the session still says "
            "%(session_start)s: reschedule the session or the meeting",
            provider=meeting.provider,
            start=format_instant(start),
            session_start=format_instant(session.start),
        )

    # Kept on the meeting in the event owner's language; each organiser is told in theirs.
    with in_locale(session.event.owner.locale):
        meeting.error = moved()
    tell_organisers(
        session,
        lambda: _(
            "Meeting changed on %(provider)s: %(title)s",
            provider=meeting.provider,
            title=session.title,
        ),
        moved,
    )
    return None


def _deleted(session, meeting, event, at, batch) -> str | None:
    if session.status == "cancelled" or meeting.status == "deleted":
        return _("deleted by forum itself")
    operator = event.data.get("operator")
    meeting.status = "failed"

    def deleted() -> str:
        if operator:
            return _(
                "the meeting was deleted on %(provider)s's side by %(operator)s; "
                "retry to open a new one",
                provider=meeting.provider,
                operator=operator,
            )
        return _(
            "the meeting was deleted on %(provider)s's side by someone; retry to open a new one",
            provider=meeting.provider,
        )

    # Kept on the meeting in the event owner's language; each organiser is told in theirs.
    with in_locale(session.event.owner.locale):
        meeting.error = deleted()
    tell_organisers(
        session,
        lambda: _(
            "Meeting deleted on %(provider)s: %(title)s",
            provider=meeting.provider,
            title=session.title,
        ),
        deleted,
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
