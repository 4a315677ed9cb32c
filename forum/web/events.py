"""Organiser pages for events: list, create, edit, participants, and booking a session."""

from __future__ import annotations

from collections import Counter
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytz
import sqlalchemy as sa
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import BooleanField
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Optional

from forum.accounts.models import Organiser
from forum.api import schemas
from forum.core.errors import Conflict
from forum.core.errors import ForumError
from forum.core.errors import ValidationFailed
from forum.db import now_utc
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events import services
from forum.events.models import EVENT_KINDS
from forum.events.models import EVENT_STATUSES
from forum.events.models import PROVIDERS
from forum.events.models import ROLES
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.extensions import db
from forum.web import bp
from forum.web.forms import show_errors
from forum.web.forms import validated

PROVIDER_LABELS = {
    "jitsi": "Jitsi Meet",
    "zoom": "Zoom",
    "teams": "Microsoft Teams",
    "webex": "Webex",
    "google_meet": "Google Meet",
    "manual": "A link I give",
}
RSVP_ANSWERS = ("accepted", "tentative", "declined", "needs-action")


def _organiser() -> Organiser:
    return current_user._get_current_object()


def _lines(text: str | None) -> list[str]:
    """Emails typed one per line or separated by commas."""
    return [part.strip() for part in (text or "").replace(",", "\n").splitlines() if part.strip()]


# --- forms -------------------------------------------------------------------------------


class EventForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Give the event a title.")])
    kind = SelectField(
        "Kind", choices=[SelectChoice(kind, kind.capitalize()) for kind in EVENT_KINDS]
    )
    timezone = StringField(
        "Home time zone",
        render_kw={"list": "zone-names", "autocomplete": "off", "spellcheck": "false"},
    )
    default_provider = SelectField(
        "Video provider", choices=[SelectChoice(name, PROVIDER_LABELS[name]) for name in PROVIDERS]
    )
    description = TextAreaField("Description", render_kw={"rows": 4})
    organisers = TextAreaField(
        "Co-organisers", render_kw={"rows": 2, "spellcheck": "false", "autocomplete": "off"}
    )
    status = SelectField(
        "Status", choices=[SelectChoice(s, s.capitalize()) for s in EVENT_STATUSES]
    )

    def body(self, *, editing: bool) -> dict[str, Any]:
        body = {
            "title": self.title.data or "",
            "kind": self.kind.data,
            "description": self.description.data or "",
            "timezone": (self.timezone.data or "").strip() or None,
            "default_provider": self.default_provider.data,
            "organisers": _lines(self.organisers.data),
        }
        if editing and "status" in self:
            body["status"] = self.status.data
        return body


class ParticipantForm(FlaskForm):
    institution_id = SelectField("Whole institution", coerce=str, validators=[Optional()])
    person_email = StringField(
        "Or one person (email)",
        render_kw={"list": "people-emails", "autocomplete": "off", "spellcheck": "false"},
    )
    role = SelectField(
        "Role",
        choices=[SelectChoice(role, role.capitalize()) for role in ROLES],
        default="participant",
    )
    required = BooleanField("Required (the planner must fit them)", default=True)


class BookForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Give the session a title.")])
    local_start = StringField("Starts", render_kw={"type": "datetime-local"})
    timezone = StringField(
        "in time zone",
        render_kw={"list": "zone-names", "autocomplete": "off", "spellcheck": "false"},
    )
    # From the planner: the slot's UTC start, which needs no zone.
    start = HiddenField()
    duration_minutes = IntegerField(
        "Length (minutes)",
        validators=[DataRequired("Give the length in minutes.")],
        render_kw={"min": 1, "max": 1440, "inputmode": "numeric"},
    )
    provider = SelectField(
        "Video provider", choices=[SelectChoice(name, PROVIDER_LABELS[name]) for name in PROVIDERS]
    )
    join_url = StringField(
        "Meeting link (for “A link I give”)", render_kw={"type": "url", "spellcheck": "false"}
    )
    allow_conflicts = BooleanField("Book even if a chair or speaker is busy then")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "title": self.title.data or "",
            "duration_minutes": self.duration_minutes.data,
            "provider": self.provider.data,
            "allow_conflicts": bool(self.allow_conflicts.data),
        }
        if self.start.data:
            body["start"] = self.start.data
        else:
            body["local_start"] = self.local_start.data or None
            body["timezone"] = (self.timezone.data or "").strip() or None
            if not body["local_start"]:
                raise ValidationFailed({"local_start": "Give the date and time it starts."})
        if (self.join_url.data or "").strip():
            body["join_url"] = self.join_url.data.strip()
        return body


