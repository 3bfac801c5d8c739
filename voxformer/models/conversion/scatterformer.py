"""Rules for the released ScatterFormer (skyhehe123/ScatterFormer on OpenPCDet): VFE and 3D backbone.

Official layout (read off ``backbones_3d/scatterformer.py`` and ``vfe/dynamic_voxel_vfe.py``):
``vfe.pfn_layers.<i>.{linear, norm}``; ``backbone_3d.cpe.{0.{0 (conv), 1 (bn)}, 1-3.{conv1, bn1, conv2, bn2},
4.{0, 1}}``; ``backbone_3d.stage<s>.0.{norm_layers, attn_layers.<l>.{qkv, proj}, cffn_layers.<l>.{bn, conv_k,
conv_h, conv_w, bn2, fc1, fc2}}``, ``stage<s>.1`` (BatchNorm), ``stage1.2`` (the stride-2 conv); ``backbone_3d.
app.{norm, self_attn, pos_embedding}``. ``HeightCompression`` (``map_to_bev_module``) has no state. Ours:
:class:`~voxformer.models.voxel_encoders.PFNDynamicVFE` and :class:`~voxformer.models.backbones3d.
ScatterFormerOfficial` (``stem``, ``blocks``, ``block_norms``, ``downs``, ``pillar_pool``; a stem block's
conv biases are its ``bias1`` / ``bias2``). spconv weights keep their (out, kz, ky, kx, in) layout; the
depth-wise weights (kz, ky, kx, C) become (kz * ky * kx, C), offsets in the same raster order.
"""

from __future__ import annotations

import torch

from .base import KeyRule, register_rules

_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
# official depth-wise conv name -> ours: conv_k the 3x3x3, conv_h the (1, 1, k) strip along x, conv_w along y
_DEPTHWISE = {"k": "conv_xyz", "h": "conv_x", "w": "conv_y"}


def _flatten_kernel(weight: torch.Tensor) -> torch.Tensor:
    return weight.reshape(-1, weight.shape[-1])


@register_rules("openpcdet", "PFNDynamicVFE")
def openpcdet_pfn_vfe_rules(model_cfg: dict) -> list[KeyRule]:
    return [(r"vfe\.pfn_layers\.(\d+)\.(linear\.weight|norm\.\w+)", r"voxel_encoder.pfn_layers.\1.\2")]


@register_rules("openpcdet", "ScatterFormerOfficial")
def openpcdet_scatterformer_rules(model_cfg: dict) -> list[KeyRule]:
    num_stages = len(model_cfg.get("backbone3d", {}).get("layers", (3, 3)))
    rules = [
        (r"backbone_3d\.cpe\.0\.0\.weight", "backbone3d.stem.conv_in.weight"),
        (rf"backbone_3d\.cpe\.0\.1\.{_BN}", r"backbone3d.stem.norm_in.\1"),
    ]
    for block in range(3):  # cpe.1-3: the residual blocks
        official, ours = rf"backbone_3d\.cpe\.{block + 1}", f"backbone3d.stem.blocks.{block}"
        rules += [
            (rf"{official}\.conv([12])\.weight", rf"{ours}.conv\1.weight"),
            (rf"{official}\.conv([12])\.bias", rf"{ours}.bias\1"),  # ours adds the bias after the conv
            (rf"{official}\.bn([12])\.{_BN}", rf"{ours}.norm\1.\2"),
        ]
    rules += [
        (r"backbone_3d\.cpe\.4\.0\.weight", "backbone3d.stem.conv_out.weight"),
        (rf"backbone_3d\.cpe\.4\.1\.{_BN}", r"backbone3d.stem.norm_out.\1"),
        (r"backbone_3d\.app\.(\w+(?:\.\w+)*)", r"backbone3d.pillar_pool.\1"),
    ]
    for stage in range(num_stages):
        official, ours = rf"backbone_3d\.stage{stage + 1}", f"backbone3d.blocks.{stage}"
        layer = rf"{official}\.0\.cffn_layers\.(\d+)"
        rules += [
            (rf"{layer}\.conv_{name}\.weight", rf"{ours}.cffn_layers.\1.{mine}.weight", _flatten_kernel)
            for name, mine in _DEPTHWISE.items()
        ]
        rules += [
            (rf"{official}\.0\.(\w+\.\d+\.\w+(?:\.\w+)?)", rf"{ours}.\1"),
            (rf"{official}\.1\.{_BN}", rf"backbone3d.block_norms.{stage}.\1"),
        ]
        if stage + 1 < num_stages:
            rules.append((rf"{official}\.2\.weight", f"backbone3d.downs.{stage}.weight"))
    return rules
