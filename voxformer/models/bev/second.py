"""SECOND-style 2D BEV backbone (strided conv stages, plain or residual blocks) and its upsampling neck.

BatchNorms use eps 1e-3 and ``bn_momentum`` (0.1, PyTorch's default, unless a config states the official 0.01).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.registry import MODELS

BLOCKS = ("plain", "plain_residual", "residual")


class ConvBNReLU(nn.Sequential):
    """3x3 conv (no bias), BatchNorm, ReLU; with ``skip`` the input is added to the output whenever their
    shapes agree (FlatFormer's SECOND with ``residual=True``)."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, bn_momentum: float = 0.1, skip: bool = False
    ):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels, eps=1e-3, momentum=bn_momentum),
            nn.ReLU(inplace=True),
        )
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        return y + x if self.skip and y.shape == x.shape else y


class BasicResBlock(nn.Module):
    """Two 3x3 convs with an identity shortcut, or a strided 1x1 conv + BatchNorm one when the stride or the
    width changes or ``projection`` is set (OpenPCDet's BasicBlock with ``downsample=True``)."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, bn_momentum: float = 0.1, projection: bool = False
    ):
        super().__init__()
        self.conv1 = ConvBNReLU(in_channels, out_channels, stride, bn_momentum)
        self.conv2 = nn.Sequential(
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels, eps=1e-3, momentum=bn_momentum),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and in_channels == out_channels and not projection
            else nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels, eps=1e-3, momentum=bn_momentum),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


@MODELS.register_module()
class SECONDBackbone(nn.Module):
    """Stages of ``layer_nums[i]`` blocks after a stride-``layer_strides[i]`` entry block.

    ``block='plain'`` uses conv-BN-ReLU layers (SECOND / CenterPoint), ``'plain_residual'`` the same layers each
    followed by an identity residual where the shape allows (FlatFormer), ``'residual'`` basic residual blocks
    (DSVT's BaseBEVResBackbone; ``entry_projection`` gives every stage's entry block the 1x1 projection
    shortcut even where it keeps the width and stride, as OpenPCDet does). Returns one
    (B, C_i, H / s_i, W / s_i) map per stage; ``out_channels`` is ``num_filters``.
    """

    def __init__(
        self,
        in_channels: int,
        layer_nums: Sequence[int],
        layer_strides: Sequence[int],
        num_filters: Sequence[int],
        block: str = "plain",
        bn_momentum: float = 0.1,
        entry_projection: bool = False,
    ):
        super().__init__()
        if not len(layer_nums) == len(layer_strides) == len(num_filters):
            raise ConfigError(
                "bev_backbone: layer_nums, layer_strides and num_filters must have the same length, got "
                f"{list(layer_nums)}, {list(layer_strides)}, {list(num_filters)}"
            )
        if block not in BLOCKS:
            raise ConfigError(f"bev_backbone.block must be one of {', '.join(map(repr, BLOCKS))}, got {block!r}")
        self.stages = nn.ModuleList()
        channels = in_channels
        for num, stride, filters in zip(layer_nums, layer_strides, num_filters):
            if block == "residual":
                layers = [BasicResBlock(channels, filters, stride, bn_momentum, entry_projection)]
                layers += [BasicResBlock(filters, filters, 1, bn_momentum) for _ in range(num)]
            else:
                skip = block == "plain_residual"
                layers = [ConvBNReLU(channels, filters, stride, bn_momentum, skip)]
                layers += [ConvBNReLU(filters, filters, 1, bn_momentum, skip) for _ in range(num)]
            self.stages.append(nn.Sequential(*layers))
            channels = filters
        self.out_channels = list(num_filters)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


@MODELS.register_module()
class SECONDFPN(nn.Module):
    """Bring every stage output to a common resolution with ``out_channels[i]`` channels each and
    concatenate them: ``upsample_strides[i]`` > 1 is a transposed conv, 1 a 1x1 conv (a 1x1 transposed conv
    with ``deconv_at_stride_1``, as OpenPCDet and mmdet3d build it), and a fraction 1/k a k x k conv with
    stride k (DSVT's nuScenes neck uses 0.5). ``out_channels`` is their sum."""

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: Sequence[int],
        upsample_strides: Sequence[float],
        deconv_at_stride_1: bool = False,
        bn_momentum: float = 0.1,
    ):
        super().__init__()
        if not len(in_channels) == len(out_channels) == len(upsample_strides):
            raise ConfigError(
                "bev_neck: in_channels, out_channels and upsample_strides must have the same length, got "
                f"{list(in_channels)}, {list(out_channels)}, {list(upsample_strides)}"
            )
        self.deblocks = nn.ModuleList()
        for cin, cout, stride in zip(in_channels, out_channels, upsample_strides):
            if stride > 1 or (stride == 1 and deconv_at_stride_1):
                conv = nn.ConvTranspose2d(cin, cout, int(stride), stride=int(stride), bias=False)
            else:
                down = round(1 / stride)
                conv = nn.Conv2d(cin, cout, down, stride=down, bias=False)
            norm = nn.BatchNorm2d(cout, eps=1e-3, momentum=bn_momentum)
            self.deblocks.append(nn.Sequential(conv, norm, nn.ReLU(inplace=True)))
        self.out_channels = sum(out_channels)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(features) != len(self.deblocks):
            raise ValueError(f"bev_neck expects {len(self.deblocks)} maps, got {len(features)}")
        return torch.cat([deblock(x) for deblock, x in zip(self.deblocks, features)], dim=1)
