"""Benchmarks: python tools/benchmark.py {ops,attention,models,all} [--device cpu|cuda] [--json FILE]."""

import sys

from voxformer.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
