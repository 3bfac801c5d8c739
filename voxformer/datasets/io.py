"""Files on disk: point clouds (read with errors naming the file) and atomic writes.

Point files are little-endian float32 rows of ``num_features`` values (x, y, z, intensity, ...),
as KITTI ``velodyne/*.bin``; ``.npy`` files hold a (N, C) array. Every writer goes through
:func:`atomic_write_bytes` (temporary name in the same folder, then ``os.replace``), so an
interrupted run never leaves a half-written file under the final name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from voxformer.errors import VoxformerError


def read_points(path: str | Path, num_features: int) -> np.ndarray:
    """(N, num_features) float32 points of a ``.bin`` or ``.npy`` file.

    Raises :class:`VoxformerError` naming the file when it is missing, when a ``.bin`` size is not a
    multiple of ``4 * num_features`` bytes (a truncated or wrongly-described file), or when a
    ``.npy`` array has the wrong shape.
    """
    path = Path(path)
    if not path.is_file():
        raise VoxformerError(f"{path}: point file not found")
    if path.suffix == ".npy":
        points = np.load(path, allow_pickle=False)
        if points.ndim != 2 or points.shape[1] < num_features:
            raise VoxformerError(f"{path}: expected a (N, >={num_features}) array, got shape {points.shape}")
        return np.ascontiguousarray(points[:, :num_features], dtype=np.float32)
    row_bytes = 4 * num_features
    size = path.stat().st_size
    if size % row_bytes:
        raise VoxformerError(
            f"{path}: {size} bytes is not a whole number of points of {num_features} float32 values "
            f"({row_bytes} bytes each); the file is truncated or has a different number of features"
        )
    return np.fromfile(path, dtype="<f4").reshape(-1, num_features)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_points(path: str | Path, points: np.ndarray) -> None:
    """Write (N, C) points as little-endian float32 ``.bin`` rows, atomically."""
    atomic_write_bytes(path, np.ascontiguousarray(points, dtype="<f4").tobytes())
