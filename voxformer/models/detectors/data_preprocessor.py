"""Moves a batch to the model's device and voxelizes its points there (dynamic voxelization)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from voxformer.errors import ConfigError
from voxformer.ops import voxelize
from voxformer.registry import MODELS
from voxformer.structures import derive_sparse_shape

from .mmdet3d_voxelizer import mmdet3d_dynamic_voxelize
from .spconv_voxelizer import spconv_dynamic_voxelize

VOXELIZERS = ("exact", "mmdet3d", "spconv")


@MODELS.register_module()
class VoxelDataPreprocessor(BaseDataPreprocessor):
    """``dict(inputs=dict(points=[(N_i, C) per sample]), data_samples=[...])`` ->
    ``dict(inputs=dict(points (N, C), point_to_voxel (N,), coords (M, 4), batch_size, num_points), data_samples)``.

    ``points`` are the samples' points concatenated in batch order; ``point_to_voxel`` is each point's
    row in ``coords`` (int32 (batch, z, y, x)) or -1 when the point lies outside ``point_cloud_range``.
    ``num_points`` lists each sample's point count (the split of ``points``).
    ``sparse_shape`` (Z, Y, X) is derived from ``point_cloud_range`` and ``voxel_size``.
    ``voxelizer``: ``"exact"`` (:func:`voxformer.ops.voxelize`) or ``"mmdet3d"``, mmdet3d's dynamic voxelization
    with its quirks (float32 cells clamped into the grid, each sample's smallest voxel dropped), which the
    released FlatFormer runs on (:mod:`.mmdet3d_voxelizer`), or ``"spconv"``, the float32 cells of spconv's
    ``PointToVoxel`` that OpenPCDet runs (:mod:`.spconv_voxelizer`).
    """

    def __init__(
        self,
        voxel_size: Sequence[float],
        point_cloud_range: Sequence[float],
        non_blocking: bool = False,
        voxelizer: str = "exact",
    ):
        super().__init__(non_blocking=non_blocking)
        if voxelizer not in VOXELIZERS:
            raise ConfigError(f"data_preprocessor.voxelizer must be one of {VOXELIZERS}, got {voxelizer!r}")
        self.voxelizer = voxelizer
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
        quirky = {"mmdet3d": mmdet3d_dynamic_voxelize, "spconv": spconv_dynamic_voxelize}
        voxelize_fn = quirky.get(self.voxelizer, voxelize)
        voxels = voxelize_fn(points, self.voxel_size, self.point_cloud_range)
        inputs = dict(
            points=torch.cat(points, dim=0),
            point_to_voxel=voxels.point_to_voxel,
            coords=voxels.coords,
            batch_size=len(points),
            num_points=[len(p) for p in points],
        )
        return dict(inputs=inputs, data_samples=data.get("data_samples"))
