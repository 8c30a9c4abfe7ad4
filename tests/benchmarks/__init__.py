"""Benchmarks: run each on its own, ``python -m tests.benchmarks.<name>``; they print a table."""
