"""``WaymoMetric``: Waymo mAP / mAPH by LEVEL_1 / LEVEL_2 (OBJECT_TYPE and RANGE) of a detector's outputs.

Class names map to Waymo types (Car or Vehicle -> vehicle, Pedestrian, Sign, Cyclist; others are
left out). The ground truth's ``num_points`` and labelled level (``level_key``: 0 unknown, 1, 2)
go through the official difficulty step (:func:`~voxformer.evaluation.waymo_eval.assign_difficulty`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmengine.logging import MMLogger

from voxformer.registry import METRICS

from .base import DetectionMetric

WAYMO_TYPES = {"car": 1, "vehicle": 1, "pedestrian": 2, "sign": 3, "cyclist": 4}


def _types(names: np.ndarray) -> np.ndarray:
    return np.array([WAYMO_TYPES.get(str(name).lower(), 0) for name in names], dtype=np.int64)


def waymo_style(results: Sequence[dict], level_key: str = "difficulty") -> tuple[dict, str]:
    """(breakdown -> {"mAP", "mAPH"}, printout) of per-frame records."""
    from voxformer.evaluation.waymo_eval import evaluate_waymo, format_waymo
    from voxformer.evaluation.waymo_proto import WaymoObjects

    def objects(tables: list[dict], is_gt: bool) -> WaymoObjects:
        counts = [len(t["names"]) for t in tables]
        total = sum(counts)
        boxes = np.concatenate([t["boxes"][:, :7] for t in tables]) if tables else np.zeros((0, 7))
        if is_gt:
            level = np.concatenate([np.asarray(t.get(level_key, np.zeros(len(t["names"]))), np.int64) for t in tables])
            points = np.concatenate([np.asarray(t.get("num_points", np.full(len(t["names"]), 10**6)), np.int64)
                                     for t in tables])  # fmt: skip
        return WaymoObjects(
            boxes=boxes.reshape(total, 7),
            types=_types(np.concatenate([t["names"] for t in tables]) if tables else np.zeros(0)),
            scores=np.concatenate([t["scores"] for t in tables]) if not is_gt else np.ones(total),
            difficulty=np.clip(level, 0, 2) if is_gt else np.zeros(total, np.int64),
            num_points=points if is_gt else np.ones(total, np.int64),
            overlap_with_nlz=np.zeros(total, bool),
            frames=np.repeat(np.arange(len(tables)), counts),
            frame_keys=[(str(r["frame_id"]), 0) for r in results],
        )

    evaluation = evaluate_waymo(objects([r["gt"] for r in results], True), objects([r["pred"] for r in results], False))
    return evaluation, format_waymo(evaluation)


@METRICS.register_module()
class WaymoMetric(DetectionMetric):
    """Waymo breakdowns; returns ``OBJECT_TYPE_TYPE_VEHICLE_LEVEL_1/mAP``-style keys and ``OVERALL_LEVEL_2/mAPH``."""

    default_prefix = "waymo"

    def __init__(self, level_key: str = "difficulty", **kwargs):
        super().__init__(**kwargs)
        self.level_key = level_key

    def compute_metrics(self, results: list) -> dict:
        evaluation, text = waymo_style(results, self.level_key)
        MMLogger.get_current_instance().info("\n" + text)
        metrics = {f"{name}/{key}": value for name, values in evaluation.items() for key, value in values.items()}
        self.save(metrics, {"printout": text})
        return metrics
