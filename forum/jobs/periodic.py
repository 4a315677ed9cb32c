"""Periodic jobs without a broker: the beat schedule run inline, by a thread or a command.

With ``CELERY_BROKER_URL`` set, Celery beat (``make beat``) runs the schedule and this module
stays out of the way. Without one, the web process runs it in a daemon thread, started at
the first request the process serves (never in the reloader's watching process, nor in a
command such as ``flask db upgrade``, which serve none), or ``flask forum run-periodic``
runs it for cron or as a companion process. Either way the schedule is the one Celery beat
reads (``forum.jobs.BEAT_SCHEDULE``), and a lock file in the instance folder lets only one
process on the machine run it at a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import IO
from typing import Any

import click
from flask import Flask
from flask import current_app
from flask.cli import with_appcontext

from config import ConfigError

log = logging.getLogger("forum.jobs.periodic")

LOCK_FILE = "periodic.lock"


@dataclass(frozen=True)
class PeriodicJob:
    """One entry of the beat schedule: its name, the task it runs, and how often."""

    name: str
    task: str
    every: float


@dataclass(frozen=True)
class JobRun:
    job: PeriodicJob
    ok: bool
    result: Any


def periodic_jobs(app: Flask) -> list[PeriodicJob]:
    """The beat schedule of ``app``'s Celery app, with ``FORUM_PERIODIC_EVERY_SECONDS`` applied."""
    every_override = app.config.get("FORUM_PERIODIC_EVERY_SECONDS")
    jobs = []
    for name, entry in app.extensions["celery"].conf.beat_schedule.items():
        schedule = entry["schedule"]
        if isinstance(schedule, dt.timedelta):
            schedule = schedule.total_seconds()
        if not isinstance(schedule, int | float):
            raise ConfigError(
                f"periodic job {name}: only a number of seconds can be run without a broker"
            )
        jobs.append(PeriodicJob(name, entry["task"], float(every_override or schedule)))
    return jobs


def run_job(app: Flask, job: PeriodicJob) -> JobRun:
    """Run ``job``'s task inline, in its own app context; a failure is logged, not raised."""
    task = app.extensions["celery"].tasks[job.task]
    try:
        # The task class (forum.jobs.celery_init_app) gives the run its own app context.
        result = task.apply(throw=False)
        failed, value = result.failed(), result.result
    except Exception as exc:  # noqa: BLE001  (one failing job must not stop the others)
        failed, value = True, exc
    if failed:
        exc_info = value if isinstance(value, BaseException) else None
        log.error("periodic job %s (%s) failed", job.name, job.task, exc_info=exc_info)
        return JobRun(job, False, value)
    log.info("periodic job %s (%s): %s", job.name, job.task, value)
    return JobRun(job, True, value)


def run_all(app: Flask) -> list[JobRun]:
    """Run every periodic job once, in the schedule's order."""
    return [run_job(app, job) for job in periodic_jobs(app)]


