"""Bearer-token authentication for every API v1 endpoint."""

from __future__ import annotations

from flask import g
from flask import request

from forum.accounts.services import organiser_for_token
from forum.api import bp
from forum.core.errors import Unauthorized
from forum.extensions import db
from forum.i18n import _
from forum.security import BAD_TOKENS
from forum.security import count_failure

# The participant's own answers to a poll: their secret link authorises them.
PUBLIC_ENDPOINTS = {"api.openapi_document", "api.docs", "api.get_ballot", "api.answer_ballot"}


@bp.before_request
def require_token() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if not header:
        raise Unauthorized(_("send an API token: Authorization: Bearer <token>"))
    if scheme.lower() != "bearer" or not token.strip():
        count_failure(BAD_TOKENS, "invalid API tokens")
        raise Unauthorized(
            _("the Authorization header must read: Bearer <token>"), code="invalid_token"
        )
    organiser = organiser_for_token(token.strip())
    if organiser is None:
        # Only failures count, by address: a valid token is never refused by this limit,
        # whoever else fails from the same address.
        count_failure(BAD_TOKENS, "invalid API tokens")
        raise Unauthorized(_("this API token is unknown or revoked"), code="invalid_token")
    # Recording last use is its own small unit of work, kept whatever the request does.
    db.session.commit()
    g.api_organiser = organiser
