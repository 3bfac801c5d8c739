"""Benchmarks: python tools/benchmark.py SUITE... [--device cpu|cuda] [--dtype float32|bfloat16|float16] [--json FILE].

SUITE is one or more of ops, attention, rpe, models, seg_backbones, evaluation, deploy, or all
(``voxformer bench --help``).
"""

import sys

from voxformer.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
