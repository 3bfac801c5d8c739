"""Read a point cloud for inference: ``.bin`` / ``.npy`` (float32 rows), ``.pcd`` and ``.ply``.

Every reader returns (N, 4) float32 rows (x, y, z, intensity) with intensity in [0, 1]: a file
whose intensity exceeds 1 is taken to be 0-255 and divided by 255; a file without intensity gets 0.
Points with NaN or infinite coordinates are an error naming the file and the count, since a model
fed them would silently drop or corrupt voxels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxformer.datasets.io import read_points
from voxformer.errors import VoxformerError

SUPPORTED_SUFFIXES = (".bin", ".npy", ".pcd", ".ply")
_INTENSITY_NAMES = ("intensity", "reflectance", "i", "remission", "scalar_intensity")
_PCD_TYPES = {("F", 4): "f4", ("F", 8): "f8", ("I", 1): "i1", ("I", 2): "i2", ("I", 4): "i4", ("I", 8): "i8",
              ("U", 1): "u1", ("U", 2): "u2", ("U", 4): "u4", ("U", 8): "u8"}
_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


def read_point_file(path: str | Path, num_features: int = 4) -> np.ndarray:
    """(N, 4) float32 (x, y, z, intensity in [0, 1]) from any supported file."""
    path = Path(path)
    if not path.is_file():
        raise VoxformerError(f"{path}: point file not found")
    suffix = path.suffix.lower()
    if suffix in (".bin", ".npy"):
        points = read_points(path, num_features)[:, :4]
    elif suffix == ".pcd":
        points = _columns(_read_pcd(path), path)
    elif suffix == ".ply":
        points = _columns(_read_ply(path), path)
    else:
        raise VoxformerError(f"{path}: unsupported point file type {suffix!r}; use one of {SUPPORTED_SUFFIXES}")
    points = np.ascontiguousarray(points, dtype=np.float32)
    if points.shape[1] < 4:
        points = np.concatenate([points, np.zeros((len(points), 4 - points.shape[1]), np.float32)], 1)
    bad = ~np.isfinite(points[:, :3]).all(axis=1)
    if bad.any():
        raise VoxformerError(f"{path}: {int(bad.sum())} of {len(points)} points have NaN or infinite coordinates")
    if len(points) and points[:, 3].max() > 1.0:
        points[:, 3] = np.clip(points[:, 3] / 255.0, 0.0, 1.0)
    return points


def _columns(table: np.ndarray, path: Path) -> np.ndarray:
    """x, y, z and intensity columns of a structured array (intensity 0 when absent)."""
    names = table.dtype.names or ()
    missing = [axis for axis in "xyz" if axis not in names]
    if missing:
        raise VoxformerError(f"{path}: no {', '.join(missing)} field (fields: {', '.join(names)})")
    intensity_name = next((n for n in _INTENSITY_NAMES if n in names), None)
    columns = [table[axis].astype(np.float32) for axis in "xyz"]
    columns.append(table[intensity_name].astype(np.float32) if intensity_name else np.zeros(len(table), np.float32))
    return np.stack(columns, axis=1)


def _split_header(data: bytes, end_marker: bytes, path: Path) -> tuple[list[str], bytes]:
    """Header lines up to and including the line starting with ``end_marker``, and the body after it."""
    lines, position = [], 0
    while position < len(data):
        newline = data.find(b"\n", position)
        if newline < 0:
            break
        line = data[position:newline].decode("ascii", errors="replace").strip()
        position = newline + 1
        lines.append(line)
        if line.startswith(end_marker.decode()):
            return lines, data[position:]
    raise VoxformerError(f"{path}: header has no {end_marker.decode()!r} line; not a valid file")


def _body_to_table(body: bytes, dtype: np.dtype, count: int, ascii_format: bool, path: Path) -> np.ndarray:
    if ascii_format:
        rows = np.loadtxt(body.decode().splitlines(), dtype=np.float64, ndmin=2) if count else np.zeros((0, 0))
        if rows.shape[0] != count or (count and rows.shape[1] != len(dtype.names)):
            raise VoxformerError(f"{path}: expected {count} rows of {len(dtype.names)} values, got {rows.shape}")
        table = np.zeros(count, dtype=dtype)
        for index, name in enumerate(dtype.names):
            table[name] = rows[:, index]
        return table
    needed = dtype.itemsize * count
    if len(body) < needed:
        raise VoxformerError(f"{path}: file is truncated: {len(body)} bytes of data, expected {needed}")
    return np.frombuffer(body[:needed], dtype=dtype, count=count)


def _read_pcd(path: Path) -> np.ndarray:
    header, body = _split_header(path.read_bytes(), b"DATA", path)
    fields = {line.split()[0].upper(): line.split()[1:] for line in header if line and not line.startswith("#")}
    try:
        names, sizes, types = fields["FIELDS"], [int(s) for s in fields["SIZE"]], fields["TYPE"]
        counts = [int(c) for c in fields.get("COUNT", ["1"] * len(names))]
        count = int(fields["POINTS"][0])
        data_format = fields["DATA"][0].lower()
    except (KeyError, ValueError, IndexError) as error:
        raise VoxformerError(f"{path}: malformed PCD header ({error})") from None
    if data_format not in ("ascii", "binary"):
        raise VoxformerError(f"{path}: PCD DATA {data_format} is not supported; save it as binary or ascii")
    dtype_fields = []
    for name, size, kind, repeat in zip(names, sizes, types, counts):
        code = _PCD_TYPES.get((kind.upper(), size))
        if code is None:
            raise VoxformerError(f"{path}: PCD field {name} has unsupported TYPE {kind} SIZE {size}")
        dtype_fields.append((name, "<" + code) if repeat == 1 else (name, "<" + code, (repeat,)))
    return _body_to_table(body, np.dtype(dtype_fields), count, data_format == "ascii", path)


def _read_ply(path: Path) -> np.ndarray:
    header, body = _split_header(path.read_bytes(), b"end_header", path)
    if not header or header[0] != "ply":
        raise VoxformerError(f"{path}: not a PLY file (first line {header[0] if header else ''!r})")
    data_format, count, properties, elements = None, 0, [], []
    for line in header[1:]:
        words = line.split()
        if words[:1] == ["format"]:
            data_format = words[1]
        elif words[:1] == ["element"]:
            elements.append(words[1])
            count = int(words[2]) if words[1] == "vertex" else count
        elif words[:1] == ["property"] and elements[-1:] == ["vertex"]:
            if words[1] not in _PLY_TYPES:
                raise VoxformerError(f"{path}: unsupported vertex property {' '.join(words[1:])}")
            properties.append((words[2], _PLY_TYPES[words[1]]))
    if elements[:1] != ["vertex"]:
        raise VoxformerError(f"{path}: the first PLY element must be 'vertex', got {elements[:1]}")
    byte_order = {"binary_little_endian": "<", "binary_big_endian": ">", "ascii": "<"}.get(data_format)
    if byte_order is None:
        raise VoxformerError(f"{path}: unsupported PLY format {data_format!r}")
    dtype = np.dtype([(name, byte_order + code) for name, code in properties])
    return _body_to_table(body, dtype, count, data_format == "ascii", path)
