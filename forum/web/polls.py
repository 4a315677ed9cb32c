"""Poll pages: the participant's answers at their secret link; the organiser's pages to open
a poll (the engine's best slots, typed times, or slots picked in the planner), read the
answers beside the engine's view of each time, remind, close and book one of its times."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_wtf import FlaskForm
from pydantic import ValidationError
from werkzeug.datastructures import MultiDict
from wtforms import DateField
from wtforms import IntegerField
from wtforms import RadioField
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Optional

from forum.accounts.models import Organiser
from forum.api import poll_schemas
from forum.api.util import field_errors
from forum.core import times
from forum.core.errors import ForumError
from forum.core.errors import ValidationFailed
from forum.core.times import usable_zone_names
from forum.db import now_utc
from forum.directory.models import Person
from forum.events import calendars
from forum.events import services as event_services
from forum.events.explanations import CATEGORY_LABELS
from forum.events.explanations import comma_list
from forum.events.models import Event
from forum.extensions import csrf
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import format_date_text
from forum.i18n import format_datetime_pattern
from forum.i18n import format_time_text
from forum.i18n import ngettext
from forum.i18n import use_locale
from forum.polls import results
from forum.polls import services
from forum.polls.models import ANSWER_LABELS
from forum.polls.models import SOURCE_LABELS
from forum.polls.models import STATUS_LABELS
from forum.polls.models import Poll
from forum.polls.models import PollInvitee
from forum.security import refuse_link
from forum.web import bp
from forum.web.events import PROVIDER_LABELS
from forum.web.forms import as_sentence
from forum.web.forms import show_errors
from forum.web.participants import language_action
from forum.web.participants import zone_choice

# Rows of typed times the form offers at first; "Add a row" gives one more.
TYPED_ROWS = 3
MAX_TYPED_ROWS = 50
# How a datetime-local input writes a time.
LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def _organiser() -> Organiser:
    return current_user._get_current_object()


# --- the participant's answers -------------------------------------------------------------


def _ballot(token: str, poll_id: int) -> tuple[Person, Poll, PollInvitee]:
    """The person of the agenda link and a poll they are asked; any other is a broken link."""
    person = calendars.person_for_agenda(token)
    if person is None:
        refuse_link()
    poll = db.session.get(Poll, poll_id)
    invitee = services.invitee_of(poll, person) if poll is not None else None
    if invitee is None:
        refuse_link()
    return person, poll, invitee


@dataclass
class BallotOption:
    """One candidate time as the participant reads it: their own day and time first."""

    id: int
    start: dt.datetime
    day: str  # "Wednesday 10 March 2027"
    time: str  # "23:30–00:15", the end's day named when it differs
    also: list[str]  # the event's home zone and UTC, where they differ
    answer: str | None
    problem: str | None = None


def _ballot_options(
    poll: Poll, zone: str, answers: dict[int, str | None], problems: dict[str, str]
) -> list[BallotOption]:
    options = []
    for option in poll.options:
        start = times.to_local(option.start, zone)
        end = times.to_local(option.end, zone)
        until = (
            format_time_text(end)
            if end.date() == start.date()
            else format_datetime_pattern(end, "EEE HH:mm")
        )
        options.append(
            BallotOption(
                id=option.id,
                start=option.start,
                day=format_date_text(start, long=True),
                time=f"{format_time_text(start)}–{until}",
                also=calendars.time_lines(option.start, option.end, zone, poll.event.timezone)[1:],
                answer=answers.get(option.id),
                problem=problems.get(f"option-{option.id}"),
            )
        )
    return options


def _ballot_problems(fields: dict[str, str]) -> dict[str, str]:
    """The service's field names ("votes.12") as the page's ("option-12")."""
    found = {}
    for name, message in fields.items():
        parts = name.split(".")
        if parts[0] == "votes" and len(parts) > 1:
            # The page offers only this poll's times: what is wrong is the answer sent.
            found[f"option-{parts[1]}"] = _("Choose Yes, If need be or No.")
        elif parts[0] == "votes":
            found["votes"] = as_sentence(message)
        else:
            found[parts[0]] = as_sentence(message)
    return found


def _ballot_url(token: str, poll: Poll, person: Person, zone: str) -> str:
    extra = {"tz": zone} if zone != person.timezone else {}
    return url_for("web.poll_ballot", token=token, poll_id=poll.id, **extra)


# The answers need no CSRF token: the link's own secret authorises them, as for an RSVP.
@csrf.exempt
@bp.route("/p/<token>/polls/<int:poll_id>", methods=["GET", "POST"])
def poll_ballot(token: str, poll_id: int):
    """GET shows the times in the participant's zone; POST saves their answers."""
    person, poll, invitee = _ballot(token, poll_id)
    use_locale(person.locale)
    zone, zone_problem = zone_choice(person.timezone)
    if zone_problem:
        flash(zone_problem, "error")
    votes = services.votes_of(poll)
    answers = {o.id: votes.get((o.id, person.id)) for o in poll.options}
    comment = invitee.comment
    problems: dict[str, str] = {}
    refused = None
    status = 200
    if request.method == "POST":
        given = {
            option.id: value
            for option in poll.options
            if (value := request.form.get(f"answer-{option.id}", "").strip())
        }
        typed = request.form.get("comment", "")
        # An empty comment box changes nothing unless it empties a comment given before.
        new_comment = typed if (typed.strip() or comment) else None
        try:
            services.answer_poll(poll, person, given, comment=new_comment)
        except ValidationFailed as error:
            db.session.rollback()
            problems = _ballot_problems(error.fields)
            answers, comment, status = {**answers, **given}, typed, 422
        except ForumError as error:
            db.session.rollback()
            refused, status = error.message, error.status
        else:
            db.session.commit()
            flash(_("Your answers are saved. You can change them until the poll closes."), "ok")
            return redirect(_ballot_url(token, poll, person, zone), 303)
    suggested = sorted({person.timezone, poll.event.timezone, "UTC", zone})
    chosen = next((o for o in poll.options if o.id == poll.chosen_option_id), None)
    return render_template(
        "polls/ballot.html",
        language_action=language_action(person),
        person=person,
        poll=poll,
        event=poll.event,
        token=token,
        zone=zone,
        suggested_zones=suggested,
        all_zones=usable_zone_names(),
        options=_ballot_options(poll, zone, answers, problems),
        comment=comment,
        problems=problems,
        refused=refused,
        accepts_answers=services.accepts_answers(poll),
        chosen=chosen,
        answer_labels=ANSWER_LABELS,
        time_lines=calendars.time_lines,
        agenda_url=url_for(
            "web.agenda", token=token, **({"tz": zone} if zone != person.timezone else {})
        ),
    ), status


