"""Each session's video meeting through its life: host chosen at booking, opened, kept in step.

Booking reserves a host from the account's pool in the booking's own transaction (a host
runs one meeting at a time: the provider will not run two on one licence), or answers 409
when every host is taken at that time. Jobs after the commit then open the meeting on the
provider, update it when the session moves, and delete it when the session is cancelled. A
failing provider never loses the booking: the meeting records ``failed`` with a message an
organiser can act on, and ``retry`` opens it once the provider is back. Daily quotas (Zoom:
100 creates and updates per host per UTC day) are spread over the hosts, or the meeting
waits as ``deferred`` for the next day.

A host stays held for the session's times until its meeting is truly gone (the session
cancelled, the meeting deleted): a failed or deferred meeting keeps it, so that its retry
finds it free. Every choice of host is made under the account's lock against what is
committed, at booking, rescheduling, moving a date, retrying and opening; a host that is
no longer free (or no longer in the pool) is exchanged for a free one, recorded in the
meeting's ``host_changes``, or the change is refused with 409 naming the session that holds
it. One job at a time opens a meeting (its lease, ``opening_until``), so two retries never
make two meetings.
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from forum.core import times
from forum.core.errors import Conflict
from forum.core.times import format_instant
from forum.db import now_utc
from forum.events.conflicts import session_intervals
from forum.events.models import EventSession
from forum.events.models import VideoMeeting
from forum.events.occurrences import session_occurrences
from forum.extensions import db
from forum.i18n import _
from forum.i18n import ngettext
from forum.observability.metrics import count_provider_error
from forum.providers import accounts
from forum.providers.base import MeetingInfo
from forum.providers.base import MeetingNotFound
from forum.providers.base import MeetingRequest
from forum.providers.base import ProviderError
from forum.providers.base import QuotaExceeded
from forum.providers.base import VideoProvider
from forum.providers.models import HostUsage
from forum.providers.models import ProviderAccount
from forum.providers.registry import adapter_class
from forum.webhooks.outbound import emit
from forum.webhooks.outbound import organisers_of

log = logging.getLogger("forum.providers")

# Meetings that hold their host for their session's times: all but deleted ones.
HOLDING = ("pending", "created", "deferred", "failed")
HEALTH_WINDOW = dt.timedelta(days=7)
# Longer than any provider call with its retries (forum.providers.http): a job that died
# while opening a meeting leaves it to the next one after this.
OPENING_LEASE = dt.timedelta(minutes=5)
# Hosts named in a refusal, at most.
HOLDERS_NAMED = 5
# The latest host changes kept on a meeting.
HOST_CHANGES_KEPT = 20


# --- hosts -------------------------------------------------------------------------------------


def _lock_account(account: ProviderAccount) -> None:
    """Serialise host choices on one account (see forum.events.conflicts.lock_people)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            sa.select(ProviderAccount.id).where(ProviderAccount.id == account.id).with_for_update()
        )
    else:
        db.session.execute(
            sa.text("UPDATE provider_accounts SET id = id WHERE id = :id"), {"id": account.id}
        )


def busy_hosts(account: ProviderAccount, session: EventSession) -> dict[str, EventSession]:
    """Hosts of the account with a meeting overlapping ``session``, and that other session."""
    intervals = sorted(session_intervals(session))
    if not intervals:
        return {}
    window_start, window_end = intervals[0][0], max(end for _, end in intervals)
    others = db.session.scalars(
        sa.select(EventSession)
        .join(VideoMeeting, VideoMeeting.session_id == EventSession.id)
        .where(
            VideoMeeting.account_id == account.id,
            VideoMeeting.status.in_(HOLDING),
            VideoMeeting.host_account.is_not(None),
            EventSession.status != "cancelled",
            EventSession.id != (session.id or 0),
            EventSession.start < window_end,
            sa.or_(EventSession.rrule.is_not(None), EventSession.end > window_start),
        )
        .options(selectinload(EventSession.overrides), selectinload(EventSession.meeting))
    )
    busy: dict[str, EventSession] = {}
    for other in others:
        host = other.meeting.host_account  # type: ignore[union-attr]
        if host in busy:
            continue
        for occurrence in session_occurrences(other, after=window_start, before=window_end):
            if any(s < occurrence.end and occurrence.start < e for s, e in intervals):
                busy[host] = other
                break
    return busy


def _used_today(account: ProviderAccount, host: str) -> int:
    return (
        db.session.scalar(
            sa.select(HostUsage.count).where(
                HostUsage.account_id == account.id,
                HostUsage.host == host,
                HostUsage.day == now_utc().date(),
            )
        )
        or 0
    )


