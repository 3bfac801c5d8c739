"""Detection heads."""

from .box_coder import CenterPointBoxCoder
from .centerpoint_head import CenterHead
from .targets import CenterTargets, assign_targets, draw_gaussians, gaussian_radius

__all__ = ["CenterHead", "CenterPointBoxCoder", "CenterTargets", "assign_targets", "draw_gaussians", "gaussian_radius"]
