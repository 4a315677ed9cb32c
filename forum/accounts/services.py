"""Creating organisers, checking passwords, issuing and checking API tokens."""

from __future__ import annotations

import functools
import secrets

import sqlalchemy as sa
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from forum.accounts.models import ApiToken
from forum.accounts.models import Organiser
from forum.core.errors import Conflict
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.core.secrets import API_TOKEN_PREFIX
from forum.core.secrets import hash_token
from forum.core.secrets import new_token
from forum.core.times import InvalidTime
from forum.core.times import check_zone_name
from forum.db import now_utc
from forum.extensions import db
from forum.i18n import _


def find_organiser(email: str) -> Organiser | None:
    """The organiser with this email, whatever its case."""
    return db.session.scalar(
        sa.select(Organiser).where(sa.func.lower(Organiser.email) == email.strip().lower())
    )


def create_organiser(
    *,
    email: str,
    name: str,
    password: str | None = None,
    timezone: str = "UTC",
    is_admin: bool = False,
) -> Organiser:
    """A new organiser account, an administrator if ``is_admin`` (the caller commits)."""
    email = email.strip()
    if "@" not in email or len(email) > 254:
        raise ValidationFailed({"email": _("must be an email address")})
    try:
        check_zone_name(timezone)
    except InvalidTime as exc:
        raise ValidationFailed({"timezone": str(exc)}) from None
    if find_organiser(email) is not None:
        raise Conflict(
            _("an organiser with email %(email)s exists", email=email),
            code="duplicate",
            details={"fields": {"email": _("already in use")}},
        )
    organiser = Organiser(
        email=email,
        name=name or email.split("@")[0],
        password_hash=generate_password_hash(password) if password else None,
        timezone=timezone,
        is_admin=is_admin,
    )
    db.session.add(organiser)
    db.session.flush()
    return organiser


def set_admin(email: str, *, admin: bool = True) -> Organiser:
    """Make the organiser with this email an administrator, or an organiser only again
    (404 for an unknown email; the caller commits).

    Administrators manage provider accounts, see every webhook delivery, and may change any
    entry of the directory.
    """
    organiser = find_organiser(email)
    if organiser is None:
        raise NotFound(_("no organiser with email %(email)s", email=email.strip()))
    organiser.is_admin = admin
    db.session.flush()
    return organiser


def set_password(organiser: Organiser, password: str) -> None:
    organiser.password_hash = generate_password_hash(password)


@functools.cache
def _dummy_password_hash() -> str:
    """A hash made like every account's (same method and cost), of a password no one has."""
    return generate_password_hash(secrets.token_urlsafe(32))


def authenticate(email: str, password: str) -> Organiser | None:
    """The organiser if the password matches, else None (same answer for unknown emails)."""
    organiser = find_organiser(email)
    if organiser is None or not organiser.password_hash:
        # One check against a hash of the same cost, as for a real account, so that the
        # response time does not tell which emails have accounts.
        check_password_hash(_dummy_password_hash(), password)
        return None
    if not check_password_hash(organiser.password_hash, password):
        return None
    return organiser


def issue_token(organiser: Organiser, *, name: str = "") -> str:
    """Create an API token and return it in clear: the only time it is ever visible."""
    token = new_token(API_TOKEN_PREFIX)
    db.session.add(
        ApiToken(
            organiser=organiser,
            token_hash=hash_token(token),
            prefix=token[: len(API_TOKEN_PREFIX) + 6],
            name=name,
        )
    )
    db.session.flush()
    return token


def issue_token_for_email(email: str, *, name: str = "") -> str:
    organiser = find_organiser(email)
    if organiser is None:
        raise NotFound(_("no organiser with email %(email)s", email=email))
    return issue_token(organiser, name=name)


def organiser_for_token(token: str) -> Organiser | None:
    """The organiser a live token belongs to; records when it was last used."""
    api_token = db.session.scalar(
        sa.select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    if api_token is None:
        return None
    now = now_utc()
    if api_token.last_used_at is None or (now - api_token.last_used_at).total_seconds() > 60:
        api_token.last_used_at = now
    return api_token.organiser


def revoke_token(organiser: Organiser, token_id: int) -> None:
    api_token = db.session.get(ApiToken, token_id)
    if api_token is None or api_token.organiser_id != organiser.id:
        raise NotFound(_("no such token"))
    if api_token.revoked_at is None:
        api_token.revoked_at = now_utc()


def tokens_of(organiser: Organiser) -> sa.Select:
    """The organiser's API tokens, revoked ones included (kept for the record), newest first."""
    return (
        sa.select(ApiToken)
        .where(ApiToken.organiser_id == organiser.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