def _count_use(account: ProviderAccount, host: str, request: MeetingRequest) -> None:
    """Count the creates and updates a request costs the host today: one, and one for each
    moved date of a series (Zoom updates those one by one, each against the daily limit)."""
    calls = 1 + len(request.moved)
    today = now_utc().date()
    usage = db.session.scalar(
        sa.select(HostUsage).where(
            HostUsage.account_id == account.id, HostUsage.host == host, HostUsage.day == today
        )
    )
    if usage is None:
        db.session.add(HostUsage(account_id=account.id, host=host, day=today, count=calls))
    else:
        usage.count += calls


def _taken_by(host: str, session: EventSession) -> str:
    """A busy host and the session holding it, for a refusal."""
    status = session.meeting.status if session.meeting else None
    if status == "failed":
        return _(
            "%(host)s by session %(session)s (%(title)s), whose meeting failed and is held for "
            "its retry",
            host=host,
            session=session.id,
            title=repr(session.title),
        )
    if status == "deferred":
        return _(
            "%(host)s by session %(session)s (%(title)s), whose meeting deferred and is held "
            "for its retry",
            host=host,
            session=session.id,
            title=repr(session.title),
        )
    return _(
        "%(host)s by session %(session)s (%(title)s)",
        host=host,
        session=session.id,
        title=repr(session.title),
    )


def _change_reason(
    reason: str, previous_host: str, account: ProviderAccount, busy: dict[str, EventSession]
) -> str:
    """Why a meeting changed host, as stored on it (its data's host_changes) and shown on the
    session page: the occasion (booked, opened, rescheduled, retried) and the cause."""
    if previous_host not in account.hosts:
        texts = {
            "booked": _("booked: %(host)s is no longer a host of the account", host=previous_host),
            "opened": _("opened: %(host)s is no longer a host of the account", host=previous_host),
            "rescheduled": _(
                "rescheduled: %(host)s is no longer a host of the account", host=previous_host
            ),
            "retried": _(
                "retried: %(host)s is no longer a host of the account", host=previous_host
            ),
        }
        why = _("%(host)s is no longer a host of the account", host=previous_host)
    else:
        holder = busy[previous_host].id
        texts = {
            "booked": _(
                "booked: %(host)s has session %(session)s at that time",
                host=previous_host,
                session=holder,
            ),
            "opened": _(
                "opened: %(host)s has session %(session)s at that time",
                host=previous_host,
                session=holder,
            ),
            "rescheduled": _(
                "rescheduled: %(host)s has session %(session)s at that time",
                host=previous_host,
                session=holder,
            ),
            "retried": _(
                "retried: %(host)s has session %(session)s at that time",
                host=previous_host,
                session=holder,
            ),
        }
        why = _("%(host)s has session %(session)s at that time", host=previous_host, session=holder)
    return texts.get(reason) or f"{reason}: {why}"


def _host_clash(
    kind: str, account: ProviderAccount, busy: dict[str, EventSession], message: str
) -> Conflict:
    return Conflict(
        message,
        code="conflict",
        details={
            "hosts": {host: s.id for host, s in busy.items()},
            "account": account.name,
        },
    )


