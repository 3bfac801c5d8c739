"""OpenPCDet CenterPoint-Voxel keys -> ours: ``VoxelResBackBone8x`` (``backbone_3d.``) onto
:class:`~voxformer.models.backbones3d.SparseResNet8x` built with ``block_bias=True``.

``MeanVFE`` (``vfe.``) and ``HeightCompression`` (``map_to_bev_module.``) hold no state, so they need no
rule. The layers map one to one: ``conv_input`` -> ``stem``, ``conv{s+1}`` -> ``stages.{s}`` (in stages
after the first, layer 0 is the strided conv + BN, as in ours), a block's ``bn1`` / ``bn2`` -> ``norm1`` /
``norm2`` and its conv biases ``conv1.bias`` / ``conv2.bias`` -> ``bias1`` / ``bias2`` (kept outside the
spconv convs, see :class:`~voxformer.models.backbones3d.sparse_resnet.SparseBasicBlock`), ``conv_out`` ->
``out_conv``.

Conv weights: spconv 2.x (ours, and OpenPCDet checkpoints trained with it) stores (out, kz, ky, kx, in);
spconv 1.x checkpoints store (kz, ky, kx, in, out), which is permuted here (told apart by where the
kernel size sits; OpenPCDet's own loader converts the same way). spconv 2.0 / 2.1 ``Native``-only
weights (kz, ky, kx, out, in) are not recognised.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .base import KeyRule, register_rules

_CUBE = (3, 3, 3)
_OUT_KERNEL = (3, 1, 1)  # the last conv, along z


def spconv_weight_to_krsc(kernel: tuple[int, int, int]) -> Callable[[torch.Tensor], torch.Tensor]:
    """A transform taking a spconv 1.x conv weight (k, k, k, in, out) of ``kernel`` to (out, k, k, k, in);
    any other tensor (spconv 2.x weights, BatchNorm state) passes unchanged."""

    def transform(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.dim() != 5:
            return tensor
        spconv1 = tuple(tensor.shape[:3]) == kernel and tuple(tensor.shape[1:4]) != kernel
        return tensor.permute(4, 0, 1, 2, 3).contiguous() if spconv1 else tensor

    return transform


@register_rules("openpcdet", "SparseResNet8x")
def sparse_resnet_rules(model_cfg: dict) -> list[KeyRule]:
    cube = spconv_weight_to_krsc(_CUBE)
    rules: list[KeyRule] = [(r"backbone_3d\.conv_input\.(\d+)\.(\w+)", r"backbone3d.stem.\1.\2", cube)]
    for stage in range(len(model_cfg["backbone3d"].get("channels", (16, 32, 64, 128)))):
        official, ours = rf"backbone_3d\.conv{stage + 1}\.", f"backbone3d.stages.{stage}."
        rules += [
            (official + r"(\d+)\.(conv[12])\.weight", ours + r"\1.\2.weight", cube),
            (official + r"(\d+)\.conv([12])\.bias", ours + r"\1.bias\2"),
            (official + r"(\d+)\.bn([12])\.(\w+)", ours + r"\1.norm\2.\3"),
        ]
        if stage > 0:  # the strided conv (0) and its BatchNorm (1)
            rules.append((official + r"0\.([01])\.(\w+)", ours + r"0.\1.\2", cube))
    rules.append(
        (r"backbone_3d\.conv_out\.(\d+)\.(\w+)", r"backbone3d.out_conv.\1.\2", spconv_weight_to_krsc(_OUT_KERNEL))
    )
    return rules
