"""What ``tools/device_check.sh`` needs, with versions, and the CUDA devices.

    python tools/device_env.py

Prints one line per module of REQUIRED (the check fails without them) and OPTIONAL (a step or a test
module that needs one is skipped without it), then one line per CUDA device: ``cuda:<i> <name> sm_<xy>
<memory> GiB``. Exit code 1 when a module of REQUIRED does not import, else 0.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

REQUIRED = ("torch", "triton", "numba", "numpy", "pytest", "hypothesis", "voxformer", "voxformer.ops")
OPTIONAL = ("mmengine", "spconv", "open3d", "onnxruntime")


def version(name: str) -> str | None:
    """The module's version (or its folder), None when it does not import; the reason is printed."""
    try:
        module = importlib.import_module(name)
        return getattr(module, "__version__", None) or str(Path(module.__file__).parent)
    except Exception as error:  # a broken install counts as missing
        print(f"{name:16s} not usable: {type(error).__name__}: {error}"[:200])
        return None


def main() -> int:
    missing = []
    for name in REQUIRED + OPTIONAL:
        found = version(name)
        if found is not None:
            print(f"{name:16s} {found}")
        elif name in REQUIRED:
            missing.append(name)
    print("missing, needed by the check:", " ".join(missing) or "nothing")
    if "torch" not in missing:
        import torch

        print(f"torch CUDA {torch.version.cuda}, available: {torch.cuda.is_available()}")
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            print(f"cuda:{i} {props.name} sm_{props.major}{props.minor} {props.total_memory / 2**30:.0f} GiB")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
