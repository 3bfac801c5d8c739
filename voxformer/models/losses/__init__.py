"""Losses, as functions and as modules registered in ``voxformer.registry.MODELS``: for detection the CenterNet
focal loss on Gaussian heatmaps, masked weighted L1 and 1 - DIoU on decoded boxes; for segmentation
cross-entropy and Lovász-softmax (:mod:`.seg_losses`)."""

from . import seg_losses  # noqa: F401  (registration)
from .center_losses import GaussianFocalLoss, WeightedL1Loss, gaussian_focal_loss, weighted_l1_loss
from .iou_losses import DIoULoss, axis_aligned_diou

__all__ = [
    "DIoULoss",
    "GaussianFocalLoss",
    "WeightedL1Loss",
    "axis_aligned_diou",
    "gaussian_focal_loss",
    "weighted_l1_loss",
]
