"""python tools/quickstart.py [--task det|seg] [--model MODEL] = voxformer quickstart ...

det models: dsvt (default), flatformer, scatterformer; seg models: unet (default), sphereformer.
"""

import sys

from voxformer.cli import main

if __name__ == "__main__":
    sys.exit(main(["quickstart", *sys.argv[1:]]))
