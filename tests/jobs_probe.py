"""Probe tasks for the job tests, loaded into a real worker with ``--include tests.jobs_probe``."""

from __future__ import annotations

import json
from pathlib import Path

from celery import Task
from celery import shared_task
from flask import current_app
from flask import has_app_context

from forum.accounts.models import Organiser
from forum.extensions import db


@shared_task(name="tests.jobs_probe.mark_organiser")
def mark_organiser(organiser_id: int, marker_dir: str) -> None:
    """Write what the job saw of the organiser to a file, then append " (seen)" to their name."""
    context = has_app_context()
    organiser = db.session.get(Organiser, organiser_id)
    seen = {
        "app_context": context,
        "queue": current_app.config["FORUM_JOBS_QUEUE"],
        "name": organiser.name if organiser else None,
        "session": id(db.session()),
    }
    if organiser is not None:
        organiser.name += " (seen)"
        db.session.commit()
    # Written last, so a test that finds the file also finds the commit.
    marker = Path(marker_dir) / f"{organiser_id}.json"
    marker.with_suffix(".tmp").write_text(json.dumps(seen))
    marker.with_suffix(".tmp").replace(marker)


@shared_task(name="tests.jobs_probe.fail")
def fail(message: str) -> None:
    raise RuntimeError(message)


@shared_task(
    name="tests.jobs_probe.flaky",
    bind=True,
    autoretry_for=(RuntimeError,),
    max_retries=3,
    default_retry_delay=0,
)
def flaky(self: Task, marker_dir: str, failures: int) -> None:
    """Fail ``failures`` times, then succeed; each try appends its retry count to a file."""
    with (Path(marker_dir) / "tries").open("a") as tries:
        tries.write(f"{self.request.retries}\n")
    if self.request.retries < failures:
        raise RuntimeError(f"try {self.request.retries} fails")
