"""Read a point cloud for inference: raw ``.bin`` / ``.npy`` rows, ``.pcd`` and ``.ply``.

:func:`read_point_file` returns (N, 4) float32 rows (x, y, z, intensity); :func:`read_model_points`
returns the points a model's test pipeline would give for the file. Both raise
:class:`VoxformerError` naming the file and the problem (with the line or byte offset where there
is one). Points with a NaN or infinite value are an error, since a model fed them would silently
drop or corrupt voxels. An empty scan is not an error: it gives an :class:`EmptyScanWarning`
naming the file and no points.

Raw rows are ``columns`` little-endian float32 values, x, y, z and intensity first. The layouts:

==========  =======  ==========================================================================
name        columns  row (intensity kept as)
==========  =======  ==========================================================================
kitti       4        x y z reflectance 0-1 (as stored)
nuscenes    5        x y z intensity 0-255 (/ 255), ring
waymo       5        x y z tanh(intensity), elongation (as stored; what ``create-data waymo`` writes)
C (>= 3)    C        x y z [intensity] first, then columns 5 to C (the rule for unknown layouts)
==========  =======  ==========================================================================

The layout of a raw file is, first that applies: the ``point_format`` given; nuScenes for a name
ending in ``.pcd.bin``; the default (a model's, from :func:`config_point_layout`); for a ``.npy``,
its own column count; for a ``.bin``, the one column count (4 or 5) whose row size divides the file
size. A ``.bin`` that both fit (a multiple of 80 bytes) is refused rather than guessed.

The rule for unknown layouts: an intensity column whose maximum exceeds 1 is taken to be 0-255,
divided by 255 and clipped to [0, 1]; otherwise it is kept. ``.pcd`` and ``.ply`` files name their
fields (x, y, z and one of :data:`INTENSITY_NAMES`, intensity 0 when absent; other fields are not
read): no layout applies to them and their intensity follows the rule for unknown layouts.

A model's points: the first point-loading transform of the config's test pipeline
(``LoadPointsFromFile`` or ``LoadNuScenesPoints``) is applied to the file's rows, so inference sees
what the dataset gives: the nuScenes loader drops the points within 1 m of the sensor (|x| and |y|
under 1 m), divides intensity by 255 and adds the time-lag column, 0 for a file (a single key frame,
no sweeps); the Waymo loader keeps its five columns as stored. A file in another layout (a ``.pcd``,
``.ply``, or a raw file whose ``point_format`` is not the model's) is first rewritten in the
model's: x, y, z, intensity clipped to [0, 1] and stored as the loader expects it (times 255 for nuScenes), and
the model's further columns taken by name from the file's layout. nuScenes' ring, which its loader
does not read, is 0 when absent; any other column the file lacks (Waymo's elongation, for one) is a
one-line error naming the file and the column. Range filtering is left to the model's voxelizer.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from voxformer.datasets.io import read_npy_points, read_points
from voxformer.errors import VoxformerError, VoxformerWarning

SUPPORTED_SUFFIXES = (".bin", ".npy", ".pcd", ".ply")
INTENSITY_NAMES = ("intensity", "reflectance", "i", "remission", "scalar_intensity")
_INTENSITY_RULES = ("raw", "div255", "tanh", "auto")  # the loader's modes, and the rule for unknown layouts
_PCD_TYPES = {("F", 4): "f4", ("F", 8): "f8", ("I", 1): "i1", ("I", 2): "i2", ("I", 4): "i4", ("I", 8): "i8",
              ("U", 1): "u1", ("U", 2): "u2", ("U", 4): "u4", ("U", 8): "u8"}
_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


class EmptyScanWarning(VoxformerWarning):
    """A point file holds no points."""


@dataclass(frozen=True)
class PointLayout:
    """A raw row: ``columns`` float32 values, x, y, z, intensity first; ``intensity`` is how column 3
    becomes [0, 1]: ``raw`` (as stored), ``div255``, ``tanh`` or ``auto`` (the rule for unknown layouts);
    ``named``: the names of the columns after intensity, the rest being ``column 5``, ``column 6``..."""

    name: str
    columns: int
    intensity: str = "auto"
    named: tuple[str, ...] = ()

    def __post_init__(self):
        if self.intensity not in _INTENSITY_RULES:
            rules = ", ".join(_INTENSITY_RULES)
            raise VoxformerError(f"{self.name} point layout: intensity {self.intensity!r} is not one of {rules}")

    @property
    def row_bytes(self) -> int:
        return 4 * self.columns

    @property
    def extra(self) -> tuple[str, ...]:
        """The names of the columns after x, y, z and intensity."""
        return self.named + tuple(f"column {index}" for index in range(5 + len(self.named), self.columns + 1))

    def describe(self) -> str:
        return f"{self.name} layout ({self.columns} float32 = {self.row_bytes} bytes a point)"

    def reads_like(self, other: PointLayout) -> bool:
        """Whether rows of this layout are read as ``other``'s (same columns and intensity rule)."""
        return (self.columns, self.intensity) == (other.columns, other.intensity)


