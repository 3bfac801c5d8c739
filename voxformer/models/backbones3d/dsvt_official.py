"""DSVT as published (Haiyang-W/DSVT, OpenPCDet ``DSVT``): same modules, parameters and forward pass.

Per stage there are two window configurations: 0 = ``window_shape`` without shift, 1 =
``shifted_window_shape`` moved by ``shift``. Block ``k`` (counted across *all* stages) cuts its voxels into
the sets of configuration ``k % 2``: y-major sets for its first layer, x-major for its second (the same set
partition as :class:`~voxformer.models.backbones3d.DSVT`). Every block owns two position embeddings
(Linear -> BatchNorm1d -> ReLU -> Linear of the window-relative (x, y[, z]) minus half the window), one per
configuration, and layer i takes embedding i computed on configuration i's windows, whatever windows the
block attends in (upstream's "TODO: bug", kept there for reproducibility).

Nesting: each attention layer (post-norm attention + FFN) is wrapped as ``norm(layer(x) + x)`` and each block
as ``norm(block(x) + x)``. Stages are joined by :class:`DenseQueryAttentionPool`. Every parameter with more
than one dimension starts Xavier-uniform, as upstream. The input width must equal ``channels`` (no projection).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels, check_window_fits

from .attention_layers import PackedSetAttentionLayer
from .attention_pool import DenseQueryAttentionPool, pooled_shape
from .dsvt import SET_AXES, check_stage_lengths


class PositionEmbedding(nn.Module):
    """Learned embedding of a voxel's window-relative position: (M, dims) -> (M, C)."""

    def __init__(self, dims: int, channels: int):
        super().__init__()
        self.position_embedding_head = nn.Sequential(
            nn.Linear(dims, channels), nn.BatchNorm1d(channels), nn.ReLU(), nn.Linear(channels, channels)
        )

    def forward(self, relative: torch.Tensor) -> torch.Tensor:
        return self.position_embedding_head(relative)


class ResidualSetAttention(nn.Module):
    """``norm(layer(x) + x)`` around one :class:`PackedSetAttentionLayer` (the layer has its own two norms)."""

    def __init__(self, channels: int, num_heads: int, ffn_channels: int, activation: str):
        super().__init__()
        self.win_attn = PackedSetAttentionLayer(channels, num_heads, ffn_channels, activation)
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, sets) -> torch.Tensor:
        return self.norm(self.win_attn(x, pos, sets.index, sets.mask) + x)


class DSVTOfficialBlock(nn.Module):
    """Two residual set-attention layers, the position embeddings of both configurations, and the block's
    outer ``norm(block(x) + x)``."""

    def __init__(self, channels: int, num_heads: int, ffn_channels: int, pos_dims: int, activation: str):
        super().__init__()
        self.pos_embeds = nn.ModuleList(PositionEmbedding(pos_dims, channels) for _ in SET_AXES)
        self.layers = nn.ModuleList(
            ResidualSetAttention(channels, num_heads, ffn_channels, activation) for _ in SET_AXES
        )
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor, relative: Sequence[torch.Tensor], sets: Sequence) -> torch.Tensor:
        """``relative[i]``: (M, pos_dims) window-relative positions in configuration i; ``sets[i]``: the
        :class:`~voxformer.ops.SetPartition` of layer i (both in the block's own configuration)."""
        out = x
        for i, layer in enumerate(self.layers):
            out = layer(out, self.pos_embeds[i](relative[i]), sets[i])
        return self.norm(out + x)


