"""Provider accounts: add, list (no secrets), find the one for a provider, build its adapter."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import current_app

from forum.core import crypto
from forum.core.errors import Conflict
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.extensions import db
from forum.i18n import _
from forum.providers.base import VideoProvider
from forum.providers.models import ACCOUNT_KINDS
from forum.providers.models import PUBLIC_FIELDS
from forum.providers.models import SECRET_FIELDS
from forum.providers.models import ProviderAccount
from forum.providers.registry import AccountSettings
from forum.providers.registry import build_provider

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
# What each kind needs before it can work: one tuple of fields per way of authenticating.
REQUIRED = {
    "zoom": [("account_id", "client_id", "client_secret")],
    "teams": [("tenant_id", "client_id", "client_secret")],
    "webex": [("token",), ("client_id", "client_secret")],
    "google_meet": [("client_id", "client_secret")],
    "jitsi": [()],
    "manual": [()],
}
HOSTED = ("zoom", "teams", "webex", "google_meet")


def _keys() -> dict[str, str]:
    return {
        "encryption_key": current_app.config.get("FORUM_ENCRYPTION_KEY", ""),
        "secret_key": current_app.config["SECRET_KEY"],
    }


def _check_url(field: str, value: str | None) -> None:
    if value and not re.match(r"^https?://[^\s/?#]+[^\s]*$", value):
        raise ValidationFailed({field: _("must be an http(s) URL")})


def add_account(
    *,
    name: str,
    kind: str,
    hosts: Iterable[str] = (),
    options: dict[str, Any] | None = None,
    **fields: str | None,
) -> ProviderAccount:
    """Store a provider account; secrets are encrypted, the rest kept in the clear."""
    if not NAME.match(name or ""):
        raise ValidationFailed({"name": _("lowercase letters, digits, '.', '_' or '-'")})
    if kind not in ACCOUNT_KINDS:
        raise ValidationFailed(
            {"kind": _("must be one of %(kinds)s", kinds=", ".join(ACCOUNT_KINDS))}
        )
    unknown = set(fields) - set(PUBLIC_FIELDS) - set(SECRET_FIELDS)
    if unknown:
        raise ValidationFailed({f: _("unknown setting") for f in sorted(unknown)})
    for field in ("api_base_url", "oauth_url", "jitsi_base_url"):
        _check_url(field, fields.get(field))
    given = {k for k, v in fields.items() if v}
    if not any(set(way) <= given for way in REQUIRED[kind]):
        ways = [", ".join(way) for way in REQUIRED[kind]]
        if len(ways) == 1:
            needs = _("%(kind)s needs %(fields)s", kind=kind, fields=ways[0])
        else:
            # No kind has more than two ways of authenticating.
            first, second = ways
            needs = _(
                "%(kind)s needs %(first)s or %(second)s", kind=kind, first=first, second=second
            )
        raise ValidationFailed({"credentials": needs})
    host_list = _host_list(kind, hosts)
    if db.session.scalar(sa.select(ProviderAccount.id).where(ProviderAccount.name == name)):
        raise Conflict(
            _("a provider account named %(name)s exists", name=repr(name)), code="name_taken"
        )
    secrets = {k: fields[k] for k in SECRET_FIELDS if fields.get(k)}
    if options:
        secrets["options"] = options
    account = ProviderAccount(
        name=name,
        kind=kind,
        settings={k: fields[k] for k in PUBLIC_FIELDS if fields.get(k)},
        hosts=host_list,
        secrets=crypto.encrypt(secrets, **_keys()),
    )
    db.session.add(account)
    db.session.flush()
    return account


def _host_list(kind: str, hosts: Iterable[str]) -> list[str]:
    host_list = list(dict.fromkeys(h.strip() for h in hosts if h.strip()))
    if kind in HOSTED and not host_list:
        raise ValidationFailed(
            {"hosts": _("%(kind)s meetings need at least one host user", kind=kind)}
        )
    return host_list


def set_hosts(account: ProviderAccount, hosts: Iterable[str]) -> None:
    """Replace the account's pool of host users.

    Meetings already opened on a host that leaves the pool stay where they are; a meeting
    still to be opened (failed, deferred) moves to a free host of the new pool when it is
    retried, and the move is recorded on it (forum.providers.meetings.reserve_host).
    """
    account.hosts = _host_list(account.kind, hosts)
    db.session.flush()


def get_account(name_or_id: str | int) -> ProviderAccount:
    query = sa.select(ProviderAccount)
    if isinstance(name_or_id, int):
        query = query.where(ProviderAccount.id == name_or_id)
    else:
        query = query.where(ProviderAccount.name == name_or_id)
    account = db.session.scalar(query)
    if account is None:
        raise NotFound(_("no provider account %(name)s", name=repr(name_or_id)))
    return account


def accounts() -> list[ProviderAccount]:
    return list(db.session.scalars(sa.select(ProviderAccount).order_by(ProviderAccount.name)))


def account_for(kind: str) -> ProviderAccount | None:
    """The account meetings of ``kind`` are opened with: the first one by name."""
    return db.session.scalar(
        sa.select(ProviderAccount)
        .where(ProviderAccount.kind == kind)
        .order_by(ProviderAccount.name)
        .limit(1)
    )


def delete_account(account: ProviderAccount) -> None:
    db.session.delete(account)
    db.session.flush()


def describe(account: ProviderAccount) -> dict[str, Any]:
    """What may be shown of an account: no secret, only whether each one is set."""
    stored = crypto.decrypt(account.secrets, **_keys()) if account.secrets else {}
    return {
        "id": account.id,
        "name": account.name,
        "kind": account.kind,
        **{field: account.settings.get(field) for field in PUBLIC_FIELDS},
        "hosts": list(account.hosts),
        **{f"has_{field}": bool(stored.get(field)) for field in SECRET_FIELDS},
        "last_check_at": account.last_check_at,
        "last_check_problems": list(account.last_check_problems or []),
    }


def settings_of(account: ProviderAccount | None, kind: str) -> AccountSettings:
    """The adapter's settings for an account (secrets decrypted), or defaults without one."""
    salt = hashlib.sha256(b"jitsi rooms " + current_app.config["SECRET_KEY"].encode()).hexdigest()
    if account is None:
        return AccountSettings(name=kind, kind=kind, options={"room_salt": salt})
    stored = crypto.decrypt(account.secrets, **_keys()) if account.secrets else {}
    options = {"room_salt": salt, **stored.get("options", {})}
    return AccountSettings(
        name=account.name,
        kind=account.kind,
        hosts=tuple(account.hosts),
        options=options,
        backoff_seconds=float(current_app.config.get("FORUM_PROVIDER_BACKOFF_SECONDS", 0.5)),
        **{field: account.settings.get(field) for field in PUBLIC_FIELDS},
        **{field: stored.get(field) for field in SECRET_FIELDS},
    )


def provider_for(
    account: ProviderAccount | None, kind: str, *, sleep: Callable[[float], None] = time.sleep
) -> VideoProvider:
    return build_provider(settings_of(account, kind), sleep=sleep)
