"""OpenPCDet's dynamic PFN voxel encoder (``DynPillarVFE3D``), used by the published DSVT and ScatterFormer models.

Per point the input is all its columns (x, y, z, intensity, ...), its offset to the mean of its voxel's
points and its offset to the voxel's centre, in that order (in_channels + 6). Each layer is a bias-free
Linear -> BatchNorm1d (eps 1e-3, momentum 0.01) -> ReLU. A layer before the last one outputs half its
width and concatenates each point's voxel maximum (so 11 -> 96 -> [96 | max 96] = 192); the last layer
outputs its full width and its voxel maximum is the voxel feature. Works on pillars (one z cell) and
on voxels alike. The voxel centre is ``index * size + (size / 2 + range_min)``: the offset summed in
double precision, the product in the point dtype, as OpenPCDet rounds it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.ops import segment_reduce
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels, derive_sparse_shape

from .inputs import check_point_columns


class PFNLayer(nn.Module):
    """Linear (no bias) -> BatchNorm1d -> ReLU on points; ``concat_max`` appends each point's voxel max."""

    def __init__(self, in_channels: int, out_channels: int, concat_max: bool):
        super().__init__()
        self.concat_max = concat_max
        self.linear = nn.Linear(in_channels, out_channels, bias=False)
        self.norm = nn.BatchNorm1d(out_channels, eps=1e-3, momentum=0.01)

    def forward(self, features: torch.Tensor, voxel: torch.Tensor, num_voxels: int) -> torch.Tensor:
        """(N, C_in) point features -> (N, 2 * C_out) with ``concat_max``, else (num_voxels, C_out)."""
        x = torch.relu(self.norm(self.linear(features)))
        voxel_max = segment_reduce(x, voxel, num_segments=num_voxels, reduce="max")
        return torch.cat([x, voxel_max[voxel]], dim=1) if self.concat_max else voxel_max


@MODELS.register_module()
class PFNDynamicVFE(nn.Module):
    """Points + their voxel assignment -> :class:`SparseVoxels` with (M, feat_channels[-1]) features.

    Args:
        in_channels: point columns (x, y, z, intensity[, ...]).
        feat_channels: layer widths (OpenPCDet ``NUM_FILTERS``), e.g. [192, 192]: the first layer then outputs
            96 per point; every width but the last must be even.
        voxel_size, point_cloud_range: the grid (injected by :class:`VoxelDetector`).
    """

    def __init__(
        self,
        in_channels: int,
        feat_channels: Sequence[int],
        voxel_size: Sequence[float],
        point_cloud_range: Sequence[float],
    ):
        super().__init__()
        if not feat_channels or any(width % 2 for width in feat_channels[:-1]):
            raise ConfigError(
                f"voxel_encoder.feat_channels must name at least one width, all but the last even; "
                f"got {list(feat_channels)}"
            )
        self.sparse_shape = derive_sparse_shape(point_cloud_range, voxel_size)
        self.voxel_size = [float(v) for v in voxel_size]
        self.centre_offset = [float(v) / 2 + float(low) for v, low in zip(voxel_size, point_cloud_range[:3])]
        self.in_channels = in_channels
        widths = [in_channels + 6, *feat_channels]
        last = len(feat_channels) - 1
        self.pfn_layers = nn.ModuleList(
            PFNLayer(widths[i], widths[i + 1] if i == last else widths[i + 1] // 2, concat_max=i < last)
            for i in range(len(feat_channels))
        )
        self.out_channels = int(feat_channels[-1])

    def forward(
        self, points: torch.Tensor, point_to_voxel: torch.Tensor, coords: torch.Tensor, batch_size: int
    ) -> SparseVoxels:
        """``points`` (N, C) of the whole batch, ``point_to_voxel`` (N,) voxel row or -1 (dropped),
        ``coords`` (M, 4) int32 (batch, z, y, x) of the occupied voxels."""
        check_point_columns(points, self.in_channels)
        # BatchNorm statistics must see the kept points only, so dropped points are filtered out here
        # (one host sync: the number of kept points).
        kept = torch.nonzero(point_to_voxel >= 0).squeeze(1)
        points, voxel = points[kept], point_to_voxel[kept].long()
        num_voxels = coords.shape[0]
        xyz = points[:, :3]
        mean = segment_reduce(xyz, voxel, num_segments=num_voxels, reduce="mean")
        cell = coords[voxel][:, [3, 2, 1]].to(xyz.dtype)  # (x, y, z) voxel index of each point
        centre = torch.stack([cell[:, a] * self.voxel_size[a] + self.centre_offset[a] for a in range(3)], dim=1)
        features = torch.cat([points, xyz - mean[voxel], xyz - centre], dim=1)
        for layer in self.pfn_layers:
            features = layer(features, voxel, num_voxels)
        return SparseVoxels(features, coords, self.sparse_shape, batch_size)
