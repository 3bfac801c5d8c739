"""Detection heads."""

from .centerpoint_head import CenterHead, decode_codes
from .targets import CenterTargets, assign_targets, draw_gaussians, gaussian_radius

__all__ = ["CenterHead", "CenterTargets", "assign_targets", "decode_codes", "draw_gaussians", "gaussian_radius"]
