"""Benchmarks: each suite module (``ops``, ``attention``, ``models``) defines ``SUITE`` (its
name) and ``run(device, quick) -> list[Row]``. A row times one op next to a named baseline measured
in the same run; the ratio (time / baseline) is what is reported, never asserted.

Needs only torch (and what the benchmarked code needs), so it runs on a bare GPU machine.
"""