LAYOUTS = {
    "kitti": PointLayout("kitti", 4, "raw"),
    "nuscenes": PointLayout("nuscenes", 5, "div255", ("ring",)),
    "waymo": PointLayout("waymo", 5, "raw", ("elongation",)),
}
FIELD_LAYOUT = PointLayout("pcd / ply field", 4)  # x, y, z, intensity of a .pcd / .ply file
FILLED_WHEN_ABSENT = {"ring": 0.0}  # columns no loader reads (nuScenes' laser index): a file may lack them
_TANH_LIMIT = np.float32(1 - 1e-6)  # arctanh of 1 is infinite
_SIZE_CANDIDATES = ((4, "kitti"), (5, "nuscenes / waymo"))  # column counts a .bin of unknown layout may have
LayoutSpec = str | int | PointLayout | None  # a layout's name, a column count, a layout, or nothing said


def point_layout(point_format: LayoutSpec) -> PointLayout | None:
    """The layout a ``--point-format`` value names: ``kitti``, ``nuscenes``, ``waymo`` or a column count."""
    if point_format is None or isinstance(point_format, PointLayout):
        return point_format
    text = str(point_format).strip().lower()
    if text in LAYOUTS:
        return LAYOUTS[text]
    if text.isdigit() and int(text) >= 3:
        return PointLayout(f"{int(text)}-column", int(text))
    raise VoxformerError(
        f"point format {point_format!r}: use {', '.join(LAYOUTS)} or a column count (3 or more; x y z intensity first)"
    )


def config_point_layout(cfg) -> PointLayout | None:
    """The layout of the files a model config's dataset reads, or None when the config does not say.

    The first point-loading transform of the test pipeline decides: ``LoadNuScenesPoints`` is the
    nuScenes layout; ``LoadPointsFromFile`` with ``num_features=C`` is C columns whose intensity is
    normalised by its ``intensity`` mode. Without ``num_features`` the loader reads the dataset's
    info records, which the config does not hold: None.
    """
    loader = _loader_config(cfg)
    if loader is None:
        return None
    if _kind(loader) == "LoadNuScenesPoints":
        return LAYOUTS["nuscenes"]
    columns = loader.get("num_features")
    if not columns:
        return None
    return PointLayout(f"model config's {columns}-column", int(columns), loader.get("intensity", "raw"))


def config_point_loader(cfg):
    """The config's first test-pipeline point-loading transform, built, or None when it has none."""
    loader = _loader_config(cfg)
    if loader is None:
        return None
    import voxformer.datasets  # noqa: F401  (registers LoadNuScenesPoints)
    from voxformer.registry import TRANSFORMS

    return TRANSFORMS.build(dict(loader))


_LOADERS = ("LoadNuScenesPoints", "LoadPointsFromFile")


def _kind(transform) -> str:
    return str(transform.get("type", "")).rsplit(".", 1)[-1] if isinstance(transform, dict) else ""


