"""Window partitions of float positions (SphereFormer): radial windows on spherical coordinates and cubic
windows on Cartesian ones, plus the quantised in-window positions that index relative-position tables.

Conventions: ``xyz`` (M, 3) float sensor-frame positions (no re-centring); ``batch`` (M,) int sample of each
row. Spherical coordinates (:func:`spherical_coordinates`) are θ = atan2(y, x) + π in degrees, wrapped to
[0, 360) (so θ = -180° and +180° are the same azimuth), β = atan2(√(x² + y²), z) in degrees [0, 180] and
r = ‖xyz‖. A point on the z axis (x = y = 0) has θ = 180°; the origin has θ = 180°, β = 0°, r = 0.

Cells, per axis a of window size w_a: ``floor((p_a - origin_a) / w_a)``.

- Radial windows (``window_size = (dθ°, dβ°, dr m)``): fixed origin 0 on every axis (the angles start at 0
  by definition; the official code subtracts the batch minimum, which moves the window borders with the
  data). θ and β cells are clamped to their last full-circle / half-circle cell (β = 180° joins the last
  inclination window; θ cells are ``floor(θ / dθ)`` of the wrapped θ); r cells are unbounded.
- Cubic windows (``window_size = (wx, wy, wz)`` metres): ``origin`` (3,) when given (a model passes the
  point-cloud range minimum), else the minimum of ``xyz`` over all rows of the batch (the official rule).
  Points below ``origin`` raise ``ValueError``.

Both return :class:`voxformer.ops.WindowPartition` with columns in the input axis order (θ, β, r) or
(x, y, z): ``window_id`` = ((b · N0 + c0) · N1 + c1) · N2 + c2 with N_a = 1 + the largest cell on axis a in
the call; ``in_window`` (M, 3) int64 holds the window's cell (c0, c1, c2) (float positions have no
integer position inside a window; :func:`window_positions` quantises them); ``window_shape`` the float
window size. Tokens of a window keep their input order. Backends: ``reference`` (unique + lexsort) and
``torch`` (one packed-key sort; the default), both with two host syncs (bounds, window count).
Cached by :meth:`voxformer.structures.SparseVoxels.radial_windows` / ``cubic_windows``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .backends import Backend, select
from .partition import INT64_LIMIT, WindowPartition, _invert, _lexsort, _run_starts, _sort_packed

FULL_CIRCLE = 360.0
HALF_CIRCLE = 180.0


def spherical_coordinates(xyz: torch.Tensor) -> torch.Tensor:
    """(M, 3) (θ°, β°, r) of sensor-frame ``xyz`` (M, 3), in ``xyz``'s dtype; see the module docstring."""
    x, y, z = xyz.unbind(1)
    theta = torch.rad2deg(torch.atan2(y, x) + math.pi)
    theta = torch.where(theta >= FULL_CIRCLE, theta - FULL_CIRCLE, theta)
    beta = torch.rad2deg(torch.atan2(torch.sqrt(x * x + y * y), z))
    return torch.stack([theta, beta, torch.linalg.vector_norm(xyz, dim=1)], 1)


def window_positions(
    values: torch.Tensor, window_size: Sequence[float] | torch.Tensor, origin: Sequence[float] | torch.Tensor, bins=24
) -> torch.Tensor:
    """(M, A) int64 quantised position inside the window: ((values - origin) mod w) // (w / bins), in [0, bins).

    ``values`` (M, A) float; ``window_size`` and ``origin`` (A,). The official code uses the batch minimum
    as ``origin`` and 24 bins (SphereFormer's ``quant_size = window_size / 24``).
    """
    if values.dim() != 2:
        raise ValueError(f"window_positions: values must be (M, A), got {tuple(values.shape)}")
    size = torch.as_tensor(window_size, dtype=values.dtype, device=values.device).reshape(-1)
    start = torch.as_tensor(origin, dtype=values.dtype, device=values.device).reshape(-1)
    if size.numel() != values.shape[1] or start.numel() != values.shape[1]:
        raise ValueError(
            f"window_positions: window_size and origin need {values.shape[1]} entries, got "
            f"{size.numel()} and {start.numel()}"
        )
    if bins < 1 or bool((size <= 0).any()):
        raise ValueError(f"window_positions: need bins >= 1 and window sizes > 0, got {bins} and {size.tolist()}")
    inside = torch.remainder(values - start, size)
    return torch.div(inside, size / bins, rounding_mode="floor").long().clamp(0, bins - 1)


