"""python tools/infer.py ... = voxformer infer ... (see `voxformer infer --help`)."""

import sys

from voxformer.cli import main

if __name__ == "__main__":
    sys.exit(main(["infer", *sys.argv[1:]]))
