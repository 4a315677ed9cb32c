"""One place that turns every error under /api into {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask import Response
from flask import jsonify
from flask import request
from werkzeug.exceptions import HTTPException

from forum.core.errors import ForumError

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/healthz", "/webhooks/")

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


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def init_app(app: Flask) -> None:
    @app.errorhandler(ForumError)
    def handle_forum_error(exc: ForumError) -> Response | tuple[str, int]:
        if not wants_json():
            return exc.message, exc.status
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="forum"'
        return response

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException) -> Response | HTTPException:
        if not wants_json():
            return exc
        status = exc.code or 500
        details: dict[str, Any] = {}
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            details["allowed"] = sorted(exc.valid_methods)  # type: ignore[attr-defined]
        message = exc.description or exc.name
        if status == 413:
            message = (
                f"the request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
            )
        response = error_response(status, _HTTP_CODES.get(status, "http_error"), message, details)
        if status == 405 and "allowed" in details:
            response.headers["Allow"] = ", ".join(details["allowed"])
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not wants_json():
            return Response("Internal server error", status=500, mimetype="text/plain")
        return error_response(
            500, "internal_error", "something went wrong on our side; it has been logged"
        )
