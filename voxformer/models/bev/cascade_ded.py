"""ScatterFormer's CascadeDED BEV backbone: a cascade of encoder-decoder (DED) stages at one width.

One DED stage: encoder level 0 (a strided entry block only when the input width differs from ``channels``, so
with equal widths the first down-stride is ignored, then ``num_blocks[0]`` residual blocks); levels i > 0 (a
stride-``down_strides[i]`` entry block with a 1x1 projection, then ``num_blocks[i]`` residual blocks); then,
from the coarsest level up, ``x = BN(ReLU(BN(deconv(x))) + skip)`` with no ReLU after the outer BatchNorm.
Input and output (B, C, H, W) keep the resolution; ``out_channels`` is ``channels``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.registry import MODELS

from .second import BasicResBlock


class DEDStage(nn.Module):
    """One encoder-decoder stage (see the module docstring)."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        num_blocks: Sequence[int],
        down_strides: Sequence[int],
        bn_momentum: float,
    ):
        super().__init__()
        first = [BasicResBlock(in_channels, channels, down_strides[0], bn_momentum)] if in_channels != channels else []
        first += [BasicResBlock(channels, channels, 1, bn_momentum) for _ in range(num_blocks[0])]
        self.encoder = nn.ModuleList([nn.Sequential(*first)])
        for num, stride in zip(num_blocks[1:], down_strides[1:]):
            level = [BasicResBlock(channels, channels, stride, bn_momentum)]
            level += [BasicResBlock(channels, channels, 1, bn_momentum) for _ in range(num)]
            self.encoder.append(nn.Sequential(*level))
        self.decoder = nn.ModuleList()
        self.decoder_norm = nn.ModuleList()
        for stride in down_strides[:0:-1]:
            self.decoder.append(
                nn.Sequential(
                    nn.ConvTranspose2d(channels, channels, stride, stride=stride, bias=False),
                    nn.BatchNorm2d(channels, eps=1e-3, momentum=bn_momentum),
                    nn.ReLU(inplace=True),
                )
            )
            self.decoder_norm.append(nn.BatchNorm2d(channels, eps=1e-3, momentum=bn_momentum))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level in self.encoder:
            x = level(x)
            skips.append(x)
        for deconv, norm, skip in zip(self.decoder, self.decoder_norm, skips[-2::-1]):
            x = norm(deconv(x) + skip)
        return x


@MODELS.register_module()
class CascadeDED(nn.Module):
    """``num_layers`` DED stages in sequence (ScatterFormer's Waymo BEV backbone: 4 stages of 128 channels,
    blocks [2, 1, 1], down-strides [1, 2, 2], BatchNorm momentum 0.01)."""

    def __init__(
        self,
        in_channels: int,
        channels: int = 128,
        num_layers: int = 4,
        num_blocks: Sequence[int] = (2, 1, 1),
        down_strides: Sequence[int] = (1, 2, 2),
        bn_momentum: float = 0.01,
    ):
        super().__init__()
        if len(num_blocks) != len(down_strides) or not num_blocks:
            raise ConfigError(
                "bev_backbone: num_blocks and down_strides must have the same, non-zero length, got "
                f"{list(num_blocks)} and {list(down_strides)}"
            )
        self.layers = nn.ModuleList(
            DEDStage(in_channels if i == 0 else channels, channels, num_blocks, down_strides, bn_momentum)
            for i in range(num_layers)
        )
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x
