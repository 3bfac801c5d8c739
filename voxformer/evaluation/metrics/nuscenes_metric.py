"""``NuScenesMetric``: nuScenes mAP, TP errors and NDS of a detector's outputs.

Ground truth comes from the infos (LiDAR-frame boxes with velocity columns, ``num_points`` +
``num_radar_points``, ``attributes``). Predictions' velocities are box columns 7-8 when present;
their attribute is the class default (as toolboxes do without an attribute head). Class ranges are
measured from the LiDAR origin, or from the ego origin when the metainfo has ``lidar2ego`` (4x4).
"""

from __future__ import annotations

import numpy as np
from mmengine.logging import MMLogger

from voxformer.registry import METRICS

from .base import DetectionMetric

DEFAULT_ATTRIBUTES = {
    "car": "vehicle.parked", "truck": "vehicle.parked", "bus": "vehicle.moving", "trailer": "vehicle.parked",
    "construction_vehicle": "vehicle.parked", "pedestrian": "pedestrian.moving", "motorcycle": "cycle.without_rider",
    "bicycle": "cycle.without_rider", "traffic_cone": "", "barrier": "",
}  # fmt: skip


def _frame(table: dict, lidar2ego, is_gt: bool) -> dict:
    boxes = np.asarray(table["boxes"], np.float64)
    count = len(table["names"])
    velocity = boxes[:, 7:9] if boxes.shape[1] >= 9 else np.full((count, 2), np.nan)
    boxes = boxes[:, :7].copy()
    if lidar2ego is not None:
        transform = np.asarray(lidar2ego, np.float64)
        boxes[:, :3] = boxes[:, :3] @ transform[:3, :3].T + transform[:3, 3]
    frame = {"boxes": boxes, "velocity": velocity, "names": table["names"]}
    if is_gt:
        frame["attributes"] = table.get("attributes", np.full(count, ""))
        frame["num_points"] = np.asarray(table.get("num_points", np.ones(count))) + np.asarray(
            table.get("num_radar_points", np.zeros(count))
        )
    else:
        frame["attributes"] = np.array([DEFAULT_ATTRIBUTES.get(n, "") for n in table["names"]], dtype=object)
        frame["scores"] = table["scores"]
    return frame


@METRICS.register_module()
class NuScenesMetric(DetectionMetric):
    """nuScenes summary over ``class_names``; keys ``mAP``, ``NDS``, ``mATE`` ... and ``<class>_AP``."""

    default_prefix = "nuscenes"

    def compute_metrics(self, results: list) -> dict:
        from voxformer.evaluation.nuscenes_eval import evaluate_nuscenes, format_nuscenes

        gt = [_frame(r["gt"], r["meta"].get("lidar2ego"), True) for r in results]
        pred = [_frame(r["pred"], r["meta"].get("lidar2ego"), False) for r in results]
        evaluation = evaluate_nuscenes(gt, pred, classes=self.class_names)
        text = format_nuscenes(evaluation)
        MMLogger.get_current_instance().info("\n" + text)
        metrics = {key: value for key, value in evaluation.items() if key != "per_class"}
        metrics.update({f"{name}_AP": row["AP"] for name, row in evaluation["per_class"].items()})
        self.save(metrics, {"per_class": evaluation["per_class"], "printout": text})
        return metrics
