"""Load: gunicorn on PostgreSQL takes 300+ signed Zoom deliveries a second, 10 % of them
repeats, and every distinct one is stored and processed exactly once (by a real worker)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from benchmarks.webhook_load import run_load
from benchmarks.webhook_load import with_duplicates
from benchmarks.webhook_load import zoom_attendance_deliveries
from forum import create_app
from forum.events import services
from forum.events.models import VideoMeeting
from forum.extensions import db
from forum.providers import accounts
from forum.webhooks.models import Attendance
from forum.webhooks.models import InboxEntry
from tests.celery_worker import REDIS_URL
from tests.celery_worker import purge_queue
from tests.celery_worker import redis_available
from tests.celery_worker import running_worker
from tests.celery_worker import unique_queue
from tests.conftest import TempPostgres
from tests.conftest import missing_service
from tests.workers import alone
from tests.workers import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "zoom-webhook-secret-token"
MEETING_ID = 92674392836
DISTINCT = 3000
TARGET_PER_SECOND = 300


def _prepare(url: str) -> None:
    """Migrate; an organiser, a Zoom account with its webhook secret, a session on Zoom."""
    from flask_migrate import upgrade

    from forum.accounts.services import create_organiser

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "load-test-secret-key"})
    with app.app_context():
        upgrade()
        organiser = create_organiser(email="load@example.org", name="Load", timezone="UTC")
        accounts.add_account(
            name="uni-zoom",
            kind="zoom",
            account_id="a",
            client_id="c",
            client_secret="s",
            webhook_secret=SECRET,
            hosts=["host1@uni.example"],
        )
        event = services.create_event(actor=organiser, title="Load", kind="forum")
        session = services.create_session(
            event,
            actor=organiser,
            title="Load test",
            start=dt.datetime(2027, 3, 10, 13, tzinfo=dt.UTC),
            duration_minutes=60,
            provider="jitsi",
            notify=False,
        )
        db.session.commit()
        meeting = db.session.scalar(
            sa.select(VideoMeeting).where(VideoMeeting.session_id == session.id)
        )
        meeting.provider, meeting.external_id, meeting.status = "zoom", str(MEETING_ID), "created"
        db.session.commit()
        db.engine.dispose()


@pytest.mark.slow
def test_intake_under_load_stores_and_processes_every_delivery_once():
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    database = TempPostgres()
    queue = unique_queue()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "SECRET_KEY": "load-test-secret-key",
        "FORUM_ENV": "testing",
        "CELERY_BROKER_URL": REDIS_URL,
        "FORUM_JOBS_QUEUE": queue,
        "MAIL_BACKEND": "memory",
    }
    server = None
    try:
        _prepare(database.url)
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--workers",
                "3",
                # Threads let a worker keep connections alive between deliveries.
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)

        distinct = zoom_attendance_deliveries(
            SECRET, meeting_id=MEETING_ID, count=DISTINCT, start_ms=1_800_000_000_000
        )
        mixed = with_duplicates(distinct, 1 / 9)  # repeats are 10 % of what is sent
        # The rate is the machine's: other workers' tests would take cores from it.
        with alone():
            result = run_load("127.0.0.1", port, "/webhooks/zoom", mixed, processes=2, threads=8)
        print(
            f"\nwebhook intake: {result.ok} of {result.sent} deliveries answered 2xx in "
            f"{result.seconds:.2f} s: {result.per_second:.0f} per second "
            f"({len(mixed) - DISTINCT} repeats)"
        )
        assert result.failed == 0
        assert result.per_second >= TARGET_PER_SECOND

        # Processing: a real worker drains the queue.
        engine = sa.create_engine(database.url)
        worker_env = {"MAIL_BACKEND": "memory", "SECRET_KEY": env["SECRET_KEY"]}
        with running_worker(database.url, queue, extra_env=worker_env):
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    left = conn.scalar(
                        sa.select(sa.func.count())
                        .select_from(InboxEntry)
                        .where(InboxEntry.status == "received")
                    )
                if left == 0:
                    break
                time.sleep(0.5)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(InboxEntry.status, InboxEntry.attempts)).all()
            errors = conn.scalars(sa.select(InboxEntry.error).limit(3)).all()
            people = conn.scalar(sa.select(sa.func.count()).select_from(Attendance))
        engine.dispose()
        assert len(rows) == DISTINCT  # every distinct delivery stored, repeats not
        assert {status for status, _ in rows} == {"processed"}, errors
        assert {attempts for _, attempts in rows} == {1}  # each processed exactly once
        assert people == DISTINCT // 2
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
            server.stderr.close()
        purge_queue(queue, REDIS_URL)
        database.drop()
