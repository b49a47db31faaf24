"""Benchmarks: run on demand with `make bench` or `python -m benchmarks`."""
