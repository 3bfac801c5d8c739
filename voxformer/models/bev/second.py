"""SECOND-style 2D BEV backbone (strided conv stages, plain or residual blocks) and its upsampling neck."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from voxformer.errors import ConfigError
from voxformer.registry import MODELS


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels, eps=1e-3),
        nn.ReLU(inplace=True),
    )


class BasicResBlock(nn.Module):
    """Two 3x3 convs with an identity (or strided 1x1) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = _conv_bn_relu(in_channels, out_channels, stride)
        self.conv2 = nn.Sequential(
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels, eps=1e-3),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and in_channels == out_channels
            else nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels, eps=1e-3),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


@MODELS.register_module()
class SECONDBackbone(nn.Module):
    """Stages of ``layer_nums[i]`` blocks after a stride-``layer_strides[i]`` entry block.

    ``block='plain'`` uses conv-BN-ReLU layers (SECOND / CenterPoint), ``'residual'`` basic residual
    blocks (DSVT's ResBackbone). Returns one (B, C_i, H / s_i, W / s_i) map per stage.
    """

    def __init__(
        self,
        in_channels: int,
        layer_nums: Sequence[int],
        layer_strides: Sequence[int],
        num_filters: Sequence[int],
        block: str = "plain",
    ):
        super().__init__()
        if not len(layer_nums) == len(layer_strides) == len(num_filters):
            raise ConfigError(
                "bev_backbone: layer_nums, layer_strides and num_filters must have the same length, got "
                f"{list(layer_nums)}, {list(layer_strides)}, {list(num_filters)}"
            )
        if block not in ("plain", "residual"):
            raise ConfigError(f"bev_backbone.block must be 'plain' or 'residual', got {block!r}")
        make = _conv_bn_relu if block == "plain" else BasicResBlock
        self.stages = nn.ModuleList()
        channels = in_channels
        for num, stride, filters in zip(layer_nums, layer_strides, num_filters):
            layers = [make(channels, filters, stride)] + [make(filters, filters) for _ in range(num)]
            self.stages.append(nn.Sequential(*layers))
            channels = filters

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


@MODELS.register_module()
class SECONDFPN(nn.Module):
    """Bring every stage output to a common resolution with ``out_channels[i]`` channels each and
    concatenate them: ``upsample_strides[i]`` > 1 is a transposed conv, 1 a 1x1 conv, and a fraction
    1/k a k x k conv with stride k (DSVT's nuScenes neck uses 0.5)."""

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int], upsample_strides: Sequence[float]):
        super().__init__()
        if not len(in_channels) == len(out_channels) == len(upsample_strides):
            raise ConfigError(
                "bev_neck: in_channels, out_channels and upsample_strides must have the same length, got "
                f"{list(in_channels)}, {list(out_channels)}, {list(upsample_strides)}"
            )
        self.deblocks = nn.ModuleList()
        for cin, cout, stride in zip(in_channels, out_channels, upsample_strides):
            if stride > 1:
                conv = nn.ConvTranspose2d(cin, cout, int(stride), stride=int(stride), bias=False)
            else:
                down = round(1 / stride)
                conv = nn.Conv2d(cin, cout, down, stride=down, bias=False)
            self.deblocks.append(nn.Sequential(conv, nn.BatchNorm2d(cout, eps=1e-3), nn.ReLU(inplace=True)))

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(features) != len(self.deblocks):
            raise ValueError(f"bev_neck expects {len(self.deblocks)} maps, got {len(features)}")
        return torch.cat([deblock(x) for deblock, x in zip(self.deblocks, features)], dim=1)