@dataclass
class WaitingPoll:
    poll: Poll
    answered: bool


@bp.app_template_global("polls_waiting")
def polls_waiting(person: Person) -> list[WaitingPoll]:
    """The person's polls still taking answers, soonest closing first (for their agenda)."""
    found = services.polls_for_person(person, after=now_utc())
    return [
        WaitingPoll(poll=poll, answered=services.invitee_of(poll, person).answered_at is not None)
        for poll in found
    ]


# --- the organiser's polls of an event -----------------------------------------------------


@dataclass
class PollLine:
    poll: Poll
    answered: int
    asked: int


@bp.app_template_global("event_polls")
def event_polls(event: Event) -> list[PollLine]:
    """The event's polls with how many of those asked have answered (for the event page)."""
    return [
        PollLine(
            poll=poll,
            answered=sum(i.answered_at is not None for i in poll.invitees),
            asked=len(poll.invitees),
        )
        for poll in services.polls_of(event)
    ]


# --- opening a poll ------------------------------------------------------------------------

SOURCE_CHOICES = [
    SelectChoice("engine", _l("The engine’s best times for the event’s participants")),
    SelectChoice("typed", _l("Times I type, each in its own time zone")),
    SelectChoice("planner", _l("The times I ticked in the planner")),
]


class NewPollForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the poll a title."))])
    duration_minutes = IntegerField(
        _l("Length (minutes)"),
        validators=[DataRequired(_l("Give the length in minutes."))],
        render_kw={"min": 1, "max": 1440, "inputmode": "numeric"},
    )
    closes_local = StringField(_l("Answers close at"), render_kw={"type": "datetime-local"})
    source = RadioField(_l("Candidate times"), choices=SOURCE_CHOICES, default="engine")
    limit = IntegerField(
        _l("How many times"),
        validators=[Optional()],
        default=services.DEFAULT_SEARCH_LIMIT,
        render_kw={"min": 1, "max": 50, "inputmode": "numeric"},
    )
    window_start = DateField(_l("From"), validators=[Optional()])
    window_end = DateField(_l("To"), validators=[Optional()])


