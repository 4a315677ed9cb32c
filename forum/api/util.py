"""Reading request bodies through the schemas, and paginating lists."""

from __future__ import annotations

import json
from typing import Any
from typing import TypeVar

import sqlalchemy as sa
from flask import current_app
from flask import g
from flask import request
from pydantic import BaseModel
from pydantic import ValidationError

from forum.accounts.models import Organiser
from forum.core.errors import ForumError
from forum.core.errors import ValidationFailed
from forum.extensions import db

M = TypeVar("M", bound=BaseModel)


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic's errors as {"invitees.0.person_id": "a message for a person"}."""
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "required"
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        fields.setdefault(name, message)
    return fields


def _nul_characters(data: Any) -> dict[str, str]:
    """Fields whose text holds a NUL character, which PostgreSQL cannot store in text."""
    found: dict[str, str] = {}
    pending: list[tuple[str, Any]] = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            found[path or "body"] = "must not contain NUL characters"
        elif isinstance(value, dict | list):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            pending.extend((f"{path}.{key}" if path else str(key), child) for key, child in items)
    return found


def load_body(schema: type[M]) -> M:
    """The request's JSON body validated by ``schema``; 400 if not JSON, 422 if not valid."""
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw or b"")
    # RecursionError: arrays nested thousands deep (well under the size limit) overflow
    # the parser, which is malformed input too, not a server error.
    except (ValueError, RecursionError) as exc:
        raise ForumError(
            f"the request body is not valid JSON: {exc}", code="malformed_json"
        ) from None
    if not isinstance(data, dict):
        raise ValidationFailed({"body": "must be a JSON object"})
    if nul_fields := _nul_characters(data):
        raise ValidationFailed(nul_fields)
    try:
        return schema.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from None


def _positive_arg(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    # isdigit() alone accepts "²", which int() then refuses.
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ValidationFailed({name: "must be a whole number of at least 1"})
    if int(raw) > maximum:
        raise ValidationFailed({name: f"must be at most {maximum}"})
    return int(raw)


def page_args() -> tuple[int, int]:
    """``?page=`` and ``?per_page=``, checked against the configured bounds."""
    per_page = _positive_arg(
        "per_page",
        current_app.config["FORUM_PER_PAGE_DEFAULT"],
        current_app.config["FORUM_PER_PAGE_MAX"],
    )
    return _positive_arg("page", 1, 10**9), per_page


def paginate(query: sa.Select, serialise: Any) -> dict[str, Any]:
    """One page of ``query`` (``?page=&per_page=``) with the total count."""
    page, per_page = page_args()
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    )
    rows = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": serialise(rows), "total": total, "page": page, "per_page": per_page}


def current_organiser() -> Organiser:
    """The organiser the request's bearer token belongs to (set by the token check)."""
    return g.api_organiser
