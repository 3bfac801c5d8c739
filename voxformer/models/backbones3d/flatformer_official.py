"""FlatFormer as released (``flatformer_waymo_D1_2x_3class``): the same function as the official middle encoder.

Conventions that differ from :class:`~voxformer.models.backbones3d.flatformer.FlatFormer` (the improved
variant), all from the released code:

- Groups follow :func:`voxformer.ops.flat_groups` with ``in_window="mirrored"`` (inside a window columns in
  x order with y alternating per column parity; the whole window sequence reversed in odd window rows) and
  ``padding="overlap"`` (a sample's last group is its last ``group_size`` voxels, unmasked; the borrowed
  voxels keep the output of their own group).
- The position encoding interleaves (sin, cos) per frequency: C/2 x-channels then C/2 y-channels, added to
  queries and keys of every layer (:func:`interleaved_sinusoidal_position`).
- Each layer's q, k, v projections are one packed (3C, C) matrix laid out as ``torch.nn.MultiheadAttention``
  keeps it (rows q, k, v), so official weights load without a split; no input projection, FFN width 2C.
- Matrices start Xavier-uniform, the projection biases at zero.

Pillars only (one z cell), as the released code ignores z.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from voxformer import ops
from voxformer.errors import ConfigError
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels, check_window_fits

from .attention_layers import FeedForward

LAYER_ORDERS = (("x", False), ("x", True), ("y", False), ("y", True))  # (axis, shifted) of the 4 layers of a block


def interleaved_sinusoidal_position(coords: torch.Tensor, channels: int, temperature: float = 10000.0) -> torch.Tensor:
    """(M, channels) float32 encoding of the (x, y) columns of (M, 4) (b, z, y, x) ``coords``.

    With F = channels // 4 frequencies and divisor d_k = temperature^(2k / 2F), channels 2k and 2k + 1 are
    sin(x / d_k) and cos(x / d_k) for k < F, then the same 2F channels for y; zero-padded to ``channels``.
    """
    num_freqs = channels // 4
    exponent = 2 * (torch.arange(2 * num_freqs, dtype=torch.float32, device=coords.device) // 2) / (2 * num_freqs)
    divisor = (temperature**exponent)[::2]
    parts = []
    for column in (3, 2):
        angle = coords[:, column].float()[:, None] / divisor
        parts.append(torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1))
    encoding = torch.cat(parts, dim=1)
    return F.pad(encoding, (0, channels - encoding.shape[1]))


class PackedGroupAttention(nn.Module):
    """Multi-head softmax attention inside voxel groups with ``nn.MultiheadAttention``'s parameter layout:
    ``in_proj_weight`` (3C, C) and ``in_proj_bias`` (3C,) hold the q, k, v projections in that order,
    ``out_proj`` the output one. Queries and keys see ``x + pos``, values ``x``."""

    def __init__(self, channels: int, num_heads: int):
        super().__init__()
        if channels % num_heads:
            raise ConfigError(f"backbone3d: in_channels ({channels}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * channels, channels))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * channels))
        self.out_proj = nn.Linear(channels, channels)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(
        self, x: torch.Tensor, pos: torch.Tensor, group_index: torch.Tensor, group_mask: torch.Tensor
    ) -> torch.Tensor:
        """``x``, ``pos`` (M, C); ``group_index`` (G, S) voxel rows; ``group_mask`` (G, S) True = ignore."""
        m, c = x.shape
        heads = self.num_heads
        weight_qk, weight_v = self.in_proj_weight.split([2 * c, c])
        bias_qk, bias_v = self.in_proj_bias.split([2 * c, c])
        q, k = F.linear(x + pos, weight_qk, bias_qk).view(m, 2, heads, c // heads).unbind(1)
        v = F.linear(x, weight_v, bias_v).view(m, heads, c // heads)
        attended = ops.set_attention(q, k, v, group_index, group_mask).reshape(m, c)
        return self.out_proj(attended)


class FlatFormerLayer(nn.Module):
    """Post-norm layer: x <- LN(x + Attn(x)); x <- LN(x + FFN(x)), FFN C -> 2C -> C with GELU."""

    def __init__(self, channels: int, num_heads: int):
        super().__init__()
        self.attn = PackedGroupAttention(channels, num_heads)
        self.ffn = FeedForward(channels, 2 * channels)
        self.norm1 = nn.LayerNorm(channels)
        self.norm2 = nn.LayerNorm(channels)

    def forward(self, x, pos, group_index, group_mask):
        x = self.norm1(x + self.attn(x, pos, group_index, group_mask))
        return self.norm2(x + self.ffn(x))


@MODELS.register_module()
class FlatFormerOfficial(nn.Module):
    """Released FlatFormer: SparseVoxels (M, C) -> SparseVoxels (M, C), same voxels (C = ``in_channels``).

    ``blocks[b][l]`` is layer l of block b, using order ``LAYER_ORDERS[l]`` (x, x shifted, y, y shifted;
    shift = half a window on x and y). The four group layouts are cached on the voxels
    (:meth:`SparseVoxels.flat_groups`).

    Args:
        in_channels: C (the VFE's output width, injected by :class:`VoxelDetector`).
        sparse_shape: (1, Y, X) input grid (injected).
        window_shape: (1, wy, wx) windows that order the flattening.
        group_size: voxels per group.
        blocks: blocks of four layers.
        temperature: of the sinusoidal position encoding.
    """

    def __init__(
        self,
        in_channels: int,
        sparse_shape: Sequence[int],
        num_heads: int = 8,
        window_shape: Sequence[int] = (1, 13, 13),
        group_size: int = 144,
        blocks: int = 2,
        temperature: float = 10000.0,
    ):
        super().__init__()
        check_window_fits(sparse_shape, window_shape, key="backbone3d.window_shape")
        if sparse_shape[0] != 1 or window_shape[0] != 1:
            raise ConfigError(
                f"backbone3d: FlatFormerOfficial works on pillars, sparse_shape and window_shape z must be 1, got "
                f"{list(sparse_shape)} and {list(window_shape)}"
            )
        if group_size < 1:
            raise ConfigError(f"backbone3d.group_size must be positive, got {group_size}")
        self.window_shape = tuple(int(w) for w in window_shape)
        self.group_size = int(group_size)
        self.temperature = float(temperature)
        self.out_channels = in_channels
        self.out_sparse_shape = tuple(int(s) for s in sparse_shape)
        self.blocks = nn.ModuleList(
            nn.ModuleList(FlatFormerLayer(in_channels, num_heads) for _ in LAYER_ORDERS) for _ in range(blocks)
        )
        for parameter in self.parameters():
            if parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)

    def group_layouts(self, voxels: SparseVoxels) -> list[ops.FlatGroups]:
        """The groups of the four layer orders, cached on ``voxels`` (one host sync, for the first)."""
        return [
            voxels.flat_groups(
                self.window_shape, self.group_size, axis, shifted, in_window="mirrored", padding="overlap"
            )
            for axis, shifted in LAYER_ORDERS
        ]

    def forward(self, voxels: SparseVoxels) -> SparseVoxels:
        x = voxels.features
        pos = interleaved_sinusoidal_position(voxels.coords, x.shape[1], self.temperature).to(x.dtype)
        layouts = self.group_layouts(voxels)
        for block in self.blocks:
            for layer, groups in zip(block, layouts):
                x = layer(x, pos, groups.index, groups.mask)
        return voxels.replace_features(x)