def reserve_host(
    session: EventSession, meeting: VideoMeeting, *, may_move: bool = True, reason: str = "booked"
) -> None:
    """Give the meeting an account and a free host, in the caller's transaction; 409 if none.

    The current host is kept if it is still free; otherwise (``may_move``) the first free
    host of the pool with quota left today; with quota left nowhere, the first free host
    (the meeting will wait as deferred until the quota resets). A change of host is
    recorded with ``reason``. A meeting that exists on the provider and changes host notes
    the one it replaces, which the update job deletes. Without ``may_move`` (one date of a
    series moves: the series keeps one meeting and one link) a busy host is a 409.
    """
    kind = meeting.provider
    if not adapter_class(kind).uses_hosts:
        return
    account = accounts.account_for(kind)
    if account is None:
        return  # opening it will fail with a message saying what to configure
    _lock_account(account)
    busy = busy_hosts(account, session)
    previous_host = meeting.host_account
    if not may_move and previous_host in busy:
        other = busy[previous_host]
        raise _host_clash(
            kind,
            account,
            {previous_host: other},
            _(
                "the meeting's host %(host)s has another meeting at that time (session "
                "%(session)s, %(title)s); the dates of a series share one meeting, so "
                "choose another time for this one",
                host=previous_host,
                session=other.id,
                title=repr(other.title),
            ),
        )
    free = [h for h in account.hosts if h not in busy]
    if not free:
        taken = [_taken_by(h, busy[h]) for h in account.hosts[:HOLDERS_NAMED]]
        more = len(account.hosts) - len(taken)
        if more:
            every_host_taken = ngettext(
                "every host of the %(kind)s account %(account)s is taken at that time: "
                "%(hosts)s and %(num)d more; add a host to the account or choose another time",
                "every host of the %(kind)s account %(account)s is taken at that time: "
                "%(hosts)s and %(num)d more; add a host to the account or choose another time",
                more,
                kind=kind,
                account=repr(account.name),
                hosts=", ".join(taken),
            )
        else:
            every_host_taken = _(
                "every host of the %(kind)s account %(account)s is taken at that time: "
                "%(hosts)s; add a host to the account or choose another time",
                kind=kind,
                account=repr(account.name),
                hosts=", ".join(taken),
            )
        raise _host_clash(kind, account, busy, every_host_taken)
    quota = adapter_class(kind).daily_quota_per_host
    if previous_host in free:
        chosen = previous_host
    else:
        with_quota = [h for h in free if quota is None or _used_today(account, h) < quota]
        chosen = (with_quota or free)[0]
    meeting.account_id = account.id
    meeting.host_account = chosen
    if previous_host is None or chosen == previous_host:
        return
    changes = list((meeting.data or {}).get("host_changes", []))
    changes.append(
        {
            "at": format_instant(now_utc()),
            "from_host": previous_host,
            "to_host": chosen,
            "reason": _change_reason(reason, previous_host, account, busy),
        }
    )
    meeting.data = {**(meeting.data or {}), "host_changes": changes[-HOST_CHANGES_KEPT:]}
    if meeting.external_id and meeting.status == "created":
        meeting.data = {
            **meeting.data,
            "replaced": {"external_id": meeting.external_id, "host": previous_host},
        }


# --- the provider calls (the jobs' work) -----------------------------------------------------


def meeting_request(session: EventSession, meeting: VideoMeeting) -> MeetingRequest:
    event = session.event
    agenda = f"{event.title}\n{event.description}".strip()[:1500]
    exdates = {times.parse_instant(stamp) for stamp in session.exdates or []}
    moved = []
    for override in session.overrides if session.rrule else ():
        if override.cancelled:
            exdates.add(override.recurrence_id)
        elif (override.start, override.end) != (
            override.recurrence_id,
            override.recurrence_id + session.duration,
        ):
            moved.append((override.recurrence_id, override.start, override.end))
    return MeetingRequest(
        topic=session.title[:200],
        start=session.start,
        end=session.end,
        timezone=session.timezone,
        host=meeting.host_account,
        agenda=agenda,
        rrule=session.rrule,
        exdates=tuple(sorted(exdates)) if session.rrule else (),
        moved=tuple(sorted(moved)),
        marker=f"forum-{session.ical_uid}",
        join_url=meeting.data.get("manual_url") if meeting.data else None,
    )


def provider_of(meeting: VideoMeeting) -> tuple[VideoProvider, ProviderAccount | None]:
    """The adapter for the meeting's account (or the provider's default one), and that account."""
    account = db.session.get(ProviderAccount, meeting.account_id) if meeting.account_id else None
    if account is None:
        account = accounts.account_for(meeting.provider)
    kind = meeting.provider
    if account is None and adapter_class(kind).uses_hosts:
        raise ProviderError(
            _(
                "no %(kind)s account is configured: add one with "
                "`flask --app wsgi forum provider add NAME --kind %(kind)s ...`",
                kind=kind,
            )
        )
    return accounts.provider_for(account, kind), account


def _failed(meeting: VideoMeeting, error: ProviderError) -> str:
    before = (meeting.status, meeting.error)
    meeting.status = "deferred" if isinstance(error, QuotaExceeded) else "failed"
    meeting.error = error.message
    # The periodic retry meets the same failure every 15 minutes: organisers' systems hear
    # of a failure once, and again only when it changes.
    if (meeting.status, meeting.error) != before:
        emit(
            "provider.error",
            {
                "session_id": meeting.session_id,
                "provider": meeting.provider,
                "status": meeting.status,
                "error": meeting.error,
            },
            organiser_ids=organisers_of(meeting.session.event),
        )
    # Timeouts, 5xx, rate limits: the periodic job tries again (waiting_sessions); other
    # failures wait for someone to fix the cause and retry.
    meeting.data = {**(meeting.data or {}), "retry_later": error.temporary}
    log.warning("meeting of session %s: %s", meeting.session_id, error.message)
    count_provider_error(meeting.provider, error)
    return meeting.status


