"""API v1: video provider accounts, for administrators; secrets go in and never come out."""

from __future__ import annotations

import sqlalchemy as sa

from forum.api import bp
from forum.api import schemas
from forum.api.util import current_organiser
from forum.api.util import load_body
from forum.api.util import paginate
from forum.core.errors import Forbidden
from forum.core.times import format_instant
from forum.extensions import db
from forum.i18n import _
from forum.providers import accounts
from forum.providers import meetings
from forum.providers.models import ProviderAccount


def _admin() -> None:
    if not current_organiser().is_admin:
        raise Forbidden(_("only administrators manage provider accounts"))


def account_out(account: ProviderAccount) -> dict:
    shown = accounts.describe(account)
    shown["last_check_at"] = (
        format_instant(shown["last_check_at"]) if shown["last_check_at"] else None
    )
    return schemas.ProviderAccountOut(**shown).model_dump(mode="json")


@bp.get("/provider-accounts")
def list_provider_accounts():
    _admin()
    query = sa.select(ProviderAccount).order_by(ProviderAccount.name)
    return paginate(query, lambda rows: [account_out(a) for a in rows])


@bp.post("/provider-accounts")
def add_provider_account():
    _admin()
    body = load_body(schemas.ProviderAccountCreate)
    account = accounts.add_account(**body.model_dump(exclude_none=True))
    db.session.commit()
    return account_out(account), 201


@bp.patch("/provider-accounts/<int:account_id>")
def update_provider_account(account_id: int):
    _admin()
    body = load_body(schemas.ProviderAccountUpdate)
    account = accounts.get_account(account_id)
    accounts.set_hosts(account, body.hosts)
    db.session.commit()
    return account_out(account)


@bp.delete("/provider-accounts/<int:account_id>")
def delete_provider_account(account_id: int):
    _admin()
    accounts.delete_account(accounts.get_account(account_id))
    db.session.commit()
    return "", 204


@bp.post("/provider-accounts/<int:account_id>/check")
def check_provider_account(account_id: int):
    _admin()
    account = accounts.get_account(account_id)
    meetings.check_account(account)
    return account_out(account)
