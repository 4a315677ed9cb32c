"""Load: gunicorn on PostgreSQL takes a burst of signed Zoom deliveries, 10 % of them repeats,
while a real Celery worker (2 processes) and beat process them beside it; every distinct
delivery is stored and processed exactly once, none lost, and every participant's
attendance comes out whole whatever order the worker took the joins and leaves in.

The rate is printed, not asserted: on a busy machine it says nothing about the code.
`make bench` (benchmarks/webhook_load.py) measures it beside a baseline and judges the
target.
"""

from __future__ import annotations

import tempfile

import pytest

from benchmarks.webhook_load import MEETING_ID
from benchmarks.webhook_load import SECRET
from benchmarks.webhook_load import START_MS
from benchmarks.webhook_load import gunicorn
from benchmarks.webhook_load import jobs_layout
from benchmarks.webhook_load import outcome_of
from benchmarks.webhook_load import prepare
from benchmarks.webhook_load import run_load
from benchmarks.webhook_load import server_env
from benchmarks.webhook_load import wait_until_processed
from benchmarks.webhook_load import with_duplicates
from benchmarks.webhook_load import zoom_attendance_deliveries
from tests.celery_worker import REDIS_URL
from tests.celery_worker import purge_queue
from tests.celery_worker import redis_available
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
        env = server_env(database.url, REDIS_URL, queue)
        with (
            tempfile.TemporaryDirectory(prefix="forum-jobs-") as folder,
            gunicorn(env, port),
            jobs_layout(env, queue, folder),
        ):
            result = run_load("127.0.0.1", port, "/webhooks/zoom", mixed, processes=2, threads=8)
            backlog, seconds = wait_until_processed(database.url, timeout=300)
        print(
            f"\nwebhook intake: {result.ok} of {result.sent} deliveries answered 2xx in "
            f"{result.seconds:.2f} s: {result.per_second:.0f} per second "
            f"({len(mixed) - DISTINCT} repeats); {DISTINCT - backlog} processed during the "
            f"burst, the other {backlog} in {seconds:.2f} s after it"
        )
        assert (result.ok, result.failed) == (len(mixed), 0)
        outcome = outcome_of(database.url)
        assert outcome.stored == DISTINCT  # every distinct delivery stored, repeats not
        assert outcome.failed == 0
        assert outcome.processed_once == DISTINCT  # each processed, exactly once
        assert outcome.attendance == DISTINCT // 2
        assert outcome.attendance_whole == DISTINCT // 2
    finally:
        purge_queue(queue, REDIS_URL)
        database.drop()
