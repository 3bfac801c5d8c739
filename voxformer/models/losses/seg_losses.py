"""Losses of per-point (or per-voxel) class logits: cross-entropy and Lovász-softmax, both skipping an ignore index.

Each takes ``logits`` (N, K) and ``target`` (N,) int64 in 0..K-1 or ``ignore_index`` and returns a scalar;
rows whose target is ``ignore_index`` take no part (an all-ignored batch gives 0, still differentiable).
Lovász-softmax (Berman et al., CVPR 2018) is the convex surrogate of the Jaccard loss: per class present in
the batch, the sorted errors |[y = c] - p_c| weighted by the gradient of the Jaccard index of the sorted
ground truth, averaged over those classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from voxformer.errors import ConfigError
from voxformer.registry import MODELS


def _check(logits: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if logits.dim() != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"{name}: expected logits (N, K) and target (N,), got {tuple(logits.shape)} and "
                         f"{tuple(target.shape)}")


def lovasz_softmax(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """Lovász-softmax loss of ``logits`` (N, K) against ``target`` (N,), over the classes present."""
    _check(logits, target, "lovasz_softmax")
    keep = target != ignore_index
    probs, target = logits.softmax(dim=1)[keep], target[keep]
    if target.numel() == 0:
        return logits.sum() * 0.0
    losses = []
    for c in torch.unique(target).tolist():
        foreground = (target == c).float()
        errors, order = (foreground - probs[:, c]).abs().sort(descending=True)
        sorted_fg = foreground[order]
        positives = sorted_fg.sum()
        intersection = positives - sorted_fg.cumsum(0)
        union = positives + (1.0 - sorted_fg).cumsum(0)
        jaccard = 1.0 - intersection / union
        gradient = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
        losses.append(torch.dot(errors, gradient))
    return torch.stack(losses).mean()


@MODELS.register_module()
class CrossEntropySegLoss(nn.Module):
    """``loss_weight`` x mean cross-entropy over the non-ignored rows (weighted mean with ``class_weight``)."""

    def __init__(self, ignore_index: int = 255, class_weight: Sequence[float] | None = None, loss_weight: float = 1.0):
        super().__init__()
        self.ignore_index = int(ignore_index)
        self.loss_weight = float(loss_weight)
        weight = None if class_weight is None else torch.tensor(class_weight, dtype=torch.float32)
        self.register_buffer("class_weight", weight, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check(logits, target, "CrossEntropySegLoss")
        if self.class_weight is not None and self.class_weight.numel() != logits.shape[1]:
            raise ConfigError(f"CrossEntropySegLoss: class_weight has {self.class_weight.numel()} entries for "
                              f"{logits.shape[1]} classes")
        if not (target != self.ignore_index).any():
            return logits.sum() * 0.0
        loss = F.cross_entropy(logits, target, weight=self.class_weight, ignore_index=self.ignore_index)
        return self.loss_weight * loss


@MODELS.register_module()
class LovaszSoftmaxLoss(nn.Module):
    """``loss_weight`` x :func:`lovasz_softmax`."""

    def __init__(self, ignore_index: int = 255, loss_weight: float = 1.0):
        super().__init__()
        self.ignore_index = int(ignore_index)
        self.loss_weight = float(loss_weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * lovasz_softmax(logits, target, self.ignore_index)
