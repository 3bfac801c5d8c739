"""Info files: one record per frame, the same schema for every dataset (docs/design.md §Info files).

A file ``<name>_infos_<split>.pkl`` holds ``{"metainfo": {...}, "data_list": [record, ...]}``.
A record is a dict::

    frame_id      str, unique in the dataset
    lidar_path    str, point file relative to the data root
    num_features  int, float32 values per point (x, y, z, intensity, ...)
    timestamp     float seconds, or None
    pose          (4, 4) float64 LiDAR-to-world, or None
    annos         dict of per-object arrays of equal length N:
                    boxes       (N, 7+) float32, docs/design.md §Boxes (gravity centre, yaw CCW from +x)
                    names       (N,) str
                    num_points  (N,) int32 (-1 where not counted, e.g. KITTI DontCare)
                    difficulty  (N,) int32 (0 easy, 1 moderate, 2 hard, -1 none)
                    velocity    (N, 2) float32, only when known
                  plus dataset-specific fields (KITTI: bbox, truncated, occluded, alpha, ...)

Files are written atomically and read back with :class:`RestrictedUnpickler`, which admits only
plain builtins and NumPy arrays, so a crafted info file cannot run code.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from voxformer.datasets.io import atomic_write_bytes
from voxformer.errors import VoxformerError

REQUIRED_KEYS = ("frame_id", "lidar_path", "num_features", "timestamp", "pose", "annos")
REQUIRED_ANNOS = ("boxes", "names", "num_points", "difficulty")

# (module, name) pairs a pickle of builtins and NumPy arrays needs; anything else is refused.
_ALLOWED_GLOBALS = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "complex"),
    ("builtins", "slice"),
    ("builtins", "range"),
    ("builtins", "bytearray"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
}

# What malformed pickle bytes raise inside an unpickler (a bad opcode, a short read, a memo or stack
# miss, a size that does not fit, a state NumPy rejects, an argument a builtin refuses at C level).
UNPICKLING_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    KeyError,
    OverflowError,
    MemoryError,
    SystemError,
)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of :data:`_ALLOWED_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only builtins and NumPy arrays are allowed")


def load_pickle(path: str | Path) -> Any:
    """Load a pickle of builtins and NumPy arrays; anything else raises :class:`VoxformerError`."""
    path = Path(path)
    if not path.is_file():
        raise VoxformerError(f"{path}: file not found (run `voxformer create-data` first?)")
    try:
        return RestrictedUnpickler(io.BytesIO(path.read_bytes())).load()
    except UNPICKLING_ERRORS as error:
        raise VoxformerError(f"{path}: not a valid info pickle: {type(error).__name__}: {error}") from None


def save_pickle(path: str | Path, obj: Any) -> None:
    """Pickle ``obj`` to ``path`` atomically (temporary name, then rename)."""
    atomic_write_bytes(path, pickle.dumps(obj, protocol=4))


def empty_annos(box_dim: int = 7) -> dict[str, np.ndarray]:
    """Annotations of a frame with no object."""
    return {
        "boxes": np.zeros((0, box_dim), np.float32),
        "names": np.zeros((0,), dtype="<U16"),
        "num_points": np.zeros((0,), np.int32),
        "difficulty": np.zeros((0,), np.int32),
    }


def check_record(record: Any, where: str) -> None:
    """Raise :class:`VoxformerError` (prefixed by ``where``) when ``record`` breaks the schema above."""
    if not isinstance(record, dict):
        raise VoxformerError(f"{where}: a record is a {type(record).__name__}, expected a dict")
    missing = [key for key in REQUIRED_KEYS if key not in record]
    if missing:
        raise VoxformerError(f"{where}: info record lacks {missing}")
    frame = record["frame_id"]
    expected = {  # key -> (what it must be, whether it is not)
        "frame_id": ("a string", not isinstance(frame, str)),
        "lidar_path": ("a string", not isinstance(record["lidar_path"], str)),
        "num_features": (
            "an integer >= 3",
            not isinstance(record["num_features"], int | np.integer) or record["num_features"] < 3,
        ),
        "timestamp": (
            "a number or None",
            record["timestamp"] is not None and not isinstance(record["timestamp"], float | int | np.number),
        ),
        "pose": (
            "a (4, 4) array or None",
            record["pose"] is not None and getattr(record["pose"], "shape", ()) != (4, 4),
        ),
        "annos": ("a dict", not isinstance(record["annos"], dict)),
    }
    for key, (what, wrong) in expected.items():
        if wrong:
            raise VoxformerError(f"{where}: frame {frame!r}: {key} must be {what}, got {record[key]!r:.80}")
    annos = record["annos"]
    missing = [key for key in REQUIRED_ANNOS if key not in annos]
    if missing:
        raise VoxformerError(f"{where}: annotations of frame {frame} lack {missing}")
    not_arrays = [key for key, value in annos.items() if not isinstance(value, np.ndarray) or value.ndim == 0]
    if not_arrays:
        raise VoxformerError(f"{where}: frame {frame}: annotation {not_arrays[0]!r} is not an array of rows")
    boxes = annos["boxes"]
    if boxes.ndim != 2 or boxes.shape[1] < 7 or boxes.dtype.kind != "f":
        raise VoxformerError(f"{where}: frame {frame}: boxes must be float (N, 7+), got {boxes.dtype} {boxes.shape}")
    for key, value in annos.items():
        if len(value) != len(boxes):
            raise VoxformerError(
                f"{where}: frame {frame}: annotation {key!r} has {len(value)} rows, boxes have {len(boxes)}"
            )


def save_infos(path: str | Path, records: list[dict], metainfo: dict) -> None:
    """Write ``<name>_infos_<split>.pkl`` after checking every record."""
    for index, record in enumerate(records):
        check_record(record, f"{path}: record {index}")
    save_pickle(path, {"metainfo": dict(metainfo), "data_list": list(records)})


def load_infos(path: str | Path) -> dict:
    """Read an info file written by :func:`save_infos`: ``{"metainfo", "data_list"}``, records checked."""
    content = load_pickle(path)
    if not isinstance(content, dict) or not isinstance(content.get("data_list"), list):
        raise VoxformerError(f"{path}: expected a dict with 'metainfo' and a 'data_list' list")
    if not isinstance(content.setdefault("metainfo", {}), dict):
        raise VoxformerError(f"{path}: 'metainfo' is a {type(content['metainfo']).__name__}, expected a dict")
    for index, record in enumerate(content["data_list"]):
        check_record(record, f"{path}: record {index}")
    return content


def info_path(root: str | Path, name: str, split: str) -> Path:
    """``<root>/<name>_infos_<split>.pkl``."""
    return Path(root) / f"{name}_infos_{split}.pkl"
