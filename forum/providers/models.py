"""Provider accounts (credentials encrypted at rest, a pool of hosts) and hosts' daily usage."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from forum.db import JSONType
from forum.db import now_utc
from forum.extensions import db

ACCOUNT_KINDS = ("jitsi", "zoom", "teams", "webex", "google_meet", "manual")
# Settings kept in the clear: ids and URLs, nothing that lets someone act as the account.
PUBLIC_FIELDS = (
    "account_id",
    "client_id",
    "tenant_id",
    "api_base_url",
    "oauth_url",
    "jitsi_base_url",
)
# Kept encrypted (forum.core.crypto), never shown back.
SECRET_FIELDS = ("client_secret", "token", "webhook_secret")


class ProviderAccount(db.Model):
    """A configured connection to a provider: public settings, encrypted secrets, hosts."""

    __tablename__ = "provider_accounts"
    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ({})".format(", ".join(repr(k) for k in ACCOUNT_KINDS)), name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    # {"account_id": ..., "client_id": ..., "api_base_url": ...}: see PUBLIC_FIELDS.
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Host users (emails or provider ids), in the order they are tried.
    hosts: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Fernet token holding {"client_secret": ..., "token": ..., "webhook_secret": ..., "options"}.
    secrets: Mapped[str] = mapped_column(sa.Text, default="")
    last_check_at: Mapped[dt.datetime | None]
    last_check_problems: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    def __repr__(self) -> str:
        return f"<ProviderAccount {self.id} {self.name!r} {self.kind}>"


class HostUsage(db.Model):
    """How many creates and updates a host had on one UTC day (Zoom allows 100)."""

    __tablename__ = "provider_host_usage"
    __table_args__ = (sa.UniqueConstraint("account_id", "host", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        sa.ForeignKey("provider_accounts.id", ondelete="CASCADE")
    )
    host: Mapped[str] = mapped_column(sa.String(254))
    day: Mapped[dt.date]
    count: Mapped[int] = mapped_column(default=0)