def _loader_config(cfg) -> dict | None:
    return next((transform for transform in _test_pipeline(cfg) if _kind(transform) in _LOADERS), None)


def _test_pipeline(cfg) -> list:
    dataset = (cfg.get("test_dataloader") or {}).get("dataset") or {}
    while isinstance(dataset, dict) and "pipeline" not in dataset and isinstance(dataset.get("dataset"), dict):
        dataset = dataset["dataset"]  # dataset wrappers
    return list(dataset.get("pipeline") or cfg.get("test_pipeline") or [])


def read_point_file(path: str | Path, point_format: LayoutSpec = None, default: LayoutSpec = None) -> np.ndarray:
    """(N, 4) float32 (x, y, z, intensity) of any supported file; ``point_format`` and ``default``
    as the module docstring says (``point_format`` wins; ``default`` is usually the model's)."""
    rows, layout = _read_rows(Path(path), point_layout(point_format), point_layout(default))
    return _xyzi(rows, layout)


def read_model_points(path: str | Path, cfg, point_format: LayoutSpec = None) -> torch.Tensor:
    """(N, C) float32 points of a file as the test pipeline of the model config ``cfg`` gives them:
    its point-loading transform applied to the file's rows (module docstring). A config that names
    no layout gets :func:`read_point_file`'s (N, 4) x, y, z, intensity."""
    path = Path(path)
    given = point_layout(point_format)
    layout = config_point_layout(cfg)
    if layout is None:
        return torch.from_numpy(read_point_file(path, given))
    loader = config_point_loader(cfg)
    rows, source = _read_rows(path, given, layout)
    if not source.reads_like(layout):
        rows = _rewrite(rows, source, layout, path)
    return loader.points_from_rows(rows)


def _read_rows(path: Path, layout: PointLayout | None, default: PointLayout | None) -> tuple[np.ndarray, PointLayout]:
    """(N, C) float32 rows of any supported file as stored, all finite, and the layout they are in."""
    if not path.is_file():
        raise VoxformerError(f"{path}: point file not found")
    suffix = path.suffix.lower()
    if suffix in (".bin", ".npy"):
        if layout is None and path.name.lower().endswith(".pcd.bin"):
            layout = LAYOUTS["nuscenes"]
        rows, layout = _read_raw(path, layout or default)
    elif suffix in (".pcd", ".ply"):
        rows, layout = _columns(_read_pcd(path) if suffix == ".pcd" else _read_ply(path), path), FIELD_LAYOUT
    else:
        raise VoxformerError(f"{path}: unsupported point file type {suffix!r}; use one of {SUPPORTED_SUFFIXES}")
    with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values become inf and are reported below
        rows = np.ascontiguousarray(rows, dtype=np.float32)
    bad = ~np.isfinite(rows).all(axis=1)
    if bad.any():
        raise VoxformerError(f"{path}: {int(bad.sum())} of {len(rows)} points have NaN or infinite values")
    if len(rows) == 0:
        warnings.warn(f"{path}: the scan is empty (0 points)", EmptyScanWarning, stacklevel=3)
    return rows, layout


