"""mmdet3d's DynamicVFE as FlatFormer releases it: :class:`DynamicVFE` with BatchNorm1d layers.

Per point: raw features, offset to its voxel's point mean, offset to the voxel centre (11 columns for Waymo's
5); each layer bias-free Linear -> BatchNorm1d (eps 1e-3, momentum 0.01) -> ReLU, max-pooled per voxel, the
voxel maximum concatenated back onto the points between layers.
"""

from __future__ import annotations

from torch import nn

from voxformer.registry import MODELS

from .dynamic_vfe import DynamicVFE


@MODELS.register_module()
class DynamicVFEOfficial(DynamicVFE):
    """:class:`DynamicVFE` whose layers normalize with BatchNorm1d(eps=``norm_eps``, momentum=``norm_momentum``)."""

    def __init__(self, *args, norm_eps: float = 1e-3, norm_momentum: float = 0.01, **kwargs):
        self.norm_eps = norm_eps
        self.norm_momentum = norm_momentum
        super().__init__(*args, **kwargs)

    def make_norm(self, channels: int) -> nn.Module:
        return nn.BatchNorm1d(channels, eps=self.norm_eps, momentum=self.norm_momentum)
