"""``KittiMetric``: KITTI AP (R11 and R40; BEV, 3D, AOS) of a detector's outputs by difficulty.

Predictions of a LiDAR detector have no 2D boxes, so the metric runs the evaluation's LiDAR mode:
the difficulty of each ground-truth box is the dataset's ``difficulty`` field (KITTI's infos
compute it with the official 2D height / occlusion / truncation rules; 0 easy, 1 moderate,
2 hard, -1 ignored), Van / Person_sitting stay neighbouring classes, DontCare rows are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmengine.logging import MMLogger

from voxformer.registry import METRICS

from .base import DetectionMetric


def kitti_style(results: Sequence[dict], class_names: Sequence[str]) -> tuple[dict, dict, str]:
    """(strict-threshold metrics, all metrics, printout) of per-frame records (LiDAR mode)."""
    from voxformer.evaluation.kitti_eval import evaluate_kitti, flatten_kitti, format_kitti

    gt_annos, det_annos = [], []
    for record in results:
        gt, pred = record["gt"], record["pred"]
        difficulty = gt.get("difficulty", np.zeros(len(gt["names"]), np.int64))
        gt_annos.append({"name": gt["names"], "boxes_lidar": gt["boxes"][:, :7], "difficulty": difficulty})
        det_annos.append({"name": pred["names"], "boxes_lidar": pred["boxes"][:, :7], "score": pred["scores"]})
    evaluation = evaluate_kitti(gt_annos, det_annos, classes=tuple(class_names))
    flat = flatten_kitti(evaluation)
    strict = {key: value for key, value in flat.items() if "_loose" not in key}
    return strict, flat, format_kitti(evaluation)


@METRICS.register_module()
class KittiMetric(DetectionMetric):
    """KITTI AP by class and difficulty; keys like ``Car_3d/moderate_R40`` (see :func:`flatten_kitti`)."""

    default_prefix = "kitti"

    def compute_metrics(self, results: list) -> dict:
        strict, everything, text = kitti_style(results, self.class_names)
        MMLogger.get_current_instance().info("\n" + text)
        self.save(strict, {"all": everything, "printout": text})
        return strict
