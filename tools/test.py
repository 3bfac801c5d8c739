"""python tools/test.py ... = voxformer test ... (see `voxformer test --help`)."""

import sys

from voxformer.cli import main

if __name__ == "__main__":
    sys.exit(main(["test", *sys.argv[1:]]))
