"""Background jobs: the Celery app bound to the Flask app, and ``enqueue`` after commit."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery import Task
from celery.signals import worker_init
from flask import Flask

from config import check_broker_url
from forum.extensions import db
from forum.jobs.queue import enqueue
from forum.jobs.queue import register_session_hooks

# The periodic jobs, each with its interval in seconds: with a broker `make beat` runs them
# next to the workers; without one the web process or `flask forum run-periodic` does
# (forum.jobs.periodic). This is the one schedule both read.
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "check-providers": {"task": "forum.check_providers", "schedule": 3600.0},
    # A net under the webhook intake's drain jobs (forum.webhooks.inbound).
    "drain-webhook-inbox": {"task": "forum.drain_inbox", "schedule": 60.0},
    "retry-deferred-meetings": {"task": "forum.retry_deferred_meetings", "schedule": 900.0},
    "deliver-due-webhooks": {"task": "forum.deliver_due_webhooks", "schedule": 60.0},
    # Retries of emails whose time has come, and emails a dead worker left behind.
    "send-due-emails": {"task": "forum.send_due_emails", "schedule": 60.0},
    # Before each occurrence (forum.reminders): reminders to invitees, checks of the meeting.
    "send-reminders": {"task": "forum.send_reminders", "schedule": 60.0},
    "preflight-checks": {"task": "forum.preflight_checks", "schedule": 300.0},
    # Polls whose closing time has passed: everyone is told once (forum.polls).
    "close-due-polls": {"task": "forum.close_due_polls", "schedule": 300.0},
    # Without a broker: the invitations of timetable imports, a minute's worth at a time
    # (forum.timetables.sending).
    "send-timetable-invitations": {
        "task": "forum.resume_timetable_invitations",
        "schedule": 60.0,
    },
}


def _schedule(every: float | None) -> dict[str, dict[str, Any]]:
    """The beat schedule; ``every`` (FORUM_PERIODIC_EVERY_SECONDS) replaces each interval,
    to try the periodic jobs out."""
    return {
        name: {**entry, "schedule": every} if every else dict(entry)
        for name, entry in BEAT_SCHEDULE.items()
    }


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for ``app`` (``app.extensions["celery"]``); tasks run in its context.

    Without ``CELERY_BROKER_URL`` jobs run inline in the process that queued them, right after
    its commit; with one, a worker started with ``celery -A wsgi:celery_app worker`` runs them.
    """

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            # A fresh app context gives the task its own db.session (Flask-SQLAlchemy scopes
            # sessions per app context): an inline job never shares the session of the code
            # that queued it, which is mid-commit and cannot run SQL.
            with app.app_context():
                try:
                    return self.run(*args, **kwargs)
                finally:
                    db.session.remove()

    broker_url = check_broker_url("CELERY_BROKER_URL", app.config.get("CELERY_BROKER_URL") or "")
    result_backend = app.config.get("CELERY_RESULT_BACKEND") or None
    queue = app.config.get("FORUM_JOBS_QUEUE") or "forum"
    # The worker imports `include` at start, so it knows the product's tasks; a web process
    # imports a task where it queues it.
    celery_app = Celery(
        app.name, task_cls=FlaskTask, include=["forum.jobs.tasks", "forum.webhooks.outbound_tasks"]
    )
    celery_app.conf.update(
        # memory:// only keeps Celery from defaulting to amqp://localhost in inline mode;
        # nothing is ever sent through it because every task runs eagerly.
        broker_url=broker_url or "memory://",
        broker_connection_retry_on_startup=True,
        result_backend=result_backend,
        task_ignore_result=result_backend is None,
        # JSON only: a pickled message from the broker could run code in the worker.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # Acknowledge after the task ran, and requeue it if the worker dies mid-task:
        # tasks are idempotent, so running one twice is safe; losing one is not.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queue,
        task_always_eager=not broker_url,
        # Off whatever FORUM_JOBS_EAGER_PROPAGATE says (enqueue raises for it once the job
        # is done): on, Celery raises a task's Retry instead of running the retry inline.
        task_eager_propagates=False,
        enable_utc=True,
        timezone="UTC",
        # A copy each: Celery beat keeps its own state in the entries it is given.
        beat_schedule=_schedule(app.config.get("FORUM_PERIODIC_EVERY_SECONDS")),
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    register_session_hooks()
    return celery_app


@worker_init.connect(weak=False, dispatch_uid="forum.jobs.refuse_inline_worker")
def _refuse_inline_worker(sender: Any = None, **_: Any) -> None:
    # A worker on the placeholder memory:// broker would start and wait for ever for jobs
    # that the web processes run inline; stop with the reason instead.
    if sender is not None and sender.app.conf.task_always_eager:
        raise SystemExit(
            "forum: configuration error: CELERY_BROKER_URL is not set, so jobs run inline "
            "in the web process and a worker has nothing to do"
        )


__all__ = ["BEAT_SCHEDULE", "celery_init_app", "enqueue"]
