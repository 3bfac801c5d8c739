"""Dataset converters for ``voxformer create-data``, discovered by name.

A converter is a module of :mod:`voxformer.datasets.formats` that defines ``CONVERTER_NAME`` (the
dataset name on the command line), ``CONVERTER_HELP`` (one line), ``add_arguments(parser)`` (its own
flags, each with a help text) and ``convert(args)``; ``voxformer create-data --help`` lists every
converter with its description and flags. ``args`` always has ``out_dir`` (where infos, GT database and any
generated files go; the data root of the dataset configs) and ``workers``. Adding such a module
adds a dataset to the command; module-level imports must stay light (no Open3D).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from voxformer.datasets import formats


def converters() -> dict[str, ModuleType]:
    """Converter name -> module, for every module of :mod:`voxformer.datasets.formats` with ``CONVERTER_NAME``."""
    found = {}
    for info in sorted(pkgutil.iter_modules(formats.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{formats.__name__}.{info.name}")
        name = getattr(module, "CONVERTER_NAME", None)
        if name:
            found[name] = module
    return found
