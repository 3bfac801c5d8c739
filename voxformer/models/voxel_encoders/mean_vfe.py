"""Mean voxel feature encoder (OpenPCDet ``MeanVFE``): each voxel's feature is the mean of its points.

The voxel limits of hard voxelization apply first (``voxformer.ops.voxelize.first_come_limits``, the
rule of spconv's ``PointToVoxel`` that OpenPCDet uses): a sample keeps the ``max_voxels`` voxels whose
first point comes earliest in input order, and each voxel its first ``max_points_per_voxel`` points.
No parameters; the output width is the point width; the output's ``xyz`` is the mean's first three columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.ops.voxelize import first_come_limits
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels, derive_sparse_shape

from .inputs import check_point_columns


@MODELS.register_module()
class MeanVFE(nn.Module):
    """Points + their voxel assignment -> :class:`SparseVoxels` (M', in_channels), M' <= M voxels.

    Args:
        in_channels: point columns (x, y, z, intensity[, ...]); also ``out_channels``.
        voxel_size, point_cloud_range: the grid (injected by :class:`VoxelDetector`).
        max_points_per_voxel: points averaged per voxel (the first ones in input order).
        max_voxels: voxels kept per sample (first come, first served); None keeps every voxel.
    """

    def __init__(
        self,
        in_channels: int,
        voxel_size: Sequence[float],
        point_cloud_range: Sequence[float],
        max_points_per_voxel: int = 5,
        max_voxels: int | None = 150000,
    ):
        super().__init__()
        if max_points_per_voxel < 1:
            raise ConfigError(f"voxel_encoder.max_points_per_voxel must be at least 1, got {max_points_per_voxel}")
        if max_voxels is not None and max_voxels < 1:
            raise ConfigError(f"voxel_encoder.max_voxels must be at least 1 or None, got {max_voxels}")
        self.sparse_shape = derive_sparse_shape(point_cloud_range, voxel_size)
        self.in_channels = in_channels
        self.out_channels = in_channels
        self.max_points_per_voxel = max_points_per_voxel
        self.max_voxels = max_voxels

    def forward(
        self, points: torch.Tensor, point_to_voxel: torch.Tensor, coords: torch.Tensor, batch_size: int
    ) -> SparseVoxels:
        """``points`` (N, C) of the whole batch in sample order, ``point_to_voxel`` (N,) voxel row or -1,
        ``coords`` (M, 4) int32 (batch, z, y, x) of the occupied voxels; the kept voxels keep their order."""
        check_point_columns(points, self.in_channels)
        m, k = coords.shape[0], self.max_points_per_voxel
        voxel = point_to_voxel.long()
        slot, keep_point, keep_voxel = first_come_limits(voxel, coords[:, 0].long(), batch_size, k, self.max_voxels)
        # Zero-padded (M, K, C) slots as in hard voxelization; points not kept go to a spare row M.
        row = torch.where(keep_point, voxel, m)
        column = torch.where(keep_point, slot, 0)
        slots = points.new_zeros(m + 1, k, points.shape[1])
        slots[row, column] = points
        counts = torch.zeros(m + 1, dtype=points.dtype, device=points.device)
        counts.scatter_add_(0, row, keep_point.to(points.dtype))
        means = slots.sum(dim=1)[:m] / counts[:m].clamp(min=1).unsqueeze(1)
        if self.max_voxels is not None:
            kept = keep_voxel.nonzero().squeeze(1)
            means, coords = means[kept], coords[kept]
        return SparseVoxels(means, coords, self.sparse_shape, batch_size, xyz=means[:, :3])
