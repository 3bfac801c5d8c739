"""python tools/visualize.py ... = voxformer vis ... (see `voxformer vis --help`)."""

import sys

from voxformer.cli import main

if __name__ == "__main__":
    sys.exit(main(["vis", *sys.argv[1:]]))
