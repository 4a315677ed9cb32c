"""Forms of the organiser pages: validation by the API's schemas, errors next to fields,
and new secrets shown once."""

from __future__ import annotations

import time
from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit

from flask import current_app
from flask import request
from flask import session
from flask_wtf import FlaskForm
from pydantic import BaseModel
from pydantic import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import Field
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import ValidationError as InvalidField

from forum.accounts.models import Organiser
from forum.api.util import field_errors
from forum.core import crypto
from forum.core import text
from forum.core.errors import ForumError
from forum.core.errors import ValidationFailed
from forum.extensions import csrf
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import current_locale

M = TypeVar("M", bound=BaseModel)
# A new secret waits in the session for the page that shows it, at most this long.
SHOW_ONCE_SECONDS = 600
_SHOW_ONCE_KEY = "show_once"


class LoginForm(FlaskForm):
    """Email and password; ``next`` carries the page to return to after logging in."""

    email = StringField(
        _l("Email"),
        validators=[DataRequired(_l("Enter your email address.")), Length(max=254)],
        render_kw={"autocomplete": "username", "type": "email", "spellcheck": "false"},
    )
    # PasswordField never writes the typed value back into the page (hide_value).
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class LogoutForm(FlaskForm):
    """No fields: only the CSRF token, so another site cannot log an organiser out."""


def protect_upload(max_bytes: int) -> bool:
    """Read an upload form under ``max_bytes`` and check its CSRF token (raising as the
    app-wide check does); False if the form is larger.

    For views exempt from the app-wide CSRF check, which reads the form before the view
    runs under the ordinary limits (FORUM_MAX_REQUEST_BYTES, and Werkzeug's 500 kB for a
    field) that an import file exceeds.
    """
    request.max_content_length = max_bytes
    request.max_form_memory_size = max_bytes
    try:
        csrf.protect()
    except RequestEntityTooLarge:
        return False
    return True


def safe_next_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects).

    "//evil.example" and "/\\evil.example" are read by browsers as another host, and
    control characters can smuggle one in, so only a plain absolute path is kept.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def show_errors(form: FlaskForm, fields: dict[str, str]) -> None:
    """Put a service's field errors next to the form's fields of the same name.

    A service names fields as the API does ("invitees.0.person_id"); the first part picks
    the form field. What matches no field is kept in ``form.form_errors``, shown above it.
    """
    for name, message in fields.items():
        field = form._fields.get(name.split(".")[0])
        if field is not None and name.split(".")[0] not in ("csrf_token", "submit"):
            field.errors = [*field.errors, as_sentence(message)]
        else:
            form.form_errors.append(
                as_sentence(f"{name}: {message}" if name != "body" else message)
            )


def show_service_error(form: FlaskForm, error: ForumError) -> None:
    """A service's refusal: next to the fields it names, else above the form."""
    named = dict(getattr(error, "fields", None) or error.details.get("fields") or {})
    show_errors(form, named)
    if not named:
        form.form_errors.append(as_sentence(error.message))


# How a sentence ends, in the languages offered (Chinese and Japanese: the full stop 。;
# Arabic: its own question mark).
_SENTENCE_ENDS = (".", "!", "?", "。", "！", "？", "؟")
_FULL_STOPS = {"zh-Hans": "。", "ja": "。"}


def as_sentence(text: str) -> str:
    """Messages read as sentences on a page: "required" becomes "Required."."""
    text = str(text).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    if text.endswith(_SENTENCE_ENDS):
        return text
    return text + _FULL_STOPS.get(current_locale(), ".")


def validated(schema: type[M], data: dict[str, Any], form: FlaskForm) -> M | None:
    """``data`` checked by the API's own schema (one set of rules for the API and pages).

    None when it does not pass; the messages are then on the form's fields.
    """
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        show_errors(form, field_errors(exc))
    except ValidationFailed as exc:
        show_errors(form, exc.fields)
    return None


def single_line(form: FlaskForm, field: Field) -> None:
    """Text that ends up in headers, logs and listings: one line, no control characters.

    The rule of the API's schemas (forum.core.text), for fields no schema checks.
    """
    if not field.data:
        return
    found = text.first_unclean(field.data)
    if found is not None and found[0] in text.LINE_BREAKS:
        raise InvalidField(_("Write it on one line."))
    if found is not None:
        raise InvalidField(as_sentence(text.problem(field.data) or ""))


def clean_lines(form: FlaskForm, field: Field) -> None:
    """A text area read line by line: line breaks, and no other control characters."""
    if field.data and (found := text.problem(field.data, multi_line=True)) is not None:
        raise InvalidField(as_sentence(found))


# --- a secret shown on the next page only ----------------------------------------------------


def _keys() -> dict[str, str]:
    return {
        "encryption_key": current_app.config.get("FORUM_ENCRYPTION_KEY", ""),
        "secret_key": current_app.config["SECRET_KEY"],
    }


def keep_secret_for_next_page(organiser: Organiser, what: str, secret: str) -> None:
    """Hold a new secret for the page the creating POST redirects to.

    The session cookie is signed but readable, so the secret goes into it encrypted. It is
    bound to the organiser (someone else logging in on the same browser does not see it)
    and to what was created.
    """
    session[_SHOW_ONCE_KEY] = {
        "organiser": organiser.id,
        "what": what,
        "at": int(time.time()),
        "secret": crypto.encrypt({"secret": secret}, **_keys()),
    }


def take_kept_secret(organiser: Organiser, what: str) -> str | None:
    """The secret kept for this page, removed from the session: a later visit shows nothing."""
    kept = session.get(_SHOW_ONCE_KEY)
    if not isinstance(kept, dict) or kept.get("what") != what:
        return None
    session.pop(_SHOW_ONCE_KEY)
    fresh = time.time() - kept.get("at", 0) <= SHOW_ONCE_SECONDS
    if kept.get("organiser") != organiser.id or not fresh:
        return None
    try:
        return crypto.decrypt(kept["secret"], **_keys())["secret"]
    except (crypto.SecretsUnreadable, KeyError):
        return None
