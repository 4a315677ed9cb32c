"""The JSON error body of the API: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import current_app
from flask import jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed

from forum.core.errors import ForumError
from forum.i18n import _
from forum.i18n import _l

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
}
# Werkzeug's own words for the errors it raises itself (an unknown path, a wrong method),
# so that they reach the caller in their language too.
_HTTP_DESCRIPTIONS = {
    "The browser (or proxy) sent a request that this server could not understand.": _l(
        "The browser (or proxy) sent a request that this server could not understand."
    ),
    "The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again.": _l(
        "The requested URL was not found on the server. If you entered the URL manually please "
        "check your spelling and try again."
    ),
    "The method is not allowed for the requested URL.": _l(
        "The method is not allowed for the requested URL."
    ),
    "The server does not support the media type transmitted in the request.": _l(
        "The server does not support the media type transmitted in the request."
    ),
    "This user has exceeded an allotted request count. Try again later.": _l(
        "This user has exceeded an allotted request count. Try again later."
    ),
    "The server encountered an internal error and was unable to complete your request. Either "
    "the server is overloaded or there is an error in the application.": _l(
        "The server encountered an internal error and was unable to complete your request. "
        "Either the server is overloaded or there is an error in the application."
    ),
}


def _plain(value: Any) -> Any:
    """``value`` with every message as a plain string: a lazily translated one
    (forum.i18n's ``_l``) is written in the language of the request."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if hasattr(value, "__html__") and not isinstance(value, str):
        return str(value)
    return value


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Response:
    response = jsonify(
        {"error": {"code": code, "message": str(message), "details": _plain(details or {})}}
    )
    response.status_code = status
    return response


def for_forum_error(exc: ForumError) -> Response:
    response = error_response(exc.status, exc.code, exc.message, exc.details)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="forum"'
    return response


def for_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    details: dict[str, Any] = {}
    message = exc.description or exc.name
    message = _HTTP_DESCRIPTIONS.get(str(message), message)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        details["allowed"] = sorted(exc.valid_methods)
    if status == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        message = _("the request body is larger than %(limit)s bytes", limit=limit)
    response = error_response(status, _HTTP_CODES.get(status, "http_error"), message, details)
    if "allowed" in details:
        # RFC 9110 section 15.5.6: a 405 lists the methods the resource supports.
        response.headers["Allow"] = ", ".join(details["allowed"])
    return response


def for_unexpected_error() -> Response:
    # The exception's text may hold data or internals: it goes to the log, not the caller.
    return error_response(
        500, "internal_error", _("something went wrong on our side; it has been logged")
    )
