"""ScatterFormer (He et al., ECCV 2024): scattered linear attention over variable-length windows.

Windows are w x w columns spanning the full height; voxels are sorted by window once per stage
and each window is attended whole (ReLU-kernel linear attention, no padding). Cross-window
interaction (CWI) replaces shifted windows: depth-wise submanifold convolutions on channel quarters
-- 3x3x3, 1 x k along x, k x 1 along y with k = w + 1 (made odd), and identity -- so every window
border is crossed. Layers are pre-norm (LayerNorm). Stages are joined by attention pooling; the
last stage's voxels of each pillar are attention-pooled (with a key-padding mask) to one BEV pillar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.ops import scattered_linear_attention, sparse_depthwise_conv
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels, check_window_fits

from .attention_layers import FeedForward
from .attention_pool import AttentionPool3d, pooled_shape


class SparseDepthwiseConv(nn.Module):
    """Submanifold depth-wise convolution with kernel (kz, ky, kx) (odd sizes), output at input voxels; the
    neighbour table is cached on the voxels (:meth:`SparseVoxels.neighbours`), so a stage builds it once.
    ``weight`` is (kz * ky * kx, C) with offsets in raster order (x fastest); ``bias=False`` leaves it out."""

    def __init__(self, channels: int, kernel_size: Sequence[int], bias: bool = True):
        super().__init__()
        if any(k % 2 == 0 for k in kernel_size):
            raise ConfigError(f"depth-wise kernel sizes must be odd, got {list(kernel_size)}")
        self.kernel_size = tuple(int(k) for k in kernel_size)
        volume = math.prod(self.kernel_size)
        bound = 1 / math.sqrt(volume)
        self.weight = nn.Parameter(torch.empty(volume, channels).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, features: torch.Tensor, voxels: SparseVoxels) -> torch.Tensor:
        return sparse_depthwise_conv(
            features,
            voxels.coords,
            voxels.sparse_shape,
            self.weight,
            self.kernel_size,
            bias=self.bias,
            neighbors=voxels.neighbours(self.kernel_size),
        )


class ScatterFormerLayer(nn.Module):
    """x <- x + SLA(LN(x)); x <- x + CWI(LN(x)); x <- x + FFN(LN(x))."""

    def __init__(self, channels: int, num_heads: int, window_size: int, ffn_channels: int):
        super().__init__()
        if channels % num_heads or channels % 4:
            raise ConfigError(f"channels ({channels}) must be divisible by num_heads ({num_heads}) and by 4")
        self.num_heads = num_heads
        self.norm_attn = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels, bias=False)
        self.out = nn.Linear(channels, channels)
        long_kernel = window_size + 1 if window_size % 2 == 0 else window_size + 2
        quarter = channels // 4
        self.norm_cwi = nn.LayerNorm(channels)
        self.convs = nn.ModuleList(
            [
                SparseDepthwiseConv(quarter, (3, 3, 3)),
                SparseDepthwiseConv(quarter, (1, 1, long_kernel)),
                SparseDepthwiseConv(quarter, (1, long_kernel, 1)),
            ]
        )
        self.norm_ffn = nn.LayerNorm(channels)
        self.ffn = FeedForward(channels, ffn_channels, activation=nn.ReLU)

    def forward(self, x: torch.Tensor, voxels: SparseVoxels, windows) -> torch.Tensor:
        m, c = x.shape
        q, k, v = self.qkv(self.norm_attn(x))[windows.order].view(m, 3, self.num_heads, c // self.num_heads).unbind(1)
        attended = scattered_linear_attention(q, k, v, windows.offsets, feature_map="relu")
        x = x + self.out(attended.reshape(m, c)[windows.inverse])

        quarters = self.norm_cwi(x).chunk(4, dim=1)
        mixed = [conv(part, voxels) for conv, part in zip(self.convs, quarters[:3])] + [quarters[3]]
        x = x + torch.cat(mixed, dim=1)
        return x + self.ffn(self.norm_ffn(x))


@MODELS.register_module()
class ScatterFormer(nn.Module):
    """ScatterFormer backbone: SparseVoxels (M, in_channels) -> pillars SparseVoxels (P, channels), Z = 1
    (:attr:`out_channels`, :attr:`out_sparse_shape`).

    Args:
        sparse_shape: (Z, Y, X) of the input grid (injected by :class:`VoxelDetector`).
        layers: layers per stage.
        window_size: w of the w x w full-height windows (same in every stage).
        downsample_stride: (sz, sy, sx) attention pooling between consecutive stages.
    """

    def __init__(
        self,
        in_channels: int,
        sparse_shape: Sequence[int],
        channels: int = 128,
        num_heads: int = 4,
        ffn_channels: int = 256,
        window_size: int = 12,
        layers: Sequence[int] = (3, 3),
        downsample_stride: Sequence[Sequence[int]] = ((2, 2, 2),),
    ):
        super().__init__()
        if len(downsample_stride) != len(layers) - 1:
            raise ConfigError(
                f"backbone3d.downsample_stride needs {len(layers) - 1} entries (one between stages), "
                f"got {list(downsample_stride)}"
            )
        self.input_proj = nn.Sequential(nn.Linear(in_channels, channels), nn.LayerNorm(channels))
        self.position_conv = SparseDepthwiseConv(channels, (3, 3, 3))  # conditional position encoding
        self.stages = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        self.windows = []
        shape = tuple(sparse_shape)
        for i, num_layers in enumerate(layers):
            window = (shape[0], window_size, window_size)
            check_window_fits(shape, window, key=f"backbone3d.window_size (stage {i})")
            self.windows.append(window)
            self.stages.append(
                nn.ModuleList(
                    ScatterFormerLayer(channels, num_heads, window_size, ffn_channels) for _ in range(num_layers)
                )
            )
            if i + 1 < len(layers):
                self.downsamples.append(AttentionPool3d(channels, num_heads, downsample_stride[i]))
                shape = pooled_shape(shape, downsample_stride[i])
        self.to_pillars = AttentionPool3d(channels, num_heads, (shape[0], 1, 1)) if shape[0] > 1 else None
        self.out_channels = channels
        self.out_sparse_shape = pooled_shape(shape, (shape[0], 1, 1))

    def forward(self, voxels: SparseVoxels) -> SparseVoxels:
        x = self.input_proj(voxels.features)
        x = x + self.position_conv(x, voxels)
        voxels = voxels.replace_features(x)
        for i, stage in enumerate(self.stages):
            windows = voxels.windows(self.windows[i])
            x = voxels.features
            for layer in stage:
                x = layer(x, voxels, windows)
            voxels = voxels.replace_features(x)
            if i < len(self.downsamples):
                voxels = self.downsamples[i](voxels)
        return self.to_pillars(voxels) if self.to_pillars is not None else voxels