def _read_raw(path: Path, layout: PointLayout | None) -> tuple[np.ndarray, PointLayout]:
    """Rows of a ``.bin`` / ``.npy`` file, ``layout.columns`` of them, and their layout (``layout``
    or, when None, the one the file's shape or size decides)."""
    if path.suffix.lower() == ".npy":
        points = read_npy_points(path)
        if points.shape[1] < (layout.columns if layout else 3):
            needed = layout.describe() if layout else "3 or more columns (x y z [intensity])"
            raise VoxformerError(f"{path}: a {points.shape} array does not fit the {needed}; pass --point-format")
        layout = layout or PointLayout(f"{points.shape[1]}-column", points.shape[1])
        return points[:, : layout.columns], layout
    size = path.stat().st_size
    if size == 0:
        layout = layout or LAYOUTS["kitti"]
        return np.zeros((0, layout.columns), np.float32), layout
    if layout is not None and size % layout.row_bytes:
        raise VoxformerError(
            f"{path}: {size} bytes does not fit the {layout.describe()}; the file is truncated or has another "
            "layout: pass --point-format (point_format=) kitti, nuscenes, waymo or its column count"
        )
    if layout is None:
        fits = [(columns, name) for columns, name in _SIZE_CANDIDATES if size % (4 * columns) == 0]
        if len(fits) > 1:
            candidates = " or ".join(f"{name} ({columns} float32 a point: {size // (4 * columns)} points)"
                                     for columns, name in fits)
            raise VoxformerError(
                f"{path}: {size} bytes fits several point layouts, {candidates}; "
                "pass --point-format (point_format=) to say which"
            )
        if not fits:
            candidates = " or ".join(f"{columns} ({name})" for columns, name in _SIZE_CANDIDATES)
            raise VoxformerError(
                f"{path}: {size} bytes is not a whole number of points of {candidates} float32 values; the file is "
                "truncated or has another layout: pass --point-format (point_format=) with its column count"
            )
        layout = PointLayout(f"{fits[0][0]}-column", fits[0][0])
    return read_points(path, layout.columns), layout


def _xyzi(rows: np.ndarray, layout: PointLayout) -> np.ndarray:
    """(N, 4) float32 x, y, z and intensity normalised by ``layout``'s rule (0 when the rows have none)."""
    points = np.zeros((len(rows), 4), np.float32)
    points[:, : min(4, rows.shape[1])] = rows[:, :4]
    column = points[:, 3]
    if layout.intensity == "div255" or (layout.intensity == "auto" and len(points) and column.max() > 1.0):
        points[:, 3] = np.clip(column / 255.0, 0.0, 1.0)
    elif layout.intensity == "tanh":
        points[:, 3] = np.tanh(column)
    return points


def _rewrite(rows: np.ndarray, source: PointLayout, target: PointLayout, path: Path) -> np.ndarray:
    """Rows of the ``source`` layout as rows of ``target``: x, y, z, intensity clipped to [0, 1] and
    stored by ``target``'s rule, and ``target``'s further columns by name (or :data:`FILLED_WHEN_ABSENT`)."""
    missing = [name for name in target.extra if name not in source.extra and name not in FILLED_WHEN_ABSENT]
    if missing:
        wanted = " ".join(["x y z intensity", *target.extra])
        raise VoxformerError(
            f"{path}: the model reads {target.columns} values a point ({wanted}); the file, read in the "
            f"{source.name} layout, has no {' or '.join(missing)}: pass a .bin / .npy file in the model's layout"
        )
    points = _xyzi(rows, source)
    columns = [points[:, :3]]
    if target.columns > 3:
        columns.append(_stored_intensity(np.clip(points[:, 3], 0.0, 1.0), target.intensity)[:, None])
    for name in target.extra:
        if name in source.extra:
            columns.append(rows[:, 4 + source.extra.index(name), None])
        else:
            columns.append(np.full((len(rows), 1), FILLED_WHEN_ABSENT[name], np.float32))
    return np.concatenate(columns, axis=1)


def _stored_intensity(intensity: np.ndarray, rule: str) -> np.ndarray:
    """The values a file stores for a [0, 1] ``intensity`` that a loader normalises by ``rule``."""
    if rule == "div255":
        return intensity * np.float32(255.0)
    if rule == "tanh":
        return np.arctanh(np.minimum(intensity, _TANH_LIMIT))
    return intensity


def _columns(fields: dict[str, np.ndarray], path: Path) -> np.ndarray:
    """x, y, z and intensity (0 when absent) of a file's named fields, as (N, 4)."""
    missing = [axis for axis in "xyz" if axis not in fields]
    if missing:
        raise VoxformerError(f"{path}: no {', '.join(missing)} field (fields: {', '.join(fields)})")
    intensity_name = next((n for n in INTENSITY_NAMES if n in fields), None)
    used = [*"xyz", intensity_name] if intensity_name else [*"xyz"]
    for name in used:
        if fields[name].ndim != 1:
            raise VoxformerError(f"{path}: field {name} has {fields[name].shape[1]} values a point, expected 1")
    count = len(fields["x"])
    columns = [fields[name] for name in used] + ([] if intensity_name else [np.zeros(count)])
    return np.stack(columns, axis=1) if count else np.zeros((0, 4), np.float32)


