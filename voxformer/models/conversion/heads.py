"""Rules for the CenterPoint head: OpenPCDet ``dense_head.`` and mmdet3d ``bbox_head.`` onto our ``head.``.

mmdet3d's single-stage detectors (FlatFormer's ``DynamicCenterPoint``) name it ``bbox_head.``; two-stage ones
``pts_bbox_head.``: both are accepted.

Key layouts read off the official code. OpenPCDet CenterHead: ``shared_conv.{0 conv, 1 BN}``;
``heads_list.<task>.<branch>.<j>.{0 conv, 1 BN}`` for the first ``num_conv - 1`` layers and
``<branch>.<num_conv - 1>`` for the final conv, branches ``center, center_z, dim, rot, vel, iou, hm``.
mmdet3d CenterHead: ``shared_conv.{conv, bn}``; ``task_heads.<task>.<branch>.<j>.{conv, bn}`` (ConvModule) and
``<branch>.<num_conv - 1>``, branches ``reg, height, dim, rot, vel, iou, heatmap``. Ours (see
:mod:`voxformer.models.heads.centerpoint_head`): ``task_heads.<task>.<branch>.{3j conv, 3j + 1 BN}`` and
``<branch>.<3 (num_head_convs - 1)>``. OpenPCDet orders the ``rot`` channels (cos, sin), mmdet3d (sin, cos): the
final ``rot`` conv is flipped when our box coder's ``rot_order`` differs.
"""

from __future__ import annotations

import torch

from .base import KeyRule, register_rules

_OURS = ("reg", "height", "dim", "rot", "vel", "iou", "heatmap")
_BRANCHES = {
    "openpcdet": dict(zip(("center", "center_z", "dim", "rot", "vel", "iou", "hm"), _OURS)),
    "mmdet3d": dict(zip(_OURS, _OURS)),
}
_LAYOUT = {  # per source: key prefix, shared conv's (conv, BN) names, a hidden layer's (conv, BN) names, rot order
    "openpcdet": (r"dense_head", ("0", "1"), ("0", "1"), "cos_sin"),
    "mmdet3d": (r"(?:pts_)?bbox_head", ("conv", "bn"), ("conv", "bn"), "sin_cos"),
}


def _flip_channels(tensor: torch.Tensor) -> torch.Tensor:
    """Swap the two output channels of the final ``rot`` conv (weight or bias)."""
    return tensor.flip(0)


def _head_rules(source: str, model_cfg: dict) -> list[KeyRule]:
    head = model_cfg["head"]
    prefix, shared, hidden, rot_order = _LAYOUT[source]
    last = int(head.get("num_head_convs", 2)) - 1
    flip_rot = (head.get("box_coder") or {}).get("rot_order", "sin_cos") != rot_order
    rules: list[KeyRule] = [
        (rf"{prefix}\.shared_conv\.{shared[0]}\.(weight|bias)", r"head.shared_conv.0.\1"),
        (rf"{prefix}\.shared_conv\.{shared[1]}\.(\w+)", r"head.shared_conv.1.\1"),
    ]
    tasks = r"heads_list" if source == "openpcdet" else r"task_heads"
    for official, ours in _BRANCHES[source].items():
        branch = rf"{prefix}\.{tasks}\.(\d+)\.{official}"
        for j in range(last):
            rules.append((rf"{branch}\.{j}\.{hidden[0]}\.(weight|bias)", rf"head.task_heads.\1.{ours}.{3 * j}.\2"))
            rules.append((rf"{branch}\.{j}\.{hidden[1]}\.(\w+)", rf"head.task_heads.\1.{ours}.{3 * j + 1}.\2"))
        final = (rf"{branch}\.{last}\.(weight|bias)", rf"head.task_heads.\1.{ours}.{3 * last}.\2")
        rules.append((*final, _flip_channels) if ours == "rot" and flip_rot else final)
    return rules


@register_rules("openpcdet", "CenterHead")
def openpcdet_center_head_rules(model_cfg: dict) -> list[KeyRule]:
    return _head_rules("openpcdet", model_cfg)


@register_rules("mmdet3d", "CenterHead")
def mmdet3d_center_head_rules(model_cfg: dict) -> list[KeyRule]:
    return _head_rules("mmdet3d", model_cfg)
