"""Forms of the organiser pages, validated (and CSRF-checked) by Flask-WTF."""

from __future__ import annotations

from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit

from flask_wtf import FlaskForm
from pydantic import BaseModel
from pydantic import ValidationError
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from forum.api.util import field_errors
from forum.core.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


class LoginForm(FlaskForm):
    """Email and password; ``next`` carries the page to return to after logging in."""

    email = StringField(
        "Email",
        validators=[DataRequired("Enter your email address."), Length(max=254)],
        render_kw={"autocomplete": "username", "type": "email", "spellcheck": "false"},
    )
    # PasswordField never writes the typed value back into the page (hide_value).
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class LogoutForm(FlaskForm):
    """No fields: only the CSRF token, so another site cannot log an organiser out."""


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
            field.errors = [*field.errors, message] if field.errors else [message]
        else:
            form.form_errors.append(f"{name}: {message}" if name != "body" else message)


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
