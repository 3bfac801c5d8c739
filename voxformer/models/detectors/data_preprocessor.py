"""Moves a batch to the model's device and voxelizes its points there (dynamic voxelization)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from voxformer.errors import ConfigError
from voxformer.ops import voxelize
from voxformer.registry import MODELS
from voxformer.structures import derive_sparse_shape


@MODELS.register_module()
class VoxelDataPreprocessor(BaseDataPreprocessor):
    """``dict(inputs=dict(points=[(N_i, C) per sample]), data_samples=[...])`` ->
    ``dict(inputs=dict(points (N, C), point_to_voxel (N,), coords (M, 4), batch_size), data_samples)``.

    ``points`` are the samples' points concatenated in batch order; ``point_to_voxel`` is each point's
    row in ``coords`` (int32 (batch, z, y, x)) or -1 when the point lies outside ``point_cloud_range``.
    ``sparse_shape`` (Z, Y, X) is derived from ``point_cloud_range`` and ``voxel_size``.
    """

    def __init__(self, voxel_size: Sequence[float], point_cloud_range: Sequence[float], non_blocking: bool = False):
        super().__init__(non_blocking=non_blocking)
        self.voxel_size = [float(v) for v in voxel_size]
        self.point_cloud_range = [float(v) for v in point_cloud_range]
        try:  # the first check of the config's grid, which the other modules then receive
            self.sparse_shape = derive_sparse_shape(self.point_cloud_range, self.voxel_size)
        except ValueError as error:
            raise ConfigError(f"data_preprocessor: {error}") from None

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        points = list(data["inputs"]["points"])
        if not points:
            raise ValueError("data_preprocessor: the batch holds no sample")
        voxels = voxelize(points, self.voxel_size, self.point_cloud_range)
        inputs = dict(
            points=torch.cat(points, dim=0),
            point_to_voxel=voxels.point_to_voxel,
            coords=voxels.coords,
            batch_size=len(points),
        )
        return dict(inputs=inputs, data_samples=data.get("data_samples"))
