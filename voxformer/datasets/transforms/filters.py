"""Filters: points and boxes outside the range, boxes of classes not trained."""

from __future__ import annotations

import numpy as np
import torch

from voxformer.datasets.transforms.base import Transform, range_of, select_points
from voxformer.registry import TRANSFORMS
from voxformer.structures import in_bev_range


def _keep_boxes(results: dict, keep: np.ndarray) -> None:
    keep = np.asarray(keep, dtype=bool)
    results["gt_bboxes_3d"] = results["gt_bboxes_3d"][torch.from_numpy(keep)]
    for key in ("gt_labels_3d", "gt_names"):
        if key in results:
            results[key] = np.asarray(results[key])[keep]


@TRANSFORMS.register_module()
class PointsRangeFilter(Transform):
    """Keep points with x0 <= x < x1, y0 <= y < y1, z0 <= z < z1 (range from here or the dataset), and
    their per-point labels."""

    def __init__(self, point_cloud_range=None):
        self.point_cloud_range = point_cloud_range

    def transform(self, results: dict) -> dict:
        x0, y0, z0, x1, y1, z1 = range_of(self.point_cloud_range, results, "PointsRangeFilter")
        p = results["points"]
        keep = (p[:, 0] >= x0) & (p[:, 0] < x1) & (p[:, 1] >= y0) & (p[:, 1] < y1) & (p[:, 2] >= z0) & (p[:, 2] < z1)
        select_points(results, keep)
        return results


@TRANSFORMS.register_module()
class ObjectRangeFilter(Transform):
    """Keep boxes whose centre lies inside the bird's-eye-view range."""

    def __init__(self, point_cloud_range=None):
        self.point_cloud_range = point_cloud_range

    def transform(self, results: dict) -> dict:
        bev_range = range_of(self.point_cloud_range, results, "ObjectRangeFilter")
        _keep_boxes(results, in_bev_range(results["gt_bboxes_3d"].center.numpy(), bev_range))
        return results


@TRANSFORMS.register_module()
class ObjectNameFilter(Transform):
    """Drop boxes whose class is not trained (label -1: DontCare, Van, Truck, ...)."""

    def transform(self, results: dict) -> dict:
        _keep_boxes(results, np.asarray(results["gt_labels_3d"]) >= 0)
        return results
