"""Offline evaluation: python tools/evaluate.py {kitti,waymo,nuscenes} ... (same as ``voxformer evaluate``)."""

import sys

from voxformer.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
