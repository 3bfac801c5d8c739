"""mmengine ``BaseMetric`` wrappers of the evaluation functions, registered in ``voxformer.registry.METRICS``."""

from .kitti_metric import KittiMetric
from .nuscenes_metric import NuScenesMetric
from .seg_metric import SegMetric
from .synthetic_metric import SyntheticMetric
from .waymo_metric import WaymoMetric

__all__ = ["KittiMetric", "NuScenesMetric", "SegMetric", "SyntheticMetric", "WaymoMetric"]
