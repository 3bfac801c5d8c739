"""Dynamic voxel feature encoders: PointNet over the points of each voxel, no per-voxel point cap.

Per point the input is its raw features (x, y, z, intensity, ...) plus its offset to the mean of its
voxel's points (cluster centre) and to the voxel's geometric centre. Each layer is Linear -> LayerNorm
-> ReLU; between layers each point also sees its voxel's max feature; the voxel feature is the max
over its points of the last layer (means and maxima via ``segment_reduce``). The output's ``xyz`` is the
mean of each voxel's points (sensor frame, before ``normalize_inputs``).
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


@MODELS.register_module()
class DynamicVFE(nn.Module):
    """Points + their voxel assignment -> :class:`SparseVoxels` with (M, feat_channels[-1]) features.

    Args:
        in_channels: point columns (x, y, z, intensity[, ...]).
        feat_channels: widths of the point MLP layers.
        voxel_size, point_cloud_range: the grid (injected by :class:`VoxelDetector`).
        with_cluster_center, with_voxel_center: add the point-to-mean / point-to-centre offsets (3 each).
        normalize_inputs: scale the point features to about [-1, 1] (positions about the range's centre by
            its half extent, offsets by the voxel size) and give the first layer a bias. Without it the first
            layer is bias-free, and a LayerNorm after a bias-free linear map sees only the direction of each
            point's feature vector, not its length, so absolute heights blur with range.
    """

    def __init__(
        self,
        in_channels: int,
        feat_channels: Sequence[int],
        voxel_size: Sequence[float],
        point_cloud_range: Sequence[float],
        with_cluster_center: bool = True,
        with_voxel_center: bool = True,
        normalize_inputs: bool = False,
    ):
        super().__init__()
        if not feat_channels:
            raise ConfigError("voxel_encoder.feat_channels must name at least one layer width")
        self.sparse_shape = derive_sparse_shape(point_cloud_range, voxel_size)
        self.register_buffer("voxel_size", torch.tensor(voxel_size, dtype=torch.float32), persistent=False)
        low, high = torch.tensor(point_cloud_range, dtype=torch.float32).view(2, 3)
        self.register_buffer("range_min", low, persistent=False)
        self.register_buffer("range_centre", (low + high) / 2, persistent=False)
        self.register_buffer("range_half_extent", (high - low) / 2, persistent=False)
        self.normalize_inputs = normalize_inputs
        self.with_cluster_center = with_cluster_center
        self.with_voxel_center = with_voxel_center
        self.in_channels = in_channels
        channels = in_channels + 3 * with_cluster_center + 3 * with_voxel_center
        self.layers = nn.ModuleList()
        for i, width in enumerate(feat_channels):
            layer_in = channels if i == 0 else 2 * feat_channels[i - 1]
            linear = nn.Linear(layer_in, width, bias=normalize_inputs and i == 0)
            self.layers.append(nn.Sequential(linear, self.make_norm(width), nn.ReLU()))
        self.out_channels = feat_channels[-1]

    def make_norm(self, channels: int) -> nn.Module:
        """The normalization of each layer (LayerNorm; subclasses choose another)."""
        return nn.LayerNorm(channels)

    def forward(
        self, points: torch.Tensor, point_to_voxel: torch.Tensor, coords: torch.Tensor, batch_size: int
    ) -> SparseVoxels:
        """``points`` (N, C) of the whole batch, ``point_to_voxel`` (N,) voxel row or -1 (dropped),
        ``coords`` (M, 4) int32 (batch, z, y, x) of the occupied voxels."""
        check_point_columns(points, self.in_channels)
        # Dropped points (voxel -1) stay in place, zeroed so that they are finite, and the segment
        # reductions ignore them: no data-dependent filtering (a host sync on a GPU).
        voxel = point_to_voxel
        if coords.shape[0] == 0:  # every point dropped
            points, voxel = points[:0], voxel[:0]
        points = torch.where((voxel >= 0)[:, None], points, 0)
        gather = voxel.clamp(min=0)  # a dropped point reads voxel 0's mean/max, which nothing uses
        num_voxels = coords.shape[0]
        xyz = points[:, :3]
        offsets = []
        mean = segment_reduce(xyz, voxel, num_segments=num_voxels, reduce="mean")  # also the voxels' xyz
        if self.with_cluster_center:
            offsets.append(xyz - mean[gather])
        if self.with_voxel_center:
            centre = (coords[:, [3, 2, 1]].to(xyz.dtype) + 0.5) * self.voxel_size + self.range_min
            offsets.append(xyz - centre[gather])
        if self.normalize_inputs:
            xyz = (xyz - self.range_centre) / self.range_half_extent
            offsets = [offset / self.voxel_size for offset in offsets]
        features = torch.cat([xyz, points[:, 3:], *offsets], dim=1)
        for i, layer in enumerate(self.layers):
            point_features = layer(features)
            voxel_features = segment_reduce(point_features, voxel, num_segments=num_voxels, reduce="max")
            if i + 1 < len(self.layers):
                features = torch.cat([point_features, voxel_features[gather]], dim=1)
        return SparseVoxels(voxel_features, coords, self.sparse_shape, batch_size, xyz=mean)


@MODELS.register_module()
class DynamicPillarVFE(DynamicVFE):
    """:class:`DynamicVFE` on pillars: the voxel size spans the whole z range (one z cell)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.sparse_shape[0] != 1:
            raise ConfigError(
                f"DynamicPillarVFE needs one z cell, but voxel_size and point_cloud_range give sparse_shape "
                f"{self.sparse_shape}; set voxel_size z to the z extent of point_cloud_range"
            )
