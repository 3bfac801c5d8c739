"""Losses of a CenterPoint head (docs/references.md §CenterPoint), as functions and as registered modules.

Both return a scalar already normalised by the number of objects, so a batch without objects gives
a finite loss (zero for the regression terms).
"""

from __future__ import annotations

import torch
from torch import nn

from voxformer.registry import MODELS


def gaussian_focal_loss(
    logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0, eps: float = 1e-4
) -> torch.Tensor:
    """CenterNet focal loss between heatmap ``logits`` and a Gaussian ``target`` of the same shape.

    Cells where the target is exactly 1 are positives, weighted (1 - p)^alpha; every other cell is a
    negative weighted (1 - target)^beta * p^alpha. The sum is divided by the positive count (at least 1).
    """
    if logits.shape != target.shape:
        raise ValueError(f"gaussian_focal_loss: logits {tuple(logits.shape)} and target {tuple(target.shape)} differ")
    prob = logits.sigmoid().clamp(eps, 1 - eps)
    positive = target.eq(1).float()
    negative = 1.0 - positive
    pos_loss = torch.log(prob) * (1 - prob).pow(alpha) * positive
    neg_loss = torch.log(1 - prob) * prob.pow(alpha) * (1 - target).pow(beta) * negative
    num_positive = positive.sum().clamp(min=1.0)
    return -(pos_loss.sum() + neg_loss.sum()) / num_positive


def weighted_l1_loss(
    pred: torch.Tensor, target: torch.Tensor, code_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Sum over objects and codes of ``code_weights * |pred - target|`` for (N, D) rows, divided by max(N, 1)."""
    if pred.shape != target.shape:
        raise ValueError(f"weighted_l1_loss: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    error = (pred - target).abs()
    if code_weights is not None:
        error = error * code_weights
    return error.sum() / max(pred.shape[0], 1)


@MODELS.register_module()
class GaussianFocalLoss(nn.Module):
    """:func:`gaussian_focal_loss` as a registered module: ``forward(logits, target)``."""

    def __init__(self, alpha: float = 2.0, beta: float = 4.0, eps: float = 1e-4):
        super().__init__()
        self.alpha, self.beta, self.eps = alpha, beta, eps

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return gaussian_focal_loss(logits, target, self.alpha, self.beta, self.eps)


@MODELS.register_module()
class WeightedL1Loss(nn.Module):
    """:func:`weighted_l1_loss` as a registered module: ``forward(pred, target, code_weights=None)``."""

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, code_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        return weighted_l1_loss(pred, target, code_weights)
