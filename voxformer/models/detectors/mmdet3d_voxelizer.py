"""The dynamic voxelization of mmdet3d 0.x as FlatFormer runs it (``dynamic_voxelize`` + ``DynamicScatter``).

Reproduced exactly, quirks included (the released FlatFormer computes on it):

- A point's cell is floor((p - range_min) / voxel_size) in float32, **clamped** into the grid: points outside
  ``point_cloud_range`` join the border voxels instead of being dropped.
- The scatter takes the sorted unique (z, y, x) cells of each sample and drops the first one, which it
  assumes to be the (-1, -1, -1) row of out-of-range points; clamping never makes that row, so each sample
  loses its smallest (z, y, x) voxel, with its points.

Points with a non-finite coordinate are dropped (the CUDA kernel's behaviour on them is undefined), with a
warning as :func:`voxformer.ops.voxelize` gives.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch

from voxformer.ops import DynamicVoxels, decode_voxel_keys, derive_sparse_shape, encode_voxel_keys


def mmdet3d_dynamic_voxelize(
    points: Sequence[torch.Tensor], voxel_size: Sequence[float], point_cloud_range: Sequence[float]
) -> DynamicVoxels:
    """Voxelize the (N_i, C) clouds of a batch like mmdet3d's dynamic voxelization (module docstring).

    Returns coords (M, 4) int32 (b, z, y, x) sorted, ``point_to_voxel`` (N,) int64 over the concatenated
    points (-1: dropped) and the points per voxel.
    """
    device = points[0].device
    sparse_shape = derive_sparse_shape(point_cloud_range, voxel_size)
    shape_xyz = torch.tensor(sparse_shape[::-1], device=device)
    lower = torch.tensor(point_cloud_range[:3], dtype=torch.float32, device=device)
    size = torch.tensor(voxel_size, dtype=torch.float32, device=device)
    batch = torch.cat([torch.full((len(p),), b, dtype=torch.long, device=device) for b, p in enumerate(points)])
    xyz = torch.cat([p[:, :3] for p in points]).float()
    finite = torch.isfinite(xyz).all(dim=1)
    cells = torch.floor((torch.where(finite[:, None], xyz, 0) - lower) / size).long()
    cells = torch.minimum(cells.clamp(min=0), shape_xyz - 1)
    keys = encode_voxel_keys((batch, cells[:, 2], cells[:, 1], cells[:, 0]), sparse_shape)
    unique, inverse, counts = torch.unique(keys[finite], sorted=True, return_inverse=True, return_counts=True)
    sample = unique // (sparse_shape[0] * sparse_shape[1] * sparse_shape[2])
    first_of_sample = torch.ones_like(unique, dtype=torch.bool)
    first_of_sample[1:] = sample[1:] != sample[:-1]
    kept = ~first_of_sample  # the scatter's quirk: each sample's smallest cell goes
    row = torch.cumsum(kept, 0) - 1
    point_to_voxel = torch.full_like(keys, -1)
    point_to_voxel[finite] = torch.where(kept[inverse], row[inverse], -1)
    num_nonfinite = int((~finite).sum())
    if num_nonfinite:
        warnings.warn(f"voxelize: dropped {num_nonfinite} points with NaN or inf coordinates", stacklevel=2)
    return DynamicVoxels(
        decode_voxel_keys(unique[kept], sparse_shape), point_to_voxel, counts[kept].int(), num_nonfinite
    )