@dataclass
class TypedRow:
    """A typed candidate time: local date-time and the zone it is read in."""

    local_start: str
    timezone: str
    errors: list[str] = field(default_factory=list)

    @property
    def filled(self) -> bool:
        return bool(self.local_start.strip())


def _typed_rows(form: MultiDict, zone: str) -> list[TypedRow]:
    """The rows sent (empty ones kept, so the page shows them again), at least three."""
    starts = form.getlist("local_start")[:MAX_TYPED_ROWS]
    zones = form.getlist("timezone")
    rows = [
        TypedRow(local_start=start, timezone=(zones[i] if i < len(zones) else "") or zone)
        for i, start in enumerate(starts)
    ]
    while len(rows) < TYPED_ROWS:
        rows.append(TypedRow(local_start="", timezone=zone))
    return rows


def _planner_starts(form: MultiDict) -> list[dt.datetime]:
    found = []
    for text in form.getlist("poll_start")[: services.MAX_OPTIONS]:
        try:
            found.append(times.parse_instant(text))
        except ValueError:
            abort(400)
    return found


@dataclass
class Opening:
    """What the form asks for, as the service takes it; problems go onto the form."""

    form: NewPollForm
    rows: list[TypedRow]
    planner: list[dt.datetime]
    row_of: list[int] = field(default_factory=list)  # option index -> typed row index
    planner_errors: dict[int, str] = field(default_factory=dict)

    def show(self, fields: dict[str, str]) -> None:
        """The service's or schema's field names ("options.1.local_start",
        "from_search.window_end") at the form's fields and rows."""
        plain: dict[str, str] = {}
        for name, message in fields.items():
            parts = name.split(".")
            if parts[0] == "options" and len(parts) > 1 and parts[1].isdigit():
                index = int(parts[1])
                if self.form.source.data == "typed" and index < len(self.row_of):
                    self.rows[self.row_of[index]].errors.append(as_sentence(message))
                else:
                    self.planner_errors[index] = as_sentence(message)
            elif parts[0] == "options":
                plain["source"] = message
            elif parts[0] == "from_search" and len(parts) > 1:
                target = parts[1] if parts[1] in ("window_start", "window_end", "limit") else None
                message = message.replace("window_start", _("the “From” date"))
                plain[target or "source"] = message if target else f"{parts[1]}: {message}"
            elif parts[0] == "from_search":
                plain["source"] = message
            elif parts[0] == "closes_at":
                plain["closes_local"] = message
            else:
                plain[name] = message
        show_errors(self.form, plain)

    def problems(self) -> list[tuple[str, str, str]]:
        """(field id, label, message) of every problem, for the summary above the form."""
        found = [
            (fld.id, fld.label.text, fld.errors[0])
            for fld in self.form
            if fld.errors and fld.type != "CSRFTokenField"
        ]
        for index, row in enumerate(self.rows):
            if row.errors:
                found.append(
                    (
                        f"option-{index}-local_start",
                        _("Time %(number)d", number=index + 1),
                        row.errors[0],
                    )
                )
        for index, message in sorted(self.planner_errors.items()):
            found.append(("planner-times", _("Planner time %(number)d", number=index + 1), message))
        return found


def _closes_at(opening: Opening, zone: str) -> dt.datetime | None:
    text = (opening.form.closes_local.data or "").strip()
    if not text:
        return None
    try:
        local = dt.datetime.strptime(text, LOCAL_INPUT_FORMAT)
    except ValueError:
        raise ValidationFailed({"closes_at": _("give a date and a time")}) from None
    return times.resolve_local(local, zone)


