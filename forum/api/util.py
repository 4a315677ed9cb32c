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
    """Pydantic's errors as {"invitees.0.person_id": "a message for a person"}.

    The messages are the product's own words ("at most 300 characters", "the link must start
    with https://"), not the validation library's ("String should have at most 300
    characters"): they reach pages and API clients' users alike.
    """
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "body"
        fields.setdefault(name, plain_message(error, name))
    return fields


# Patterns of the schemas, and what a value that does not match them should have been.
PATTERN_MESSAGES = {
    r"^https://\S+$": "the link must start with https://",
    r"^(https?|webcal)://\S+$": "the address must start with https://, http:// or webcal://",
    r"^https?://[^\s/?#]+\S*$": "the address must start with https:// or http://",
    r"^[A-Z0-9]{1,3}$": "1 to 3 capital letters or digits (an ISO 3166-2 subdivision code)",
    r"^[a-z0-9][a-z0-9_.-]{0,99}$": (
        "lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
    ),
    r"^[\x21-\x7e]{24,200}$": "24 to 200 printable ASCII characters, without spaces",
}
_TYPE_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "none_required": "must be left out",
    "string_sub_type": "must be text",
    "is_instance_of": "is not of the expected kind",
}


def _amount(value: int, field: str) -> str:
    """A bound in the field's unit: minutes are also told in hours when they are whole."""
    if field.endswith("minutes"):
        text = f"{value} minute{'' if value == 1 else 's'}"
        if value >= 60 and value % 60 == 0:
            hours = value // 60
            text = f"{hours} hour{'' if hours == 1 else 's'} ({text})"
        return text
    return str(value)


def plain_message(error: Any, name: str = "") -> str:
    """One pydantic error in plain words."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    field = name.rsplit(".", 1)[-1]
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind]
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_too_long":
        count = ctx["max_length"]
        return f"at most {count} character{'' if count == 1 else 's'}"
    if kind == "string_too_short":
        count = ctx["min_length"]
        return "must not be empty" if count == 1 else f"at least {count} characters"
    if kind == "too_long":
        count = ctx["max_length"]
        return f"at most {count} item{'' if count == 1 else 's'}"
    if kind == "too_short":
        count = ctx["min_length"]
        return f"at least {count} item{'' if count == 1 else 's'}"
    if kind == "less_than_equal":
        return f"at most {_amount(ctx['le'], field)}"
    if kind == "greater_than_equal":
        return f"at least {_amount(ctx['ge'], field)}"
    if kind == "less_than":
        return f"less than {_amount(ctx['lt'], field)}"
    if kind == "greater_than":
        if ctx["gt"] == 0:
            return "must be more than 0"
        return f"more than {_amount(ctx['gt'], field)}"
    if kind == "string_pattern_mismatch":
        return PATTERN_MESSAGES.get(ctx.get("pattern", ""), "is not in the expected form")
    if kind in ("literal_error", "enum"):
        return "must be one of " + str(ctx.get("expected", "the listed values"))
    # Anything else: the library's sentence, made to read as ours ("Input should be a valid
    # date" -> "must be a valid date").
    message = str(error["msg"])
    for prefix in ("Input should be ", "Value should be "):
        if message.startswith(prefix):
            return "must be " + message.removeprefix(prefix)
    return message[:1].lower() + message[1:]


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
