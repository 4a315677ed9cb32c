"""The errors services raise; the API and web layers turn them into responses."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _


class ForumError(Exception):
    """An error a person can act on, with a machine code and an HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class ValidationFailed(ForumError):
    """Input that is well formed but not acceptable; ``details["fields"]`` names the fields."""

    status = 422
    code = "validation_error"

    def __init__(
        self,
        fields: dict[str, str],
        *,
        message: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        if message is None:
            # The problems are already in the reader's language; the field names stay.
            message = "; ".join(
                _("%(field)s: %(problem)s", field=name, problem=problem)
                for name, problem in fields.items()
            )
        super().__init__(message, code=code, details={"fields": fields, **(details or {})})
        self.fields = fields


class NotFound(ForumError):
    status = 404
    code = "not_found"


class Conflict(ForumError):
    status = 409
    code = "conflict"


class Unauthorized(ForumError):
    status = 401
    code = "unauthorized"


class Forbidden(ForumError):
    status = 403
    code = "forbidden"
