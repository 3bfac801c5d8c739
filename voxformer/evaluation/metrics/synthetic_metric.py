"""``SyntheticMetric``: the synthetic data set scored both ways, KITTI-style AP by difficulty and
Waymo-style mAPH by level (the generator's ``level`` field: LEVEL_2 when a box has <= 5 points)."""

from __future__ import annotations

from mmengine.logging import MMLogger

from voxformer.registry import METRICS

from .base import DetectionMetric
from .kitti_metric import kitti_style
from .waymo_metric import waymo_style


@METRICS.register_module()
class SyntheticMetric(DetectionMetric):
    """KITTI keys (``Car_3d/moderate_R40``) plus Waymo keys (``OBJECT_TYPE_TYPE_VEHICLE_LEVEL_2/mAPH``)."""

    default_prefix = "synthetic"

    def compute_metrics(self, results: list) -> dict:
        kitti, kitti_all, kitti_text = kitti_style(results, self.class_names)
        waymo, waymo_text = waymo_style(results, level_key="level")
        metrics = dict(kitti)
        for name, values in waymo.items():
            if name.startswith(("OBJECT_TYPE", "OVERALL")):
                metrics.update({f"{name}/{key}": value for key, value in values.items()})
        MMLogger.get_current_instance().info("\n" + kitti_text + "\n" + waymo_text)
        self.save(metrics, {"kitti_all": kitti_all, "waymo": waymo, "printout": kitti_text + "\n" + waymo_text})
        return metrics
