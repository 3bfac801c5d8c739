"""python tools/train.py ... = voxformer train ... (see `voxformer train --help`)."""

import sys

from voxformer.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
