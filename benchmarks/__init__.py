"""Benchmarks: commands that print measured figures (never run as tests)."""
