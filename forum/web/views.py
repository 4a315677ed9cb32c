"""Organiser pages: login, logout and home."""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from flask import Response
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_login import login_user
from flask_login import logout_user
from sqlalchemy.orm import selectinload

from forum.accounts.models import Organiser
from forum.accounts.services import authenticate
from forum.db import now_utc
from forum.events.models import MEETING_STATUS_LABELS
from forum.events.models import SESSION_STATUS_LABELS
from forum.events.models import Event
from forum.events.models import EventSession
from forum.events.services import event_summaries
from forum.events.services import upcoming_occurrences
from forum.events.services import visible_events
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.notifications import dispatch
from forum.reminders import preflight
from forum.security import RateLimited
from forum.security import check_login_allowed
from forum.security import count_failed_login
from forum.web import bp
from forum.web.events import rsvp_counts
from forum.web.forms import LoginForm
from forum.web.forms import safe_next_path

log = logging.getLogger(__name__)

LOGIN_FAILED = _l("That email and password do not match an organiser account.")


# The security headers every response carries are set in one place: forum.security.
@bp.after_request
def page_headers(response: Response) -> Response:
    # Organisers' pages are personal: no shared cache keeps them, and after logging out
    # the back button does not show them again.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# --- login and logout --------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next_path(request.args.get("next")) or ""
    next_path = safe_next_path(form.next.data) or url_for("web.home")
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(next_path)

    failed = False
    if form.validate_on_submit():
        try:
            # Checked before the password: a right one is refused too while the limit lasts.
            check_login_allowed(form.email.data)
        except RateLimited as limited:
            page = render_template(
                "login.html", form=form, login_failed=True, message=limited.message
            )
            return page, 429, {"Retry-After": str(limited.seconds)}
        organiser = authenticate(form.email.data, form.password.data)
        if organiser is not None:
            login_user(organiser)
            return redirect(next_path)
        count_failed_login(form.email.data)
        # One message for an unknown email and a wrong password: the page must not
        # reveal which addresses have accounts.
        failed = True
    return render_template("login.html", form=form, login_failed=failed, message=LOGIN_FAILED)


@bp.post("/logout")
def logout():
    # POST only, and CSRFProtect checks the token: a link or an image on another site
    # cannot log an organiser out.
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("web.login"))


# --- home --------------------------------------------------------------------------------


@bp.get("/")
@login_required
def home():
    organiser = current_user._get_current_object()
    now = now_utc()
    upcoming = upcoming_occurrences(organiser, after=now)
    return render_template(
        "home.html",
        organiser=organiser,
        now=now,
        events=event_summaries(organiser),
        upcoming=upcoming,
        rsvps=rsvp_counts(sorted({item.session.id for item in upcoming})),
        failed_emails=_failed_invitations(organiser, now),
        failed_meetings=_failed_meetings(organiser, now),
        session_status_labels=SESSION_STATUS_LABELS,
        meeting_status_labels=MEETING_STATUS_LABELS,
    )


def _failed_meetings(organiser: Organiser, now: dt.datetime) -> list[EventSession]:
    """The organiser's sessions still to come whose meeting failed (a provider's refusal, a
    pre-flight check's problem), with the reason on the meeting."""
    events = visible_events(organiser).with_only_columns(Event.id).order_by(None)
    sessions = sa.select(EventSession.id).where(
        EventSession.event_id.in_(events),
        sa.or_(EventSession.end > now, EventSession.rrule.is_not(None)),
    )
    return preflight.meeting_problems(sessions)


def _failed_invitations(organiser: Organiser, now: dt.datetime) -> list[tuple[EventSession, int]]:
    """The organiser's sessions still to come (a series: any) whose newest email to some
    invitee failed for good, with how many, in two queries."""
    events = visible_events(organiser).with_only_columns(Event.id).order_by(None)
    sessions = sa.select(EventSession.id).where(
        EventSession.event_id.in_(events),
        sa.or_(EventSession.end > now, EventSession.rrule.is_not(None)),
    )
    counts = dispatch.failed_invitations(sessions)
    if not counts:
        return []
    loaded = {
        session.id: session
        for session in db.session.scalars(
            sa.select(EventSession)
            .where(EventSession.id.in_([session_id for session_id, _ in counts]))
            .options(selectinload(EventSession.event))
        )
    }
    return [(loaded[session_id], count) for session_id, count in counts]
