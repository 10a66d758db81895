"""Benchmarks of the benchmark itself: run each as `python benchmarks/<name>.py` (see README.md)."""
