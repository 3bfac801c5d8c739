"""Detection losses: CenterNet focal loss on Gaussian heatmaps and masked, weighted L1."""

from .center_losses import gaussian_focal_loss, weighted_l1_loss

__all__ = ["gaussian_focal_loss", "weighted_l1_loss"]
