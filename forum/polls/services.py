"""Polls: open one with candidate times, take answers, remind, close, finalise into a session.

Every change writes its emails (rows, sent by jobs after the commit) and its outbound
events beside it, as session changes do (forum.followups), so that a change rolled back
leaves nothing behind.

Answers are taken while the poll is open and before ``closes_at``; after that time the
organiser can still finalise it (choosing a time is what the answers were for). Closing a
poll (``close_poll``, the API's DELETE) abandons it: no time is booked and nobody can
answer or finalise it any more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from forum.accounts.models import Organiser
from forum.core import text
from forum.core import times
from forum.core.errors import Conflict
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.core.times import format_instant
from forum.core.times import parse_instant
from forum.core.times import to_local
from forum.db import now_utc
from forum.directory.models import Person
from forum.events import feedcache
from forum.events import planning
from forum.events import services as event_services
from forum.events import variety
from forum.events.models import Event
from forum.events.models import EventSession
from forum.extensions import db
from forum.i18n import _
from forum.jobs.queue import enqueue
from forum.notifications.models import EmailMessage
from forum.polls.models import ANSWER_WORDS  # noqa: F401  (the poll emails read it here)
from forum.polls.models import ANSWERS
from forum.polls.models import MAX_OPTIONS
from forum.polls.models import Poll
from forum.polls.models import PollInvitee
from forum.polls.models import PollOption
from forum.polls.models import PollVote
from forum.webhooks.outbound import emit
from forum.webhooks.outbound import organisers_of

# The organiser reminds those who have not answered at most this often.
REMIND_EVERY = dt.timedelta(days=1)
# Without a closing time, a poll takes answers for a week, or until an hour before its
# earliest option if that comes sooner.
DEFAULT_OPEN_FOR = dt.timedelta(days=7)
CLOSE_BEFORE_FIRST_OPTION = dt.timedelta(hours=1)
# The engine's best slots offered by default, searched over two weeks from three days
# ahead (in the event's zone), which leaves people a few days to answer.
DEFAULT_SEARCH_LIMIT = 5
DEFAULT_SEARCH_DAYS = 14
DEFAULT_SEARCH_AFTER_DAYS = 3
MAX_COMMENT = 2000


def polls_of(event: Event) -> list[Poll]:
    """The event's polls, with the people asked (loaded with them, not one query each)."""
    return list(
        db.session.scalars(
            sa.select(Poll)
            .where(Poll.event_id == event.id)
            .order_by(Poll.id)
            .options(selectinload(Poll.invitees))
        )
    )


def get_poll_for(organiser: Organiser, poll_id: int) -> Poll:
    """The poll if its event is the organiser's (or shared with them); 404 otherwise."""
    poll = load_poll(poll_id)
    if poll is None or not event_services.can_manage(organiser, poll.event):
        raise NotFound(_("no poll with id %(id)s", id=poll_id))
    return poll


def polls_for_person(person: Person, *, after: dt.datetime | None = None) -> list[Poll]:
    """Polls the person is asked to answer that are still open, soonest closing first."""
    query = (
        sa.select(Poll)
        .join(PollInvitee, PollInvitee.poll_id == Poll.id)
        .where(PollInvitee.person_id == person.id, Poll.status == "open")
        .order_by(Poll.closes_at, Poll.id)
        .options(selectinload(Poll.invitees), selectinload(Poll.event))
    )
    if after is not None:
        query = query.where(Poll.closes_at > after)
    return list(db.session.scalars(query))


def invitee_of(poll: Poll, person: Person) -> PollInvitee | None:
    return next((i for i in poll.invitees if i.person_id == person.id), None)


def accepts_answers(poll: Poll, now: dt.datetime | None = None) -> bool:
    return poll.status == "open" and (now or now_utc()) < poll.closes_at


# --- opening ---------------------------------------------------------------------------------


class OptionInput(Protocol):
    """A candidate time as given: an instant, or a local date-time read in a zone."""

    start: dt.datetime | None
    local_start: dt.datetime | None
    timezone: str | None
    fold: int | None