class ScheduleLock:
    """An exclusive lock on a file in the instance folder, held by one process at a time."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._file: IO[str] | None = None

    @property
    def path(self) -> str:
        # Read when used: the instance folder may be set after the app is built.
        return os.path.join(self.app.instance_path, LOCK_FILE)

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> bool:
        """Take the lock if no other process holds it; True if this one holds it now."""
        if self._file is not None:
            return True
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        file = open(self.path, "a+")  # noqa: SIM115  (kept open while the lock is held)
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.close()
            return False
        self._file = file
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class Scheduler:
    """Runs each periodic job at its interval, the first time at start, while it holds the lock.

    A process that cannot take the lock (another one runs the schedule) tries again at the
    shortest interval, so the schedule goes on when that process ends.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.jobs = periodic_jobs(app)
        self.lock = ScheduleLock(app)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._next: dict[str, float] = {}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the daemon thread; calling it again (each request does) changes nothing."""
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self.run_forever, name="forum-periodic", daemon=True
            )
            self._thread.start()
            log.info("periodic jobs run in this process (no broker): %s", self.describe())

    def stop(self, timeout: float = 60.0) -> None:
        """Stop after the job running now, if any, and release the lock."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    def describe(self) -> str:
        return ", ".join(f"{job.name} every {job.every:g}s" for job in self.jobs)

    def run_due(self) -> list[JobRun]:
        """Run the jobs whose time has come (all of them the first time); needs the lock."""
        runs = []
        for job in self.jobs:
            if self._stop.is_set():
                break
            if time.monotonic() >= self._next.get(job.name, 0.0):
                runs.append(run_job(self.app, job))
                self._next[job.name] = time.monotonic() + job.every
        return runs

    def run_forever(self) -> None:
        """Run due jobs until stopped; used by the thread and by ``run-periodic``."""
        shortest = min((job.every for job in self.jobs), default=60.0)
        waiting_logged = False
        try:
            while not self._stop.is_set():
                if not self.lock.acquire():
                    if not waiting_logged:
                        log.info("another process runs the periodic jobs (%s)", self.lock.path)
                        waiting_logged = True
                    self._stop.wait(shortest)
                    continue
                try:
                    self.run_due()
                except Exception:
                    # run_job logs a job's own failure; this is anything around it.
                    log.exception("periodic jobs: a round failed")
                pause = min(self._next.values(), default=time.monotonic() + shortest)
                self._stop.wait(max(pause - time.monotonic(), 0.05))
        finally:
            self.lock.release()


@click.command("run-periodic")
@click.option("--once", is_flag=True, help="Run every periodic job once, then exit (for cron).")
@with_appcontext
def run_periodic(once: bool) -> None:
    """Run the periodic jobs of the beat schedule here, inline: each at its interval until
    stopped, or each once with --once (exit status 1 if one failed). Only one process on the
    machine runs them at a time; with a broker, `make beat` is the usual way."""
    app = current_app._get_current_object()
    scheduler = Scheduler(app)
    if once:
        if not scheduler.lock.acquire():
            click.echo(f"another process runs the periodic jobs ({scheduler.lock.path})")
            return
        try:
            runs = scheduler.run_due()
        finally:
            scheduler.lock.release()
        for run in runs:
            outcome = run.result if run.ok else f"failed: {run.result!r}"
            click.echo(f"{run.job.name}: {outcome}")
        if not all(run.ok for run in runs):
            raise SystemExit(1)
        return
    click.echo(f"running the periodic jobs: {scheduler.describe()} (Ctrl+C stops)")
    with contextlib.suppress(KeyboardInterrupt):
        scheduler.run_forever()


def inline_scheduler_wanted(app: Flask) -> bool:
    """``FORUM_INLINE_SCHEDULER``; unset: on without a broker (not in tests), off with one."""
    setting = app.config.get("FORUM_INLINE_SCHEDULER")
    has_broker = bool(app.config.get("CELERY_BROKER_URL"))
    if setting is None:
        return not has_broker and not app.testing
    if setting and has_broker:
        raise ConfigError(
            "FORUM_INLINE_SCHEDULER cannot be on when CELERY_BROKER_URL is set: "
            "Celery beat (make beat) runs the periodic jobs then"
        )
    return bool(setting)


def init_app(app: Flask) -> None:
    """Add ``forum run-periodic``; without a broker (unless turned off) run the schedule from
    the first request on."""
    from forum.cli import forum_cli

    forum_cli.add_command(run_periodic)
    if not inline_scheduler_wanted(app):
        return
    scheduler = Scheduler(app)
    app.extensions["forum_scheduler"] = scheduler
    # At the first request, not now: the reloader's watching process and commands such as
    # `flask db upgrade` build the app too but serve no request, and a thread started before
    # a server forks its workers would not survive into them.
    app.before_request(scheduler.start)


__all__ = [
    "JobRun",
    "PeriodicJob",
    "Scheduler",
    "ScheduleLock",
    "init_app",
    "inline_scheduler_wanted",
    "periodic_jobs",
    "run_all",
    "run_job",
    "run_periodic",
]
