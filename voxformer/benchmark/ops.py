"""The ``ops`` suite: custom ops next to named baselines measured in the same run.

Rows come from :func:`rows_for_voxel_ops` (voxelization, segment reduction, serialization, sparse
depth-wise conv, and the voxelize -> window partition -> DSVT sets pipeline) and from the modules
``voxformer.benchmark.ops_partition`` and ``voxformer.benchmark.ops_boxes`` (each a
``rows(device, quick)`` function).
"""

from __future__ import annotations

import torch

from voxformer import ops
from voxformer.benchmark import ops_boxes, ops_partition
from voxformer.benchmark.scans import benchmark_scan, waymo_size_scan
from voxformer.benchmark.timing import Row, compare
from voxformer.structures import SparseVoxels

SUITE = "ops"

PILLARS = {"name": "pillars 0.32 m", "size": (0.32, 0.32, 6.0), "range": (-74.88, -74.88, -2.0, 74.88, 74.88, 4.0)}
VOXELS = {"name": "voxels 0.1 m", "size": (0.1, 0.1, 0.1), "range": (0.0, -40.0, -3.0, 70.4, 40.0, 1.0)}
MAX_POINTS = 32  # points per voxel in hard mode, a common setting


def _spconv_voxelizer(grid: dict, num_points: int, channels: int, device: torch.device):
    """spconv's ``PointToVoxel`` for ``grid`` with room for every voxel, or None when spconv is missing."""
    try:
        from spconv.pytorch.utils import PointToVoxel
    except ImportError:
        return None
    return PointToVoxel(
        vsize_xyz=list(grid["size"]),
        coors_range_xyz=list(grid["range"]),
        num_point_features=channels,
        max_num_voxels=num_points,
        max_num_points_per_voxel=MAX_POINTS,
        device=device,
    )


def _voxelize_rows(points: torch.Tensor, source: str, device: torch.device) -> list[Row]:
    rows = []
    for grid in (PILLARS, VOXELS):
        dynamic = lambda g=grid: ops.voxelize(points, g["size"], g["range"])
        hard = lambda g=grid: ops.voxelize(points, g["size"], g["range"], MAX_POINTS, len(points))
        reference = lambda g=grid: ops.voxelize(points, g["size"], g["range"], backend="reference")
        spconv = _spconv_voxelizer(grid, len(points), points.shape[1], device)
        shape = f"{len(points)} pts ({source}) -> {len(dynamic().coords)} voxels"
        if spconv is None:
            rows.append(compare(f"voxelize dynamic {grid['name']}", shape, device, dynamic, "reference", reference))
            continue
        baseline, run_spconv = f"spconv PointToVoxel K={MAX_POINTS}", lambda s=spconv: s(points)
        rows.append(compare(f"voxelize dynamic {grid['name']}", shape, device, dynamic, baseline, run_spconv))
        rows.append(compare(f"voxelize hard K={MAX_POINTS} {grid['name']}", shape, device, hard, baseline, run_spconv))
    return rows


def _feature_rows(coords: torch.Tensor, device: torch.device, channels: int) -> list[Row]:
    """Segment max with backward, Hilbert order and sparse depth-wise conv on real voxel coords."""
    rows = []
    generator = torch.Generator().manual_seed(0)
    m = len(coords)
    values = torch.randn(4 * m, channels, generator=generator).to(device).requires_grad_(True)
    index = torch.randint(0, m, (4 * m,), generator=generator).to(device)

    def segment_max():
        ops.segment_reduce(values, index, num_segments=m, reduce="max").sum().backward()

    def scatter_amax():
        target = index[:, None].expand(-1, channels)
        out = values.new_zeros(m, channels).scatter_reduce(0, target, values, "amax", include_self=False)
        out.sum().backward()

    shape = f"{4 * m}x{channels} -> {m} segments"
    baseline = "torch scatter_reduce amax"
    rows.append(compare("segment_reduce max fwd+bwd", shape, device, segment_max, baseline, scatter_amax))
    rows.append(
        compare(
            "serialize hilbert",
            f"{m} voxels",
            device,
            lambda: ops.serialize(coords, "hilbert"),
            "serialize z-order",
            lambda: ops.serialize(coords, "z"),
        )
    )
    return rows


def _conv_row(coords: torch.Tensor, sparse_shape: tuple[int, int, int], device: torch.device, channels: int) -> Row:
    """ScatterFormer's 1x13x1 depth-wise conv on pillars, next to the dense grouped conv3d it replaces."""
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(len(coords), channels, generator=generator).to(device)
    weight = torch.randn(13, channels, generator=generator).to(device)
    kernel = (1, 13, 1)
    neighbors = SparseVoxels(features, coords, sparse_shape, 1).neighbours(kernel)
    dense_weight = weight.t().reshape(channels, 1, *kernel)

    def dense():
        grid = features.new_zeros(1, channels, *sparse_shape)
        z, y, x = coords[:, 1].long(), coords[:, 2].long(), coords[:, 3].long()
        grid[0, :, z, y, x] = features.t()
        return torch.nn.functional.conv3d(grid, dense_weight, padding=(0, 6, 0), groups=channels)[0, :, z, y, x]

    return compare(
        "sparse_depthwise_conv 1x13x1 (cached neighbours)",
        f"{len(coords)} pillars x {channels} on {sparse_shape}",
        device,
        lambda: ops.sparse_depthwise_conv(features, coords, sparse_shape, weight, kernel, neighbors=neighbors),
        "dense conv3d groups=C",
        dense,
    )


def _pipeline_row(device: torch.device, quick: bool) -> list[Row]:
    """Voxelize + window partition + DSVT sets of a Waymo-size frame."""
    points = waymo_size_scan(20_000 if quick else 180_000).to(device)
    sparse_shape = (1, 468, 468)

    def pipeline(backend=None):
        voxels = ops.voxelize(points, PILLARS["size"], PILLARS["range"], backend=backend)
        partition = ops.window_partition(voxels.coords, sparse_shape, (1, 12, 12), batch_size=1)
        return ops.dsvt_sets(partition, voxels.coords, 36, "y")

    return [
        compare(
            "voxelize + window_partition + dsvt_sets",
            f"{len(points)} pts, pillars 0.32 m, window 12x12, set 36",
            device,
            pipeline,
            "same with reference voxelize",
            lambda: pipeline("reference"),
        )
    ]


def rows_for_voxel_ops(device: torch.device, quick: bool) -> list[Row]:
    """Rows for voxelize, segment_reduce, serialize, sparse_depthwise_conv and the DSVT input pipeline."""
    device = torch.device(device)
    points, source = benchmark_scan()
    if quick:
        points = points[:10_000]
    points = points.to(device)
    rows = _voxelize_rows(points, source, device)
    voxel_coords = ops.voxelize(points, VOXELS["size"], VOXELS["range"]).coords
    rows += _feature_rows(voxel_coords, device, channels=16 if quick else 64)
    pillar_coords = ops.voxelize(points, PILLARS["size"], PILLARS["range"]).coords
    rows.append(_conv_row(pillar_coords, (1, 468, 468), device, channels=8 if quick else 32))
    rows += _pipeline_row(device, quick)
    return rows


def run(device: torch.device, quick: bool) -> list[Row]:
    return rows_for_voxel_ops(device, quick) + ops_partition.rows(device, quick) + ops_boxes.rows(device, quick)