def resolve_options(items: Iterable[OptionInput], *, default_timezone: str) -> list[dt.datetime]:
    """Each candidate time as an instant, local ones read in their zone (or the event's);
    ValidationFailed names every row that cannot be read, or has passed
    (``options.N.local_start``: a local time the clocks skip or repeat, an unknown zone...).
    One row wrong keeps its own code and details (``nonexistent_local_time``...)."""
    starts: list[dt.datetime] = []
    problems: dict[str, str] = {}
    refused: list[ValidationFailed] = []
    now = now_utc()
    for index, item in enumerate(items):
        try:
            start, _zone = times.resolve_start(
                start=item.start,
                local_start=item.local_start,
                timezone=item.timezone,
                fold=item.fold,
                default_timezone=default_timezone,
            )
        except ValidationFailed as error:
            refused.append(error)
            problems.update({f"options.{index}.{k}": v for k, v in error.fields.items()})
            continue
        starts.append(start)
        if start <= now:
            # Said with the other rows' problems, not only once those are put right.
            problems[f"options.{index}"] = _(
                "%(start)s has passed: candidate times must be in the future",
                start=format_instant(start),
            )
    if problems:
        only = refused[0] if len(refused) == 1 and len(problems) == 1 else None
        raise ValidationFailed(
            problems,
            code=only.code if only else None,
            details={k: v for k, v in only.details.items() if k != "fields"} if only else None,
        )
    return starts


def _checked_starts(starts: list[dt.datetime], now: dt.datetime) -> list[dt.datetime]:
    if not starts:
        raise ValidationFailed({"options": _("give at least one candidate time")})
    if len(starts) > MAX_OPTIONS:
        raise ValidationFailed(
            {
                "options": _(
                    "at most %(most)d candidate times; %(given)d were given",
                    most=MAX_OPTIONS,
                    given=len(starts),
                )
            }
        )
    problems: dict[str, str] = {}
    seen: dict[dt.datetime, int] = {}
    for index, start in enumerate(starts):
        if start <= now:
            problems[f"options.{index}"] = _(
                "%(start)s has passed: candidate times must be in the future",
                start=format_instant(start),
            )
        elif start in seen:
            problems[f"options.{index}"] = _(
                "the same time as options.%(index)d (%(start)s)",
                index=seen[start],
                start=format_instant(start),
            )
        else:
            seen[start] = index
    if problems:
        raise ValidationFailed(problems)
    return sorted(starts)


def default_window_start(event: Event) -> dt.date:
    """The first day searched by default: three days ahead in the event's zone."""
    today = to_local(now_utc(), event.timezone).date()
    return today + dt.timedelta(days=DEFAULT_SEARCH_AFTER_DAYS)


def search_options(
    event: Event, actor: Organiser, search: Mapping[str, Any], duration_minutes: int
) -> list[dt.datetime]:
    """The starts of the engine's best slots for ``search`` (the slot search's fields;
    people default to the event's participants, the window to two weeks from three days
    ahead), one of
    each group of near-identical ones (forum.events.variety)."""
    fields = dict(search)
    if not any(fields.get(k) for k in ("person_ids", "institution_ids", "optional_person_ids")):
        fields["event_id"] = event.id
    wanted = fields.pop("limit", DEFAULT_SEARCH_LIMIT)
    # More slots than offered, so that neighbours of one good time (09:00, 09:30, 10:00 the
    # same day) make way for a different choice: another day, or another situation.
    fields["limit"] = planning.MAX_LIMIT
    if not fields.get("window_start"):
        fields["window_start"] = default_window_start(event)
    if not fields.get("window_end"):
        fields["window_end"] = fields["window_start"] + dt.timedelta(days=DEFAULT_SEARCH_DAYS)
    fields.setdefault("timezone", None)
    fields["duration_minutes"] = duration_minutes
    fields["explain"] = "sites"
    try:
        found = planning.search(actor, **fields)
    except ValidationFailed as error:
        # Named as the poll's fields: from_search.window_end, ...
        raise ValidationFailed(
            {f"from_search.{key}": value for key, value in error.fields.items()}
        ) from None
    starts = [parse_instant(slot["start"]) for slot in variety.varied(found["slots"], wanted)]
    if not starts:
        raise ValidationFailed(
            {
                "from_search": _(
                    "the engine found no time in this window: widen it or relax its rules"
                )
            }
        )
    return starts


