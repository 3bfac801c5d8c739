"""Rules for the 2D BEV stage: OpenPCDet ``backbone_2d.`` (blocks and deblocks in one module) and mmdet3d
``backbone.`` / ``neck.`` onto our ``bev_backbone.`` and ``bev_neck.``. (FlatFormer's DynamicCenterPoint is a
single-stage VoxelNet, whose modules carry no ``pts_`` prefix; a two-stage mmdet3d detector's ``pts_backbone.`` /
``pts_neck.`` map the same way.)

Key layouts read off the official code: OpenPCDet BaseBEVBackbone ``blocks.<stage>.<i>`` with a ZeroPad2d at 0
and conv, BN, ReLU from 1 on (conv-BN pairs at 1 + 3j, 2 + 3j); BaseBEVResBackbone / ScatterFormer BasicBlock
``conv1, bn1, conv2, bn2, downsample_layer.{0,1}``; CascadeDEDBackbone ``layers.<l>.encoder / decoder /
decoder_norm``; mmdet3d SECOND ``blocks.<stage>.<j>.{0 conv, 1 BN}``; deblocks ``deblocks.<i>.{0 conv, 1 BN}``.
OpenPCDet and mmdet3d build a 1x1 transposed conv at upsample stride 1: its weight is transposed when our neck
uses a 1x1 conv there.
"""

from __future__ import annotations

import torch

from .base import KeyRule, register_rules

_BASIC_BLOCK = (  # OpenPCDet BasicBlock -> our BasicResBlock
    ("conv1\\.weight", "conv1.0.weight"),
    ("bn1\\.(\\w+)", "conv1.1.{}"),
    ("conv2\\.weight", "conv2.0.weight"),
    ("bn2\\.(\\w+)", "conv2.1.{}"),
    ("downsample_layer\\.(\\d)\\.(\\w+)", "shortcut.{}.{}"),
)


def _basic_block_rules(official: str, ours: str, groups: int) -> list[KeyRule]:
    """Rules for residual blocks under the regex prefix ``official`` (with ``groups`` groups, reused as ``\\1``..
    in the prefix ``ours``)."""
    rules = []
    for suffix, target in _BASIC_BLOCK:
        captured = suffix.count("(")
        refs = [f"\\{groups + k + 1}" for k in range(captured)]
        rules.append((f"{official}\\.{suffix}", f"{ours}.{target.format(*refs)}"))
    return rules


@register_rules("openpcdet", "SECONDBackbone")
def openpcdet_second_rules(model_cfg: dict) -> list[KeyRule]:
    cfg = model_cfg["bev_backbone"]
    if cfg.get("block", "plain") == "residual":  # BaseBEVResBackbone
        return _basic_block_rules(r"backbone_2d\.blocks\.(\d+)\.(\d+)", r"bev_backbone.stages.\1.\2", 2)
    rules = []  # BaseBEVBackbone: ZeroPad2d, then conv-BN-ReLU triples
    for stage, num in enumerate(cfg["layer_nums"]):
        for j in range(num + 1):
            official, ours = rf"backbone_2d\.blocks\.{stage}", f"bev_backbone.stages.{stage}.{j}"
            rules.append((rf"{official}\.{1 + 3 * j}\.weight", f"{ours}.0.weight"))
            rules.append((rf"{official}\.{2 + 3 * j}\.(\w+)", rf"{ours}.1.\1"))
    return rules


@register_rules("openpcdet", "CascadeDED")
def openpcdet_cascade_ded_rules(model_cfg: dict) -> list[KeyRule]:
    prefix = r"backbone_2d\.layers\.(\d+)"
    return [
        *_basic_block_rules(rf"{prefix}\.encoder\.(\d+)\.(\d+)", r"bev_backbone.layers.\1.encoder.\2.\3", 3),
        (rf"{prefix}\.(decoder|decoder_norm)\.(.+)", r"bev_backbone.layers.\1.\2.\3"),
    ]


def _transposed(weight: torch.Tensor) -> torch.Tensor:
    return weight.transpose(0, 1)


def _deblock_rules(model_cfg: dict, official: str) -> list[KeyRule]:
    cfg = model_cfg["bev_neck"]
    rules = []
    for i, stride in enumerate(cfg["upsample_strides"]):
        if stride == 1 and not cfg.get("deconv_at_stride_1", False):
            rules.append((rf"{official}\.{i}\.0\.weight", f"bev_neck.deblocks.{i}.0.weight", _transposed))
    return [*rules, (rf"{official}\.(\d+)\.([01])\.(\w+)", r"bev_neck.deblocks.\1.\2.\3")]


@register_rules("openpcdet", "SECONDFPN")
def openpcdet_fpn_rules(model_cfg: dict) -> list[KeyRule]:
    return _deblock_rules(model_cfg, r"backbone_2d\.deblocks")


@register_rules("mmdet3d", "SECONDBackbone")
def mmdet3d_second_rules(model_cfg: dict) -> list[KeyRule]:
    return [(r"(?:pts_)?backbone\.blocks\.(\d+)\.(\d+)\.([01])\.(\w+)", r"bev_backbone.stages.\1.\2.\3.\4")]


@register_rules("mmdet3d", "SECONDFPN")
def mmdet3d_fpn_rules(model_cfg: dict) -> list[KeyRule]:
    return _deblock_rules(model_cfg, r"(?:pts_)?neck\.deblocks")