@MODELS.register_module()
class DSVTOfficial(nn.Module):
    """Published DSVT backbone: SparseVoxels (M, channels) -> SparseVoxels (M', channels).

    Args (one entry per stage for the list arguments), as :class:`~voxformer.models.backbones3d.DSVT`:
        in_channels: voxel encoder width; must equal ``channels``.
        sparse_shape: (Z, Y, X) of the input grid (injected by :class:`VoxelDetector`).
        blocks: blocks per stage (each block = 2 attention layers).
        set_size: voxels per set (tau).
        window_shape, shifted_window_shape: (wz, wy, wx) of configurations 0 and 1.
        shift: (sz, sy, sx) offset of configuration 1.
        pool_stride: (sz, sy, sx) attention pooling after every stage but the last (DSVT-V).
        activation: FFN activation, "gelu" (published) or "relu".
    """

    def __init__(
        self,
        in_channels: int,
        sparse_shape: Sequence[int],
        channels: int = 192,
        num_heads: int = 8,
        ffn_channels: int = 384,
        blocks: Sequence[int] = (4,),
        set_size: Sequence[int] = (36,),
        window_shape: Sequence[Sequence[int]] = ((1, 12, 12),),
        shifted_window_shape: Sequence[Sequence[int]] = ((1, 24, 24),),
        shift: Sequence[Sequence[int]] = ((0, 6, 6),),
        pool_stride: Sequence[Sequence[int]] = (),
        activation: str = "gelu",
    ):
        super().__init__()
        if in_channels != channels:
            raise ConfigError(
                f"backbone3d.in_channels ({in_channels}) must equal backbone3d.channels ({channels}): "
                "DSVTOfficial has no input projection"
            )
        num_stages = check_stage_lengths(blocks, set_size, window_shape, shifted_window_shape, shift, pool_stride)
        self.stage_configs = []
        self.stages = nn.ModuleList()
        self.pools = nn.ModuleList()
        shape = tuple(int(s) for s in sparse_shape)
        for i in range(num_stages):
            check_window_fits(shape, window_shape[i], key=f"backbone3d.window_shape[{i}]")
            check_window_fits(shape, shifted_window_shape[i], key=f"backbone3d.shifted_window_shape[{i}]")
            windows = ((tuple(window_shape[i]), (0, 0, 0)), (tuple(shifted_window_shape[i]), tuple(shift[i])))
            pos_dims = 3 if shape[0] > 1 else 2
            if pos_dims == 3 and any(w[0][0] == 1 for w in windows):
                raise ConfigError(
                    f"backbone3d.window_shape[{i}]: stage {i} has {shape[0]} z cells, so its windows need more "
                    "than one z cell (the position embedding is 3-D)"
                )
            self.stage_configs.append(dict(shape=shape, set_size=int(set_size[i]), windows=windows))
            self.stages.append(
                nn.ModuleList(
                    DSVTOfficialBlock(channels, num_heads, ffn_channels, pos_dims, activation) for _ in range(blocks[i])
                )
            )
            if i + 1 < num_stages:
                # upstream's pooling attention has 8 heads whatever num_heads is
                self.pools.append(DenseQueryAttentionPool(channels, pool_stride[i], num_heads=8))
                shape = pooled_shape(shape, pool_stride[i])
        self.out_channels = channels
        self.out_sparse_shape = shape
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    @staticmethod
    def _relative(voxels: SparseVoxels, window: Sequence[int], shift: Sequence[int], dims: int) -> torch.Tensor:
        """(M, dims) window-relative (x, y[, z]) minus half the window, in the feature dtype (no partition needed:
        the position inside a window is (c + shift) % window per axis)."""
        coords = voxels.coords.long()
        columns = [
            ((coords[:, 3 - a] + shift[2 - a]) % window[2 - a]).to(voxels.features.dtype) - window[2 - a] / 2
            for a in range(dims)
        ]
        return torch.stack(columns, dim=1)

    def forward(self, voxels: SparseVoxels) -> SparseVoxels:
        block_id = 0
        for i, blocks in enumerate(self.stages):
            config = self.stage_configs[i]
            if tuple(voxels.sparse_shape) != config["shape"]:
                raise ValueError(
                    f"DSVTOfficial stage {i} was built for sparse_shape {config['shape']} but got {voxels.sparse_shape}"
                )
            dims = 3 if config["shape"][0] > 1 else 2
            relative = [self._relative(voxels, window, shift, dims) for window, shift in config["windows"]]
            x = voxels.features
            for block in blocks:
                window, shift = config["windows"][block_id % 2]
                sets = [voxels.dsvt_sets(window, shift, config["set_size"], axis) for axis in SET_AXES]
                x = block(x, relative, sets)
                block_id += 1
            voxels = voxels.replace_features(x)
            if i < len(self.pools):
                voxels = self.pools[i](voxels)
        return voxels
