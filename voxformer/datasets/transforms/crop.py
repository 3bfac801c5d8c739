"""Cropping a scan to a voxel budget around a random seed point (segmentation training)."""

from __future__ import annotations

import numpy as np
import torch

from voxformer.datasets.transforms.base import Transform, select_points
from voxformer.errors import ConfigError
from voxformer.registry import TRANSFORMS


@TRANSFORMS.register_module()
class CropToVoxels(Transform):
    """Keep the points of the ``max_voxels`` voxels (cubes of ``voxel_size`` metres on a grid anchored at
    the origin) whose centres lie nearest a seed point drawn uniformly from the points; scans with at
    most ``max_voxels`` occupied voxels are left whole. Per-point labels follow the points.
    Training only: a test pipeline must keep every point, which are the ones scored."""

    def __init__(self, max_voxels: int, voxel_size=0.05):
        if int(max_voxels) < 1:
            raise ConfigError(f"CropToVoxels: max_voxels must be >= 1, got {max_voxels}")
        size = np.broadcast_to(np.asarray(voxel_size, np.float64), (3,))
        if (size <= 0).any():
            raise ConfigError(f"CropToVoxels: voxel_size must be positive, got {voxel_size}")
        self.max_voxels = int(max_voxels)
        self.voxel_size = tuple(float(v) for v in size)

    def transform(self, results: dict) -> dict:
        xyz = results["points"][:, :3].double()
        size = torch.tensor(self.voxel_size, dtype=torch.float64)
        cells = torch.floor(xyz / size).long()
        shifted = cells - cells.min(0).values if len(cells) else cells
        extent = shifted.max(0).values + 1 if len(cells) else torch.ones(3, dtype=torch.long)
        key = (shifted[:, 0] * extent[1] + shifted[:, 1]) * extent[2] + shifted[:, 2]  # one integer per cell
        _, inverse = torch.unique(key, return_inverse=True)
        num_voxels = int(inverse.max()) + 1 if len(inverse) else 0
        if num_voxels <= self.max_voxels:
            return results
        centres = torch.zeros(num_voxels, 3, dtype=torch.float64)
        centres[inverse] = (cells.double() + 0.5) * size
        seed = xyz[int(np.random.randint(len(xyz)))]
        nearest = torch.argsort(((centres - seed) ** 2).sum(1), stable=True)[: self.max_voxels]
        keep_voxel = torch.zeros(num_voxels, dtype=torch.bool)
        keep_voxel[nearest] = True
        select_points(results, keep_voxel[inverse])
        return results
