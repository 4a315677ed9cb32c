"""The background jobs: small tasks that take ids and call services."""

from __future__ import annotations

from celery import shared_task

from forum.notifications.dispatch import send_message
from forum.notifications.senders import SendError

# Mail servers that refuse for a while (greylisting, rate limits) usually accept later:
# retry with a growing pause, for about a day in all.
EMAIL_RETRIES = 10


@shared_task(bind=True, name="forum.send_email", max_retries=EMAIL_RETRIES)
def send_email(self, message_id: int) -> str:
    """Send one recorded email (forum.notifications.dispatch); safe to run twice."""
    try:
        return send_message(message_id)
    except SendError as error:
        if self.request.is_eager or not error.temporary:
            # Inline, nothing waits to retry: the message stays "failed" and
            # `forum send-pending` (or the next worker run) sends it later.
            return "failed"
        raise self.retry(
            exc=error, countdown=min(4 * 3600, 60 * 2**self.request.retries)
        ) from error
