"""Voxelization of a batch of point clouds.

A point p of sample b lies in voxel (b, z, y, x) with x = floor((p_x - x0) / vx) (likewise y, z),
computed in float64 with the range and size as given. The range is half-open, [x0, x1) per axis: a
point exactly on the lower bound is kept, one on the upper bound dropped. A point with any
non-finite value (in any column) is dropped and counted, with a warning.

- **Dynamic** (no limits): every occupied voxel, coords (M, 4) int32 sorted by (b, z, y, x), the
  voxel of each input point and the points per voxel.
- **Hard** (``max_points_per_voxel`` given): first come, first served in input order: a sample keeps
  the ``max_voxels`` voxels whose first point comes earliest (all when None), and each voxel its
  first ``max_points_per_voxel`` points, zero-padded to (M, K, C). Every backend keeps the same points.

Backends: ``numba`` (CPU; radix sort of cell keys), ``torch`` (CUDA; one stable sort, one host sync
to size the outputs) and ``reference`` (``torch.unique``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .backends import Backend, select
from .grid import decode_voxel_keys, derive_sparse_shape, encode_voxel_keys


@dataclass
class DynamicVoxels:
    """Occupied voxels; ``point_to_voxel`` indexes the points of all samples concatenated."""

    coords: torch.Tensor  # (M, 4) int32 (b, z, y, x), sorted
    point_to_voxel: torch.Tensor  # (N_total,) int64, -1 for dropped points
    num_points: torch.Tensor  # (M,) int32
    num_nonfinite: int


@dataclass
class HardVoxels:
    """At most K points per voxel (zero-padded) and at most ``max_voxels`` voxels per sample."""

    voxels: torch.Tensor  # (M, K, C), points dtype
    coords: torch.Tensor  # (M, 4) int32 (b, z, y, x), sorted
    num_points: torch.Tensor  # (M,) int32, at most K
    num_nonfinite: int


@dataclass(frozen=True)
class Grid:
    """The voxel grid: lower/upper corners and voxel size as (x, y, z), cell counts as (X, Y, Z)."""

    lower: tuple[float, float, float]
    upper: tuple[float, float, float]
    size: tuple[float, float, float]
    shape_xyz: tuple[int, int, int]

    @property
    def cells_per_sample(self) -> int:
        return self.shape_xyz[0] * self.shape_xyz[1] * self.shape_xyz[2]

    @property
    def sparse_shape(self) -> tuple[int, int, int]:
        """(Z, Y, X)."""
        x_cells, y_cells, z_cells = self.shape_xyz
        return z_cells, y_cells, x_cells


def make_grid(voxel_size: Sequence[float], point_cloud_range: Sequence[float]) -> Grid:
    """Check ``voxel_size`` (vx, vy, vz) and ``point_cloud_range`` (x0, y0, z0, x1, y1, z1) and build the grid."""
    z_cells, y_cells, x_cells = derive_sparse_shape(point_cloud_range, voxel_size)
    return Grid(
        tuple(float(r) for r in point_cloud_range[:3]),
        tuple(float(r) for r in point_cloud_range[3:]),
        tuple(float(s) for s in voxel_size),
        (x_cells, y_cells, z_cells),
    )


def _as_batch(points: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    clouds = [points] if isinstance(points, torch.Tensor) else list(points)
    if not clouds:
        raise ValueError("points: expected a (N, C) tensor or a non-empty list of them")
    first = clouds[0]
    for i, cloud in enumerate(clouds):
        if not isinstance(cloud, torch.Tensor) or cloud.dim() != 2 or cloud.shape[1] < 3:
            shape = tuple(cloud.shape) if isinstance(cloud, torch.Tensor) else type(cloud).__name__
            raise ValueError(f"points[{i}]: expected a (N, C >= 3) tensor (x, y, z, ...), got {shape}")
        if not cloud.is_floating_point():
            raise ValueError(f"points[{i}]: expected a floating-point tensor, got {cloud.dtype}")
        if (cloud.shape[1], cloud.dtype, cloud.device) != (first.shape[1], first.dtype, first.device):
            raise ValueError(
                f"points[{i}]: every cloud needs the same channels, dtype and device; got "
                f"{(cloud.shape[1], cloud.dtype, cloud.device)} vs {(first.shape[1], first.dtype, first.device)}"
            )
    return clouds


def _concat(clouds: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """All points (N, C) and the sample index of each point (N,) int64 (filled on the device, no host data)."""
    device = clouds[0].device
    batch = torch.cat([torch.full((len(c),), b, dtype=torch.long, device=device) for b, c in enumerate(clouds)])
    return (clouds[0] if len(clouds) == 1 else torch.cat(clouds)), batch


def cell_keys(points: torch.Tensor, batch: torch.Tensor, grid: Grid) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) int64 voxel key (:mod:`voxformer.ops.grid`) of each point's cell, -1 when dropped, and a 0-d
    tensor counting the non-finite points."""
    finite = torch.isfinite(points).all(dim=1)
    kept, cells = finite, []
    for axis in range(3):  # Python numbers broadcast without copying host data to the device
        p = points[:, axis].double()
        cell = torch.floor((p - grid.lower[axis]) / grid.size[axis]).long()
        kept = kept & (p >= grid.lower[axis]) & (p < grid.upper[axis]) & (cell < grid.shape_xyz[axis])
        cells.append(cell)
    keys = encode_voxel_keys((batch, cells[2], cells[1], cells[0]), grid.sparse_shape)
    return torch.where(kept, keys, -1), (~finite).sum()


