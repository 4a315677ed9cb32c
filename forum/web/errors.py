"""Error pages for people: 404, 405, 500 and a service's refusal, as escaped HTML."""

from __future__ import annotations

import logging

from flask import Response
from flask import render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

from forum.core.errors import ForumError
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l

log = logging.getLogger(__name__)

# The names of the HTTP errors a person can meet, as the page's title.
ERROR_TITLES = {
    400: _l("Bad Request"),
    401: _l("Unauthorized"),
    403: _l("Forbidden"),
    404: _l("Not Found"),
    405: _l("Method Not Allowed"),
    409: _l("Conflict"),
    410: _l("Gone"),
    413: _l("Request Entity Too Large"),
    415: _l("Unsupported Media Type"),
    422: _l("Unprocessable Entity"),
    429: _l("Too Many Requests"),
    500: _l("Internal Server Error"),
    503: _l("Service Unavailable"),
}
# What those errors mean, where the page gives no reason of its own.
ERROR_DESCRIPTIONS = {
    400: _l("The browser (or proxy) sent a request that this server could not understand."),
    401: _l(
        "The server could not verify that you are authorized to access the URL requested. You "
        "either supplied the wrong credentials (e.g. a bad password), or your browser doesn't "
        "understand how to supply the credentials required."
    ),
    403: _l(
        "You don't have the permission to access the requested resource. It is either "
        "read-protected or not readable by the server."
    ),
    409: _l(
        "A conflict happened while processing the request. The resource might have been "
        "modified while the request was being processed."
    ),
    410: _l(
        "The requested URL is no longer available on this server and there is no forwarding "
        "address. If you followed a link from a foreign page, please contact the author of "
        "this page."
    ),
    413: _l("The data value transmitted exceeds the capacity limit."),
    415: _l("The server does not support the media type transmitted in the request."),
    422: _l("The request was well-formed but was unable to be followed due to semantic errors."),
    503: _l(
        "The server is temporarily unable to service your request due to maintenance downtime "
        "or capacity problems. Please try again later."
    ),
}


def http_error_page(exc: HTTPException) -> tuple[str, int, dict[str, str]]:
    """An HTTP error (404, 405, a refused CSRF token...) as an HTML page."""
    status = exc.code or 500
    headers: dict[str, str] = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        # RFC 9110 section 15.5.6: a 405 must list the methods the resource supports.
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    if isinstance(exc, CSRFError):
        message = _(
            "This form had expired or did not come from this site, so it was not sent. "
            "Go back, reload the page and try again."
        )
    elif exc.description == type(exc).description and status in ERROR_DESCRIPTIONS:
        # Werkzeug's own words for the error: the reader's language instead.
        message = str(ERROR_DESCRIPTIONS[status])
    else:
        message = exc.description or ""
    title = exc.name
    if status in ERROR_TITLES and title == HTTP_STATUS_CODES.get(status):
        title = str(ERROR_TITLES[status])
    page = render_template(
        [f"errors/{status}.html", "errors/error.html"],
        status=status,
        title=title,
        message=message,
    )
    return page, status, headers


def forum_error_page(exc: ForumError) -> tuple[str, int]:
    """A service's error on a page, its message escaped like any other text."""
    page = render_template(
        [f"errors/{exc.status}.html", "errors/error.html"],
        status=exc.status,
        title=_("Not found") if exc.status == 404 else _("This did not work"),
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
