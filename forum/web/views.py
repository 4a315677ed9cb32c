"""Organiser pages (login, logout, home) and the HTML error pages of every non-API path."""

from __future__ import annotations

import logging
from typing import NamedTuple

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
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed

from forum.accounts.models import Organiser
from forum.accounts.services import authenticate
from forum.core.errors import ForumError
from forum.db import now_utc
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.models import EventSession
from forum.events.services import upcoming_sessions
from forum.events.services import visible_events
from forum.extensions import db
from forum.web import bp
from forum.web.forms import LoginForm
from forum.web.forms import safe_next_path

log = logging.getLogger(__name__)

LOGIN_FAILED = "That email and password do not match an organiser account."


# Pages load nothing from elsewhere and run no inline code, so the policy can be strict;
# frame-ancestors keeps the login form out of other sites' frames (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@bp.after_request
def page_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
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
        organiser = authenticate(form.email.data, form.password.data)
        if organiser is not None:
            login_user(organiser)
            return redirect(next_path)
        # One message for an unknown email and a wrong password: the page must not
        # reveal which addresses have accounts.
        failed = True
    return render_template("login.html", form=form, login_failed=failed, message=LOGIN_FAILED)


@bp.post("/logout")
def logout():
    # POST only, and CSRFProtect checks the token: a link or an image on another site
    # cannot log an organiser out.
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("web.login"))


# --- home --------------------------------------------------------------------------------


class EventSummary(NamedTuple):
    event: Event
    participant_count: int
    session_count: int


def event_summaries(organiser: Organiser) -> list[EventSummary]:
    """The organiser's events with their participant and session counts, in one query.

    Cancelled sessions are left out of the count: they stay in the database for the
    record (and for the calendars that must hear of the cancellation), not as meetings.
    """
    participants = (
        sa.select(sa.func.count(EventParticipant.id))
        .where(EventParticipant.event_id == Event.id)
        .correlate(Event)
        .scalar_subquery()
    )
    sessions = (
        sa.select(sa.func.count(EventSession.id))
        .where(EventSession.event_id == Event.id, EventSession.status != "cancelled")
        .correlate(Event)
        .scalar_subquery()
    )
    rows = db.session.execute(visible_events(organiser).add_columns(participants, sessions))
    return [EventSummary(event, p_count, s_count) for event, p_count, s_count in rows]


@bp.get("/")
@login_required
def home():
    organiser = current_user._get_current_object()
    now = now_utc()
    return render_template(
        "home.html",
        organiser=organiser,
        now=now,
        events=event_summaries(organiser),
        upcoming=upcoming_sessions(organiser, after=now),
    )


# --- error pages -------------------------------------------------------------------------


def http_error_page(exc: HTTPException) -> tuple[str, int, dict[str, str]]:
    """An HTTP error (404, 405, a refused CSRF token...) as an HTML page."""
    status = exc.code or 500
    headers: dict[str, str] = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        # RFC 9110 section 15.5.6: a 405 must list the methods the resource supports.
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    if isinstance(exc, CSRFError):
        message = (
            "This form had expired or did not come from this site, so it was not sent. "
            "Go back, reload the page and try again."
        )
    else:
        message = exc.description or ""
    page = render_template(
        [f"errors/{status}.html", "errors/error.html"],
        status=status,
        title=exc.name,
        message=message,
    )
    return page, status, headers


def forum_error_page(exc: ForumError) -> tuple[str, int]:
    """A service's error on a page, its message escaped like any other text."""
    page = render_template(
        [f"errors/{exc.status}.html", "errors/error.html"],
        status=exc.status,
        title="Not found" if exc.status == 404 else "This did not work",
        message=exc.message,
    )
    return page, exc.status


def unexpected_error_page(exc: Exception) -> tuple[str, int] | Response:
    """The 500 page; it must not fail itself, so it falls back to plain text."""
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    try:
        # On PostgreSQL a failed statement aborts the transaction; the page (and the
        # organiser loaded for its navigation) needs a usable one.
        db.session.rollback()
        return render_template("errors/500.html", status=500, bare=True), 500
    except Exception:
        log.exception("the 500 page could not be rendered")
        return Response("Internal server error", status=500, mimetype="text/plain")