# --- what the pages show -------------------------------------------------------------------


@dataclass(frozen=True)
class SiteGroup:
    """Participants of one institution (or the unaffiliated), for the event page."""

    name: str
    timezone: str
    participants: list[EventParticipant]


@dataclass(frozen=True)
class CountryGroup:
    code: str
    name: str
    sites: list[SiteGroup]


def participants_by_country(participants: list[EventParticipant]) -> list[CountryGroup]:
    """Countries by name, institutions by name, people by name; the unaffiliated last."""
    by_site: dict[Institution | None, list[EventParticipant]] = defaultdict(list)
    for participant in participants:
        by_site[participant.person.institution].append(participant)
    countries: dict[str, list[SiteGroup]] = defaultdict(list)
    for institution, members in by_site.items():
        members.sort(key=lambda p: (p.person.name.casefold(), p.person.id))
        if institution is None:
            countries[""].append(SiteGroup("No institution", "", members))
        else:
            countries[institution.country].append(
                SiteGroup(institution.name, institution.timezone, members)
            )
    groups = [
        CountryGroup(
            code,
            pytz.country_names.get(code, code) if code else "Elsewhere",
            sorted(sites, key=lambda site: site.name.casefold()),
        )
        for code, sites in countries.items()
    ]
    groups.sort(key=lambda group: (not group.code, group.name))
    return groups


def rsvp_counts(session_ids: list[int]) -> dict[int, Counter[str]]:
    """Each session's answers counted, in one query: {session_id: {"accepted": 3, ...}}."""
    counts: dict[int, Counter[str]] = {session_id: Counter() for session_id in session_ids}
    if not session_ids:
        return counts
    rows = db.session.execute(
        sa.select(Invitation.session_id, Invitation.rsvp, sa.func.count())
        .where(Invitation.session_id.in_(session_ids))
        .group_by(Invitation.session_id, Invitation.rsvp)
    )
    for session_id, answer, count in rows:
        counts[session_id][answer] = count
    return counts


def _event(event_id: int) -> Event:
    """The organiser's event; another's is the 404 page (the error handler renders it)."""
    return services.get_event_for(_organiser(), event_id)


# --- events ------------------------------------------------------------------------------


@bp.get("/events")
@login_required
def events():
    return render_template(
        "events/list.html",
        organiser=_organiser(),
        events=services.event_summaries(_organiser()),
    )


def _save_event(form: EventForm, event: Event | None) -> Event | None:
    """The event created or changed, or None with the problems on the form's fields."""
    schema = schemas.EventUpdate if event else schemas.EventCreate
    body = validated(schema, form.body(editing=event is not None), form)
    if body is None:
        return None
    try:
        if event is None:
            event = services.create_event(actor=_organiser(), **body.model_dump())
        else:
            services.update_event(event, body.model_dump(exclude_unset=True))
    except ValidationFailed as exc:
        db.session.rollback()
        show_errors(form, exc.fields)
        return None
    db.session.commit()
    return event


