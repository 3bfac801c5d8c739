"""Ground truth over points: python tools/browse_dataset.py CONFIG [--aug] [--num N] [--out-dir DIR]."""

import sys

from voxformer.cli import main

if __name__ == "__main__":
    sys.exit(main(["browse", *sys.argv[1:]]))
