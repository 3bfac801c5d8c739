"""python tools/quickstart.py [--task det|seg] [--model dsvt|flatformer|scatterformer] = voxformer quickstart ..."""

import sys

from voxformer.cli import main

if __name__ == "__main__":
    sys.exit(main(["quickstart", *sys.argv[1:]]))
