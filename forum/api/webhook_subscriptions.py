"""API v1: an organiser's outbound webhook subscriptions and their delivery logs."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy.orm import selectinload

from forum.api import bp
from forum.api import schemas
from forum.api.util import current_organiser
from forum.api.util import load_body
from forum.api.util import paginate
from forum.core.times import format_instant
from forum.extensions import db
from forum.webhooks import outbound
from forum.webhooks.outbound import WebhookDelivery
from forum.webhooks.outbound import WebhookSubscription


def _instant(value: dt.datetime | None) -> str | None:
    return format_instant(value) if value else None


def subscription_out(subscription: WebhookSubscription) -> dict:
    return schemas.WebhookSubscriptionOut(**_subscription_fields(subscription)).model_dump(
        mode="json"
    )


def _subscription_fields(subscription: WebhookSubscription) -> dict:
    return {
        "id": subscription.id,
        "url": subscription.url,
        "event_types": list(subscription.event_types),
        "active": subscription.active,
        "created": format_instant(subscription.created_at),
        "consecutive_failures": subscription.consecutive_failures,
        "failing_since": _instant(subscription.failing_since),
        "disabled_at": _instant(subscription.disabled_at),
        "disabled_reason": subscription.disabled_reason,
    }


def delivery_out(delivery: WebhookDelivery) -> dict:
    return schemas.WebhookDeliveryOut(
        id=delivery.id,
        event_id=delivery.event_id,
        type=delivery.type,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created=format_instant(delivery.created_at),
        delivered_at=_instant(delivery.delivered_at),
        next_attempt_at=_instant(delivery.next_attempt_at),
        payload=json.loads(delivery.payload),
        attempt_log=[
            schemas.DeliveryAttemptOut(
                number=attempt.number,
                at=format_instant(attempt.at),
                status_code=attempt.status_code,
                duration_ms=attempt.duration_ms,
                error=attempt.error,
            )
            for attempt in delivery.attempt_log
        ],
    ).model_dump(mode="json")


@bp.get("/webhook-subscriptions")
def list_webhook_subscriptions():
    query = outbound.subscriptions_of(current_organiser())
    return paginate(query, lambda rows: [subscription_out(s) for s in rows])


@bp.post("/webhook-subscriptions")
def create_webhook_subscription():
    body = load_body(schemas.WebhookSubscriptionCreate)
    subscription, secret = outbound.create_subscription(
        current_organiser(), url=body.url, event_types=body.event_types, secret=body.secret
    )
    db.session.commit()
    # The one answer that carries the secret: it is stored encrypted and never shown again.
    created = schemas.WebhookSubscriptionCreatedOut(
        **_subscription_fields(subscription), secret=secret
    )
    return created.model_dump(mode="json"), 201


@bp.delete("/webhook-subscriptions/<int:subscription_id>")
def delete_webhook_subscription(subscription_id: int):
    subscription = outbound.get_subscription_for(current_organiser(), subscription_id)
    outbound.delete_subscription(subscription)
    db.session.commit()
    return "", 204


@bp.get("/webhook-subscriptions/<int:subscription_id>/deliveries")
def list_webhook_deliveries(subscription_id: int):
    subscription = outbound.get_subscription_for(current_organiser(), subscription_id)
    query = outbound.deliveries_of(subscription).options(selectinload(WebhookDelivery.attempt_log))
    return paginate(query, lambda rows: [delivery_out(d) for d in rows])


@bp.post("/webhook-subscriptions/<int:subscription_id>/deliveries/<int:delivery_id>/redeliver")
def redeliver_webhook(subscription_id: int, delivery_id: int):
    subscription = outbound.get_subscription_for(current_organiser(), subscription_id)
    delivery = outbound.redeliver(outbound.get_delivery_for(subscription, delivery_id))
    db.session.commit()
    # Accepted: with a worker the send happens later; inline it has happened by now, and
    # the answer shows its outcome.
    return delivery_out(delivery), 202
