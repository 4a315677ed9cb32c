"""Error pages for people: 404, 405, 500 and a service's refusal, as escaped HTML."""

from __future__ import annotations

import logging

from flask import Response
from flask import render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed

from forum.core.errors import ForumError
from forum.extensions import db

log = logging.getLogger(__name__)


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


def unexpected_error_page() -> tuple[str, int] | Response:
    """The 500 page; it must not fail itself, so it falls back to plain text."""
    try:
        # On PostgreSQL a failed statement aborts the transaction; the page (and the
        # organiser loaded for its navigation) needs a usable one.
        db.session.rollback()
        return render_template("errors/500.html", status=500, bare=True), 500
    except Exception:
        log.exception("the 500 page could not be rendered")
        return Response("Internal server error", status=500, mimetype="text/plain")