@bp.route("/events/new", methods=["GET", "POST"])
@login_required
def new_event():
    form = EventForm()
    del form.status  # a new event is active
    if request.method == "GET":
        form.timezone.data = _organiser().timezone
    if form.validate_on_submit() and (event := _save_event(form, None)):
        flash(f"Event “{event.title}” created. Now add its participants.", "ok")
        return redirect(url_for("web.event_page", event_id=event.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("events/form.html", form=form, event=None), status


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@login_required
def edit_event(event_id: int):
    event = _event(event_id)
    form = EventForm(obj=None if request.method == "POST" else event)
    if request.method == "GET":
        form.organisers.data = "\n".join(o.email for o in event.co_organisers)
    if form.validate_on_submit() and _save_event(form, event):
        flash("Event saved.", "ok")
        return redirect(url_for("web.event_page", event_id=event.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("events/form.html", form=form, event=event), status


def _event_page(event: Event, form: ParticipantForm, status: int = 200):
    organiser = _organiser()
    participants = db.session.scalars(
        services.participants_of(event).options(
            selectinload(EventParticipant.person).selectinload(Person.institution)
        )
    ).all()
    sessions = db.session.scalars(
        services.sessions_of(event).options(selectinload(EventSession.meeting))
    ).all()
    institutions = db.session.scalars(sa.select(Institution).order_by(Institution.name)).all()
    form.institution_id.choices = [SelectChoice("", "— choose —")] + [
        SelectChoice(str(i.id), f"{i.name} ({i.country})") for i in institutions
    ]
    people = db.session.execute(
        sa.select(Person.email, Person.name).order_by(Person.name).limit(2000)
    ).all()
    return render_template(
        "events/page.html",
        organiser=organiser,
        event=event,
        now=now_utc(),
        countries=participants_by_country(list(participants)),
        participant_count=len(participants),
        sessions=sessions,
        rsvps=rsvp_counts([s.id for s in sessions]),
        form=form,
        people=people,
        provider_labels=PROVIDER_LABELS,
    ), status


@bp.get("/events/<int:event_id>")
@login_required
def event_page(event_id: int):
    return _event_page(_event(event_id), ParticipantForm())


@bp.post("/events/<int:event_id>/participants")
@login_required
def add_participants_page(event_id: int):
    event = _event(event_id)
    form = ParticipantForm()
    form.institution_id.choices = None  # checked by the service, not against a list
    form.institution_id.validate_choice = False
    if not form.validate_on_submit():
        return _event_page(event, form, 422)
    email = (form.person_email.data or "").strip()
    target: dict[str, Any] = {"role": form.role.data, "required": bool(form.required.data)}
    try:
        if email and form.institution_id.data:
            raise ValidationFailed({"person_email": "Choose an institution or a person, not both."})
        if email:
            person = db.session.scalar(
                sa.select(Person).where(sa.func.lower(Person.email) == email.lower()).limit(1)
            )
            if person is None:
                raise ValidationFailed({"person_email": f"No one in the directory has {email}."})
            target["person_id"] = person.id
        elif form.institution_id.data and form.institution_id.data.isdigit():
            target["institution_id"] = int(form.institution_id.data)
        else:
            raise ValidationFailed({"institution_id": "Choose an institution or give an email."})
        added = services.add_participants(event, **target)
    except ValidationFailed as exc:
        db.session.rollback()
        show_errors(
            form, {"person_email" if k == "person_id" else k: v for k, v in exc.fields.items()}
        )
        return _event_page(event, form, 422)
    db.session.commit()
    flash(
        f"{len(added)} {'person' if len(added) == 1 else 'people'} added as {target['role']}.", "ok"
    )
    return redirect(url_for("web.event_page", event_id=event.id) + "#participants-heading", 303)


@bp.post("/events/<int:event_id>/participants/<int:person_id>/remove")
@login_required
def remove_participant_page(event_id: int, person_id: int):
    event = _event(event_id)
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.remove_participant(event, person_id)
    except ForumError:
        abort(404)
    db.session.commit()
    flash("Participant removed from the event (sessions already booked keep their invitees).", "ok")
    return redirect(url_for("web.event_page", event_id=event.id) + "#participants-heading", 303)


# --- booking -----------------------------------------------------------------------------


def book(event: Event, form: BookForm) -> tuple[EventSession | None, dict[str, Any] | None]:
    """Book from the form: the session, or None with the problems on the form.

    A clash with a chair's or speaker's other session comes back as the conflict's
    details, so the page can show it and offer to book anyway.
    """
    try:
        body = validated(schemas.SessionCreate, form.body(), form)
    except ValidationFailed as exc:
        show_errors(form, exc.fields)
        return None, None
    if body is None:
        return None, None
    try:
        session = services.create_session(
            event, actor=_organiser(), **body.model_dump(exclude_unset=True)
        )
    except Conflict as exc:
        db.session.rollback()
        form.form_errors.append(exc.message)
        return None, exc.details
    except ValidationFailed as exc:
        db.session.rollback()
        show_errors(form, exc.fields)
        return None, None
    db.session.commit()
    return session, None


def session_page_url(session: EventSession) -> str:
    return url_for("web.session_page", session_id=session.id)


@bp.route("/events/<int:event_id>/sessions/new", methods=["GET", "POST"])
@login_required
def book_session(event_id: int):
    event = _event(event_id)
    form = BookForm()
    conflict = None
    if request.method == "GET":
        form.timezone.data = event.timezone
        form.provider.data = event.default_provider
        form.duration_minutes.data = 60
        form.title.data = event.title
    elif form.validate_on_submit():
        session, conflict = book(event, form)
        if session is not None:
            flash(
                f"“{session.title}” is booked; invitations go out once the meeting is open.",
                "ok",
            )
            return redirect(session_page_url(session), 303)
    status = 200 if request.method == "GET" else 409 if conflict else 422
    return render_template("events/book.html", event=event, form=form, conflict=conflict), status
