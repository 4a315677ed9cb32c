"""The benchmarks run end to end on their quick inputs, and agree with their baselines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.celery_worker import REDIS_URL
from tests.celery_worker import redis_available
from tests.conftest import POSTGRES_URL
from tests.conftest import missing_service
from tests.conftest import postgres_admin_engine

ROOT = Path(__file__).resolve().parent.parent


def quick_run(module: str, *options: str) -> list[str]:
    """Run a benchmark on its quick input; it must exit 0. Its output's lines."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--quick", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


@pytest.mark.slow
def test_quick_slot_benchmark_runs_and_agrees_with_the_reference():
    lines = quick_run("benchmarks.bench_slots")
    assert lines[0].startswith("Slot search: 200 participants in 18 zones, 7 days")
    for label in ("engine find_slots", "engine + placements of 10", "reference find_slots"):
        line = next(line for line in lines if line.startswith(label))
        assert "median" in line and "p90" in line and "min" in line
    assert "same slots from both: yes" in lines
    assert any(line.startswith("speed-up (reference median / engine median): ") for line in lines)
    assert sum(line.startswith("target ") for line in lines) == 2


@pytest.mark.slow
def test_quick_feed_benchmark_runs_and_matches_icalendar():
    lines = quick_run("benchmarks.bench_feed")
    assert lines[0].startswith("Personal feed: 60 sessions")
    for label in (
        "first build (full request)",
        "unchanged feed (full request)",
        "304 for a matching ETag",
        "first build: ours (calendar_file)",
        "first build: icalendar alone",
    ):
        line = next(line for line in lines if line.startswith(label))
        assert "median" in line and "p90" in line and "min" in line
    assert "same bytes from both: yes" in lines
    assert "same bytes as the route serves: yes" in lines
    assert "rebuilt while unchanged: 0" in lines
    assert any(line.startswith("first build: ours / icalendar alone (medians): ") for line in lines)
    assert sum(line.startswith("target ") for line in lines) == 3


@pytest.mark.slow
def test_quick_planner_benchmark_runs_and_agrees_with_the_reference():
    lines = quick_run("benchmarks.bench_planner")
    assert lines[0].startswith("Planner: demo forum, 41 sites x 168 hours")
    for label in (
        "planner page (full request)",
        "grid: ours (planner_grid)",
        "grid: straightforward (reference)",
    ):
        line = next(line for line in lines if line.startswith(label))
        assert "median" in line and "p90" in line and "min" in line
    assert "same cells from both: yes" in lines
    assert sum(line.startswith("target ") for line in lines) == 2


@pytest.mark.slow
def test_quick_search_benchmark_runs_on_both_databases_and_agrees_with_the_reference():
    postgres_admin_engine().dispose()  # skips (fails in CI) when PostgreSQL is not there
    lines = quick_run(
        "benchmarks.bench_search", "--backend", "both", "--postgres-url", POSTGRES_URL
    )
    assert lines[0].startswith("Slot search through HTTP: 200 participants in 18 zones, 7 days")
    assert lines[0].endswith("on sqlite and postgresql")
    for backend in ("sqlite", "postgresql"):
        assert any(line.startswith(f"{backend}: 200 people, ") for line in lines)
        for mode in ("sites", "people"):
            label = f"{backend}: explain={mode}"
            line = next(line for line in lines if line.startswith(f"HTTP {label} "))
            assert "median" in line and "p90" in line and "min" in line
            answer = next(line for line in lines if line.startswith(f"  answer {label}: "))
            assert answer.endswith(" database queries")
            assert any(line.startswith(f"reference / HTTP median, {label}: ") for line in lines)
    line = next(line for line in lines if line.startswith("reference find_slots"))
    assert "median" in line
    assert "same slots from both: yes" in lines
    assert sum(line.startswith("target ") for line in lines) == 2 * 5


@pytest.mark.slow
def test_quick_import_benchmark_runs_on_both_databases_and_everything_lands():
    postgres_admin_engine().dispose()  # skips (fails in CI) when PostgreSQL is not there
    lines = quick_run(
        "benchmarks.bench_import", "--backend", "both", "--postgres-url", POSTGRES_URL
    )
    assert lines[0].startswith("Directory import through HTTP: 100 people a CSV file")
    assert lines[0].endswith("on sqlite and postgresql")
    for backend in ("sqlite", "postgresql"):
        for label, runs in (
            ("import, new people", 5),
            ("import, updates", 5),
            ("one POST /people each", 1),
        ):
            line = next(line for line in lines if line.startswith(f"{backend}: {label} "))
            assert "median" in line and "p90" in line and "min" in line
            assert line.endswith(f"({runs} runs)")
        assert any(
            line.startswith(f"{backend}: one POST per person / import median: ") for line in lines
        )
        # A warm-up and 5 timed files, each of 100 new people, then 100 created one by one.
        assert f"{backend}: people in the directory: 700 (expected 700)" in lines
        assert f"{backend}: people as sent, 10 read back from each file: yes" in lines
        target = f"target {backend}: import of 1,000 people <= 2 s: not judged on the quick input"
        assert any(line.startswith(target) for line in lines)
    assert sum(line.startswith("target ") for line in lines) == 2


@pytest.mark.slow
def test_quick_webhook_benchmark_runs_beside_its_baseline_and_loses_nothing():
    postgres_admin_engine().dispose()  # skips (fails in CI) when PostgreSQL is not there
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    lines = quick_run("benchmarks.webhook_load", "--postgres-url", POSTGRES_URL)
    assert lines[0].startswith("Webhook intake under gunicorn (3 workers x 4 threads)")
    assert lines[0].endswith("beside GET /healthz")
    for label in ("baseline GET /healthz", "intake POST /webhooks/zoom"):
        line = next(line for line in lines if line.startswith(label))
        assert "per second" in line and "333 of 333 answered 2xx" in line
    assert any(line.startswith("intake / baseline: ") for line in lines)
    assert "stored: 300 (expected 300; repeats dropped)" in lines
    assert any(line.startswith("processed exactly once: 300 of 300 ") for line in lines)
    assert "none lost or doubled: yes" in lines
    assert sum(line.startswith("target ") for line in lines) == 1
