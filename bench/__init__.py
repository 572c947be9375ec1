"""Benchmarks: runnable scripts (`python -m bench.NAME`) that print their figures beside a
baseline measured in the same run."""
