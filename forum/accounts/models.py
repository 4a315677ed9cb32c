"""Organiser accounts and their API tokens."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from forum.db import now_utc
from forum.extensions import db


class Organiser(UserMixin, db.Model):
    """A person who logs in to book and manage events."""

    __tablename__ = "organisers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    is_admin: Mapped[bool] = mapped_column(default=False)
    # The language of their pages and emails; None follows the browser (Accept-Language).
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="organiser")

    def __repr__(self) -> str:
        return f"<Organiser {self.id} {self.email}>"


# Emails are unique whatever their case: Ada@X.org and ada@x.org are one person.
sa.Index("uq_organisers_email_lower", sa.func.lower(Organiser.email), unique=True)


class ApiToken(db.Model):
    """A bearer token for the API, stored as a hash; revoked tokens stay for the record."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisers.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The first characters, so an organiser can tell tokens apart without the secret.
    prefix: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    organiser: Mapped[Organiser] = relationship(back_populates="tokens")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
