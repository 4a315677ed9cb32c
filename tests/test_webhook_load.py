"""Load: gunicorn on PostgreSQL takes a burst of signed Zoom deliveries, 10 % of them repeats,
and every distinct one is stored and processed exactly once (by a real worker), none lost.

The rate is printed, not asserted: on a busy machine it says nothing about the code.
`make bench` (benchmarks/webhook_load.py) measures it beside a baseline and judges the
target.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from benchmarks.webhook_load import MEETING_ID
from benchmarks.webhook_load import SECRET
from benchmarks.webhook_load import SETTINGS
from benchmarks.webhook_load import START_MS
from benchmarks.webhook_load import gunicorn
from benchmarks.webhook_load import prepare
from benchmarks.webhook_load import run_load
from benchmarks.webhook_load import server_env
from benchmarks.webhook_load import with_duplicates
from benchmarks.webhook_load import zoom_attendance_deliveries
from forum.webhooks.models import Attendance
from forum.webhooks.models import InboxEntry
from tests.celery_worker import REDIS_URL
from tests.celery_worker import purge_queue
from tests.celery_worker import redis_available
from tests.celery_worker import running_worker
from tests.celery_worker import unique_queue
from tests.conftest import TempPostgres
from tests.conftest import missing_service
from tests.workers import free_port

DISTINCT = 3000


@pytest.mark.slow
def test_intake_under_load_stores_and_processes_every_delivery_once():
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    database = TempPostgres()
    queue = unique_queue()
    port = free_port()
    try:
        prepare(database.url)
        distinct = zoom_attendance_deliveries(
            SECRET, meeting_id=MEETING_ID, count=DISTINCT, start_ms=START_MS
        )
        mixed = with_duplicates(distinct, 1 / 9)  # repeats are 10 % of what is sent
        with gunicorn(server_env(database.url, REDIS_URL, queue), port):
            result = run_load("127.0.0.1", port, "/webhooks/zoom", mixed, processes=2, threads=8)
        print(
            f"\nwebhook intake: {result.ok} of {result.sent} deliveries answered 2xx in "
            f"{result.seconds:.2f} s: {result.per_second:.0f} per second "
            f"({len(mixed) - DISTINCT} repeats)"
        )
        assert (result.ok, result.failed) == (len(mixed), 0)

        # Processing: a real worker drains the queue.
        engine = sa.create_engine(database.url)
        worker_env = dict(SETTINGS)
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
        purge_queue(queue, REDIS_URL)
        database.drop()