def _body(opening: Opening, event: Event, zone: str) -> dict[str, Any]:
    """The poll as the API's schema takes it."""
    form = opening.form
    body: dict[str, Any] = {
        "title": form.title.data or "",
        "duration_minutes": form.duration_minutes.data,
    }
    closes_at = _closes_at(opening, zone)
    if closes_at is not None:
        body["closes_at"] = times.format_instant(closes_at)
    if form.source.data == "typed":
        opening.row_of = [i for i, row in enumerate(opening.rows) if row.filled]
        if not opening.row_of:
            raise ValidationFailed({"options": _("type at least one date and time")})
        body["options"] = [
            {
                "local_start": opening.rows[i].local_start.strip(),
                "timezone": opening.rows[i].timezone.strip() or None,
            }
            for i in opening.row_of
        ]
        body["source"] = "typed"
    elif form.source.data == "planner":
        if not opening.planner:
            raise ValidationFailed({"options": _("tick at least one time from the planner")})
        body["options"] = [{"start": times.format_instant(s)} for s in opening.planner]
        body["source"] = "planner"
    else:
        search: dict[str, Any] = {
            "limit": form.limit.data or services.DEFAULT_SEARCH_LIMIT,
            "timezone": event.timezone,
        }
        if form.window_start.data:
            search["window_start"] = form.window_start.data.isoformat()
        if form.window_end.data:
            search["window_end"] = form.window_end.data.isoformat()
        body["from_search"] = search
    return body


def _open_poll(opening: Opening, event: Event, organiser: Organiser) -> Poll | None:
    """The poll opened, or None with the problems on the form; nothing is written then."""
    try:
        body = poll_schemas.PollCreate.model_validate(_body(opening, event, organiser.timezone))
    except ValidationError as error:
        opening.show(field_errors(error))
        return None
    except ValidationFailed as error:
        opening.show(error.fields)
        return None
    options = None
    if body.options is not None:
        try:
            options = services.resolve_options(body.options, default_timezone=event.timezone)
        except ValidationFailed as error:
            opening.show(error.fields)
            return None
    search = None
    if body.from_search is not None:
        search = body.from_search.model_dump(exclude_unset=True, exclude={"duration_minutes"})
    try:
        poll = services.create_poll(
            event,
            actor=organiser,
            title=body.title,
            duration_minutes=body.duration_minutes,
            options=options,
            from_search=search,
            closes_at=body.closes_at,
            source=body.source,
        )
    except ValidationFailed as error:
        db.session.rollback()
        opening.show(error.fields)
        return None
    except ForumError as error:
        db.session.rollback()
        opening.form.form_errors.append(as_sentence(error.message))
        return None
    db.session.commit()
    return poll


@bp.route("/events/<int:event_id>/polls/new", methods=["GET", "POST"])
@login_required
def new_poll(event_id: int):
    """The form; the planner's "Open a poll" posts its ticked times here to start it."""
    organiser = _organiser()
    event = event_services.get_event_for(organiser, event_id)
    form = NewPollForm()
    opening = Opening(
        form=form,
        rows=_typed_rows(request.form, organiser.timezone),
        planner=_planner_starts(request.form),
    )
    status = 200
    from_planner = request.method == "POST" and request.form.get("from_planner") == "1"
    if request.method == "GET" or from_planner:
        first_day = services.default_window_start(event)
        form.title.data = form.title.data or event.title
        form.duration_minutes.data = form.duration_minutes.data or 60
        form.window_start.data = first_day
        form.window_end.data = first_day + dt.timedelta(days=services.DEFAULT_SEARCH_DAYS)
        form.limit.data = services.DEFAULT_SEARCH_LIMIT
        form.source.data = "planner" if opening.planner else "engine"
    elif "add_row" in request.form:
        opening.rows.append(TypedRow(local_start="", timezone=organiser.timezone))
        form.source.data = "typed"
    elif form.validate_on_submit() and (poll := _open_poll(opening, event, organiser)):
        flash(
            ngettext(
                "The poll “%(title)s” is open with %(num)d times; everyone asked "
                "is being emailed a link to answer.",
                "The poll “%(title)s” is open with %(num)d times; everyone asked "
                "is being emailed a link to answer.",
                len(poll.options),
                title=poll.title,
            ),
            "ok",
        )
        return redirect(url_for("web.poll_page", poll_id=poll.id), 303)
    else:
        status = 422
    if not opening.planner:
        form.source.choices = [c for c in SOURCE_CHOICES if c.value != "planner"]
    return render_template(
        "polls/new.html",
        event=event,
        form=form,
        rows=opening.rows,
        planner=opening.planner,
        planner_errors=opening.planner_errors,
        problems=opening.problems() if status == 422 else [],
        viewer_zone=organiser.timezone,
        time_lines=calendars.time_lines,
    ), status


