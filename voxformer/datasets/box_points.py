"""A cheap pre-filter for points-in-boxes on whole scans."""

from __future__ import annotations

import numpy as np


def points_near_boxes(points: np.ndarray, boxes: np.ndarray, margin: float = 1e-3) -> np.ndarray:
    """(N,) bool: points within the upright bounding cylinder-square of some (M, 7+) box, grown by
    ``margin``: a superset of the points inside the boxes, so exact tests (``voxformer.ops``) can
    run on a few thousand candidates instead of a whole scan."""
    near = np.zeros(len(points), dtype=bool)
    order = np.argsort(points[:, 0], kind="stable")
    sorted_x = points[order, 0]
    for box in np.asarray(boxes, np.float64):
        reach = np.hypot(box[3], box[4]) / 2 + margin
        start, stop = np.searchsorted(sorted_x, [box[0] - reach, box[0] + reach])
        rows = order[start:stop]
        candidates = points[rows]
        inside = (np.abs(candidates[:, 1] - box[1]) <= reach) & (
            np.abs(candidates[:, 2] - box[2]) <= box[5] / 2 + margin
        )
        near[rows[inside]] = True
    return near
