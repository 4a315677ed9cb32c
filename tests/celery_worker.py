"""Start a real Celery worker (``celery -A wsgi:celery_app worker``) for a test, and stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path

import pytest
import redis

from forum.webhooks.inbound import DRAIN_PENDING_KEY
from tests.workers import WORKER
from tests.workers import claim_redis_database

ROOT = Path(__file__).resolve().parent.parent
CELERY = Path(sys.executable).parent / "celery"
REDIS_URL = f"redis://127.0.0.1:6379/{claim_redis_database()}"
READY_TIMEOUT_SECONDS = 30.0


def unique_queue() -> str:
    """A queue name of its own, so parallel runs on one Redis never take each other's jobs."""
    return f"forum-test-{WORKER or 'main'}-{uuid.uuid4().hex[:12]}"


def redis_available(url: str = REDIS_URL) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def purge_queue(queue: str, url: str = REDIS_URL) -> None:
    """Delete a queue's messages, kombu's bindings for it and the intake's drain flag."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        # kombu's Redis transport keeps a list per queue and one more per priority
        # ("<queue>\x06\x16<n>"); Celery's default exchange bears the queue's name.
        priorities = list(client.scan_iter(match=f"{queue}\x06\x16*"))
        bindings = [f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
        # The flag stands for a drain job queued and not started: purged with the queue, it
        # would keep the next test's intake from queueing one until it expires.
        client.delete(queue, *priorities, *bindings, DRAIN_PENDING_KEY)
        client.zrem("_kombu.binding_deadlines", queue)
    finally:
        client.close()


@contextlib.contextmanager
def running_worker(
    database_url: str,
    queue: str,
    extra_env: Mapping[str, str] | None = None,
    include: Iterable[str] = (),
    broker_url: str = REDIS_URL,
    name: str = "worker",
) -> Iterator[Path]:
    """Run a one-process worker on ``queue`` until the block ends; yield its log file.

    ``name`` tells apart several workers on one queue (their Celery hostnames).

    The worker builds the app from the environment, as in production, with ``database_url``
    and the modules in ``include`` (test-only tasks, imported from the project root). Its log
    is attached to an exception raised in the block, and shown if the worker does not start.
    """
    with tempfile.TemporaryDirectory(prefix="forum-worker-") as log_dir:
        yield from _run(
            database_url, queue, extra_env, include, broker_url, Path(log_dir), name=name
        )


@contextlib.contextmanager
def running_beat(
    database_url: str,
    queue: str,
    extra_env: Mapping[str, str] | None = None,
    broker_url: str = REDIS_URL,
) -> Iterator[Path]:
    """Run Celery beat (the product's schedule, sent to ``queue``) until the block ends."""
    with tempfile.TemporaryDirectory(prefix="forum-beat-") as folder:
        log_path = Path(folder) / "beat.log"
        command = [
            str(CELERY),
            "-A",
            "wsgi:celery_app",
            "beat",
            "--loglevel=INFO",
            "--schedule",
            str(Path(folder) / "celerybeat-schedule"),
        ]
        env = _environment(database_url, queue, broker_url, extra_env)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(  # noqa: S603 (our own venv's celery, fixed arguments)
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            deadline = time.monotonic() + READY_TIMEOUT_SECONDS
            while "beat: Starting..." not in _read(log_path):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"beat did not start:\n{_read(log_path)}", pytrace=False)
                time.sleep(0.05)
            try:
                yield log_path
            except BaseException as exc:
                exc.add_note(f"beat log:\n{_read(log_path)}")
                raise
        finally:
            _stop(process)


def _environment(
    database_url: str, queue: str, broker_url: str, extra_env: Mapping[str, str] | None
) -> dict[str, str]:
    return {
        **os.environ,
        "FORUM_ENV": "testing",
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "FORUM_JOBS_QUEUE": queue,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }


def _run(
    database_url: str,
    queue: str,
    extra_env: Mapping[str, str] | None,
    include: Iterable[str],
    broker_url: str,
    log_dir: Path,
    *,
    name: str = "worker",
) -> Iterator[Path]:
    log_path = log_dir / f"{name}.log"
    hostname = f"{name}-{queue}@%h"
    env = _environment(database_url, queue, broker_url, extra_env)
    command = [
        str(CELERY),
        "-A",
        "wsgi:celery_app",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "-Q",
        queue,
        "--hostname",
        hostname,
        # Mingle and gossip talk to other workers: none of them is ours, and mingle alone
        # adds about a second to the start.
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
    ]
    for module in include:
        command += ["--include", module]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 (our own venv's celery, fixed arguments)
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_ready(process, log_path)
        try:
            yield log_path
        except BaseException as exc:
            exc.add_note(f"worker log:\n{_read(log_path)}")
            raise
    finally:
        _stop(process)


def _wait_until_ready(process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        # Celery logs "<hostname> ready." once it consumes from its queues.
        if " ready." in _read(log_path):
            return
        if process.poll() is not None:
            pytest.fail(
                f"the worker exited with {process.returncode} before it was ready:\n"
                + _read(log_path),
                pytrace=False,
            )
        time.sleep(0.05)
    pytest.fail(
        f"the worker was not ready after {READY_TIMEOUT_SECONDS:.0f} s:\n" + _read(log_path),
        pytrace=False,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        # SIGTERM is Celery's warm shutdown: it finishes the task in hand, then exits.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _read(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
