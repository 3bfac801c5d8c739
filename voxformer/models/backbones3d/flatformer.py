"""FlatFormer (Liu et al., CVPR 2023): flattened window attention on equal-size groups.

Voxels are ordered window by window and cut into groups of ``group_size`` consecutive voxels (a group
may cross window borders; a short last group repeats voxels, masked out of the attention). Each
block has four post-norm layers using the orders x, x-shifted, y, y-shifted (shift = half a window).
Position information is a fixed sinusoidal encoding of the absolute (x, y) voxel indices, computed
once per forward and added to queries and keys of every layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels, check_window_fits

from .attention_layers import GroupAttentionLayer

LAYER_ORDERS = (("x", False), ("x", True), ("y", False), ("y", True))  # (axis, shifted) per layer of a block


def sinusoidal_position(coords: torch.Tensor, channels: int, temperature: float = 10000.0) -> torch.Tensor:
    """(M, channels) encoding of the (x, y) columns of (M, 4) (b, z, y, x) coords.

    channels // 4 frequencies temperature^(-i / F) per axis, (sin, cos) each: x then y; zero-padded
    when ``channels`` is not a multiple of 4.
    """
    num_freqs = channels // 4
    freqs = temperature ** (-torch.arange(num_freqs, device=coords.device, dtype=torch.float32) / max(num_freqs, 1))
    parts = []
    for column in (3, 2):
        angle = coords[:, column].float()[:, None] * freqs
        parts += [angle.sin(), angle.cos()]
    encoding = torch.cat(parts, dim=1)
    return nn.functional.pad(encoding, (0, channels - encoding.shape[1]))


@MODELS.register_module()
class FlatFormer(nn.Module):
    """FlatFormer backbone: SparseVoxels (M, in_channels) -> SparseVoxels (M, channels), same voxels.

    Args:
        sparse_shape: (Z, Y, X) of the input grid (injected by :class:`VoxelDetector`).
        window_shape: (wz, wy, wx) windows whose order defines the flattening.
        group_size: voxels per group.
        blocks: number of blocks of four layers.

    ``out_channels`` is ``channels``; ``out_sparse_shape`` the input grid (no downsampling).
    """

    def __init__(
        self,
        in_channels: int,
        sparse_shape: Sequence[int],
        channels: int = 128,
        num_heads: int = 8,
        ffn_channels: int = 256,
        window_shape: Sequence[int] = (1, 13, 13),
        group_size: int = 144,
        blocks: int = 2,
        dropout: float = 0.0,
    ):
        super().__init__()
        check_window_fits(sparse_shape, window_shape, key="backbone3d.window_shape")
        if group_size < 1:
            raise ConfigError(f"backbone3d.group_size must be positive, got {group_size}")
        self.window_shape = tuple(window_shape)
        self.group_size = int(group_size)
        self.channels = channels
        self.out_channels = channels
        self.out_sparse_shape = tuple(int(s) for s in sparse_shape)
        self.input_proj = nn.Identity() if in_channels == channels else nn.Linear(in_channels, channels)
        self.layers = nn.ModuleList(
            GroupAttentionLayer(channels, num_heads, ffn_channels, dropout) for _ in range(blocks * len(LAYER_ORDERS))
        )

    def forward(self, voxels: SparseVoxels) -> SparseVoxels:
        x = self.input_proj(voxels.features)
        pos = sinusoidal_position(voxels.coords, self.channels).to(x.dtype)
        for i, layer in enumerate(self.layers):
            axis, shifted = LAYER_ORDERS[i % len(LAYER_ORDERS)]
            groups = voxels.flat_groups(self.window_shape, self.group_size, axis, shifted)
            x = layer(x, pos, groups.index, groups.mask)
        return voxels.replace_features(x)
