"""Rules for the detector's own state: OpenPCDet's ``global_step`` training counter has no counterpart."""

from __future__ import annotations

from .base import KeyRule, register_rules


@register_rules("openpcdet", "VoxelDetector")
def openpcdet_detector_rules(model_cfg: dict) -> list[KeyRule]:
    return [(r"global_step", None)]
