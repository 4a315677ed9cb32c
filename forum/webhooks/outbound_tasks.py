"""Jobs of outbound webhooks: one delivery attempt, and the periodic sweep of due deliveries."""

from __future__ import annotations

import logging

from celery import shared_task

from forum.webhooks import outbound

log = logging.getLogger("forum.webhooks.outbound")


@shared_task(bind=True, name="forum.deliver_webhook")
def deliver_webhook(self, delivery_id: int) -> str:
    """Send one delivery if it is due; on failure schedule the next attempt (with a broker)."""
    outcome = outbound.deliver(delivery_id)
    # Inline (no broker) a countdown would run at once: the row's next_attempt_at waits for
    # deliver_due_webhooks instead.
    if outcome.retry_in is not None and not self.app.conf.task_always_eager:
        try:
            deliver_webhook.apply_async(args=[delivery_id], countdown=outcome.retry_in)
        except Exception:
            # The attempt is recorded and next_attempt_at set: the sweep sends it when due.
            log.exception("retry of webhook delivery %s not queued", delivery_id)
    return outcome.status


@shared_task(bind=True, name="forum.deliver_due_webhooks")
def deliver_due_webhooks(self) -> int:
    """Periodic: send the deliveries whose next attempt is due (retries, lost jobs)."""
    due = outbound.due_delivery_ids()
    for delivery_id in due:
        if self.app.conf.task_always_eager:
            # Inline, one after the other in this job, whose failure then shows.
            outbound.deliver(delivery_id)
        else:
            deliver_webhook.delay(delivery_id)
    return len(due)