@dataclass
class _Grouping:
    """Points grouped by voxel: sorted unique keys (M,), point_to_voxel (N,) (-1 dropped), counts (M,)."""

    keys: torch.Tensor
    point_to_voxel: torch.Tensor
    counts: torch.Tensor
    num_nonfinite: int


def _group_unique(points: torch.Tensor, batch: torch.Tensor, grid: Grid) -> _Grouping:
    """Reference grouping: ``torch.unique`` of the kept points' keys."""
    keys, nonfinite = cell_keys(points, batch, grid)
    kept = keys >= 0
    unique, inverse, counts = torch.unique(keys[kept], sorted=True, return_inverse=True, return_counts=True)
    point_to_voxel = torch.full_like(keys, -1)
    point_to_voxel[kept] = inverse
    return _Grouping(unique, point_to_voxel, counts, int(nonfinite))


def _group_sorted(points: torch.Tensor, batch: torch.Tensor, grid: Grid) -> _Grouping:
    """Fast GPU grouping: one stable sort of the keys (dropped points last), one host sync for M."""
    return group_keys(*cell_keys(points, batch, grid))


def group_keys(keys: torch.Tensor, nonfinite: torch.Tensor) -> _Grouping:
    """Group points by their (N,) int64 voxel keys (-1: dropped) with one stable sort and one host sync;
    ``nonfinite`` is a 0-d tensor counting the non-finite points (read back in the same sync)."""
    sentinel = torch.iinfo(torch.int64).max
    sorted_keys, order = torch.sort(torch.where(keys >= 0, keys, sentinel), stable=True)
    starts_run = torch.ones_like(sorted_keys, dtype=torch.bool)
    starts_run[1:] = sorted_keys[1:] != sorted_keys[:-1]
    run = torch.cumsum(starts_run, 0) - 1  # dropped points form the last run, id M
    kept_sorted = sorted_keys != sentinel
    m, num_nonfinite = torch.stack([(starts_run & kept_sorted).sum(), nonfinite]).tolist()
    unique = sorted_keys.new_empty(m + 1).scatter_(0, run, sorted_keys)[:m]
    counts = torch.zeros(m + 1, dtype=torch.int64, device=keys.device).scatter_add_(0, run, torch.ones_like(run))[:m]
    point_to_voxel = torch.empty_like(keys).scatter_(0, order, torch.where(kept_sorted, run, -1))
    return _Grouping(unique, point_to_voxel, counts, num_nonfinite)