def _split_header(data: bytes, end_keyword: str, path: Path) -> tuple[list[str], int]:
    """Header lines up to and including the one whose first word is ``end_keyword``, and the body's byte offset."""
    lines, position = [], 0
    while position < len(data):
        newline = data.find(b"\n", position)
        if newline < 0:
            break
        line = data[position:newline].decode("ascii", errors="replace").strip()
        position = newline + 1
        lines.append(line)
        if line.split()[:1] == [end_keyword]:
            return lines, position
    raise VoxformerError(f"{path}: header has no {end_keyword!r} line; not a valid file")


def _read_body(data: bytes, offset: int, dtype: np.dtype, count: int, ascii_rows: bool, header_lines: int,
               path: Path, exact: bool = True) -> dict[str, np.ndarray]:
    """The named fields of ``count`` records of ``dtype`` from ``data[offset:]``, binary or ASCII rows.

    ASCII rows hold each field's values in order, blank lines ignored; ``exact``: no rows may follow.
    """
    if ascii_rows:
        rows = _ascii_rows(data, offset, count, sum(_width(dtype, n) for n in dtype.names), header_lines, path, exact)
        fields, column = {}, 0
        for name in dtype.names:
            width = _width(dtype, name)
            fields[name] = rows[:, column] if width == 1 else rows[:, column : column + width]
            column += width
        return fields
    needed, available = dtype.itemsize * count, len(data) - offset
    if available < needed:
        raise VoxformerError(
            f"{path}: file is truncated: {available} bytes of data from byte offset {offset}, "
            f"{count} points of {dtype.itemsize} bytes need {needed}"
        )
    table = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return {name: table[name] for name in dtype.names}


def _width(dtype: np.dtype, name: str) -> int:
    return int(np.prod(dtype[name].shape, dtype=np.int64))


def _ascii_rows(data: bytes, offset: int, count: int, width: int, header_lines: int, path: Path,
                exact: bool) -> np.ndarray:
    """(count, width) float64 values of the ASCII rows after the header; errors name the file's line."""
    try:
        text = data[offset:].decode("ascii")
    except UnicodeDecodeError as error:
        position = offset + error.start
        raise VoxformerError(f"{path}: a non-ASCII byte in the ASCII data at byte offset {position}") from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), header_lines + 1) if line.strip()]
    if len(lines) < count or (exact and len(lines) > count):
        raise VoxformerError(f"{path}: the header says {count} points, the data has {len(lines)} rows")
    lines = lines[:count]
    if not lines:
        return np.zeros((0, width))
    try:
        rows = np.array([line.split() for _, line in lines], dtype=np.float64).reshape(count, -1)
    except ValueError:
        rows = None
    if rows is not None and rows.shape[1] == width:
        return rows
    for number, line in lines:
        words = line.split()
        if len(words) != width:
            raise VoxformerError(f"{path}: line {number} has {len(words)} values, the header describes {width}")
        for word in words:
            try:
                float(word)
            except ValueError:
                raise VoxformerError(f"{path}: line {number}: {word[:40]!r} is not a number") from None
    raise VoxformerError(f"{path}: the ASCII data cannot be read as {count} rows of {width} numbers")


