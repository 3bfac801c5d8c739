"""Sparse-convolution stem of the official ScatterFormer (its ``cpe``), built on spconv.

A SubM 3x3x3 conv (no bias) -> BatchNorm -> ReLU, ``num_blocks`` residual SubM blocks whose convs carry
a bias, and a (3, 1, 1) sparse conv with stride (2, 1, 1) and no padding (no bias) -> BatchNorm -> ReLU,
which takes the grid from Z to (Z - 3) // 2 + 1 cells along z (33 -> 16). Every BatchNorm has eps 1e-3,
momentum 0.01. spconv stores conv weights as (out, kz, ky, kx, in).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError

from .sparse_resnet import SparseBasicBlock, _import_spconv


def _norm(channels: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(channels, eps=1e-3, momentum=0.01)


def spconv_and_algo(conv_algo: str | None):
    """``(spconv.pytorch, ConvAlgo member or None)``: ``Native`` when no CUDA and no algorithm is named."""
    spconv, conv_algo_enum = _import_spconv()
    if conv_algo is None and not torch.cuda.is_available():
        conv_algo = "Native"
    return spconv, getattr(conv_algo_enum, conv_algo) if conv_algo is not None else None


class SparseConvStem(nn.Module):
    """spconv ``SparseConvTensor`` (M, in_channels) on ``sparse_shape`` -> (M', channels) on
    :attr:`out_sparse_shape` (Z halved, Y and X kept).

    Args:
        conv_algo: spconv algorithm name; default ``Native`` on a machine without CUDA, spconv's choice otherwise.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        sparse_shape: Sequence[int],
        num_blocks: int = 3,
        conv_algo: str | None = None,
    ):
        super().__init__()
        spconv, algo = spconv_and_algo(conv_algo)
        z_size, y_size, x_size = (int(s) for s in sparse_shape)
        if z_size < 3:
            raise ConfigError(f"backbone3d: the stem's (3, 1, 1) z conv needs at least 3 z cells, got {z_size}")
        self.conv_in = spconv.SubMConv3d(
            in_channels, channels, 3, padding=1, bias=False, indice_key="stem_in", algo=algo
        )
        self.norm_in = _norm(channels)
        self.blocks = nn.ModuleList(
            SparseBasicBlock(spconv, channels, "stem", algo, _norm, bias=True) for _ in range(num_blocks)
        )
        self.conv_out = spconv.SparseConv3d(
            channels, channels, (3, 1, 1), stride=(2, 1, 1), padding=0, bias=False, indice_key="stem_out", algo=algo
        )
        self.norm_out = _norm(channels)
        self.out_channels = channels
        self.out_sparse_shape = ((z_size - 3) // 2 + 1, y_size, x_size)

    def forward(self, x):
        x = self.conv_in(x)
        x = x.replace_feature(torch.relu(self.norm_in(x.features)))
        for block in self.blocks:
            x = block(x)
        x = self.conv_out(x)
        return x.replace_feature(torch.relu(self.norm_out(x.features)))