def _invitees(event: Event, invitees: Iterable[Mapping[str, Any]] | None) -> list[PollInvitee]:
    if invitees is None:
        found = [
            PollInvitee(person=p.person, role=p.role, required=p.required)
            for p in event.participants
        ]
        if not found:
            raise ValidationFailed(
                {"invitees": _("the event has no participants: add them, or list the invitees")}
            )
        return found
    # The session's rules for a list of invitees (unknown or repeated people named).
    invitations = event_services._invitations(invitees)
    if not invitations:
        raise ValidationFailed({"invitees": _("list at least one person to ask")})
    return [PollInvitee(person=i.person, role=i.role, required=i.required) for i in invitations]


def create_poll(
    event: Event,
    *,
    actor: Organiser,
    title: str,
    duration_minutes: int,
    options: list[dt.datetime] | None = None,
    from_search: Mapping[str, Any] | None = None,
    closes_at: dt.datetime | None = None,
    invitees: Iterable[Mapping[str, Any]] | None = None,
    source: str | None = None,
) -> Poll:
    """Open a poll on ``options`` (instants) or on the engine's best slots for
    ``from_search``; with neither, the engine's best slots for the event's participants over
    two weeks from three days ahead. Invitations to answer are emailed after the commit."""
    now = now_utc()
    if options is not None and from_search is not None:
        raise ValidationFailed({"options": _("give options or from_search, not both")})
    if not 0 < duration_minutes <= 24 * 60:
        raise ValidationFailed({"duration_minutes": _("must be from 1 to 1440 minutes")})
    if options is None:
        starts = search_options(event, actor, from_search or {}, duration_minutes)
        source = "engine"
    else:
        starts = options
    starts = _checked_starts(list(starts), now)
    if closes_at is None:
        closes_at = min(now + DEFAULT_OPEN_FOR, starts[0] - CLOSE_BEFORE_FIRST_OPTION)
        if closes_at <= now:
            closes_at = starts[0]
    elif closes_at <= now:
        raise ValidationFailed(
            {"closes_at": _("%(time)s has passed", time=format_instant(closes_at))}
        )
    elif closes_at > starts[0]:
        raise ValidationFailed(
            {
                "closes_at": _(
                    "after the earliest candidate time begins (%(start)s): "
                    "people could still answer for a time that has passed",
                    start=format_instant(starts[0]),
                )
            }
        )
    duration = dt.timedelta(minutes=duration_minutes)
    poll = Poll(
        event=event,
        title=title,
        duration_minutes=duration_minutes,
        closes_at=closes_at,
        created_by=actor,
        source=source or "typed",
        options=[PollOption(start=start, end=start + duration) for start in starts],
        invitees=_invitees(event, invitees),
    )
    db.session.add(poll)
    db.session.flush()
    queue_poll_emails(poll, "poll-invite")
    emit("poll.created", poll_data(poll), organiser_ids=organisers_of(event))
    return poll


# --- answering -------------------------------------------------------------------------------


