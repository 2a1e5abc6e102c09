"""Benchmarks (`make bench` = `python -m bench.run`): every figure is measured against a baseline in the same run.

See docs/benchmarks.md for what each measurement means and the latest figures.
"""
