"""How every error becomes a response: JSON on the machine paths, an HTML page elsewhere.

Paths under /api/, /healthz, /webhooks/ and /ical/ are called by programs (calendar apps
fetch /ical/ files and feeds) and always answer {"error": {"code", "message", "details"}};
every other path is a page for a person.
"""

from __future__ import annotations

import logging

from flask import Flask
from flask import Response
from flask import request
from werkzeug.exceptions import HTTPException

from forum.api import errors as json_errors
from forum.core.errors import ForumError
from forum.web import errors as html_errors

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/healthz", "/webhooks/", "/ical/")


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def init_app(app: Flask) -> None:
    @app.errorhandler(ForumError)
    def handle_forum_error(exc: ForumError):
        if wants_json():
            return json_errors.for_forum_error(exc)
        return html_errors.forum_error_page(exc)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        if wants_json():
            return json_errors.for_http_error(exc)
        return html_errors.http_error_page(exc)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        if wants_json():
            return json_errors.for_unexpected_error()
        return html_errors.unexpected_error_page()
