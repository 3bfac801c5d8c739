"""Attention pillar pooling of the official ScatterFormer (its ``AttnPillarPool``): voxels -> BEV pillars.

Pillars are the occupied (b, y, x) columns in ascending (b, y, x) order. Per pillar the query is the
channel-wise maximum over its voxels floored at 0 (spconv's max-pool starts from zero); the keys and
values are its ``slots`` z cells (slot = z index), empty slots zero and masked out, with a learned
position embedding (one per slot) added to the keys only. The output is
``LayerNorm(MultiheadAttention(query, keys, values) + query)`` at (b, 0, y, x) on a one-cell-high grid.
"""

from __future__ import annotations

import torch
from torch import nn

from voxformer.structures import SparseVoxels


class AttentionPillarPool(nn.Module):
    """SparseVoxels (M, C) with z < ``slots`` -> pillars SparseVoxels (P, C) on (1, Y, X)."""

    def __init__(self, channels: int, slots: int, num_heads: int = 8):
        super().__init__()
        self.slots = slots
        self.norm = nn.LayerNorm(channels)
        self.self_attn = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        self.pos_embedding = nn.Embedding(slots, channels)
        nn.init.normal_(self.pos_embedding.weight, std=0.01)

    def forward(self, voxels: SparseVoxels) -> SparseVoxels:
        features, coords = voxels.features, voxels.coords.long()
        m, c = features.shape
        columns, pillar = torch.unique(coords[:, [0, 2, 3]], dim=0, return_inverse=True)
        num_pillars = columns.shape[0]
        rows = pillar[:, None].expand(-1, c)
        query = features.new_zeros(num_pillars, c).scatter_reduce_(0, rows, features, "amax", include_self=True)
        slot = coords[:, 1]
        values = features.new_zeros(num_pillars, self.slots, c).index_put_((pillar, slot), features)
        empty = torch.ones(num_pillars, self.slots, dtype=torch.bool, device=features.device)
        empty[pillar, slot] = False
        keys = values + self.pos_embedding.weight
        attended = self.self_attn(query[:, None], keys, values, key_padding_mask=empty)[0]
        out = self.norm(attended[:, 0] + query)
        pillar_coords = torch.stack([columns[:, 0], torch.zeros_like(columns[:, 0]), columns[:, 1], columns[:, 2]], 1)
        _, y_size, x_size = voxels.sparse_shape
        return SparseVoxels(out, pillar_coords, (1, y_size, x_size), voxels.batch_size)
