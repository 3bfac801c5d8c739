"""ScatterFormer as published (He et al., ECCV 2024; the official ``ScatterFormer`` backbone): same
parameters, same function given the same weights.

Grid: the configured (Z, Y, X) gets one extra z cell (OpenPCDet's ``grid_size[::-1] + [1, 0, 0]``: Waymo
(33, 480, 480)). Network:

1. :class:`~.sparse_stem.SparseConvStem`: SubM convs, then z 33 -> 16 by a (3, 1, 1) / (2, 1, 1) conv.
2. Stages of :class:`ScatterFormerBlock` (3 layers each) on full-height w x w windows
   ((b, y // w, x // w)), each stage followed by a BatchNorm; between stages a stride-2 3x3x3 sparse
   conv (padding 1, no bias, no norm, no ReLU): (16, 480, 480) -> (8, 240, 240).
3. :class:`~.pillar_pool.AttentionPillarPool` with (Z + 1) // 4 slots: pillars (1, 240, 240).

A layer is ``x <- x + SLA(BN(x))`` then the cross-window FFN: ``y = BN(x)``,
``x <- y + [dw3x3x3(y_0), dw(1, 1, w + 1)(y_1), dw(1, w + 1, 1)(y_2), y_3]`` over the channel quarters
y_0..y_3 (so the untouched quarter becomes 2 * y_3), ``x <- x + fc2(ReLU(fc1(BN(x))))``. SLA is linear
attention per window and head: ReLU on q and k, no scale, ``y = q (K^T V) / (q . sum k + 1e-6)``.
Every BatchNorm has eps 1e-3, momentum 0.01; the depth-wise convs have no bias.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.ops import scattered_linear_attention
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels

from .pillar_pool import AttentionPillarPool
from .scatterformer import SparseDepthwiseConv
from .sparse_stem import SparseConvStem, spconv_and_algo


def _norm(channels: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(channels, eps=1e-3, momentum=0.01)


class ScatteredLinearAttention(nn.Module):
    """(M, C) -> (M, C): linear attention inside each window of ``windows`` (a window partition)."""

    def __init__(self, channels: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(channels, 3 * channels, bias=False)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor, windows) -> torch.Tensor:
        m, c = x.shape
        qkv = self.qkv(x)[windows.order].view(m, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.unbind(1)
        attended = scattered_linear_attention(q, k, v, windows.offsets, feature_map="relu", eps=1e-6)
        return self.proj(attended.reshape(m, c)[windows.inverse])


class CrossWindowFFN(nn.Module):
    """Cross-window interaction then the FFN; the stream is replaced by ``bn(x)`` (see the module docstring)."""

    def __init__(self, channels: int, conv_size: int):
        super().__init__()
        quarter = channels // 4
        self.bn = _norm(channels)
        self.conv_xyz = SparseDepthwiseConv(quarter, (3, 3, 3), bias=False)
        self.conv_x = SparseDepthwiseConv(quarter, (1, 1, conv_size), bias=False)
        self.conv_y = SparseDepthwiseConv(quarter, (1, conv_size, 1), bias=False)
        self.bn2 = _norm(channels)
        self.fc1 = nn.Linear(channels, 2 * channels)
        self.fc2 = nn.Linear(2 * channels, channels)

    def forward(self, x: torch.Tensor, voxels: SparseVoxels) -> torch.Tensor:
        y = self.bn(x)
        parts = y.chunk(4, dim=1)
        convs = (self.conv_xyz, self.conv_x, self.conv_y)
        x = y + torch.cat([conv(part, voxels) for conv, part in zip(convs, parts)] + [parts[3]], dim=1)
        return x + self.fc2(torch.relu(self.fc1(self.bn2(x))))


class ScatterFormerBlock(nn.Module):
    """``num_layers`` (BN -> SLA residual, cross-window FFN) layers on one window partition."""

    def __init__(self, channels: int, num_heads: int, num_layers: int, window_size: int):
        super().__init__()
        self.window_size = window_size
        self.norm_layers = nn.ModuleList(_norm(channels) for _ in range(num_layers))
        self.attn_layers = nn.ModuleList(ScatteredLinearAttention(channels, num_heads) for _ in range(num_layers))
        self.cffn_layers = nn.ModuleList(CrossWindowFFN(channels, window_size + 1) for _ in range(num_layers))

    def forward(self, voxels: SparseVoxels) -> torch.Tensor:
        windows = voxels.windows((voxels.sparse_shape[0], self.window_size, self.window_size))
        x = voxels.features
        for norm, attn, cffn in zip(self.norm_layers, self.attn_layers, self.cffn_layers):
            x = x + attn(norm(x), windows)
            x = cffn(x, voxels)
        return x


@MODELS.register_module()
class ScatterFormerOfficial(nn.Module):
    """SparseVoxels (M, in_channels) on ``sparse_shape`` -> pillars SparseVoxels (P, channels) on
    :attr:`out_sparse_shape` (1, Y', X'): Y and X halved by each stride-2 conv ((1, 240, 240) for Waymo).

    Args:
        sparse_shape: (Z, Y, X) of the voxel grid (injected by :class:`VoxelDetector`); one z cell is added.
        channels: width (``FEATURE_DIM``); num_heads: SLA heads; window_size: ``WIN_SIZE``.
        layers: layers per stage; a stride-2 sparse conv joins consecutive stages.
        pool_heads: heads of the pillar pool's attention.
        conv_algo: spconv algorithm name; default ``Native`` on a machine without CUDA, spconv's choice otherwise.
    """

    def __init__(
        self,
        in_channels: int,
        sparse_shape: Sequence[int],
        channels: int = 128,
        num_heads: int = 4,
        window_size: int = 12,
        layers: Sequence[int] = (3, 3),
        pool_heads: int = 8,
        conv_algo: str | None = None,
    ):
        super().__init__()
        if channels % 4 or channels % num_heads:
            raise ConfigError(f"backbone3d.channels ({channels}) must be divisible by 4 and by num_heads ({num_heads})")
        if window_size % 2:
            raise ConfigError(
                f"backbone3d.window_size must be even (the strip convs are w + 1 long), got {window_size}"
            )
        spconv, algo = spconv_and_algo(conv_algo)
        self.spconv = spconv
        self.input_shape = (int(sparse_shape[0]) + 1, int(sparse_shape[1]), int(sparse_shape[2]))
        self.stem = SparseConvStem(in_channels, channels, self.input_shape, conv_algo=conv_algo)
        shape = self.stem.out_sparse_shape
        self.stage_shapes = []
        self.blocks = nn.ModuleList()
        self.block_norms = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i, num_layers in enumerate(layers):
            self.stage_shapes.append(shape)
            self.blocks.append(ScatterFormerBlock(channels, num_heads, num_layers, window_size))
            self.block_norms.append(_norm(channels))
            if i + 1 < len(layers):
                down = spconv.SparseConv3d(
                    channels, channels, 3, stride=2, padding=1, bias=False, indice_key=f"down{i + 1}", algo=algo
                )
                self.downs.append(down)
                shape = tuple((s + 2 - 3) // 2 + 1 for s in shape)
        slots = self.input_shape[0] // 4
        if shape[0] > slots:
            raise ConfigError(
                f"backbone3d: the pillar pool has {slots} z slots ((Z + 1) // 4) but the last stage keeps {shape[0]} "
                f"z cells (sparse_shape {list(sparse_shape)})"
            )
        self.pillar_pool = AttentionPillarPool(channels, slots, pool_heads)
        self.out_channels = channels
        self.out_sparse_shape = (1, shape[1], shape[2])

    def forward(self, voxels: SparseVoxels) -> SparseVoxels:
        batch = voxels.batch_size
        x = self.spconv.SparseConvTensor(voxels.features, voxels.coords.int(), list(self.input_shape), batch)
        x = self.stem(x)
        for i, (block, norm) in enumerate(zip(self.blocks, self.block_norms)):
            stage = SparseVoxels(x.features, x.indices, self.stage_shapes[i], batch)
            features = norm(block(stage))
            if i < len(self.downs):
                x = self.downs[i](x.replace_feature(features))
        return self.pillar_pool(stage.replace_features(features))