def _take_lease(meeting: VideoMeeting) -> bool:
    """Make this job the one that opens the meeting (False: another is at it). Commits."""
    now = now_utc()
    taken = db.session.execute(
        sa.update(VideoMeeting)
        .where(
            VideoMeeting.id == meeting.id,
            VideoMeeting.status.in_(("pending", "failed", "deferred")),
            sa.or_(VideoMeeting.opening_until.is_(None), VideoMeeting.opening_until < now),
        )
        .values(opening_until=now + OPENING_LEASE)
    ).rowcount
    db.session.commit()
    return bool(taken)


def _end_lease(meeting: VideoMeeting) -> None:
    # A statement, not an attribute: the lease is not part of what calendars show, so it
    # raises no revision (forum.events.revisions).
    db.session.execute(
        sa.update(VideoMeeting).where(VideoMeeting.id == meeting.id).values(opening_until=None)
    )


def opening_now(meeting: VideoMeeting) -> bool:
    """Whether a job is opening the meeting on its provider at this moment."""
    return meeting.opening_until is not None and meeting.opening_until > now_utc()


def open_meeting(session_id: int) -> str:
    """Create the session's meeting on its provider (a no-op if it exists). Commits.

    The host is checked again under the account's lock and committed before the provider
    is called, so no booking takes it meanwhile, and no lock is held while the provider
    answers.
    """
    session = db.session.get(EventSession, session_id)
    if session is None or session.meeting is None or session.status == "cancelled":
        return "skipped"
    meeting = session.meeting
    if meeting.status == "created" and meeting.join_url:
        return meeting.status
    if not _take_lease(meeting):
        db.session.refresh(meeting)
        return meeting.status
    held = (meeting.external_id, meeting.host_account)
    try:
        provider, account = provider_of(meeting)
        if provider.uses_hosts and account is not None:
            reserve_host(session, meeting, reason="opened")
            assert meeting.host_account is not None
            quota = provider.daily_quota_per_host
            if quota is not None and _used_today(account, meeting.host_account) >= quota:
                raise QuotaExceeded(
                    _(
                        "%(account)s: host %(host)s reached the provider's limit of %(quota)s "
                        "meetings created or changed today (UTC); forum will try again after "
                        "midnight UTC, or add a host to the account",
                        account=account.name,
                        host=meeting.host_account,
                        quota=quota,
                    )
                )
        request = meeting_request(session, meeting)
        if provider.uses_hosts and account is not None:
            _count_use(account, meeting.host_account, request)
        meeting.attempts += 1
        db.session.commit()
        info = _create_or_mend(provider, request, *held)
    except Conflict as conflict:
        db.session.rollback()
        meeting.attempts += 1
        meeting.status, meeting.error = "failed", conflict.message
        _end_lease(meeting)
        db.session.commit()
        return meeting.status
    except ProviderError as error:
        status = _failed(meeting, error)
        _end_lease(meeting)
        db.session.commit()
        return status
    _store(meeting, info)
    _end_lease(meeting)
    db.session.commit()
    return meeting.status


def _create_or_mend(
    provider: VideoProvider, request: MeetingRequest, external_id: str | None, old_host: str | None
) -> MeetingInfo:
    """Create the meeting; or, when the provider holds one for the session already (an
    update that failed part way, a series whose dates could not all be set), bring that one in
    step, since creating would leave it behind. One on a host the meeting has left is deleted
    (as far as the provider lets it) before the new one is made."""
    if external_id and old_host == request.host:
        try:
            return provider.update_meeting(external_id, request)
        except MeetingNotFound:
            pass  # deleted on the provider's side meanwhile: make it anew
    elif external_id:
        try:
            provider.delete_meeting(external_id, host=old_host)
        except ProviderError as error:
            log.warning("old meeting %s not deleted: %s", external_id, error.message)
    return provider.create_meeting(request)


def _store(meeting: VideoMeeting, info) -> None:
    meeting.external_id = info.external_id
    meeting.join_url = info.join_url
    meeting.passcode = info.passcode
    meeting.host_url = info.host_url
    if info.host_account:
        meeting.host_account = info.host_account
    meeting.data = {**(meeting.data or {}), **info.data}
    meeting.status, meeting.error = "created", None


