"""Pre-flight checks: a day and an hour before each occurrence, the meeting at its provider.

Each check asks the provider whether the meeting still exists, whether it is held at the
occurrence's time, and whether its host still exists and has no other meeting then; a call
the provider refuses for the credentials says those no longer work. The adapters' own calls
and error translation do the asking (forum.providers.base: ``get_meeting``,
``scheduled_times``, ``host_meetings``): a token is fetched the way every call fetches it.

A check runs once per (session, occurrence, lead): its ``preflight_checks`` row is claimed
by an INSERT the database skips when the key exists, and committed before the provider is
called, so two workers never check the same thing twice and no lock is held while the
provider answers. Only the shortest lead due at once is checked.

A problem is recorded on the row (``ok`` false, ``problems``) and on the meeting (status
``failed``, ``error`` in plain words, so the session page's Retry opens or mends it), told
to the event's organisers by email and to their systems as ``provider.error``. Jitsi and
manual meetings have nothing to check at a provider: their checks record ok.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import selectinload

from forum.db import now_utc
from forum.events.models import EventSession
from forum.events.models import VideoMeeting
from forum.events.occurrences import Occurrence
from forum.events.occurrences import find_occurrence
from forum.events.occurrences import session_occurrences
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import format_datetime_text
from forum.i18n import in_locale
from forum.notifications.emails import how_soon
from forum.notifications.organisers import tell_organisers
from forum.providers.base import AuthenticationFailed
from forum.providers.base import HostNotFound
from forum.providers.base import MeetingNotFound
from forum.providers.base import ProviderError
from forum.providers.meetings import provider_of
from forum.reminders.models import PreflightCheck
from forum.reminders.reminders import due_lead
from forum.webhooks.outbound import emit
from forum.webhooks.outbound import organisers_of

log = logging.getLogger("forum.reminders")

LEADS = (24 * 60, 60)
WINDOW = dt.timedelta(minutes=max(LEADS))
# Providers with no meeting of their own to ask about.
NOTHING_TO_CHECK = ("jitsi", "manual")
NAMES = {"zoom": "Zoom", "teams": "Teams", "webex": "Webex", "google_meet": "Google Meet"}
UNFINISHED = _l("the check did not finish (the job stopped); the next check looks again")


@dataclass(frozen=True)
class CheckResult:
    session_id: int
    title: str
    occurrence_start: dt.datetime
    lead_minutes: int
    ok: bool
    problems: list[str]


@dataclass
class CheckRun:
    """What one pass did: each check made, those with problems, and checks that crashed."""

    checks: list[CheckResult] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def problems(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.ok]


def run_checks(*, now: dt.datetime | None = None) -> CheckRun:
    """Check every occurrence whose check is due at ``now`` (default: now); commits each.

    A check that fails for an unexpected reason is rolled back alone and reported; the
    others still run.
    """
    now = now or now_utc()
    run = CheckRun()
    for session_id, occurrence_start, lead in due_checks(now):
        try:
            result = check_occurrence(session_id, occurrence_start, lead, now=now)
        except Exception as error:  # noqa: BLE001 (one session must not stop the others)
            db.session.rollback()
            log.exception("pre-flight check of session %s failed", session_id)
            run.failed.append((session_id, f"{type(error).__name__}: {error}"))
            continue
        if result is not None:
            run.checks.append(result)
    return run


def due_checks(now: dt.datetime) -> list[tuple[int, dt.datetime, int]]:
    """(session id, occurrence's original start, lead) of each check due at ``now`` and not
    made yet, for sessions with a meeting that can meet within the longest lead."""
    until = now + WINDOW
    sessions = db.session.scalars(
        sa.select(EventSession)
        .join(VideoMeeting, VideoMeeting.session_id == EventSession.id)
        .where(
            EventSession.status != "cancelled",
            VideoMeeting.status != "deleted",
            EventSession.start < until,
            sa.or_(EventSession.rrule.is_not(None), EventSession.start > now),
        )
        .options(selectinload(EventSession.overrides))
        .order_by(EventSession.id)
    ).all()
    due = []
    for session in sessions:
        for occurrence in session_occurrences(session, after=now, before=until):
            lead = due_lead(occurrence.start, list(LEADS), now)
            if lead is not None:
                due.append((session.id, occurrence.recurrence_id, lead))
    if not due:
        return []
    done = set(
        db.session.execute(
            sa.select(
                PreflightCheck.session_id,
                PreflightCheck.occurrence_start,
                PreflightCheck.lead_minutes,
            ).where(PreflightCheck.session_id.in_({session_id for session_id, _, _ in due}))
        ).all()
    )
    return [key for key in due if tuple(key) not in done]


def check_occurrence(
    session_id: int, occurrence_start: dt.datetime, lead: int, *, now: dt.datetime
) -> CheckResult | None:
    """Make one check, once: None if it was made (or is being made) already. Commits.

    What it finds is written in the event owner's language: it is kept on the check and the
    meeting, and read by the organisers.
    """
    found = db.session.get(EventSession, session_id)
    locale = getattr(found.event.owner, "locale", None) if found is not None else None
    with in_locale(locale):
        return _check_occurrence(session_id, occurrence_start, lead)


def _check_occurrence(
    session_id: int, occurrence_start: dt.datetime, lead: int
) -> CheckResult | None:
    check_id = _claim(session_id, occurrence_start, lead)
    db.session.commit()
    if check_id is None:
        return None
    session = db.session.get(EventSession, session_id)
    check = db.session.get(PreflightCheck, check_id)
    assert session is not None and check is not None
    occurrence = find_occurrence(session, occurrence_start)
    if occurrence is not None and occurrence.cancelled:
        occurrence = None
    meeting = session.meeting
    data: dict[str, object] = {}
    gone = False
    if occurrence is None or meeting is None:
        problems: list[str] = []
        data["skipped"] = "the occurrence or its meeting is gone"
    elif meeting.provider in NOTHING_TO_CHECK:
        problems = []
        data["provider"] = meeting.provider
    elif meeting.status != "created" or not meeting.external_id:
        data["provider"] = meeting.provider
        if meeting.error:
            problem = _(
                "the %(provider)s meeting is %(status)s, not open: %(error)s",
                provider=_name(meeting.provider),
                status=meeting.status,
                error=meeting.error,
            )
        else:
            problem = _(
                "the %(provider)s meeting is %(status)s, not open",
                provider=_name(meeting.provider),
                status=meeting.status,
            )
        problems = [problem]
    else:
        data["provider"] = meeting.provider
        data["external_id"] = meeting.external_id
        problems, gone = _ask_provider(meeting, occurrence, session.event.timezone)
    check.ok, check.problems, check.data = not problems, problems, data
    check.checked_at = now_utc()
    if problems and occurrence is not None and meeting is not None:
        _report(session, meeting, occurrence, lead, problems, gone=gone)
    db.session.commit()
    return CheckResult(session.id, session.title, occurrence_start, lead, check.ok, problems)


def _claim(session_id: int, occurrence_start: dt.datetime, lead: int) -> int | None:
    """The new check's id, or None if another run made or makes it (the unique key)."""
    table = PreflightCheck.__table__
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = (
        insert.values(
            session_id=session_id,
            occurrence_start=occurrence_start,
            lead_minutes=lead,
            checked_at=now_utc(),
            # Until the check finishes: a job that dies mid-way leaves this behind.
            ok=False,
            problems=[str(UNFINISHED)],
            data={},
        )
        .on_conflict_do_nothing(index_elements=["session_id", "occurrence_start", "lead_minutes"])
        .returning(table.c.id)
    )
    return db.session.execute(statement).scalar_one_or_none()


def _ask_provider(
    meeting: VideoMeeting, occurrence: Occurrence, home_zone: str
) -> tuple[list[str], bool]:
    """What the provider says is wrong with the meeting for this occurrence ([] if nothing),
    and whether the meeting no longer exists there."""
    name = _name(meeting.provider)
    external_id = meeting.external_id
    assert external_id is not None
    try:
        provider, _account = provider_of(meeting)
        info = provider.get_meeting(external_id, host=meeting.host_account)
    except MeetingNotFound:
        return [
            _(
                "the %(provider)s meeting %(id)s no longer exists",
                provider=name,
                id=external_id,
            )
        ], True
    except AuthenticationFailed as error:
        # The token (or a permission) was refused: the credentials no longer work.
        return [error.message], False
    except ProviderError as error:
        return [
            _(
                "the %(provider)s meeting %(id)s could not be checked: %(problem)s",
                provider=name,
                id=external_id,
                problem=error.message,
            )
        ], False
    problems = []
    try:
        held = provider.scheduled_times(info)
    except ProviderError as error:
        held = None
        problems.append(
            _(
                "the %(provider)s meeting %(id)s's time could not be read: %(problem)s",
                provider=name,
                id=external_id,
                problem=str(error),
            )
        )
    if held is not None and (occurrence.start, occurrence.end) not in held:
        problems.append(_time_problem(name, external_id, held, occurrence, home_zone))
    host = meeting.host_account
    if provider.uses_hosts and host:
        try:
            others = provider.host_meetings(host, occurrence.start, occurrence.end)
        except HostNotFound as error:
            problems.append(error.message)
        except AuthenticationFailed as error:
            problems.append(error.message)
        except ProviderError as error:
            problems.append(
                _(
                    "%(provider)s user %(host)s's meetings could not be listed: %(problem)s",
                    provider=name,
                    host=host,
                    problem=error.message,
                )
            )
        else:
            clashes = sorted({other for other, _, _ in others or [] if other != external_id})
            if clashes:
                problems.append(
                    _(
                        "%(provider)s user %(host)s has another meeting at that time "
                        "(%(meetings)s): one host runs one meeting at a time",
                        provider=name,
                        host=host,
                        meetings=", ".join(clashes[:5]),
                    )
                )
    return problems, False


def _time_problem(
    name: str,
    external_id: str,
    held: list[tuple[dt.datetime, dt.datetime]],
    occurrence: Occurrence,
    zone: str,
) -> str:
    """What differs between the provider's time and the occurrence's, for a person."""
    if not held:
        return _(
            "the %(provider)s meeting %(id)s holds no date at %(when)s any more",
            provider=name,
            id=external_id,
            when=_when(occurrence.start, zone),
        )
    start, end = min(held, key=lambda times: abs(times[0] - occurrence.start))
    if start == occurrence.start:
        return _(
            "the %(provider)s meeting %(id)s ends at %(when)s, not %(expected)s as the "
            "session says",
            provider=name,
            id=external_id,
            when=_when(end, zone),
            expected=_when(occurrence.end, zone),
        )
    return _(
        "the %(provider)s meeting %(id)s is set for %(when)s, not %(expected)s as the session says",
        provider=name,
        id=external_id,
        when=_when(start, zone),
        expected=_when(occurrence.start, zone),
    )


def _report(
    session: EventSession,
    meeting: VideoMeeting,
    occurrence: Occurrence,
    lead: int,
    problems: list[str],
    *,
    gone: bool,
) -> None:
    """Put the problems on the meeting, tell the organisers and their systems; ``gone``: the
    meeting no longer exists at its provider (Retry opens a new one)."""
    event = session.event
    ahead = how_soon(dt.timedelta(minutes=lead))
    when = _when(occurrence.start, event.timezone)
    if gone:
        error = _(
            "%(problems)s (checked %(ahead)s before %(when)s): Retry opens a new one",
            problems="; ".join(problems),
            ahead=ahead,
            when=when,
        )
    else:
        error = _(
            "%(problems)s (checked %(ahead)s before %(when)s): Retry opens it again once "
            "this is fixed",
            problems="; ".join(problems),
            ahead=ahead,
            when=when,
        )
    if meeting.status == "created":
        meeting.status = "failed"
        meeting.error = error
    emit(
        "provider.error",
        {
            "session_id": session.id,
            "provider": meeting.provider,
            "error": error,
            "check": "preflight",
        },
        organiser_ids=organisers_of(event),
    )
    tell_organisers(
        session, lambda: _("Meeting problem before %(title)s", title=session.title), error
    )


def _name(provider: str) -> str:
    return NAMES.get(provider, provider)


def _when(instant: dt.datetime, zone: str) -> str:
    return f"{format_datetime_text(instant, zone)} {zone}"


# --- what organisers see ---------------------------------------------------------------------


def meeting_problems(sessions: sa.Select, *, limit: int = 50) -> list[EventSession]:
    """Of the given sessions, those whose meeting failed (a provider's refusal, a pre-flight
    problem), soonest first, with their event and meeting loaded."""
    return list(
        db.session.scalars(
            sa.select(EventSession)
            .join(VideoMeeting, VideoMeeting.session_id == EventSession.id)
            .where(
                EventSession.id.in_(sessions),
                EventSession.status != "cancelled",
                VideoMeeting.status == "failed",
            )
            .options(selectinload(EventSession.event), selectinload(EventSession.meeting))
            .order_by(EventSession.start)
            .limit(limit)
        )
    )
