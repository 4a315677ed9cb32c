"""``POST /webhooks/<provider>``: verify, store once, answer at once; the workers do the rest."""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import abort
from flask import jsonify
from flask import request

from forum.security import BAD_WEBHOOKS
from forum.security import count_failure
from forum.webhooks import inbound

bp = Blueprint("webhooks", __name__)
log = logging.getLogger("forum.webhooks")


@bp.post("/webhooks/<provider>")
def receive(provider: str):
    if provider not in inbound.INBOUND_PROVIDERS:
        abort(404)
    body = request.get_data()
    try:
        intake = inbound.receive(provider, request.headers, body, query=request.args)
    except inbound.DeliveryRefused as refused:
        # Nothing is stored; one line says why, for whoever configures the provider.
        log.warning("refused a %s delivery from %s: %s", provider, request.remote_addr, refused)
        # Past the limit of failures from this address the answer is 429; verified
        # deliveries never count, so a provider's burst is never refused.
        count_failure(BAD_WEBHOOKS, "webhook deliveries that did not verify")
        return jsonify(
            error={
                "code": "unauthorized",
                "message": "the delivery's signature or token did not verify",
                "details": {},
            }
        ), 401
    if intake.reply is not None:
        return Response(
            intake.reply.body, status=intake.reply.status, content_type=intake.reply.content_type
        )
    # Stored and committed by the intake, which writes through a connection of its own.
    return jsonify(received=len(intake.stored), duplicates=intake.duplicates), 200