def answer_poll(
    poll: Poll,
    person: Person,
    answers: Mapping[int, str],
    *,
    comment: str | None = None,
) -> PollInvitee:
    """Record the person's answers (by option id); answering again replaces them.

    Refused with 409 ``poll_closed`` once the poll stops taking answers, 403 for someone
    not asked, 422 naming an unknown option or answer.
    """
    invitee = invitee_of(poll, person)
    if invitee is None:
        raise NotFound(_("no poll with id %(id)s", id=poll.id))
    if not accepts_answers(poll):
        raise Conflict(_closed_words(poll), code="poll_closed")
    options = {option.id: option for option in poll.options}
    problems = {}
    for option_id, answer in answers.items():
        if option_id not in options:
            problems[f"votes.{option_id}"] = _("not a candidate time of this poll")
        elif answer not in ANSWERS:
            problems[f"votes.{option_id}"] = _(
                "must be one of %(values)s", values=", ".join(ANSWERS)
            )
    if not answers and comment is None:
        problems["votes"] = _("answer at least one candidate time")
    if comment is not None and len(comment) > MAX_COMMENT:
        problems["comment"] = _("at most %(most)d characters", most=MAX_COMMENT)
    if comment is not None and (found := text.problem(text.clean_text(comment))):
        problems["comment"] = found
    if problems:
        raise ValidationFailed(problems)
    now = now_utc()
    existing = {
        vote.option_id: vote
        for vote in db.session.scalars(
            sa.select(PollVote).where(
                PollVote.person_id == person.id, PollVote.option_id.in_(list(options))
            )
        )
    }
    try:
        # A savepoint: the same answers sent twice at once (a double click on a slow
        # line) meet the unique key; the second is refused whole, not half written.
        with db.session.begin_nested():
            for option_id, answer in answers.items():
                vote = existing.get(option_id)
                if vote is None:
                    db.session.add(
                        PollVote(
                            option_id=option_id, person_id=person.id, answer=answer, answered_at=now
                        )
                    )
                elif vote.answer != answer:
                    vote.answer, vote.answered_at = answer, now
    except sa.exc.IntegrityError:
        raise Conflict(
            _("your answers were being saved twice at the same moment: send them again"),
            code="answered_concurrently",
        ) from None
    if comment is not None:
        invitee.comment = text.clean_text(comment)
    if answers:
        invitee.answered_at = now
    poll.revision += 1
    db.session.flush()
    emit(
        "poll.answered",
        {
            "poll_id": poll.id,
            "event_id": poll.event_id,
            "person_id": person.id,
            "email": person.email,
            "comment": invitee.comment,
            "votes": [
                {"option_id": o.id, "start": format_instant(o.start), "answer": v}
                for o in poll.options
                if (v := votes_of(poll).get((o.id, person.id))) is not None
            ],
        },
        organiser_ids=organisers_of(poll.event),
    )
    return invitee


def _closed_words(poll: Poll) -> str:
    if poll.status == "finalized":
        return _("this poll is over: a time was chosen")
    if poll.status == "closed":
        return _("this poll was closed by its organiser")
    return _("this poll stopped taking answers at %(time)s", time=format_instant(poll.closes_at))


def _closed_words_for_reminder(poll: Poll) -> str:
    """Why nobody can be reminded, in one sentence per state."""
    if poll.status == "finalized":
        return _("this poll is over: a time was chosen: nobody can be reminded")
    if poll.status == "closed":
        return _("this poll was closed by its organiser: nobody can be reminded")
    return _(
        "this poll stopped taking answers at %(time)s: nobody can be reminded",
        time=format_instant(poll.closes_at),
    )


def votes_of(poll: Poll) -> dict[tuple[int, int], str]:
    """Every answer of the poll, by (option id, person id)."""
    rows = db.session.execute(
        sa.select(PollVote.option_id, PollVote.person_id, PollVote.answer)
        .join(PollOption, PollOption.id == PollVote.option_id)
        .where(PollOption.poll_id == poll.id)
    )
    return {(option_id, person_id): answer for option_id, person_id, answer in rows}


# --- reminding, closing, finalising ----------------------------------------------------------


