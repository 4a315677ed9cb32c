"""``enqueue``: hand a job to Celery only once the transaction that asked for it commits."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from celery import Celery
from celery import Task
from flask import current_app
from sqlalchemy.orm import Session
from sqlalchemy.orm import SessionTransaction

from forum.extensions import db

logger = logging.getLogger("forum.jobs")

# Keys in Session.info: jobs waiting for the commit, and jobs whose commit has happened
# but whose transaction has not yet released its connection.
_PENDING = "forum.jobs.pending"
_COMMITTED = "forum.jobs.committed"


@dataclass(frozen=True)
class _Job:
    celery: Celery
    task_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    propagate: bool
    # The innermost savepoint open when the job was queued (None: the outer transaction),
    # so that rolling back that savepoint drops the job with the writes it was queued for.
    savepoint: SessionTransaction | None
    # Set for after_commit(): a callable run in place of a task.
    action: Callable[[], None] | None = None


def enqueue(task: Task | str, *args: Any, **kwargs: Any) -> None:
    """Queue ``task(*args, **kwargs)`` to run once the current ``db.session`` transaction commits.

    ``task`` is a task or its name ("forum.send_email"): the services name the jobs they
    queue, since the jobs module imports the services whose work it runs.

    Nothing is sent before the commit, so a worker never looks for rows that are not there
    yet, and a rollback (of the transaction, or of the savepoint open at the call) drops the
    job. Called when no transaction is open, the job waits for the session's next commit; it
    is dropped if the session is closed first. Arguments must be plain JSON values (ids,
    strings, numbers, lists, dicts): anything else raises TypeError here, not in the worker.
    """
    celery_app: Celery = current_app.extensions["celery"]
    # An unknown task fails now, in the caller, rather than after the commit.
    name = celery_app.tasks[task if isinstance(task, str) else task.name].name
    try:
        payload = json.dumps([args, kwargs], allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"job {name} takes plain JSON values such as ids, not: {exc}") from None
    # The round trip hands inline jobs exactly what a worker would get (tuples become lists).
    plain_args, plain_kwargs = json.loads(payload)
    session = db.session()
    session.info.setdefault(_PENDING, []).append(
        _Job(
            celery=celery_app,
            task_name=name,
            args=plain_args,
            kwargs=plain_kwargs,
            propagate=bool(current_app.config.get("FORUM_JOBS_EAGER_PROPAGATE")),
            savepoint=session.get_nested_transaction(),
        )
    )


def after_commit(action: Callable[[], None]) -> None:
    """Run ``action`` once the current transaction commits (dropped with a rollback).

    For work that is not a job but must not happen before the commit either, such as
    telling a queue that there is work; a failing action is logged, not raised.
    """
    session = db.session()
    session.info.setdefault(_PENDING, []).append(
        _Job(
            celery=current_app.extensions["celery"],
            task_name="",
            args=[],
            kwargs={},
            propagate=False,
            savepoint=session.get_nested_transaction(),
            action=action,
        )
    )


def register_session_hooks() -> None:
    """Listen to commits and rollbacks of ``db.session``; safe to call once per app."""
    if sa.event.contains(db.session, "after_commit", _after_commit):
        return
    sa.event.listen(db.session, "after_commit", _after_commit)
    sa.event.listen(db.session, "after_soft_rollback", _after_soft_rollback)
    sa.event.listen(db.session, "after_transaction_end", _after_transaction_end)


def _after_commit(session: Session) -> None:
    # SQLAlchemy fires this when a savepoint is released too; only the outer commit counts.
    if session.in_nested_transaction():
        return
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.info.setdefault(_COMMITTED, []).extend(pending)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    # The outer transaction is over and its connection back in the pool, so an inline job
    # (own app context, own session) can take one even from a pool of one. Jobs still
    # pending here belong to a rollback or a close without commit: they go with the writes.
    committed = session.info.pop(_COMMITTED, [])
    dropped = session.info.pop(_PENDING, [])
    if dropped:
        logger.info("dropped %d job(s): their transaction did not commit", len(dropped))
    for job in committed:
        _dispatch(job)


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    # The outer transaction's own jobs were dropped when it ended; this handles savepoints.
    # A rolled-back subtransaction undoes the writes up to the nearest savepoint or the
    # outer transaction, so that is the boundary whose jobs go.
    boundary = previous_transaction
    while not boundary.nested and boundary.parent is not None:
        boundary = boundary.parent
    pending = session.info.get(_PENDING)
    if not pending or boundary.parent is None:
        return
    kept = [job for job in pending if not _inside(job.savepoint, boundary)]
    if len(kept) < len(pending):
        logger.info("dropped %d job(s): their savepoint rolled back", len(pending) - len(kept))
        session.info[_PENDING] = kept


def _inside(transaction: SessionTransaction | None, boundary: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is boundary:
            return True
        transaction = transaction.parent
    return False


def _dispatch(job: _Job) -> None:
    if job.action is not None:
        try:
            job.action()
        except Exception:
            logger.exception("an action after commit failed")
        return
    task = job.celery.tasks[job.task_name]
    if not job.celery.conf.task_always_eager:
        try:
            task.apply_async(args=job.args, kwargs=job.kwargs)
        except Exception:
            # The data is committed, so failing the caller now would report an error for
            # work that is saved; the job is lost, so say so loudly.
            logger.exception("job %s could not be sent to the broker after commit", job.task_name)
        return
    # throw=False for the same reason as task_eager_propagates=False: a job that retries
    # gets its tries inline, and only the last one's failure counts.
    result = task.apply(args=job.args, kwargs=job.kwargs, throw=False)
    if result.failed():
        exc = result.result
        if job.propagate:
            raise exc
        # As above: the commit that queued the job has happened and stands.
        logger.error(
            "job %s failed when run inline after commit",
            job.task_name,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
