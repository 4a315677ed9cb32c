"""The JSON error body of the API: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import current_app
from flask import jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed

from forum.core.errors import ForumError

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


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
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
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        details["allowed"] = sorted(exc.valid_methods)
    if status == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        message = f"the request body is larger than {limit} bytes"
    response = error_response(status, _HTTP_CODES.get(status, "http_error"), message, details)
    if "allowed" in details:
        # RFC 9110 section 15.5.6: a 405 lists the methods the resource supports.
        response.headers["Allow"] = ", ".join(details["allowed"])
    return response


def for_unexpected_error() -> Response:
    # The exception's text may hold data or internals: it goes to the log, not the caller.
    return error_response(
        500, "internal_error", "something went wrong on our side; it has been logged"
    )
