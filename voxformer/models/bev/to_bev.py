"""From sparse voxels to a dense bird's-eye-view map (B, C, H, W): H rows along y, W columns along x."""

from __future__ import annotations

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.ops import scatter_to_bev
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels


@MODELS.register_module()
class PillarScatter(nn.Module):
    """Scatter pillar features (a grid with one z cell) into (B, C, Y, X); empty cells are zero."""

    def forward(self, voxels: SparseVoxels) -> torch.Tensor:
        z_size, y_size, x_size = voxels.sparse_shape
        if z_size != 1:
            raise ConfigError(
                f"PillarScatter needs pillars (sparse_shape z = 1), got sparse_shape {voxels.sparse_shape}; "
                "use HeightCompression or pool along z in the backbone"
            )
        return scatter_to_bev(voxels.features, voxels.coords, voxels.batch_size, (y_size, x_size))


@MODELS.register_module()
class HeightCompression(nn.Module):
    """Fold height into channels: (B, C * Z, Y, X) with channel index c * Z + z (CenterPoint-Voxel)."""

    def forward(self, voxels: SparseVoxels) -> torch.Tensor:
        return voxels.dense(bev=True)
