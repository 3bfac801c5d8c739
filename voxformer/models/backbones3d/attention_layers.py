"""Layers shared by the window-attention backbones: post-norm group attention layers and an FFN.

A *group* is a fixed-size row of voxel indices (DSVT set, FlatFormer group) with a key-padding mask
marking repeated filler slots; every voxel is the unmasked member of exactly one group.
"""

from __future__ import annotations

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.ops import set_attention

ACTIVATIONS = {"relu": nn.functional.relu, "gelu": nn.functional.gelu}  # by name, for configs


class FeedForward(nn.Module):
    """Linear(C -> hidden) -> activation -> dropout -> Linear(hidden -> C)."""

    def __init__(
        self, channels: int, hidden_channels: int, activation: type[nn.Module] = nn.GELU, dropout: float = 0.0
    ):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(channels, hidden_channels),
            activation(),
            nn.Dropout(dropout),
            nn.Linear(hidden_channels, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class GroupAttentionLayer(nn.Module):
    """Post-norm transformer layer over voxel groups: x <- LN(x + Attn(x)); x <- LN(x + FFN(x)).

    Queries and keys see ``x + pos`` (the position embedding), values see ``x``; attention runs
    inside each group (``voxformer.ops.set_attention``), one residual and LayerNorm per sublayer.
    """

    def __init__(self, channels: int, num_heads: int, ffn_channels: int, dropout: float = 0.0):
        super().__init__()
        if channels % num_heads:
            raise ConfigError(f"channels ({channels}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.query_key = nn.Linear(channels, 2 * channels)
        self.value = nn.Linear(channels, channels)
        self.out = nn.Linear(channels, channels)
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(channels)
        self.ffn = FeedForward(channels, ffn_channels, dropout=dropout)
        self.norm2 = nn.LayerNorm(channels)

    def forward(
        self, x: torch.Tensor, pos: torch.Tensor, group_index: torch.Tensor, group_mask: torch.Tensor
    ) -> torch.Tensor:
        """``x``, ``pos`` (M, C); ``group_index`` (G, S) voxel rows; ``group_mask`` (G, S) True = ignore."""
        m, c = x.shape
        heads = self.num_heads
        q, k = self.query_key(x + pos).view(m, 2, heads, c // heads).unbind(1)
        v = self.value(x).view(m, heads, c // heads)
        attended = set_attention(q, k, v, group_index, group_mask).reshape(m, c)
        x = self.norm1(x + self.dropout(self.out(attended)))
        return self.norm2(x + self.dropout(self.ffn(x)))


class PackedSetAttentionLayer(nn.Module):
    """Post-norm set attention with the parameter layout of ``nn.MultiheadAttention`` (DSVT's ``SetAttention``):
    x <- norm1(x + out_proj(Attn)); x <- norm2(x + linear2(act(linear1(x)))).

    ``in_proj_weight`` (3C, C) packs the query, key and value projections (rows [0, C), [C, 2C), [2C, 3C));
    queries and keys project ``x + pos``, values project ``x``; attention runs inside each group
    (``voxformer.ops.set_attention``). No dropout: the published models train without it.
    """

    def __init__(self, channels: int, num_heads: int, ffn_channels: int, activation: str = "gelu"):
        super().__init__()
        if channels % num_heads:
            raise ConfigError(f"channels ({channels}) must be divisible by num_heads ({num_heads})")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.num_heads = num_heads
        self.activation = ACTIVATIONS[activation]
        self.in_proj_weight = nn.Parameter(torch.empty(3 * channels, channels))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * channels))
        nn.init.xavier_uniform_(self.in_proj_weight)
        self.out_proj = nn.Linear(channels, channels)
        nn.init.zeros_(self.out_proj.bias)
        self.linear1 = nn.Linear(channels, ffn_channels)
        self.linear2 = nn.Linear(ffn_channels, channels)
        self.norm1 = nn.LayerNorm(channels)
        self.norm2 = nn.LayerNorm(channels)

    def forward(
        self, x: torch.Tensor, pos: torch.Tensor, group_index: torch.Tensor, group_mask: torch.Tensor
    ) -> torch.Tensor:
        """``x``, ``pos`` (M, C); ``group_index`` (G, S) voxel rows; ``group_mask`` (G, S) True = ignore."""
        m, c = x.shape
        heads = self.num_heads
        weight, bias = self.in_proj_weight, self.in_proj_bias
        q, k = nn.functional.linear(x + pos, weight[: 2 * c], bias[: 2 * c]).view(m, 2, heads, c // heads).unbind(1)
        v = nn.functional.linear(x, weight[2 * c :], bias[2 * c :]).view(m, heads, c // heads)
        attended = set_attention(q, k, v, group_index, group_mask).reshape(m, c)
        x = self.norm1(x + self.out_proj(attended))
        return self.norm2(x + self.linear2(self.activation(self.linear1(x))))