# ----------------------------------------------------------------------------------------------
# validation and cells


def _check_inputs(op: str, xyz: torch.Tensor, batch: torch.Tensor, window_size, batch_size) -> tuple:
    if xyz.dim() != 2 or xyz.shape[1] != 3 or not xyz.is_floating_point():
        raise ValueError(f"{op}: xyz must be a float (M, 3) tensor, got {xyz.dtype} {tuple(xyz.shape)}")
    if batch.shape != (xyz.shape[0],) or batch.is_floating_point() or batch.dtype == torch.bool:
        raise ValueError(f"{op}: batch must be an integer (M,) tensor, got {batch.dtype} {tuple(batch.shape)}")
    if batch.device != xyz.device:
        raise ValueError(f"{op}: batch is on {batch.device} but xyz is on {xyz.device}")
    size = tuple(float(w) for w in window_size)
    if len(size) != 3 or not all(w > 0 and math.isfinite(w) for w in size):
        raise ValueError(f"{op}: window_size must be 3 finite sizes > 0, got {list(window_size)}")
    if batch_size is not None and batch_size < 0:
        raise ValueError(f"{op}: batch_size must be >= 0, got {batch_size}")
    return size


def _radial_cells(xyz: torch.Tensor, size: tuple[float, float, float]) -> torch.Tensor:
    """(M, 3) int64 (θ, β, r) cells with origin 0 (all coordinates are >= 0); angle cells clamped to the
    circle's last cell."""
    cells = torch.floor(spherical_coordinates(xyz) / torch.tensor(size, dtype=xyz.dtype, device=xyz.device)).long()
    theta_cells, beta_cells = math.ceil(FULL_CIRCLE / size[0]), math.ceil(HALF_CIRCLE / size[1])
    limits = torch.tensor([theta_cells - 1, beta_cells - 1, INT64_LIMIT - 1], device=xyz.device)
    return _mark_nonfinite(xyz, torch.minimum(cells, limits))


def _cubic_cells(xyz: torch.Tensor, size: tuple[float, float, float], origin: torch.Tensor) -> torch.Tensor:
    return _mark_nonfinite(
        xyz, torch.floor((xyz - origin) / torch.tensor(size, dtype=xyz.dtype, device=xyz.device)).long()
    )