def next_reminder_at(poll: Poll, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the next reminder may go, if not now (at most one a day)."""
    if poll.reminded_at is None or (now or now_utc()) - poll.reminded_at >= REMIND_EVERY:
        return None
    return poll.reminded_at + REMIND_EVERY


def remind(poll: Poll) -> list[PollInvitee]:
    """Email those who have not answered yet; at most once a day, never after the close."""
    now = now_utc()
    if not accepts_answers(poll, now):
        raise Conflict(_closed_words_for_reminder(poll), code="poll_closed")
    if (next_at := next_reminder_at(poll, now)) is not None:
        raise Conflict(
            _(
                "a reminder went at %(last)s; the next one can go from %(next)s "
                "(at most one a day)",
                last=format_instant(poll.reminded_at),
                next=format_instant(next_at),
            ),
            code="reminded_recently",
            details={"next_reminder_at": format_instant(next_at)},
        )
    waiting = [invitee for invitee in poll.invitees if invitee.answered_at is None]
    if not waiting:
        raise Conflict(_("everyone has answered: nobody to remind"), code="nobody_to_remind")
    poll.reminded_at = now
    for invitee in waiting:
        invitee.reminded_at = now
    queue_poll_emails(poll, "poll-reminder", people=[i.person for i in waiting])
    return waiting


def close_poll(poll: Poll) -> Poll:
    """Stop the poll without booking a time; everyone asked is told."""
    if poll.status != "open":
        raise Conflict(_closed_words(poll), code=f"poll_{poll.status}")
    poll.status, poll.closed_at = "closed", now_utc()
    poll.revision += 1
    queue_poll_emails(poll, "poll-closed")
    return poll


def finalize(
    poll: Poll,
    option_id: int,
    *,
    actor: Organiser,
    title: str | None = None,
    provider: str | None = None,
    allow_conflicts: bool = False,
) -> EventSession:
    """Book the chosen option as a session of the poll's event, with the people asked as
    invitees: the meeting is opened on the event's provider and the invitations go, as for
    any booking; everyone asked is told which time was chosen. One step: if the booking is
    refused (a conflict), nothing of it is kept and the poll stays open."""
    if poll.status != "open":
        raise Conflict(_closed_words(poll), code=f"poll_{poll.status}")
    option = next((o for o in poll.options if o.id == option_id), None)
    if option is None:
        raise ValidationFailed({"option_id": _("not a candidate time of poll %(id)s", id=poll.id)})
    if option.start <= now_utc():
        raise ValidationFailed(
            {
                "option_id": _(
                    "%(start)s has passed: choose a coming time",
                    start=format_instant(option.start),
                )
            }
        )
    # Two organisers finalising at once: the first to change the status wins.
    claimed = db.session.execute(
        sa.update(Poll)
        .where(Poll.id == poll.id, Poll.status == "open")
        .values(status="finalized", revision=Poll.revision + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.refresh(poll)
        raise Conflict(_closed_words(poll), code=f"poll_{poll.status}")
    db.session.refresh(poll)
    # A statement the flush does not see: the holds leave the feeds of everyone asked.
    feedcache.changed_after_commit(db.session, people=[i.person_id for i in poll.invitees])
    session = event_services.create_session(
        poll.event,
        actor=actor,
        title=title or poll.title,
        start=option.start,
        duration_minutes=poll.duration_minutes,
        provider=provider,
        invitees=[
            {"person_id": i.person_id, "role": i.role, "required": i.required}
            for i in poll.invitees
        ],
        allow_conflicts=allow_conflicts,
    )
    poll.session, poll.chosen_option_id, poll.closed_at = session, option.id, now_utc()
    db.session.flush()
    queue_poll_emails(poll, "poll-finalized")
    emit(
        "poll.finalized",
        {
            **poll_data(poll),
            "option_id": option.id,
            "start": format_instant(option.start),
            "end": format_instant(option.end),
            "session_id": session.id,
        },
        organiser_ids=organisers_of(poll.event),
    )
    return session


# --- emails and events -----------------------------------------------------------------------


def queue_poll_emails(
    poll: Poll,
    kind: str,
    *,
    people: Iterable[Person] | None = None,
    data: dict[str, Any] | None = None,
) -> list[EmailMessage]:
    """One email per person asked (or per person given), sent after the commit."""
    now = now_utc()
    recipients = [i.person for i in poll.invitees] if people is None else list(people)
    messages = [
        EmailMessage(
            poll_id=poll.id,
            person=person,
            kind=kind,
            sequence=poll.revision,
            recipient=person.email,
            next_attempt_at=now,
            data=dict(data or {}),
        )
        for person in recipients
    ]
    db.session.add_all(messages)
    db.session.flush()
    for message in messages:
        enqueue("forum.send_email", message.id)
    return messages


def poll_data(poll: Poll) -> dict[str, Any]:
    """What outbound events say about a poll."""
    return {
        "poll_id": poll.id,
        "event_id": poll.event_id,
        "title": poll.title,
        "status": poll.status,
        "closes_at": format_instant(poll.closes_at),
        "duration_minutes": poll.duration_minutes,
        "options": [
            {"option_id": o.id, "start": format_instant(o.start), "end": format_instant(o.end)}
            for o in poll.options
        ],
    }


def load_poll(poll_id: int) -> Poll | None:
    """The poll with what its pages read: options, people asked and their institutions."""
    return db.session.scalar(
        sa.select(Poll)
        .where(Poll.id == poll_id)
        .options(
            selectinload(Poll.options),
            selectinload(Poll.invitees)
            .selectinload(PollInvitee.person)
            .selectinload(Person.institution),
        )
    )