def first_come_limits(
    point_to_voxel: torch.Tensor, voxel_batch: torch.Tensor, batch_size: int, max_points: int, max_voxels: int | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The hard-voxelization rule on a dynamic grouping, without host syncs.

    ``point_to_voxel`` (N,) voxel row or -1, the points of the samples concatenated in batch order;
    ``voxel_batch`` (M,) each voxel's sample. A sample keeps the ``max_voxels`` voxels whose first point
    comes earliest (all when None) and each voxel its first ``max_points`` points in input order.
    Returns ``slot`` (N,) each point's rank in its voxel (undefined for dropped points), ``keep_point``
    (N,) bool and ``keep_voxel`` (M,) bool.
    """
    n, m = len(point_to_voxel), len(voxel_batch)
    device = point_to_voxel.device
    p2v = torch.where(point_to_voxel >= 0, point_to_voxel, m)  # dropped points -> trash voxel m
    keep_voxel = torch.ones(m, dtype=torch.bool, device=device)
    if max_voxels is not None:
        arange_n = torch.arange(n, device=device)
        first = torch.full((m + 1,), n, device=device).scatter_reduce_(0, p2v, arange_n, "amin")[:m]
        by_arrival = torch.argsort(first)  # samples are concatenated, so this is batch-major
        per_sample = torch.zeros(batch_size, dtype=torch.long, device=device)
        per_sample.scatter_add_(0, voxel_batch, torch.ones_like(voxel_batch))
        sample_start = torch.cumsum(per_sample, 0) - per_sample
        arrival = torch.empty_like(first)
        arrival[by_arrival] = torch.arange(m, device=device) - sample_start[voxel_batch[by_arrival]]
        keep_voxel = arrival < max_voxels
    point_order = torch.sort(p2v, stable=True).indices  # input order within each voxel
    counts = torch.zeros(m + 1, dtype=torch.long, device=device).scatter_add_(0, p2v, torch.ones_like(p2v))
    run_start = torch.cumsum(counts, 0) - counts
    slot = torch.empty_like(p2v)
    slot[point_order] = torch.arange(n, device=device) - run_start[p2v[point_order]]
    voxel_kept = torch.cat([keep_voxel, keep_voxel.new_zeros(1)])  # the trash voxel is never kept
    keep_point = voxel_kept[p2v] & (slot < max_points)
    return slot, keep_point, keep_voxel


def _pack_hard(
    points: torch.Tensor, grouping: _Grouping, grid: Grid, batch_size: int, max_points: int, max_voxels: int | None
) -> HardVoxels:
    """First-come-first-served limits on a grouping, in plain PyTorch (any device)."""
    m = len(grouping.keys)
    voxel_batch = grouping.keys // grid.cells_per_sample
    slot, keep_point, keep_voxel = first_come_limits(
        grouping.point_to_voxel, voxel_batch, batch_size, max_points, max_voxels
    )
    p2v = torch.where(grouping.point_to_voxel >= 0, grouping.point_to_voxel, m)
    new_id = torch.cumsum(keep_voxel, 0) - 1
    voxels = points.new_zeros(int(keep_voxel.sum()), max_points, points.shape[1])
    voxels[new_id[p2v[keep_point]], slot[keep_point]] = points[keep_point]
    return HardVoxels(
        voxels,
        decode_voxel_keys(grouping.keys[keep_voxel], grid.sparse_shape),
        grouping.counts[keep_voxel].clamp(max=max_points).int(),
        grouping.num_nonfinite,
    )


def _torch_backend(group):
    def run(clouds, grid, max_points, max_voxels):
        points, batch = _concat(clouds)
        grouping = group(points, batch, grid)
        if max_points is not None:
            return _pack_hard(points, grouping, grid, len(clouds), max_points, max_voxels)
        coords = decode_voxel_keys(grouping.keys, grid.sparse_shape)
        return DynamicVoxels(coords, grouping.point_to_voxel, grouping.counts.int(), grouping.num_nonfinite)

    return run


def _numba_backend(clouds, grid, max_points, max_voxels):
    import numpy as np

    from .cpu import voxelize_numba

    points = (clouds[0] if len(clouds) == 1 else torch.cat(clouds)).contiguous().numpy()
    starts = np.cumsum([0] + [len(c) for c in clouds]).astype(np.int64)
    geometry = (
        starts,
        np.asarray(grid.lower, np.float64),
        np.asarray(grid.upper, np.float64),
        np.asarray(grid.size, np.float64),
        np.asarray(grid.shape_xyz, np.int64),
    )
    if max_points is not None:
        limit = -1 if max_voxels is None else max_voxels
        voxels, coords, num_points, nonfinite = voxelize_numba.hard_voxelize(points, *geometry, max_points, limit)
        return HardVoxels(
            torch.from_numpy(voxels), torch.from_numpy(coords), torch.from_numpy(num_points), int(nonfinite)
        )
    coords, point_to_voxel, num_points, nonfinite = voxelize_numba.dynamic_voxelize(points, *geometry)
    return DynamicVoxels(
        torch.from_numpy(coords), torch.from_numpy(point_to_voxel), torch.from_numpy(num_points), int(nonfinite)
    )


BACKENDS = (
    Backend.numba(_numba_backend),
    Backend.vectorized(_torch_backend(_group_sorted), devices=("cuda",)),
    Backend.reference(_torch_backend(_group_unique)),
)


def voxelize(
    points: torch.Tensor | Sequence[torch.Tensor],
    voxel_size: Sequence[float],
    point_cloud_range: Sequence[float],
    max_points_per_voxel: int | None = None,
    max_voxels: int | None = None,
    backend: str | None = None,
) -> DynamicVoxels | HardVoxels:
    """Voxelize one (N, C) cloud or a list of them (sample b = list position; columns x, y, z, ...).

    Dynamic when ``max_points_per_voxel`` is None, else hard with at most that many points per
    voxel and at most ``max_voxels`` voxels per sample (None: no limit). See the module docstring
    for the exact rules.
    """
    clouds = _as_batch(points)
    grid = make_grid(voxel_size, point_cloud_range)
    if max_points_per_voxel is None and max_voxels is not None:
        raise ValueError("max_voxels needs max_points_per_voxel (hard voxelization); give both or neither")
    if max_points_per_voxel is not None and max_points_per_voxel < 1:
        raise ValueError(f"max_points_per_voxel must be at least 1, got {max_points_per_voxel}")
    if max_voxels is not None and max_voxels < 0:
        raise ValueError(f"max_voxels must be non-negative, got {max_voxels}")
    fn = select("voxelize", BACKENDS, clouds[0].device, backend)
    result = fn(clouds, grid, max_points_per_voxel, max_voxels)
    if result.num_nonfinite:
        warnings.warn(f"voxelize: dropped {result.num_nonfinite} points with NaN or inf values", stacklevel=2)
    return result
