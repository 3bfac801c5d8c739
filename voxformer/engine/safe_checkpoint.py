"""Checkpoints load with ``torch.load(weights_only=True)`` and a short allow-list.

mmengine checkpoints hold, beside tensors and plain containers, NumPy arrays and scalars and the
message hub's ``HistoryBuffer`` objects, whose pickled state names its statistics methods through
``getattr(HistoryBuffer, 'mean')``. We allow exactly those types, and map the pickle's
``builtins.getattr`` to a function that only looks up public methods of ``HistoryBuffer``; any other
global in a file makes the load fail. Nothing is ever loaded with ``weights_only=False``.
"""

from __future__ import annotations

import functools
import pickle
from pathlib import Path

import numpy as np
import torch

from voxformer.datasets.infos import UNPICKLING_ERRORS
from voxformer.errors import VoxformerError

_NUMPY_DTYPES = ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1")


def _history_buffer():
    from mmengine.logging.history_buffer import HistoryBuffer

    return HistoryBuffer


def history_buffer_method(owner, name: str):
    """The pickle's ``getattr``, restricted to public methods of mmengine's ``HistoryBuffer``."""
    history_buffer = _history_buffer()
    if owner is history_buffer and not name.startswith("_") and callable(getattr(history_buffer, name, None)):
        return getattr(owner, name)
    raise pickle.UnpicklingError(f"checkpoint asks for getattr({owner!r}, {name!r}), which is not allowed")


def safe_globals() -> list:
    """The allow-list: NumPy arrays, dtypes and scalars, and mmengine's ``HistoryBuffer``."""
    core = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    return [
        np.ndarray,
        np.dtype,
        core._reconstruct,
        core.scalar,
        *(type(np.dtype(code)) for code in _NUMPY_DTYPES),
        _history_buffer(),
        (history_buffer_method, "builtins.getattr"),
    ]


# Words of torch's weights-only error when the file asks for an object we do not allow (a global or a
# getattr); other unpickling errors come from bytes that are not a pickle at all.
_REFUSAL_WORDS = ("GLOBAL", "not allowed")


def _unpickling_reason(message: str) -> str:
    """The specific part of torch's weights-only error (its first and last paragraphs are boilerplate)."""
    paragraphs = [p.strip() for p in message.split("\n\n") if p.strip()]
    specific = [p for p in paragraphs[1:] if not p.startswith("Check the documentation")]
    return " ".join(" ".join(specific or paragraphs[:1]).split())


@functools.cache
def allow_checkpoint_types() -> None:
    """Register the allow-list with torch once per process (mmengine's own loads then work)."""
    torch.serialization.add_safe_globals(safe_globals())


def _check_weights(checkpoint: dict, path: Path) -> None:
    """The weights a checkpoint wraps (``state_dict``, mmengine; ``model_state``, OpenPCDet) map names to tensors."""
    for wrapper in ("state_dict", "model_state"):
        weights = checkpoint.get(wrapper)
        if wrapper in checkpoint and not isinstance(weights, dict):
            raise VoxformerError(f"checkpoint {path}: {wrapper!r} is a {type(weights).__name__}, expected a dict")
        for name, value in (weights or {}).items():
            if not isinstance(name, str) or not isinstance(value, torch.Tensor):
                raise VoxformerError(
                    f"checkpoint {path}: {wrapper!r} entry {name!r} is a {type(value).__name__}, expected a tensor"
                )


def load_checkpoint_file(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint safely. A file holding anything outside the allow-list is refused, and a file
    that is not a checkpoint, or whose weights are not tensors, is reported: each with a
    :class:`VoxformerError` naming the file (and the offending type or entry)."""
    path = Path(path)
    if not path.is_file():
        raise VoxformerError(f"checkpoint {path} not found")
    allow_checkpoint_types()
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        reason = _unpickling_reason(str(error))
        if not any(word in reason for word in _REFUSAL_WORDS):
            raise VoxformerError(f"cannot read checkpoint {path}: not a valid checkpoint file ({reason})") from None
        raise VoxformerError(
            f"refusing to load checkpoint {path}: it holds objects outside the safe allow-list ({reason}); "
            "only load checkpoints written by voxformer/mmengine from a source you trust"
        ) from None
    except (RuntimeError, OSError, *UNPICKLING_ERRORS) as error:
        raise VoxformerError(
            f"cannot read checkpoint {path}: {type(error).__name__}: {error}".splitlines()[0]
        ) from None
    if not isinstance(checkpoint, dict):
        raise VoxformerError(f"checkpoint {path} holds a {type(checkpoint).__name__}, expected a dict")
    _check_weights(checkpoint, path)
    return checkpoint
