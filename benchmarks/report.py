"""What every benchmark prints: timings as median, p90 and min, and its targets, met or not."""

from __future__ import annotations

import statistics


def describe(label: str, timings: list[float], *, width: int = 32, decimals: int = 1) -> str:
    """One line: the label, then the median, p90 and fastest of ``timings`` (seconds) in ms."""
    ms = sorted(t * 1000 for t in timings)
    p90 = statistics.quantiles(ms, n=10, method="inclusive")[-1] if len(ms) > 1 else ms[0]
    d = decimals
    return (
        f"{label:<{width}} median {statistics.median(ms):9.{d}f} ms   p90 {p90:9.{d}f} ms   "
        f"min {ms[0]:9.{d}f} ms   ({len(ms)} runs)"
    )


def judge(checks: list[tuple[str, bool, str]], *, quick: bool) -> int:
    """Print each target with its figure; the exit status: 1 if one is missed.

    The targets are set for the full input: a quick run only shows that everything runs.
    """
    failed = False
    for name, met, figure in checks:
        if quick:
            print(f"target {name}: not judged on the quick input ({figure})")
        else:
            print(f"target {name}: {'met' if met else 'MISSED'} ({figure})")
            failed = failed or not met
    return 1 if failed else 0
