"""Benchmark harness: ``python3 dev.py bench`` (or ``python -m tests.benchmarks``).

Not part of the test suite: nothing here is collected by pytest (see ``conftest.py``).
Every scenario measures a ratio side by side in one run; absolute figures are reported,
never asserted. See ``docs/benchmarks.md`` for the method and the latest figures.
"""
