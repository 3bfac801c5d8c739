"""``voxformer env``: versions of the stack and the op backends usable here."""

from __future__ import annotations

import argparse
import importlib
import platform

NAME = "env"
HELP = "print versions of Python and the libraries, and which op backends run on this machine"

_LIBRARIES = ("torch", "triton", "spconv", "open3d", "numba", "mmengine", "numpy")


def _version(module: str) -> str:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed (version unknown)")
    except Exception as error:  # a broken install is reported, not raised
        return f"not usable ({type(error).__name__}: {error})".splitlines()[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    import voxformer
    from voxformer.ops import usable_backends

    print(f"voxformer {voxformer.__version__}")
    print(f"python {platform.python_version()} ({platform.platform()})")
    for module in _LIBRARIES:
        print(f"{module:10s} {_version(module)}")
    print("op backends:")
    for name, usable in usable_backends().items():
        print(f"  {name:46s} {'yes' if usable else 'no'}")
    return 0
