"""The slot-search benchmark runs end to end on its quick input and agrees with the reference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_slot_benchmark_runs_and_agrees_with_the_reference():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_slots", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Slot search: 200 participants in 18 zones, 7 days")
    for label in ("engine find_slots", "engine + placements of 10", "reference find_slots"):
        line = next(line for line in lines if line.startswith(label))
        assert "median" in line and "p90" in line and "min" in line
    assert "same slots from both: yes" in lines
    assert any(line.startswith("speed-up (reference median / engine median): ") for line in lines)
    assert sum(line.startswith("target ") for line in lines) == 2
