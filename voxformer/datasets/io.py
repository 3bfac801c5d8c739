"""Files on disk: point clouds (read with errors naming the file) and atomic writes.

Point files are little-endian float32 rows of ``num_features`` values (x, y, z, intensity, ...),
as KITTI ``velodyne/*.bin``; ``.npy`` files hold a (N, C) array. Every writer goes through
:func:`atomic_write_bytes` (temporary name in the same folder, then ``os.replace``), so an
interrupted run never leaves a half-written file under the final name.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from tokenize import TokenError

import numpy as np

from voxformer.errors import VoxformerError


def read_points(path: str | Path, num_features: int) -> np.ndarray:
    """(N, num_features) float32 points of a ``.bin`` or ``.npy`` file.

    Raises :class:`VoxformerError` naming the file when it is missing, when a ``.bin`` size is not a
    multiple of ``4 * num_features`` bytes (a truncated or wrongly-described file), or when a
    ``.npy`` file is not a readable (N, >= num_features) numeric array. A ``.npy`` holding Python
    objects is refused, never unpickled.
    """
    path = Path(path)
    if not path.is_file():
        raise VoxformerError(f"{path}: point file not found")
    if path.suffix == ".npy":
        points = read_npy_points(path)
        if points.shape[1] < num_features:
            raise VoxformerError(f"{path}: expected a (N, >={num_features}) array, got shape {points.shape}")
        return np.ascontiguousarray(points[:, :num_features])
    row_bytes = 4 * num_features
    size = path.stat().st_size
    if size % row_bytes:
        raise VoxformerError(
            f"{path}: {size} bytes is not a whole number of points of {num_features} float32 values "
            f"({row_bytes} bytes each); the file is truncated or has a different number of features"
        )
    return np.fromfile(path, dtype="<f4").reshape(-1, num_features)


def read_npy_points(path: str | Path) -> np.ndarray:
    """The (N, C) float32 array of a ``.npy`` file holding a 2-D integer or float array.

    The header is checked before any data is read: the dtype must be a plain integer or float type
    and the array must fit in the file, so a crafted header can neither run a pickle nor ask for a
    huge allocation.
    """
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # numpy's note on a Python 2 style header, which it reads
        shape, dtype, data_bytes = _npy_header(path)
        if dtype.hasobject:
            raise VoxformerError(f"{path}: holds an array of Python objects, which is never unpickled; save numbers")
        if dtype.kind not in "iuf" or dtype.fields is not None:
            raise VoxformerError(f"{path}: holds {dtype} values; expected an integer or float array")
        if len(shape) != 2:
            raise VoxformerError(f"{path}: expected a (N, C) array of points, got shape {shape}")
        needed = shape[0] * shape[1] * dtype.itemsize
        if data_bytes < needed:
            raise VoxformerError(
                f"{path}: file is truncated: {data_bytes} bytes of data, the header's shape {shape} needs {needed}"
            )
        try:
            points = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise VoxformerError(f"{path}: not a readable .npy file ({_one_line(error)})") from None
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf, which readers report
        return np.ascontiguousarray(points, dtype=np.float32)


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and the number of bytes after the header of a ``.npy`` file (versions 1 and 2)."""
    with open(path, "rb") as file:
        try:
            version = np.lib.format.read_magic(file)
            read_header = {1: np.lib.format.read_array_header_1_0, 2: np.lib.format.read_array_header_2_0}
            if version[0] not in read_header:
                raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
            shape, _, dtype = read_header[version[0]](file)
        except (ValueError, SyntaxError, TokenError) as error:  # numpy tokenizes the header's Python literal
            raise VoxformerError(f"{path}: not a readable .npy file ({_one_line(error)})") from None
        return shape, dtype, path.stat().st_size - file.tell()


def _one_line(error: Exception) -> str:
    """An exception's message on one line."""
    return " ".join(str(error).split())


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The file gets the permissions of a plain ``open`` (0666 less the umask), not mkstemp's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_points(path: str | Path, points: np.ndarray) -> None:
    """Write (N, C) points as little-endian float32 ``.bin`` rows, atomically."""
    atomic_write_bytes(path, np.ascontiguousarray(points, dtype="<f4").tobytes())
