"""Helpers of `make bench-scale` (benchmarks/bench_scale.py)."""