# --- the organiser's poll page -------------------------------------------------------------


@bp.get("/polls/<int:poll_id>")
@login_required
def poll_page(poll_id: int):
    organiser = _organiser()
    poll = services.get_poll_for(organiser, poll_id)
    found = results.matrix(poll)
    chosen = next((o for o in poll.options if o.id == poll.chosen_option_id), None)
    return render_template(
        "polls/poll.html",
        poll=poll,
        event=poll.event,
        matrix=found,
        best=found.best if poll.status == "open" else None,
        zone=organiser.timezone,
        accepts_answers=services.accepts_answers(poll),
        next_reminder_at=services.next_reminder_at(poll),
        chosen=chosen,
        comments=[i for i in poll.invitees if i.comment],
        answer_labels=ANSWER_LABELS,
        status_words=STATUS_LABELS,
        source_labels=SOURCE_LABELS,
        category_labels=CATEGORY_LABELS,
        provider_labels=PROVIDER_LABELS,
        time_lines=calendars.time_lines,
        weekday_time=_weekday_time,
    )


def _weekday_time(local: dt.datetime) -> str:
    """A site's wall-clock start with its weekday, in the reader's language: "Thu 09:00"."""
    return format_datetime_pattern(local, "EEE HH:mm")


def _back(poll_id: int):
    return redirect(url_for("web.poll_page", poll_id=poll_id), 303)


@bp.post("/polls/<int:poll_id>/remind")
@login_required
def remind_poll(poll_id: int):
    poll = services.get_poll_for(_organiser(), poll_id)
    try:
        reminded = services.remind(poll)
    except ForumError as error:
        db.session.rollback()
        flash(as_sentence(error.message), "error")
        return _back(poll_id)
    names = comma_list([i.person.name for i in reminded])
    db.session.commit()
    flash(_("A reminder is being emailed to %(names)s.", names=names), "ok")
    return _back(poll_id)


@bp.post("/polls/<int:poll_id>/close")
@login_required
def close_poll(poll_id: int):
    poll = services.get_poll_for(_organiser(), poll_id)
    try:
        services.close_poll(poll)
    except ForumError as error:
        db.session.rollback()
        flash(as_sentence(error.message), "error")
        return _back(poll_id)
    db.session.commit()
    flash(_("The poll is closed without booking a time; everyone asked is being told."), "ok")
    return _back(poll_id)


@bp.post("/polls/<int:poll_id>/finalize")
@login_required
def finalize_poll(poll_id: int):
    """Book the chosen time: the session, its meeting and its invitations in one step."""
    organiser = _organiser()
    poll = services.get_poll_for(organiser, poll_id)
    raw = request.form.get("option_id", "").strip()
    if not raw.isdigit():
        abort(400)
    try:
        session = services.finalize(poll, int(raw), actor=organiser)
    except ValidationFailed as error:
        db.session.rollback()
        flash(as_sentence("; ".join(error.fields.values()) or error.message), "error")
        return _back(poll_id)
    except ForumError as error:
        db.session.rollback()
        flash(as_sentence(error.message), "error")
        return _back(poll_id)
    db.session.commit()
    flash(
        _(
            "“%(title)s” is booked at the time chosen in the poll; invitations go out once "
            "the meeting is open, and everyone asked is told.",
            title=session.title,
        ),
        "ok",
    )
    return redirect(url_for("web.session_page", session_id=session.id), 303)
