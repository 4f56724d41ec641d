"""Benchmarks: measured next to the practical limits on the same data, in one run."""
