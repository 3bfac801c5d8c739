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
    """Scatter pillar features (a grid with one z cell) into (B, C, Y, X); empty cells are zero.

    Args:
        in_channels: C of the incoming pillars, ``sparse_shape``: their grid (Z, Y, X); both optional and
            injected from the 3D backbone's ``out_channels`` / ``out_sparse_shape``. ``out_channels`` is C
            (None when not given); a grid with more than one z cell is refused when built.
    """

    def __init__(self, in_channels: int | None = None, sparse_shape=None):
        super().__init__()
        if sparse_shape is not None and int(sparse_shape[0]) != 1:
            raise ConfigError(
                f"to_bev: PillarScatter needs pillars (sparse_shape z = 1), but the 3D backbone outputs "
                f"{list(sparse_shape)}; use HeightCompression or pool along z in the backbone"
            )
        self.out_channels = in_channels

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
    """Fold height into channels: (B, C * Z, Y, X) with channel index c * Z + z (CenterPoint-Voxel,
    OpenPCDet's ``HeightCompression``: ``dense()`` then ``view(B, C * Z, Y, X)``).

    Args:
        in_channels: C of the incoming voxels, ``sparse_shape``: their grid (Z, Y, X); both injected
            from the 3D backbone's ``out_channels`` / ``out_sparse_shape``. With both given,
            ``out_channels`` is C * Z (else None) and inputs of another width or grid are refused.
    """

    def __init__(self, in_channels: int | None = None, sparse_shape=None):
        super().__init__()
        self.in_channels = in_channels
        self.sparse_shape = tuple(sparse_shape) if sparse_shape is not None else None
        known = in_channels is not None and sparse_shape is not None
        self.out_channels = in_channels * self.sparse_shape[0] if known else None

    def forward(self, voxels: SparseVoxels) -> torch.Tensor:
        width, grid = voxels.features.shape[1], tuple(voxels.sparse_shape)
        if (self.in_channels not in (None, width)) or (self.sparse_shape not in (None, grid)):
            raise ConfigError(
                f"to_bev: HeightCompression was built for {self.in_channels} channels on grid {self.sparse_shape} "
                f"but receives {width} channels on grid {grid}"
            )
        return voxels.dense(bev=True)
