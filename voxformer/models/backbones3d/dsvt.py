"""DSVT (Wang et al., CVPR 2023): dynamic sparse window attention on rotated sets.

Per stage, two window configurations alternate between blocks: block b uses configuration b % 2,
``window_shape`` (no shift) or ``shifted_window_shape`` moved by ``shift`` (e.g. 12x12 and 24x24
shifted by a quarter of the big window). Inside a window, voxels are cut into sets of ``set_size``
twice: y-major order (sets are strips along x) for a block's first layer and x-major order (strips
along y) for its second, so the two layers see rotated neighbourhoods.

Each block owns a learned position embedding of the window-relative coordinates of the configuration
it uses (Linear -> LayerNorm -> ReLU -> Linear on (x, y[, z]) minus half the window); the embedding is
chosen by the window configuration, not by the layer index. The pillar variant has one stage; the
voxel variant joins stages with attention pooling along z (empty pool slots masked). Partitions are
computed once per stage and cached on :class:`SparseVoxels`.

This is voxformer's variant; :class:`~voxformer.models.backbones3d.DSVTOfficial` is the published network
(the departures are listed in configs/dsvt/dsvt_pillar_waymo_v2.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels, check_window_fits

from .attention_layers import GroupAttentionLayer
from .attention_pool import AttentionPool3d, pooled_shape

SET_AXES = ("y", "x")  # first layer of a block: y-major sets; second: x-major sets


def check_stage_lengths(blocks, set_size, window_shape, shifted_window_shape, shift, pool_stride) -> int:
    """The number of stages, ``len(blocks)``; :class:`ConfigError` unless ``set_size``, ``window_shape``,
    ``shifted_window_shape`` and ``shift`` have one entry per stage and ``pool_stride`` one between each pair."""
    num_stages = len(blocks)
    for name, value in (
        ("set_size", set_size),
        ("window_shape", window_shape),
        ("shifted_window_shape", shifted_window_shape),
        ("shift", shift),
    ):
        if len(value) != num_stages:
            raise ConfigError(f"backbone3d.{name} needs one entry per stage ({num_stages}), got {list(value)}")
    if len(pool_stride) != num_stages - 1:
        raise ConfigError(
            f"backbone3d.pool_stride needs one entry between each pair of stages ({num_stages - 1}), "
            f"got {list(pool_stride)}"
        )
    return num_stages


class DSVTBlock(nn.Module):
    """Two set-attention layers (y-major sets, then x-major sets) sharing one position embedding of the
    window-relative (x, y[, z]) position of each voxel in ``window_shape`` (wz, wy, wx) windows."""

    def __init__(
        self,
        channels: int,
        num_heads: int,
        ffn_channels: int,
        pos_dims: int,
        dropout: float,
        window_shape: Sequence[int],
    ):
        super().__init__()
        half = torch.tensor(window_shape, dtype=torch.float32).flip(0)[:pos_dims] / 2  # (x, y[, z])
        self.register_buffer("half_window", half, persistent=False)
        self.pos_embed = nn.Sequential(
            nn.Linear(pos_dims, channels), nn.LayerNorm(channels), nn.ReLU(), nn.Linear(channels, channels)
        )
        self.layers = nn.ModuleList(GroupAttentionLayer(channels, num_heads, ffn_channels, dropout) for _ in SET_AXES)

    def forward(self, x: torch.Tensor, in_window: torch.Tensor, sets: Sequence) -> torch.Tensor:
        """``in_window`` (M, 3) (z, y, x) position of each voxel inside its window."""
        relative = in_window.flip(1)[:, : self.half_window.shape[0]].to(x.dtype) - self.half_window.to(x.dtype)
        pos = self.pos_embed(relative)
        for layer, partition in zip(self.layers, sets):
            x = layer(x, pos, partition.index, partition.mask)
        return x


@MODELS.register_module()
class DSVT(nn.Module):
    """DSVT backbone: SparseVoxels (M, in_channels) -> SparseVoxels (M', channels).

    Args (one entry per stage for the list arguments):
        in_channels: voxel encoder width (projected to ``channels`` when different).
        sparse_shape: (Z, Y, X) of the input grid (injected by :class:`VoxelDetector`).
        blocks: blocks per stage (each block = 2 attention layers).
        set_size: voxels per set (tau).
        window_shape, shifted_window_shape: (wz, wy, wx) of the two configurations.
        shift: (sz, sy, sx) offset of the shifted configuration.
        pool_stride: (sz, sy, sx) attention pooling after every stage but the last (voxel variant).
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
        dropout: float = 0.0,
    ):
        super().__init__()
        num_stages = check_stage_lengths(blocks, set_size, window_shape, shifted_window_shape, shift, pool_stride)
        self.input_proj = nn.Identity() if in_channels == channels else nn.Linear(in_channels, channels)
        self.stage_configs = []
        self.stages = nn.ModuleList()
        self.pools = nn.ModuleList()
        shape = tuple(sparse_shape)
        for i in range(num_stages):
            check_window_fits(shape, window_shape[i], key=f"backbone3d.window_shape[{i}]")
            check_window_fits(shape, shifted_window_shape[i], key=f"backbone3d.shifted_window_shape[{i}]")
            configs = ((tuple(window_shape[i]), (0, 0, 0)), (tuple(shifted_window_shape[i]), tuple(shift[i])))
            self.stage_configs.append(dict(shape=shape, set_size=int(set_size[i]), windows=configs))
            pos_dims = 3 if shape[0] > 1 else 2
            self.stages.append(
                nn.ModuleList(
                    DSVTBlock(channels, num_heads, ffn_channels, pos_dims, dropout, configs[b % 2][0])
                    for b in range(blocks[i])
                )
            )
            if i + 1 < num_stages:
                self.pools.append(AttentionPool3d(channels, num_heads, pool_stride[i]))
                shape = pooled_shape(shape, pool_stride[i])
        self.out_channels = channels
        self.out_sparse_shape = shape

    def forward(self, voxels: SparseVoxels) -> SparseVoxels:
        voxels = voxels.replace_features(self.input_proj(voxels.features))
        for i, blocks in enumerate(self.stages):
            config = self.stage_configs[i]
            if tuple(voxels.sparse_shape) != config["shape"]:
                raise ValueError(
                    f"DSVT stage {i} was built for sparse_shape {config['shape']} but got {voxels.sparse_shape}"
                )
            x = voxels.features
            for b, block in enumerate(blocks):
                window, shift = config["windows"][b % 2]
                sets = [voxels.dsvt_sets(window, shift, config["set_size"], axis) for axis in SET_AXES]
                x = block(x, voxels.windows(window, shift).in_window, sets)
            voxels = voxels.replace_features(x)
            if i < len(self.pools):
                voxels = self.pools[i](voxels)
        return voxels
