"""Reading request bodies through the schemas, and paginating lists."""

from __future__ import annotations

import json
import re
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
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import ngettext

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
    r"^https://\S+$": _l("the link must start with https://"),
    r"^(https?|webcal)://\S+$": _l("the address must start with https://, http:// or webcal://"),
    r"^https?://[^\s/?#]+\S*$": _l("the address must start with https:// or http://"),
    r"^[A-Z0-9]{1,3}$": _l("1 to 3 capital letters or digits (an ISO 3166-2 subdivision code)"),
    r"^[a-z0-9][a-z0-9_.-]{0,99}$": _l(
        "lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
    ),
    r"^[\x21-\x7e]{24,200}$": _l("24 to 200 printable ASCII characters, without spaces"),
}
_TYPE_MESSAGES = {
    "missing": _l("required"),
    "extra_forbidden": _l("unknown field"),
    "string_type": _l("must be text"),
    "int_type": _l("must be a whole number"),
    "int_parsing": _l("must be a whole number"),
    "int_from_float": _l("must be a whole number"),
    "float_type": _l("must be a number"),
    "float_parsing": _l("must be a number"),
    "finite_number": _l("must be a finite number"),
    "bool_type": _l("must be true or false"),
    "bool_parsing": _l("must be true or false"),
    "list_type": _l("must be a list"),
    "dict_type": _l("must be an object"),
    "model_type": _l("must be an object"),
    "model_attributes_type": _l("must be an object"),
    "none_required": _l("must be left out"),
    "string_sub_type": _l("must be text"),
    "is_instance_of": _l("is not of the expected kind"),
    "date_type": _l("must be a valid date"),
    "datetime_type": _l("must be a valid datetime"),
}
# Pydantic's list of allowed values: "'a', 'b' or 'c'".
_CHOICES = re.compile(r"(?P<values>.+) or (?P<last>'[^']*'|[^ ']+)", re.DOTALL)
_EMAIL_PROBLEM = "value is not a valid email address: "


def _amount(value: int, field: str) -> str:
    """A bound in the field's unit: minutes are also told in hours when they are whole."""
    if field.endswith("minutes") and isinstance(value, int):
        text = ngettext("%(num)d minute", "%(num)d minutes", value)
        if value >= 60 and value % 60 == 0:
            hours = value // 60
            text = ngettext(
                "%(num)d hour (%(minutes)s)", "%(num)d hours (%(minutes)s)", hours, minutes=text
            )
        return text
    return str(value)


def plain_message(error: Any, name: str = "") -> str:
    """One pydantic error in plain words, in the reader's language."""
    return str(_plain_message(error, name))


def _plain_message(error: Any, name: str) -> Any:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    field = name.rsplit(".", 1)[-1]
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind]
    if kind == "value_error":
        # Our validators raise their message already translated; the email check's is the
        # library's, its reason left as the library gives it.
        message = str(error["msg"]).removeprefix("Value error, ")
        if message.startswith(_EMAIL_PROBLEM):
            return _(
                "value is not a valid email address: %(reason)s",
                reason=message.removeprefix(_EMAIL_PROBLEM),
            )
        return message
    if kind == "string_too_long":
        count = ctx["max_length"]
        return ngettext("at most %(num)d character", "at most %(num)d characters", count)
    if kind == "string_too_short":
        count = ctx["min_length"]
        if count == 1:
            return _("must not be empty")
        return ngettext("at least %(num)d character", "at least %(num)d characters", count)
    if kind == "too_long":
        count = ctx["max_length"]
        return ngettext("at most %(num)d item", "at most %(num)d items", count)
    if kind == "too_short":
        count = ctx["min_length"]
        return ngettext("at least %(num)d item", "at least %(num)d items", count)
    if kind == "less_than_equal":
        return _("at most %(amount)s", amount=_amount(ctx["le"], field))
    if kind == "greater_than_equal":
        return _("at least %(amount)s", amount=_amount(ctx["ge"], field))
    if kind == "less_than":
        return _("less than %(amount)s", amount=_amount(ctx["lt"], field))
    if kind == "greater_than":
        if ctx["gt"] == 0:
            return _("must be more than 0")
        return _("more than %(amount)s", amount=_amount(ctx["gt"], field))
    if kind == "string_pattern_mismatch":
        return PATTERN_MESSAGES.get(ctx.get("pattern", ""), _l("is not in the expected form"))
    if kind in ("literal_error", "enum"):
        if "expected" not in ctx:
            return _("must be one of the listed values")
        expected = str(ctx["expected"])
        if choices := _CHOICES.fullmatch(expected):
            return _(
                "must be one of %(values)s or %(last)s",
                values=choices["values"],
                last=choices["last"],
            )
        return _("must be one of %(values)s", values=expected)
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
            found[path or "body"] = _("must not contain NUL characters")
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
            _("the request body is not valid JSON: %(reason)s", reason=exc), code="malformed_json"
        ) from None
    if not isinstance(data, dict):
        raise ValidationFailed({"body": _("must be a JSON object")})
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
        raise ValidationFailed({name: _("must be a whole number of at least 1")})
    if int(raw) > maximum:
        raise ValidationFailed({name: _("must be at most %(maximum)s", maximum=maximum)})
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
