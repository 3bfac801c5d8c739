"""The cell rule of spconv 2.x ``PointToVoxel``, which OpenPCDet's voxel generator runs, as a dynamic grouping.

A point's cell is floor((p - range_min) / voxel_size) computed in float32 (spconv's CPU and CUDA kernels
take the range and voxel size as float); a point whose cell falls outside the grid on any axis is dropped.
The float32 arithmetic puts points lying on (or within float32 rounding of) a cell border into other
cells than the float64 rule of :func:`voxformer.ops.voxelize` does; scanner coordinates are quantized, so
this is common (1,327 of the 115,384 points of KITTI velodyne frame 000000 on the 0.1 x 0.1 x 0.15 m Waymo
grid). The per-voxel and per-sample limits of
``PointToVoxel`` (first come, first served) are applied by the voxel encoder
(:class:`~voxformer.models.voxel_encoders.MeanVFE`). Points with a non-finite coordinate are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from voxformer.ops import DynamicVoxels, decode_voxel_keys, derive_sparse_shape, encode_voxel_keys
from voxformer.ops.voxelize import group_keys


def spconv_dynamic_voxelize(
    points: Sequence[torch.Tensor], voxel_size: Sequence[float], point_cloud_range: Sequence[float]
) -> DynamicVoxels:
    """Group the (N_i, C) clouds of a batch by spconv's float32 cells (module docstring).

    Returns coords (M, 4) int32 (b, z, y, x) sorted, ``point_to_voxel`` (N,) int64 over the concatenated
    points (-1: dropped) and the points per voxel; one host sync (the number of voxels).
    """
    device = points[0].device
    sparse_shape = derive_sparse_shape(point_cloud_range, voxel_size)
    batch = torch.cat([torch.full((len(p),), b, dtype=torch.long, device=device) for b, p in enumerate(points)])
    xyz = torch.cat([p[:, :3] for p in points]).float()
    finite = torch.isfinite(xyz).all(dim=1)
    xyz = torch.where(finite[:, None], xyz, 0)
    kept, cells = finite, []
    for axis, cell_count in enumerate(sparse_shape[::-1]):
        # a Python number meets a float32 tensor as float32, as spconv's float range and voxel size do
        cell = torch.floor((xyz[:, axis] - point_cloud_range[axis]) / voxel_size[axis]).long()
        kept = kept & (cell >= 0) & (cell < cell_count)
        cells.append(torch.where(kept, cell, 0))
    keys = encode_voxel_keys((batch, cells[2], cells[1], cells[0]), sparse_shape)
    grouping = group_keys(torch.where(kept, keys, -1), (~finite).sum())
    return DynamicVoxels(
        decode_voxel_keys(grouping.keys, sparse_shape),
        grouping.point_to_voxel,
        grouping.counts.int(),
        grouping.num_nonfinite,
    )
