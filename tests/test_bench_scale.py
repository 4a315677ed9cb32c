"""`make bench-scale` at a tiny size runs to the end on the real stack and finds it correct.

Two gunicorn app processes, two Celery workers and beat on PostgreSQL and Redis, a term
seeded by seed-semester: every feed answers through both app processes with the same bytes
(a feed built through one answers 304 through the other), a burst of signed Zoom
deliveries with repeats, split across both processes, is stored and processed exactly
once with each attendance row whole, and moving one course changes its students' feeds
and no one else's. Figures are printed, never asserted.
"""

from __future__ import annotations

import pytest

from benchmarks import bench_scale
from tests.celery_worker import REDIS_URL
from tests.celery_worker import redis_available
from tests.conftest import POSTGRES_URL
from tests.conftest import missing_service
from tests.conftest import postgres_admin_engine

CHECKS = (
    "seeded students",
    "healthz",
    "cold feeds answer 200",
    "one shared copy of each feed in Redis after the cold pass",
    "a feed built through one app process answers 304 through the other",
    "warm feeds answer 200 with the cold ETag",
    "feeds byte for byte identical through both app processes",
    "every delivery answered 2xx",
    "each distinct delivery stored once",
    "each stored delivery processed exactly once",
    "attendance exact (each join met by its leave)",
    "the session moves through the API",
    "every moved student's feed changed",
    "other students' feeds unchanged (304)",
)


@pytest.mark.slow
def test_the_scale_bench_runs_to_the_end_and_finds_everything_correct(capsys):
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    postgres_admin_engine().dispose()  # fails in CI, skips elsewhere, when it is missing

    status = bench_scale.main(
        ["--quick", "--postgres-url", POSTGRES_URL, "--redis-url", REDIS_URL.rsplit("/", 1)[0]]
    )

    printed = capsys.readouterr().out
    with capsys.disabled():
        print("\n" + printed)
    assert status == 0
    for name in CHECKS:
        assert f"check {name}: ok" in printed
    assert "FAILED" not in printed
    assert "correctness: every check passed" in printed