def _record_dtype(fields: list[tuple[str, str, int]], path: Path) -> np.dtype:
    """A record dtype of (name, numpy code, values a point) fields; PCD's ``_`` padding fields may repeat."""
    names = [f"_{index}" if name == "_" else name for index, (name, _, _) in enumerate(fields)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise VoxformerError(f"{path}: the header names field {repeated[0]} more than once")
    try:
        return np.dtype([(name, code) if repeat == 1 else (name, code, (repeat,))
                         for name, (_, code, repeat) in zip(names, fields)])
    except ValueError as error:  # e.g. a record too large for numpy
        raise VoxformerError(f"{path}: the header describes an impossible point record ({error})") from None


def _read_pcd(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    header, offset = _split_header(data, "DATA", path)
    entries = {}
    for line in header:
        words = line.split()
        if words and not words[0].startswith("#"):
            entries[words[0].upper()] = words[1:]

    def integers(key: str, default: list[str] | None = None) -> list[int]:
        if key not in entries and default is None:
            raise VoxformerError(f"{path}: the PCD header has no {key} line")
        values = entries.get(key, default)
        if not all(value.isdigit() for value in values):
            raise VoxformerError(f"{path}: PCD header {key} {' '.join(values)!r}: expected non-negative integers")
        return [int(value) for value in values]

    names, types = entries.get("FIELDS", []), entries.get("TYPE", [])
    sizes, counts = integers("SIZE"), integers("COUNT", ["1"] * len(names))
    if not names or not len(names) == len(sizes) == len(types) == len(counts):
        raise VoxformerError(
            f"{path}: the PCD header lists {len(names)} FIELDS, {len(sizes)} SIZE, {len(types)} TYPE and "
            f"{len(counts)} COUNT values; they must be equal and non-zero"
        )
    count = integers("POINTS") if "POINTS" in entries else [int(np.prod(integers("WIDTH") + integers("HEIGHT")))]
    data_format = (entries.get("DATA") or ["?"])[0].lower()
    if len(count) != 1:
        raise VoxformerError(f"{path}: the PCD header's POINTS line must hold one number")
    if data_format not in ("ascii", "binary"):
        raise VoxformerError(f"{path}: PCD DATA {data_format} is not supported; save it as binary or ascii")
    fields = []
    for name, size, kind, repeat in zip(names, sizes, types, counts):
        code = _PCD_TYPES.get((kind.upper(), size))
        if code is None or repeat == 0:
            raise VoxformerError(f"{path}: PCD field {name} has unsupported TYPE {kind} SIZE {size} COUNT {repeat}")
        fields.append((name, "<" + code, repeat))
    dtype = _record_dtype(fields, path)
    return _read_body(data, offset, dtype, count[0], data_format == "ascii", len(header), path)


def _read_ply(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    header, offset = _split_header(data, "end_header", path)
    if header[0] != "ply":
        raise VoxformerError(f"{path}: not a PLY file (first line {header[0][:40]!r})")
    data_format, count, fields, elements = None, 0, [], []
    for number, line in enumerate(header[1:-1], 2):
        words = line.split()
        keyword = words[0] if words else ""
        if keyword == "format" and len(words) >= 2:
            data_format = words[1]
        elif keyword == "element" and len(words) == 3 and words[2].isdigit():
            elements.append(words[1])
            count = int(words[2]) if words[1] == "vertex" else count
        elif keyword == "property" and len(words) == 3 and words[1] in _PLY_TYPES:
            if elements[-1:] == ["vertex"]:
                fields.append((words[2], _PLY_TYPES[words[1]]))
        elif keyword == "property" and words[1:2] == ["list"] and elements[-1:] != ["vertex"]:
            continue  # a face list
        elif keyword not in ("comment", "obj_info", ""):
            raise VoxformerError(f"{path}: PLY header line {number} {line[:60]!r} is not understood or not supported")
    if elements[:1] != ["vertex"]:
        raise VoxformerError(f"{path}: the first PLY element must be 'vertex', got {elements[:1]}")
    byte_order = {"binary_little_endian": "<", "binary_big_endian": ">", "ascii": "<"}.get(data_format)
    if byte_order is None:
        raise VoxformerError(f"{path}: unsupported PLY format {data_format!r}")
    if not fields:
        raise VoxformerError(f"{path}: the PLY vertex element has no properties")
    dtype = _record_dtype([(name, byte_order + code, 1) for name, code in fields], path)
    return _read_body(data, offset, dtype, count, data_format == "ascii", len(header), path, exact=False)