def _mark_nonfinite(xyz: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """Cells of rows with a NaN / inf coordinate set to -1, which the bound check reports."""
    return torch.where(torch.isfinite(xyz).all(1, keepdim=True), cells, -1)


def _bounds(op: str, cells: torch.Tensor, batch: torch.Tensor, batch_size: int | None) -> tuple[list[int], int]:
    """(max cell + 1 per axis, samples spanned), checking batch values and finite cells >= 0 (one host sync)."""
    batch = batch.long()
    low, high = torch.aminmax(cells, dim=0)
    stats = torch.cat([high + 1, low, torch.stack(torch.aminmax(batch))]).tolist()
    radices, lows, (batch_low, batch_high) = stats[:3], stats[3:6], stats[6:]
    if batch_low < 0 or (batch_size is not None and batch_high >= batch_size):
        raise ValueError(f"{op}: batch values span [{batch_low}, {batch_high}], outside [0, {batch_size})")
    if min(lows) < 0:
        raise ValueError(f"{op}: positions lie below the origin (or are not finite)")
    if (batch_high + 1) * math.prod(radices) >= INT64_LIMIT:
        raise ValueError(f"{op}: {math.prod(radices)} windows per sample overflow int64 window ids")
    return radices, batch_high + 1


def _window_ids(cells: torch.Tensor, batch: torch.Tensor, radices: list[int]) -> torch.Tensor:
    n0, n1, n2 = radices
    return ((batch.long() * n0 + cells[:, 0]) * n1 + cells[:, 1]) * n2 + cells[:, 2]


# ----------------------------------------------------------------------------------------------
# backends: both take the cells and build the same partition


def _partition_reference(cells, batch, size, batch_size, op) -> WindowPartition:
    window_id = _window_ids(cells, batch, _bounds(op, cells, batch, batch_size)[0])
    order = _lexsort([window_id])
    _, segment, counts = torch.unique(window_id, return_inverse=True, return_counts=True)
    offsets = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
    return WindowPartition(window_id, segment, order, torch.argsort(order), offsets, cells, len(counts), size)


def _partition_torch(cells, batch, size, batch_size, op) -> WindowPartition:
    radices, samples = _bounds(op, cells, batch, batch_size)
    window_id = _window_ids(cells, batch, radices)
    order = _sort_packed(window_id, samples * math.prod(radices))
    sorted_segment = torch.cumsum(_run_starts(window_id[order]), 0) - 1
    num_windows = int(sorted_segment[-1]) + 1  # the second host sync
    offsets = torch.searchsorted(sorted_segment, torch.arange(num_windows + 1, device=cells.device))
    segment = torch.empty_like(sorted_segment).scatter_(0, order, sorted_segment)
    return WindowPartition(window_id, segment, order, _invert(order), offsets, cells, num_windows, size)


_BACKENDS = (Backend.vectorized(_partition_torch), Backend.reference(_partition_reference))


def _partition(op, cells, batch, size, batch_size, backend) -> WindowPartition:
    if cells.shape[0] == 0:
        empty = torch.zeros(0, dtype=torch.long, device=cells.device)
        return WindowPartition(empty, empty, empty, empty, empty.new_zeros(1), cells, 0, size)
    impl = select(op, _BACKENDS, cells.device, backend)
    return impl(cells, batch, size, batch_size, op)


# ----------------------------------------------------------------------------------------------
# public ops


def radial_window_partition(
    xyz: torch.Tensor,
    batch: torch.Tensor,
    window_size: Sequence[float],
    batch_size: int | None = None,
    *,
    backend: str | None = None,
) -> WindowPartition:
    """Radial windows of (dθ°, dβ°, dr m) on sensor-frame ``xyz`` (M, 3) per sample ``batch`` (M,).

    ``in_window`` holds each row's (θ, β, r) cell; see the module docstring for the cell rule.
    """
    op = "radial_window_partition"
    size = _check_inputs(op, xyz, batch, window_size, batch_size)
    return _partition(op, _radial_cells(xyz, size), batch, size, batch_size, backend)


def cubic_window_partition(
    xyz: torch.Tensor,
    batch: torch.Tensor,
    window_size: Sequence[float],
    batch_size: int | None = None,
    *,
    origin: Sequence[float] | torch.Tensor | None = None,
    backend: str | None = None,
) -> WindowPartition:
    """Cubic windows of (wx, wy, wz) metres on ``xyz`` (M, 3) per sample ``batch`` (M,).

    ``origin`` (3,): the corner of cell 0 (default: the minimum of ``xyz`` over all rows). ``in_window``
    holds each row's (x, y, z) cell.
    """
    op = "cubic_window_partition"
    size = _check_inputs(op, xyz, batch, window_size, batch_size)
    if origin is None:
        start = xyz.amin(0) if xyz.shape[0] else xyz.new_zeros(3)
    else:
        start = torch.as_tensor(origin, dtype=xyz.dtype, device=xyz.device).reshape(-1)
        if start.numel() != 3:
            raise ValueError(f"{op}: origin must hold 3 values (x, y, z), got {start.numel()}")
    return _partition(op, _cubic_cells(xyz, size, start), batch, size, batch_size, backend)
