"""IoU regression loss on decoded boxes: 1 - DIoU (OpenPCDet's ``IOU_REG_LOSS``, used by DSVT and ScatterFormer).

The DIoU here is OpenPCDet's ``bbox3d_overlaps_diou``: the boxes are taken axis-aligned in BEV (yaw is not
used), IoU is the volume IoU of those boxes and the penalty the squared centre distance over the squared
diagonal of the smallest enclosing axis-aligned box; the result is clamped to [-1, 1]. Gradients flow into
the centres, heights and sizes of the predicted boxes.
"""

from __future__ import annotations

import torch
from torch import nn

from voxformer.registry import MODELS


def axis_aligned_diou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """DIoU (N,) of paired boxes (N, 7+) ``(x, y, z, dx, dy, dz, yaw)`` taken axis-aligned (yaw ignored)."""
    if pred.shape[0] != target.shape[0]:
        raise ValueError(f"axis_aligned_diou: {pred.shape[0]} predicted and {target.shape[0]} target boxes")
    pred_low, pred_high = pred[:, :3] - pred[:, 3:6] / 2, pred[:, :3] + pred[:, 3:6] / 2
    target_low, target_high = target[:, :3] - target[:, 3:6] / 2, target[:, :3] + target[:, 3:6] / 2
    overlap = (torch.minimum(pred_high, target_high) - torch.maximum(pred_low, target_low)).clamp(min=0)
    intersection = overlap.prod(dim=1)
    union = pred[:, 3:6].prod(dim=1) + target[:, 3:6].prod(dim=1) - intersection
    enclosing = (torch.maximum(pred_high, target_high) - torch.minimum(pred_low, target_low)).clamp(min=0)
    centre_distance = (target[:, :3] - pred[:, :3]).pow(2).sum(dim=1)
    diou = intersection / union - centre_distance / enclosing.pow(2).sum(dim=1)
    return diou.clamp(-1.0, 1.0)


@MODELS.register_module()
class DIoULoss(nn.Module):
    """Sum over box pairs of 1 - :func:`axis_aligned_diou`, divided by max(N, 1): ``forward(pred, target)``."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape[0] == 0:
            return pred.sum() * 0
        return (1.0 - axis_aligned_diou(pred, target)).sum() / pred.shape[0]
