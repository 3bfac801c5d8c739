"""Dataset preparation: python tools/create_data.py {synthetic,kitti,...} --out-dir DIR [options]."""

import sys

from voxformer.cli import main

if __name__ == "__main__":
    sys.exit(main(["create-data", *sys.argv[1:]]))
