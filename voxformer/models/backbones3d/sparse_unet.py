"""Sparse-convolution U-Net for semantic segmentation (the SphereFormer U-Net without its attention blocks).

Encoder: a SubM 3x3x3 stem (in_channels -> channels[0]), then per level ``blocks`` pre-activation residual
blocks (BN-ReLU-SubM3 twice, identity shortcut); between levels BN-ReLU-SparseConv k2 s2 to the next width.
Decoder, from the deepest level up: BN-ReLU-SparseInverseConv k2 (back onto exactly the voxels of the finer
level), concatenate the encoder's features of that level (the skip), ``blocks`` residual blocks (the first one
2C -> C with a linear shortcut). The output has the input's voxels in the input's row order and channels[0]
features, not normalised (the segmentation head starts with BN-ReLU). The published layout (SphereFormer's
U-Net, CVPR 2023): 5 levels, channels [32, 64, 128, 256, 256], 2 blocks, BN eps 1e-4. spconv is imported
when the backbone is built; on a CPU its layers use ``ConvAlgo.Native``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.models.backbones3d.sparse_resnet import _import_spconv
from voxformer.registry import MODELS
from voxformer.structures import SparseVoxels


class _PreActBlock(nn.Module):
    """BN-ReLU-SubM3 twice plus a shortcut (identity, or a bias-free linear map when the width changes)."""

    def __init__(self, spconv, cin: int, cout: int, indice_key: str, algo, eps: float):
        super().__init__()
        self.norm1 = nn.BatchNorm1d(cin, eps=eps)
        self.conv1 = spconv.SubMConv3d(cin, cout, 3, padding=1, bias=False, indice_key=indice_key, algo=algo)
        self.norm2 = nn.BatchNorm1d(cout, eps=eps)
        self.conv2 = spconv.SubMConv3d(cout, cout, 3, padding=1, bias=False, indice_key=indice_key, algo=algo)
        self.shortcut = nn.Identity() if cin == cout else nn.Linear(cin, cout, bias=False)

    def forward(self, x):
        identity = self.shortcut(x.features)
        out = self.conv1(x.replace_feature(torch.relu(self.norm1(x.features))))
        out = self.conv2(out.replace_feature(torch.relu(self.norm2(out.features))))
        return out.replace_feature(out.features + identity)


class _Resample(nn.Module):
    """BN-ReLU then a strided (down) or inverse (up) sparse convolution."""

    def __init__(self, conv, channels: int, eps: float):
        super().__init__()
        self.norm = nn.BatchNorm1d(channels, eps=eps)
        self.conv = conv

    def forward(self, x):
        return self.conv(x.replace_feature(torch.relu(self.norm(x.features))))


@MODELS.register_module()
class SparseUNet(nn.Module):
    """SparseVoxels (M, in_channels) -> SparseVoxels (M, channels[0]) on the same voxels, same row order.

    Args:
        in_channels: input voxel feature width (the voxel encoder's).
        sparse_shape: (Z, Y, X) of the grid (injected by :class:`VoxelSegmentor`).
        channels: width per level; len(channels) levels, len - 1 stride-2 downsamplings.
        blocks: residual blocks per level, in the encoder and in the decoder.
        norm_eps: BatchNorm epsilon.
        conv_algo: spconv algorithm name; default ``'Native'`` on a machine without CUDA, spconv's choice otherwise.
    """

    def __init__(
        self,
        in_channels: int,
        sparse_shape: Sequence[int],
        channels: Sequence[int] = (32, 64, 128, 256, 256),
        blocks: int = 2,
        norm_eps: float = 1e-4,
        conv_algo: str | None = None,
    ):
        super().__init__()
        if len(channels) < 2 or blocks < 1:
            raise ConfigError(f"SparseUNet needs at least 2 levels and 1 block, got channels {list(channels)}, "
                              f"blocks {blocks}")
        spconv, conv_algo_enum = _import_spconv()
        if conv_algo is None and not torch.cuda.is_available():
            conv_algo = "Native"
        algo = getattr(conv_algo_enum, conv_algo) if conv_algo is not None else None
        self.spconv = spconv
        self.sparse_shape = [int(s) for s in sparse_shape]
        self.out_channels = int(channels[0])
        levels = len(channels)

        def stage(cin, cout, key):
            return nn.ModuleList(
                [_PreActBlock(spconv, cin if i == 0 else cout, cout, key, algo, norm_eps) for i in range(blocks)]
            )

        self.stem = spconv.SubMConv3d(in_channels, channels[0], 3, padding=1, bias=False, indice_key="subm0",
                                      algo=algo)
        self.encoder = nn.ModuleList([stage(channels[i], channels[i], f"subm{i}") for i in range(levels)])
        self.down = nn.ModuleList(
            _Resample(spconv.SparseConv3d(channels[i], channels[i + 1], 2, stride=2, bias=False,
                                          indice_key=f"down{i}", algo=algo), channels[i], norm_eps)
            for i in range(levels - 1)
        )
        self.up = nn.ModuleList(
            _Resample(spconv.SparseInverseConv3d(channels[i + 1], channels[i], 2, bias=False,
                                                 indice_key=f"down{i}", algo=algo), channels[i + 1], norm_eps)
            for i in range(levels - 1)
        )
        self.decoder = nn.ModuleList([stage(2 * channels[i], channels[i], f"subm{i}") for i in range(levels - 1)])

    def encoder_context(self, voxels: SparseVoxels):
        """What :meth:`after_encoder_level` needs from the input voxels (subclasses); None here."""
        return None

    def after_encoder_level(self, level: int, x, context):
        """Hook on the spconv tensor after each encoder level's residual blocks (the SphereFormer U-Net puts its
        attention here); the identity here."""
        return x

    def forward(self, voxels: SparseVoxels) -> SparseVoxels:
        x = self.spconv.SparseConvTensor(voxels.features, voxels.coords.int(), self.sparse_shape, voxels.batch_size)
        x = self.stem(x)
        skips, context = [], self.encoder_context(voxels)
        for level, blocks in enumerate(self.encoder):
            for block in blocks:
                x = block(x)
            x = self.after_encoder_level(level, x, context)
            if level < len(self.down):
                skips.append(x)
                x = self.down[level](x)
        for level in reversed(range(len(self.up))):
            x = self.up[level](x)
            x = x.replace_feature(torch.cat([x.features, skips[level].features], dim=1))
            for block in self.decoder[level]:
                x = block(x)
        return SparseVoxels(x.features, voxels.coords, voxels.sparse_shape, voxels.batch_size)
