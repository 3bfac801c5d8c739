"""Attention pooling of sparse voxels onto a coarser grid, joined by explicit coordinates.

A pooled voxel at (b, z // sz, y // sy, x // sx) gathers its (up to sz*sy*sx) child voxels into
slots numbered by their position inside the pooling cell. Query: the max over its *occupied* slots;
keys: slots + a learned slot embedding; values: slots; multi-head attention with a key-padding mask
on the empty slots; output LN(attention + query). Used by DSVT's voxel variant (z strides), by
ScatterFormer between stages and to collapse each pillar's voxels to BEV (stride (Z, 1, 1)).
:class:`DenseQueryAttentionPool` is the published DSVT-V pooling: every slot takes part, empty ones as zeros.

Which cell each voxel joins, and the pooled coordinates, come from the voxels' partition cache
(:meth:`SparseVoxels.pooling`), so the pooling itself holds no data-dependent indexing (it exports).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.structures import SparseVoxels
from voxformer.structures.sparse_voxels import pooled_shape

__all__ = ["AttentionPool3d", "DenseQueryAttentionPool", "pooled_shape"]


class AttentionPool3d(nn.Module):
    """Pool (M, C) voxels by ``stride`` (sz, sy, sx) -> :class:`SparseVoxels` on the coarser grid."""

    def __init__(self, channels: int, num_heads: int, stride: Sequence[int]):
        super().__init__()
        if len(stride) != 3 or min(stride) < 1:
            raise ConfigError(f"pool stride must be three positive numbers (sz, sy, sx), got {list(stride)}")
        self.stride = tuple(int(s) for s in stride)
        num_slots = self.stride[0] * self.stride[1] * self.stride[2]
        self.slot_embedding = nn.Parameter(torch.zeros(num_slots, channels))
        nn.init.trunc_normal_(self.slot_embedding, std=0.02)
        self.attention = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        self.norm = nn.LayerNorm(channels)

    def forward(self, voxels: SparseVoxels) -> SparseVoxels:
        sz, sy, sx = self.stride
        coords = voxels.coords.long()
        slot = ((coords[:, 1] % sz) * sy + coords[:, 2] % sy) * sx + coords[:, 3] % sx
        pooling = voxels.pooling(self.stride)
        num_pooled, channels = pooling.coords.shape[0], voxels.num_channels  # no len(): export keeps it dynamic
        if num_pooled == 0:
            return voxels.pooled(self.stride, voxels.features)

        slots = voxels.features.new_zeros(num_pooled, self.slot_embedding.shape[0], channels)
        slots[pooling.inverse, slot] = voxels.features
        empty = torch.ones(num_pooled, self.slot_embedding.shape[0], dtype=torch.bool, device=voxels.device)
        empty[pooling.inverse, slot] = False
        query = slots.masked_fill(empty[..., None], float("-inf")).amax(dim=1)
        attended, _ = self.attention(
            query[:, None], slots + self.slot_embedding, slots, key_padding_mask=empty, need_weights=False
        )
        return voxels.pooled(self.stride, self.norm(attended[:, 0] + query))


class DenseQueryAttentionPool(nn.Module):
    """DSVT-V's pooling (``Stage_ReductionAtt_Block``): (M, C) voxels -> :class:`SparseVoxels` pooled by
    ``stride`` (sz, sy, sx), every slot of a pooling cell taking part, empty ones as zeros.

    A child at (z, y, x) fills slot ``((x % sx) * sy + y % sy) * sz + z % sz`` of its cell (x-major, as
    upstream). Query: the max over *all* slots (so never below 0 when a slot is empty); keys: slots +
    ``pos_embedding`` (one row per slot); values: slots; ``nn.MultiheadAttention`` without a mask; output
    ``norm(attention + query)``. Pooled voxels come in ascending (batch, z, y, x) order.
    """

    def __init__(self, channels: int, stride: Sequence[int], num_heads: int = 8):
        super().__init__()
        if len(stride) != 3 or min(stride) < 1:
            raise ConfigError(f"pool stride must be three positive numbers (sz, sy, sx), got {list(stride)}")
        self.stride = tuple(int(s) for s in stride)
        self.pos_embedding = nn.Parameter(torch.zeros(self.stride[0] * self.stride[1] * self.stride[2], channels))
        nn.init.normal_(self.pos_embedding, std=0.01)
        self.norm = nn.LayerNorm(channels)
        self.self_attn = nn.MultiheadAttention(channels, num_heads, batch_first=True)

    def forward(self, voxels: SparseVoxels) -> SparseVoxels:
        sz, sy, sx = self.stride
        coords = voxels.coords.long()
        slot = ((coords[:, 3] % sx) * sy + coords[:, 2] % sy) * sz + coords[:, 1] % sz
        pooling = voxels.pooling(self.stride)
        num_pooled = pooling.coords.shape[0]
        if num_pooled == 0:
            return voxels.pooled(self.stride, voxels.features)
        slots = voxels.features.new_zeros(num_pooled, self.pos_embedding.shape[0], voxels.num_channels)
        slots[pooling.inverse, slot] = voxels.features
        query = slots.amax(dim=1, keepdim=True)
        attended, _ = self.self_attn(query, slots + self.pos_embedding, slots, need_weights=False)
        return voxels.pooled(self.stride, self.norm(attended + query)[:, 0])
