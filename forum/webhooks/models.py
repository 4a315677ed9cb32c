"""Provider deliveries as received (the inbox) and the attendance they tell of."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from forum.db import JSONType
from forum.db import now_utc
from forum.events.models import Invitation
from forum.extensions import db

INBOX_STATUSES = ("received", "processed", "failed", "ignored")


class InboxEntry(db.Model):
    """One verified delivery from a provider, stored once per provider event identity."""

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        sa.UniqueConstraint("provider", "identity"),
        sa.CheckConstraint(
            "status IN ({})".format(", ".join(repr(s) for s in INBOX_STATUSES)), name="status"
        ),
        sa.Index("ix_webhook_inbox_status_received", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(20))
    # The provider's identity of this fact (deduplication key), e.g. Zoom's event and
    # timestamp and object ids.
    identity: Mapped[str] = mapped_column(sa.String(255))
    event: Mapped[str] = mapped_column(sa.String(100))
    external_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    body: Mapped[str] = mapped_column(sa.Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(sa.String(20), default="received")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sessions.id", ondelete="SET NULL"), index=True
    )
    received_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    processed_at: Mapped[dt.datetime | None]


class Attendance(db.Model):
    """One person's presence in a session's meeting: an invitee, or a guest kept as a guest."""

    __tablename__ = "attendance"
    __table_args__ = (sa.UniqueConstraint("session_id", "participant_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"))
    invitation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("invitations.id", ondelete="SET NULL")
    )
    # Who, as the provider knows them: the email if given, else its participant id.
    participant_key: Mapped[str] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    # {"<join instant>": "<leave instant or null>"} per stay, keyed by join so that a
    # repeated or out-of-order event lands on the same stay.
    stays: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Leaves seen before their join (events arrive in any order), waiting for it.
    early_leaves: Mapped[list[str]] = mapped_column(JSONType, default=list)
    minutes: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    invitation: Mapped[Invitation | None] = relationship()