def sync_meeting(session_id: int) -> str:
    """Bring the provider's meeting in step with a rescheduled or renamed session. Commits."""
    session = db.session.get(EventSession, session_id)
    if session is None or session.meeting is None or session.status == "cancelled":
        return "skipped"
    meeting = session.meeting
    replaced = (meeting.data or {}).get("replaced")
    if replaced:
        # The session moved to a time when its host is busy: delete the meeting on the old
        # host and open it on the new one.
        try:
            provider, _account = provider_of(meeting)
            provider.delete_meeting(replaced["external_id"], host=replaced["host"])
        except ProviderError as error:
            log.warning("old meeting %s not deleted: %s", replaced["external_id"], error.message)
        meeting.data = {k: v for k, v in meeting.data.items() if k != "replaced"}
        meeting.status, meeting.external_id = "pending", None
        db.session.commit()
        return open_meeting(session_id)
    if meeting.status != "created" or not meeting.external_id:
        return open_meeting(session_id)
    try:
        provider, account = provider_of(meeting)
        request = meeting_request(session, meeting)
        if provider.uses_hosts and account is not None and meeting.host_account:
            _count_use(account, meeting.host_account, request)
        info = provider.update_meeting(meeting.external_id, request)
    except MeetingNotFound:
        # Deleted on the provider's side: open a new one.
        meeting.status, meeting.external_id = "pending", None
        db.session.commit()
        return open_meeting(session_id)
    except ProviderError as error:
        status = _failed(meeting, error)
        db.session.commit()
        return status
    _store(meeting, info)
    db.session.commit()
    return meeting.status


def close_meeting(session_id: int) -> str:
    """Delete a cancelled session's meeting on the provider (gone already counts). Commits."""
    session = db.session.get(EventSession, session_id)
    if session is None or session.meeting is None:
        return "skipped"
    meeting = session.meeting
    if meeting.status == "deleted" or not meeting.external_id:
        meeting.status = "deleted"
        db.session.commit()
        return meeting.status
    try:
        provider, _account = provider_of(meeting)
        provider.delete_meeting(meeting.external_id, host=meeting.host_account)
    except ProviderError as error:
        meeting.error = _(
            "could not delete the meeting on %(provider)s: %(problem)s",
            provider=meeting.provider,
            problem=error.message,
        )
        db.session.commit()
        return "failed"
    meeting.status, meeting.error = "deleted", None
    db.session.commit()
    return meeting.status


# --- health ----------------------------------------------------------------------------------


def check_account(account: ProviderAccount) -> list[str]:
    """Problems of an account now: its token, its hosts, and its meetings of the next 7 days.

    Records them on the account (and a meeting gone on the provider's side as failed, with
    the reason). Commits.
    """
    provider = accounts.provider_for(account, account.kind)
    problems = list(provider.check())
    now = now_utc()
    sessions = db.session.scalars(
        sa.select(EventSession)
        .join(VideoMeeting, VideoMeeting.session_id == EventSession.id)
        .where(
            VideoMeeting.account_id == account.id,
            VideoMeeting.status == "created",
            EventSession.status != "cancelled",
            EventSession.start < now + HEALTH_WINDOW,
            sa.or_(EventSession.rrule.is_not(None), EventSession.end > now),
        )
        .options(selectinload(EventSession.meeting), selectinload(EventSession.overrides))
    )
    for session in sessions:
        coming = session_occurrences(session, after=now, before=now + HEALTH_WINDOW, limit=1)
        if next(iter(coming), None) is None:
            continue
        meeting = session.meeting
        assert meeting is not None and meeting.external_id is not None
        try:
            provider.get_meeting(meeting.external_id, host=meeting.host_account)
        except MeetingNotFound:
            meeting.status = "failed"
            meeting.error = _(
                "the meeting was deleted on %(provider)s's side; retry to open a new one",
                provider=account.kind,
            )
            problems.append(
                _(
                    "session %(session)s (%(title)s): %(problem)s",
                    session=session.id,
                    title=repr(session.title),
                    problem=meeting.error,
                )
            )
        except ProviderError as error:
            problems.append(
                _("session %(session)s: %(problem)s", session=session.id, problem=error.message)
            )
    account.last_check_at = now
    account.last_check_problems = problems
    db.session.commit()
    return problems


def waiting_sessions(*, limit: int = 500) -> list[int]:
    """Coming sessions whose meeting is deferred, or failed for a passing reason."""
    rows = db.session.execute(
        sa.select(EventSession.id, VideoMeeting.status, VideoMeeting.data)
        .join(VideoMeeting, VideoMeeting.session_id == EventSession.id)
        .where(
            VideoMeeting.status.in_(("deferred", "pending", "failed")),
            EventSession.status != "cancelled",
            sa.or_(EventSession.rrule.is_not(None), EventSession.end > now_utc()),
        )
        .order_by(EventSession.start)
    )
    waiting = [
        session_id
        for session_id, status, data in rows
        if status != "failed" or (data or {}).get("retry_later")
    ]
    return waiting[:limit]
