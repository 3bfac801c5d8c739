"""Per-voxel classifier of a segmentor: BN-ReLU-Linear (SphereFormer's head), optional dropout before the Linear."""

from __future__ import annotations

from torch import nn

from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels


@MODELS.register_module()
class VoxelSegHead(nn.Module):
    """SparseVoxels (M, in_channels) -> class logits (M, num_classes)."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.0, norm_eps: float = 1e-4):
        super().__init__()
        self.num_classes = int(num_classes)
        self.norm = nn.BatchNorm1d(in_channels, eps=norm_eps)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, voxels: SparseVoxels):
        return self.classifier(self.dropout(self.norm(voxels.features).relu()))
